/**
 * The fixture every mode shares (users, their threads and runs, tokens, and what the fuzz
 * learns about thread logs), the thread ids a user might name, and which it may touch.
 */
import { signUserToken } from '../../../src/index.js';
import { idChars, randomString, type Rng } from './fuzz-input.js';
import { TEST_ADMIN_TOKEN, TEST_JWT_SECRET, type RelayApp } from '../relay-app.js';

const RUN_FORM = /^(.+)_run_(\d{10,16})_([0-9a-fA-F]{4,64})$/;
const VALID_ID = /^[A-Za-z0-9_.:@-]{1,200}$/;
/** A run-form suffix: appended to a thread id, it makes a run id. */
export const RUN_SUFFIX = '_run_1756919162904_9adf1f09';

export interface Fixture {
  relay: RelayApp;
  users: string[];
  /** userId -> threads the application registered to it */
  threadsOf: Map<string, string[]>;
  /** threadId -> owner, for registered threads and the ones the fuzz auto-registered */
  ownerOf: Map<string, string>;
  /** userId -> a run id registered (by the application) to one of its threads */
  runOf: Map<string, string>;
  tokens: Map<string, string>;
  /** Tokens that authenticate nobody (user routes) or somebody else (admin routes). */
  badTokens: string[];
  /** threadId -> the epoch and head the fuzz last saw */
  logs: Map<string, { epoch: string; head: number }>;
}

export async function buildFixture(relay: RelayApp, label: string): Promise<Fixture> {
  const users = ['a', 'b', 'c'].map((name) => `fz-${label}-${name}`);
  const threadsOf = new Map<string, string[]>();
  const ownerOf = new Map<string, string>();
  const runOf = new Map<string, string>();
  const tokens = new Map<string, string>();
  for (const user of users) {
    const threads = [0, 1, 2].map((i) => `${user}-t${i}`);
    for (const threadId of threads) {
      await relay.registry.registerThread(threadId, user);
      ownerOf.set(threadId, user);
    }
    // A 200-character thread id: the longest valid one.
    const longest = `${user}-long-`.padEnd(200, 'L');
    await relay.registry.registerThread(longest, user);
    ownerOf.set(longest, user);
    threads.push(longest);
    threadsOf.set(user, threads);
    const run = `${user}-run-1`;
    await relay.registry.registerRun(run, threads[0] as string);
    runOf.set(user, run);
    tokens.set(user, await relay.token(user));
  }
  const badTokens = [
    'garbage',
    'Bearer',
    TEST_ADMIN_TOKEN,
    await signUserToken(users[0] as string, TEST_JWT_SECRET, { expiresIn: -120 }),
    await signUserToken(users[0] as string, 'another-secret-that-is-at-least-32-bytes!!'),
    await signUserToken('not a valid id!', TEST_JWT_SECRET),
    `${(tokens.get(users[0] as string) as string).slice(0, -3)}AAA`,
    'x'.repeat(9000),
  ];
  return { relay, users, threadsOf, ownerOf, runOf, tokens, badTokens, logs: new Map() };
}

export type IdKind =
  | 'own'
  | 'other'
  | 'fresh'
  | 'run-form'
  | 'own-run-form'
  | 'registered-run'
  | 'other-run'
  | 'len201'
  | 'bad-chars'
  | 'dots'
  | 'random'
  | 'not-string';

/** A thread id as `userId` might name one: its own, another's, a run, or no valid id at all. */
export function pickThreadId(rng: Rng, fx: Fixture, userId: string, allowNonString: boolean) {
  const own = fx.threadsOf.get(userId) ?? [];
  const others = fx.users.filter((u) => u !== userId).flatMap((u) => fx.threadsOf.get(u) ?? []);
  const kind = rng.weighted<IdKind>([
    [34, 'own'],
    [14, 'other'],
    [10, 'fresh'],
    [4, 'run-form'],
    [4, 'own-run-form'],
    [3, 'registered-run'],
    [2, 'other-run'],
    [4, 'len201'],
    [7, 'bad-chars'],
    [3, 'dots'],
    [8, 'random'],
    [allowNonString ? 7 : 0, 'not-string'],
  ]);
  let id: unknown;
  switch (kind) {
    case 'own':
      id = rng.pick(own);
      break;
    case 'other':
      id = rng.pick(others);
      break;
    case 'fresh':
      id = `fz-new-${idChars(rng, rng.chance(0.1) ? 192 : rng.range(1, 12))}`.slice(0, 200);
      break;
    case 'run-form':
      id = rng.pick(['t1_run_1756919162904_9adf1f09', `x_run_${Date.now()}_abcdef12`]);
      break;
    case 'own-run-form':
      id = `${rng.pick(own.slice(0, 3))}${RUN_SUFFIX}`;
      break;
    case 'registered-run':
      id = fx.runOf.get(userId);
      break;
    case 'other-run':
      id = fx.runOf.get(rng.pick(fx.users.filter((u) => u !== userId)));
      break;
    case 'len201':
      id = `fz-201-${idChars(rng, 194)}`;
      break;
    case 'bad-chars': {
      const base = rng.pick(own);
      const at = rng.int(base.length + 1);
      const bad = rng.pick([
        ' ',
        '/',
        '{',
        '}',
        '#',
        '?',
        '%',
        '\u0000',
        '\n',
        'é',
        '🙂',
        '\ud800',
      ]);
      id = (base.slice(0, at) + bad + base.slice(at)).slice(0, 200);
      break;
    }
    case 'dots':
      id = rng.pick(['.', '..', '...', '.hidden', 'a..b']);
      break;
    case 'random':
      id = randomString(rng, 60);
      break;
    case 'not-string':
      id = rng.pick<unknown>([null, 1, 0, -1, true, [], {}, [own[0]], { threadId: own[0] }, 1e308]);
      break;
  }
  return { id, kind };
}

/** Whether `userId` may legitimately succeed on `threadId` (for the isolation oracle). */
export function mayTouch(fx: Fixture, userId: string, threadId: unknown): 'yes' | 'no' | 'unknown' {
  if (typeof threadId !== 'string' || !VALID_ID.test(threadId) || RUN_FORM.test(threadId)) {
    return 'no';
  }
  if ([...fx.runOf.values()].includes(threadId)) return 'no';
  const owner = fx.ownerOf.get(threadId);
  if (owner === undefined) return 'unknown';
  return owner === userId ? 'yes' : 'no';
}
