/** What `/metrics` asks of a scraper (`routes.metrics`); null token: nothing. */
export interface MetricsAccess {
  token: string | null;
}
