import { InvalidIdError } from '../src/errors/invalid-id.error.js';
import { assertValidId, isValidId, makeRunId, MAX_ID_LENGTH, parseRunId } from '../src/ids.js';

const PRODUCTION_RUN_ID = 'thread_13679e4dcc38403a_run_1756919162904_9adf1f09';
const UUID = '3f2b8c1e-9d4a-4b6f-8e21-7c5d9a0b1f34';

describe('parseRunId', () => {
  it('splits the production run id', () => {
    expect(parseRunId('thread_13679e4dcc38403a_run_1756919162904_9adf1f09')).toEqual({
      threadId: 'thread_13679e4dcc38403a',
      startedAt: 1756919162904,
      suffix: '9adf1f09',
    });
  });

  it.each([
    ['a plain thread id', 'thread_13679e4dcc38403a'],
    ['a UUID', UUID],
    ['an upper-case UUID', UUID.toUpperCase()],
    ['trailing text after the hex', `${PRODUCTION_RUN_ID}_extra`],
    ['a non-hex character in the suffix', 'thread_1_run_1756919162904_9adf1f0g'],
    ['trailing hex after another underscore', `${PRODUCTION_RUN_ID}_beef`],
    ['a dash after the hex', `${PRODUCTION_RUN_ID}-1`],
    ['too few millisecond digits', 'thread_1_run_175691916_9adf1f09'],
    ['too many millisecond digits', 'thread_1_run_17569191629041234_9adf1f09'],
    ['a suffix shorter than 4 hex digits', 'thread_1_run_1756919162904_9ad'],
    ['no thread part', '_run_1756919162904_9adf1f09'],
    ['no suffix', 'thread_1_run_1756919162904_'],
    ['no millis', 'thread_1_run__9adf1f09'],
    ['"run" without underscores', 'thread_1run1756919162904_9adf1f09'],
    ['a thread part with a brace', '{t}_run_1756919162904_9adf1f09'],
    ['a thread part with a space', 'my thread_run_1756919162904_9adf1f09'],
    ['an empty string', ''],
  ])('returns null for %s', (_label, id) => {
    expect(parseRunId(id)).toBeNull();
  });

  it('splits a run id whose thread id is a UUID', () => {
    expect(parseRunId(`${UUID}_run_1756919162904_9adf1f09`)).toEqual({
      threadId: UUID,
      startedAt: 1756919162904,
      suffix: '9adf1f09',
    });
  });

  it('takes the last _run_<millis>_<hex> as the run part when the thread id contains _run_', () => {
    expect(parseRunId('a_run_b_run_1756919162904_ab12')).toEqual({
      threadId: 'a_run_b',
      startedAt: 1756919162904,
      suffix: 'ab12',
    });
    expect(parseRunId(`${PRODUCTION_RUN_ID}_run_1756919170000_cafe`)).toEqual({
      threadId: PRODUCTION_RUN_ID,
      startedAt: 1756919170000,
      suffix: 'cafe',
    });
  });

  it('accepts upper-case hex and keeps it as written', () => {
    expect(parseRunId('thread_1_run_1756919162904_9ADF1F09')).toEqual({
      threadId: 'thread_1',
      startedAt: 1756919162904,
      suffix: '9ADF1F09',
    });
  });

  it('accepts 10 to 16 millisecond digits', () => {
    expect(parseRunId('t_run_1000000000_abcd')?.startedAt).toBe(1_000_000_000);
    expect(parseRunId('t_run_1234567890123456_abcd')?.startedAt).toBe(1_234_567_890_123_456);
  });

  it('returns null for a run id longer than any valid id', () => {
    const thread = 't'.repeat(MAX_ID_LENGTH);
    expect(parseRunId(`${thread}_run_1756919162904_9adf1f09`)).toBeNull();
  });

  it.each([null, undefined, 42, true, {}, [], [PRODUCTION_RUN_ID], { id: PRODUCTION_RUN_ID }])(
    'returns null for the non-string %p',
    (value) => {
      expect(parseRunId(value)).toBeNull();
    },
  );

  it('returns null for an object that stringifies to a run id', () => {
    expect(parseRunId({ toString: () => PRODUCTION_RUN_ID })).toBeNull();
  });
});

describe('isValidId and assertValidId', () => {
  it.each([
    ['the production run id', PRODUCTION_RUN_ID],
    ['a thread id', 'thread_13679e4dcc38403a'],
    ['a UUID', UUID],
    ['an upper-case UUID', UUID.toUpperCase()],
    ['a UUID run id', `${UUID}_run_1756919162904_9adf1f09`],
    ['an id with . : @ -', 'org.example:user@host-1'],
    ['a single character', 'x'],
    ['an id of the maximum length', 'x'.repeat(MAX_ID_LENGTH)],
  ])('accepts %s', (_label, id) => {
    expect(isValidId(id)).toBe(true);
    expect(assertValidId(id)).toBe(id);
  });

  it.each([
    ['an empty string', ''],
    ['an id one character too long', 'x'.repeat(MAX_ID_LENGTH + 1)],
    ['braces', 'thread_{1}'],
    ['an opening brace only', 'thread_{1'],
    ['a space', 'thread 1'],
    ['a leading space', ' thread_1'],
    ['a newline', 'thread\n1'],
    ['a trailing newline', 'thread_1\n'],
    ['a carriage return', 'thread_1\r'],
    ['a tab', 'thread\t1'],
    ['a slash', 'thread/1'],
    ['a glob star', 'thread_*'],
    ['a NUL character', 'thread\u00001'],
    ['a non-ASCII letter', 'thréad_1'],
    ['an emoji', 'thread_🧵'],
  ])('rejects %s', (_label, id) => {
    expect(isValidId(id)).toBe(false);
    expect(() => assertValidId(id)).toThrow(InvalidIdError);
  });

  it.each([null, undefined, 42, 0, NaN, true, {}, [], ['thread_1'], { threadId: 'thread_1' }])(
    'rejects the non-string %p with InvalidIdError',
    (value) => {
      expect(isValidId(value)).toBe(false);
      expect(() => assertValidId(value)).toThrow(InvalidIdError);
    },
  );

  it('rejects an object that stringifies to a valid id', () => {
    const sneaky = { toString: () => 'thread_1' };
    expect(isValidId(sneaky)).toBe(false);
    expect(() => assertValidId(sneaky)).toThrow(InvalidIdError);
  });

  it('refuses a 10 KB id with a short message that still names the field', () => {
    const huge = 'a'.repeat(10 * 1024);
    expect(isValidId(huge)).toBe(false);
    let caught: unknown;
    try {
      assertValidId(huge, 'threadId');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidIdError);
    const error = caught as InvalidIdError;
    expect(error.code).toBe('INVALID_ID');
    expect(error.field).toBe('threadId');
    expect(error.message.length).toBeLessThan(400);
    expect(error.message).toContain('threadId');
    expect(error.message).toContain(`${10 * 1024} chars`);
  });

  it('names the field and the reason in the message', () => {
    expect(() => assertValidId(null, 'runId')).toThrow(/runId.*must be a string/);
    expect(() => assertValidId('', 'threadId')).toThrow(/threadId.*must not be empty/);
    expect(() => assertValidId('a b', 'userId')).toThrow(/userId "a b".*may only contain/);
  });

  it('reports the error as JSON with its stable code', () => {
    try {
      assertValidId(42);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidIdError);
      expect((error as InvalidIdError).toJSON()).toEqual({
        code: 'INVALID_ID',
        message: 'Invalid id <number>: must be a string',
      });
      return;
    }
    throw new Error('assertValidId(42) did not throw');
  });
});

describe('makeRunId', () => {
  it('rebuilds the production run id from its parts', () => {
    expect(makeRunId('thread_13679e4dcc38403a', 1756919162904, '9adf1f09')).toBe(PRODUCTION_RUN_ID);
  });

  it.each(['thread_13679e4dcc38403a', UUID, 'a_run_b', PRODUCTION_RUN_ID, 'org.example:t@1'])(
    'round-trips %s through parseRunId',
    (threadId) => {
      const before = Date.now();
      const runId = makeRunId(threadId);
      const parsed = parseRunId(runId);
      expect(isValidId(runId)).toBe(true);
      expect(parsed?.threadId).toBe(threadId);
      expect(parsed?.suffix).toMatch(/^[0-9a-f]{8}$/);
      expect(parsed?.startedAt).toBeGreaterThanOrEqual(before);
      expect(parsed?.startedAt).toBeLessThanOrEqual(Date.now());
    },
  );

  it('round-trips a given time and suffix exactly', () => {
    const runId = makeRunId('t-1', 1_700_000_000_000, 'ABCDEF12');
    expect(parseRunId(runId)).toEqual({
      threadId: 't-1',
      startedAt: 1_700_000_000_000,
      suffix: 'ABCDEF12',
    });
  });

  it('makes a different suffix each time', () => {
    const ids = new Set(Array.from({ length: 50 }, () => makeRunId('t-1', 1_700_000_000_000)));
    expect(ids.size).toBe(50);
  });

  it.each(['', 'a b', '{t}', null])('refuses the invalid thread id %p', (threadId) => {
    expect(() => makeRunId(threadId as string)).toThrow(InvalidIdError);
  });
});
