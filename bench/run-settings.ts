/** What the bench's helpers need from the command line; the orchestrator sets it before anything starts. */
export interface RunSettings {
  runId: string;
  profile: boolean;
  allocProfile: boolean;
  /** `--redis-url` or REDIS_URL; null: a private redis-server. */
  redisUrl: string | null;
  ackWindowMs: number;
  ackIntervalMs: number;
}

export const runSettings: RunSettings = {
  runId: 'bench',
  profile: false,
  allocProfile: false,
  redisUrl: null,
  ackWindowMs: 50,
  ackIntervalMs: 250,
};

export function configureRun(value: RunSettings): void {
  Object.assign(runSettings, value);
}
