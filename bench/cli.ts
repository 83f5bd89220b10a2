/** The bench's options: `npm run bench -- --help` prints USAGE. */
import { MODES, PLACEMENTS, type Mode, type Placement } from './common.js';

export const USAGE = `npm run bench -- [options]

Runs every mode in turn and prints the tables, the ratios against the matching socket.io
baseline and the targets; writes everything as JSON under bench/results/ (latest.json for a
run without options, cluster.json for --cluster alone, partial.json or quick.json otherwise).

Sections (each can be skipped with --skip):
  in-server   every mode of --only with the producer in the first server process: fixed
              rates (--rates), then search, reconnect and memory
  external    the Redis modes with the producer in a process of its own (thread-relay:
              createPublisher from src/publisher; socket.io: @socket.io/redis-emitter), for
              every --instances and --placements: fixed rates, then search
  cluster     only with --cluster, and then the only section: thread-relay on 2 instances
              over one Redis, then over a Redis Cluster of 3 masters + 3 replicas the bench
              starts (redis-server, redis-cli on PATH), producer in the first server: fixed
              rates, then search; CPU per event of each master and replica

Options:
  --quick                     short steps, fewer search rates, fewer idle/reconnecting clients
  --cluster                   run the cluster section only (with --quick: a short one;
                              --rates and --skip search apply)
  --only <modes>              modes to run, comma-separated (default: all):
                              ${MODES.join(', ')}
  --skip <parts>              comma-separated: search, reconnect, memory, in-server, external
  --rates <list>              fixed rates in events/s (default 1000,5000,20000)
  --instances <list>          instance counts of the Redis modes (default 2,4)
  --placements <list>         external producer: where the clients of a thread connect
                              (default spread,local):
                                spread  on different instances (consecutive ones)
                                local   all on one instance (threads alternate instances)
  --clients-per-thread <n>    external producer: clients joined to each thread (default 2);
                              the clients (500) are split into 500 / n threads
  --redis-url <url>           use this Redis (default: REDIS_URL, else a private redis-server)
  --ack-ms <ms>               clients' ack batch window (default 50)
  --ack-interval-ms <ms>      least time between two acks of a thread (default 250)
  --profile                   --cpu-prof every child into bench/profiles/
  --alloc-profile             sampled allocation profile of every server into bench/profiles/
  --out <file.json>           where to write the results
  --render <file.json>        print the tables of an earlier run and exit
  --help                      this text

Environment: BENCH_DEBUG=1 prints producer and server diagnostics per step;
BENCH_NODE_ARGS adds node flags to every child process.`;

export interface Config {
  quick: boolean;
  clients: number;
  rates: number[];
  warmupMs: number;
  measureMs: number;
  /** Rates tried in order until one is not sustained (twice); then halfway back once. */
  search: { rates: number[]; warmupMs: number; measureMs: number };
  idleConnections: number;
  reconnect: { clients: number; eventsPerClient: number };
}

const FULL: Config = {
  quick: false,
  clients: 500,
  rates: [1_000, 5_000, 20_000],
  warmupMs: 1_000,
  measureMs: 5_000,
  search: {
    rates: [1_000, 2_000, 5_000, 10_000, 15_000, 20_000, 30_000, 40_000, 60_000, 80_000, 100_000],
    warmupMs: 1_000,
    measureMs: 3_000,
  },
  idleConnections: 10_000,
  reconnect: { clients: 1_000, eventsPerClient: 50 },
};

const QUICK: Config = {
  quick: true,
  clients: 500,
  rates: [1_000, 5_000, 20_000],
  warmupMs: 500,
  measureMs: 1_500,
  search: { rates: [5_000, 20_000], warmupMs: 500, measureMs: 1_500 },
  idleConnections: 2_000,
  reconnect: { clients: 200, eventsPerClient: 50 },
};

export const SKIPPABLE = ['search', 'reconnect', 'memory', 'in-server', 'external'] as const;

export interface Cli {
  help: boolean;
  /** Only the single-Redis vs Redis Cluster comparison (bench/cluster.ts). */
  cluster: boolean;
  config: Config;
  modes: Mode[];
  skip: Set<string>;
  /** Instance counts the Redis modes run with. */
  instances: number[];
  placements: Placement[];
  clientsPerThread: number;
  profile: boolean;
  allocProfile: boolean;
  out: string | null;
  redisUrl: string | null;
  /** Clients' ack batch window (the SDK's `ackBatchMs`, default 50). */
  ackWindowMs: number;
  ackIntervalMs: number;
}

function list<T extends string>(flag: string, text: string, allowed: readonly T[]): T[] {
  return text.split(',').map((name) => {
    if (!(allowed as readonly string[]).includes(name)) {
      throw new Error(`${flag}: unknown value ${name} (one of: ${allowed.join(', ')})`);
    }
    return name as T;
  });
}

function positiveIntegers(flag: string, text: string): number[] {
  return text.split(',').map((item) => {
    const n = Number(item);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`${flag}: ${item} is not a positive integer`);
    return n;
  });
}

export function parseCli(argv: string[]): Cli {
  const value = (flag: string): string | undefined => {
    const index = argv.indexOf(flag);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const only = value('--only');
  const modes = only ? list('--only', only, MODES) : [...MODES];
  const config = { ...(argv.includes('--quick') ? QUICK : FULL) };
  const rates = value('--rates');
  if (rates) config.rates = positiveIntegers('--rates', rates);
  const skip = value('--skip');
  const instances = positiveIntegers('--instances', value('--instances') ?? '2,4');
  if (instances.some((n) => n > 26)) throw new Error('--instances: at most 26');
  const placements = value('--placements');
  return {
    help: argv.includes('--help') || argv.includes('-h'),
    cluster: argv.includes('--cluster'),
    config,
    modes,
    skip: new Set(skip ? list('--skip', skip, SKIPPABLE) : []),
    instances: [...new Set(instances)],
    placements: placements ? list('--placements', placements, PLACEMENTS) : [...PLACEMENTS],
    clientsPerThread: positiveIntegers(
      '--clients-per-thread',
      value('--clients-per-thread') ?? '2',
    )[0] as number,
    profile: argv.includes('--profile'),
    allocProfile: argv.includes('--alloc-profile'),
    out: value('--out') ?? null,
    redisUrl: value('--redis-url') ?? process.env.REDIS_URL ?? null,
    ackWindowMs: Number(value('--ack-ms') ?? 50),
    ackIntervalMs: Number(value('--ack-interval-ms') ?? 250),
  };
}
