/** What `/metrics` asks of a scraper (`routes.metrics`); null token: nothing. */
export const METRICS_ACCESS = Symbol('thread-relay:metrics-access');

export interface MetricsAccess {
  token: string | null;
}
