// Test helper: scrapes GET /metrics over real HTTP and reads one sample out of the Prometheus text format.
export interface Scrape {
  status: number;
  text: string;
  /** value of the sample `name{labels}` (labels compared exactly, in any order); 0 when absent */
  value(name: string, labels?: Record<string, string>): number;
}

export async function scrape(port: number, headers: Record<string, string> = {}): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { headers });
  const text = await response.text();
  return { status: response.status, text, value: (name, labels = {}) => metricSample(text, name, labels) };
}

/** The value of the sample `name{labels}` in Prometheus text (labels compared exactly); 0 when absent. */
export function metricSample(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).sort().map(([k, v]) => `${k}="${v}"`).join(',');
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '').split(/,(?=[a-zA-Z_]+=")/).filter(Boolean).sort().join(',');
    if (have === wanted) return Number(m[3]);
  }
  return 0;
}
