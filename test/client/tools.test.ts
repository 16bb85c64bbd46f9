import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LatencyHistogram } from '../../src/bench/cluster.js';
import { parseArgs } from '../../src/cli/client-args.js';

describe('LatencyHistogram (log-linear buckets)', () => {
  it('maps every value into a bucket whose bounds contain it, within ~3 %', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7fffffff }), (v) => {
        const i = LatencyHistogram.indexOf(v);
        const lo = LatencyHistogram.lowerBound(i);
        const hi = LatencyHistogram.lowerBound(i + 1);
        return lo <= v && v < hi && i < 1024 && (v < 64 || (hi - lo) / lo <= 1 / 32);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it('reports quantiles of a known distribution', () => {
    const h = new LatencyHistogram();
    for (let v = 1; v <= 10_000; v++) h.record(v);
    expect(h.count).toBe(10_000);
    expect(Math.abs(h.quantile(0.5) - 5000) / 5000).toBeLessThan(0.04);
    expect(Math.abs(h.quantile(0.99) - 9900) / 9900).toBeLessThan(0.04);
    expect(h.quantile(1)).toBeLessThanOrEqual(10_000);
    const g = new LatencyHistogram();
    g.merge(h);
    expect(g.quantile(0.5)).toBe(h.quantile(0.5));
  });
});

describe('parseArgs', () => {
  it('reads --flag value, --flag=value, boolean flags and positionals', () => {
    const a = parseArgs(['put', '--endpoints', 'a:1', 'k', '--ttl=5', '--json', 'v', '--demo'], ['json']);
    expect(a.positional).toEqual(['put', 'k', 'v']);
    expect(a.flags.get('endpoints')).toBe('a:1');
    expect(a.flags.get('ttl')).toBe('5');
    expect(a.flags.get('json')).toBe(true);
    expect(a.flags.get('demo')).toBe(true);
  });
});
