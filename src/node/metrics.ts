/**
 * Minimal Prometheus text-format metrics: counters, gauges read at scrape time,
 * and fixed-bucket histograms. No labels beyond what the caller renders (the
 * per-group ones carry `group="1"`).
 */

/** Latency histogram over fixed buckets (seconds). observe() does not allocate. */
export class Histogram {
  static readonly LATENCY_BUCKETS: readonly number[] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5,
  ];
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(readonly buckets: readonly number[] = Histogram.LATENCY_BUCKETS) {
    this.counts = new Float64Array(buckets.length);
  }

  observe(seconds: number): void {
    this.sum += seconds;
    this.count++;
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (seconds <= (b[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        return;
      }
    }
  }

  get total(): number {
    return this.count;
  }

  /** Lines of the histogram `name` with the given label text (e.g. `group="1"`). */
  render(name: string, labels: string, out: string[]): void {
    const sep = labels === '' ? '' : ',';
    let cumulative = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cumulative += this.counts[i] as number;
      out.push(`${name}_bucket{${labels}${sep}le="${String(this.buckets[i])}"} ${cumulative}`);
    }
    out.push(`${name}_bucket{${labels}${sep}le="+Inf"} ${this.count}`);
    const l = labels === '' ? '' : `{${labels}}`;
    out.push(`${name}_sum${l} ${this.sum}`);
    out.push(`${name}_count${l} ${this.count}`);
  }
}

/** Builds one exposition: `# HELP`/`# TYPE` once per metric name, then samples. */
export class MetricsText {
  private readonly lines: string[] = [];
  private readonly declared = new Set<string>();

  private declare(name: string, type: string, help: string): void {
    if (this.declared.has(name)) return;
    this.declared.add(name);
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  }

  sample(name: string, type: 'counter' | 'gauge', help: string, value: number, labels = ''): this {
    this.declare(name, type, help);
    this.lines.push(`${name}${labels === '' ? '' : `{${labels}}`} ${Number.isFinite(value) ? value : 0}`);
    return this;
  }

  histogram(name: string, help: string, h: Histogram, labels = ''): this {
    this.declare(name, 'histogram', help);
    h.render(name, labels, this.lines);
    return this;
  }

  toString(): string {
    return `${this.lines.join('\n')}\n`;
  }
}
