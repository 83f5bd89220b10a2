/** One sample line of the Prometheus text format: `name{labels} value`. */
const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$/;

/**
 * Parses Prometheus text into `series -> value`, where series is `name` or `name{labels}`
 * exactly as written. Throws on any line that is neither a comment nor a sample, so a
 * malformed exposition fails the test that reads it.
 */
export function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const [, name, labels, raw] = match;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    if (raw !== 'NaN' && Number.isNaN(value))
      throw new Error(`bad value in ${JSON.stringify(line)}`);
    samples.set(`${name ?? ''}${labels ?? ''}`, value);
  }
  return samples;
}

/** Fetches and parses `/metrics` of an app. */
export async function scrape(baseUrl: string): Promise<Map<string, number>> {
  const response = await fetch(`${baseUrl}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return parsePrometheus(await response.text());
}

/** A series' value, 0 when absent (a labelled counter that never moved has no line). */
export function sample(samples: Map<string, number>, series: string): number {
  return samples.get(series) ?? 0;
}
