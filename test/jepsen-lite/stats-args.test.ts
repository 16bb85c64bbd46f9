/** Run figures (counts, percentiles, availability per fault) and the command-line flags. */
import { describe, expect, it } from 'vitest';
import type { HistoryEvent } from '../../jepsen-lite/history.js';
import type { FaultRecord } from '../../jepsen-lite/nemesis.js';
import { parseArgs, UsageError } from '../../jepsen-lite/run.js';
import { computeStats, pairOperations, percentile } from '../../jepsen-lite/stats.js';

const ev = (process: number, type: HistoryEvent['type'], f: HistoryEvent['f'], time: number, value: HistoryEvent['value'] = null): HistoryEvent => ({
  process,
  type,
  f,
  key: 'k',
  value,
  time,
});

describe('stats', () => {
  it('pairs operations, counts outcomes and measures availability per fault', () => {
    const s = 1e9;
    const events: HistoryEvent[] = [
      // 0–1 s: baseline, two ok ops
      ev(0, 'invoke', 'put', 0.1 * s, 'a'),
      ev(0, 'ok', 'put', 0.2 * s, 'a'),
      ev(0, 'invoke', 'get', 0.3 * s),
      ev(0, 'ok', 'get', 0.5 * s, 'a'),
      // 1–2 s: fault, one ok op, one info, one fail
      ev(0, 'invoke', 'get', 1.1 * s),
      ev(0, 'ok', 'get', 1.2 * s, 'a'),
      ev(1, 'invoke', 'put', 1.1 * s, 'b'),
      ev(1, 'info', 'put', 1.9 * s, 'b'),
      ev(0, 'invoke', 'cas', 1.3 * s, ['x', 'c']),
      ev(0, 'fail', 'cas', 1.4 * s, ['x', 'c']),
      ev(2, 'invoke', 'get', 1.95 * s),
    ];
    const ops = pairOperations(events);
    expect(ops.map((o) => o.outcome)).toEqual(['ok', 'ok', 'ok', 'info', 'fail', 'open']);
    const faults: FaultRecord[] = [{ kind: 'partition', description: 'cut', startNs: 1 * s, endNs: 2 * s }];
    const st = computeStats(ops, faults, { from: 0, to: 2 * s });
    expect(st.counts.get).toEqual({ ok: 2, fail: 0, info: 0, open: 1 });
    expect(st.counts.put).toEqual({ ok: 1, fail: 0, info: 1, open: 0 });
    expect(st.counts.cas).toEqual({ ok: 0, fail: 1, info: 0, open: 0 });
    expect(st.baselineOkPerSec).toBeCloseTo(2);
    expect(st.windows[0]?.okPerSec).toBeCloseTo(1);
    expect(st.windows[0]?.ratio).toBeCloseTo(0.5);
    expect(st.latency.all.count).toBe(3);
    expect(st.latency.get.p50Ms).toBeCloseTo(100);
  });

  it('percentile is nearest-rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
  });
});

describe('parseArgs', () => {
  const now = new Date('2026-11-28T01:02:03.000Z');

  it('has sensible defaults and names the out dir after time and seed', () => {
    const { options, json } = parseArgs(['--seed', '7'], now);
    expect(options).toMatchObject({ nodes: 3, timeSec: 60, clients: 10, keys: 5, nemesis: ['partition', 'kill', 'pause'], seed: 7, unsafeStaleReads: false });
    expect(options.out).toBe('jepsen-out/2026-11-28T01-02-03-000Z-seed7');
    expect(json).toBe(false);
  });

  it('reads every flag, with a space or =', () => {
    const { options, json } = parseArgs(
      ['--nodes=5', '--time', '20', '--clients', '4', '--keys=2', '--nemesis', 'kill', '--seed', '9', '--unsafe-stale-reads', '--out', '/tmp/x', '--json', '--op-timeout-ms', '900'],
      now,
    );
    expect(options).toMatchObject({ nodes: 5, timeSec: 20, clients: 4, keys: 2, nemesis: ['kill'], seed: 9, unsafeStaleReads: true, out: '/tmp/x', opTimeoutMs: 900 });
    expect(json).toBe(true);
  });

  it('rejects bad input', () => {
    expect(() => parseArgs(['--nodes', 'x'], now)).toThrow(UsageError);
    expect(() => parseArgs(['--nemesis', 'flood'], now)).toThrow(/unknown nemesis/);
    expect(() => parseArgs(['--frobnicate'], now)).toThrow(/unknown option/);
    expect(() => parseArgs(['--nodes', '1'], now)).toThrow(/at least 2 nodes/);
  });
});
