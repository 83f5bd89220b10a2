import { parseRunId } from './thread-id.js';

describe('parseRunId', () => {
  it('splits the production run id', () => {
    expect(parseRunId('thread_13679e4dcc38403a_run_1756919162904_9adf1f09')).toEqual({
      threadId: 'thread_13679e4dcc38403a',
      startedAt: 1756919162904,
      suffix: '9adf1f09',
    });
  });
});
