import { describe, expect, it } from 'vitest';
import { Histogram, MetricsText, prettyLine } from '../../src/node/index.js';

describe('metrics text', () => {
  it('renders counters, gauges and cumulative histogram buckets', () => {
    const h = new Histogram([0.01, 0.1]);
    h.observe(0.005);
    h.observe(0.05);
    h.observe(3);
    const text = new MetricsText()
      .sample('x_total', 'counter', 'X things.', 7, 'group="1"')
      .sample('x_total', 'counter', 'X things.', 9, 'group="2"')
      .histogram('lat_seconds', 'Latency.', h, 'group="1"')
      .toString();
    expect(text.match(/# TYPE x_total counter/g)).toHaveLength(1);
    expect(text).toContain('x_total{group="1"} 7\nx_total{group="2"} 9');
    expect(text).toContain('lat_seconds_bucket{group="1",le="0.01"} 1');
    expect(text).toContain('lat_seconds_bucket{group="1",le="0.1"} 2');
    expect(text).toContain('lat_seconds_bucket{group="1",le="+Inf"} 3');
    expect(text).toContain('lat_seconds_count{group="1"} 3');
    expect(text).toContain('lat_seconds_sum{group="1"} 3.055');
  });
});

describe('pretty log lines', () => {
  it('formats a pino JSON line for humans and passes other text through', () => {
    const line = JSON.stringify({ level: 30, time: 0, pid: 1, node: 'n1', msg: 'ready', url: 'ws://x/v1', n: 3 });
    const out = prettyLine(line);
    expect(out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  n1 ready url=ws:\/\/x\/v1 n=3\n$/);
    expect(prettyLine('not json')).toBe('not json');
  });
});
