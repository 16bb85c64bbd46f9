/**
 * Figures of a run from its history and its fault records: operation counts
 * by function and outcome, latency percentiles of completed operations, and
 * availability (ok operations per second) during each fault against the
 * fault-free baseline.
 */
import type { HistoryEvent, OpFunction, OpValue } from './history.js';
import type { FaultRecord } from './nemesis.js';

export type Outcome = 'ok' | 'fail' | 'info' | 'open';

/** One operation: an invoke and its completion (if any). */
export interface TimedOp {
  readonly process: number;
  readonly f: OpFunction;
  readonly key: string;
  /** The invoke's value (put: written, cas: [expected, new]). */
  readonly value: OpValue;
  /** The completion's value (get: the value read). */
  readonly result: OpValue;
  readonly outcome: Outcome;
  readonly start: number;
  /** NaN when it never completed. */
  readonly end: number;
}

export function pairOperations(events: readonly HistoryEvent[]): TimedOp[] {
  const open = new Map<number, HistoryEvent>();
  const out: TimedOp[] = [];
  for (const e of events) {
    if (e.type === 'invoke') {
      open.set(e.process, e);
      continue;
    }
    const inv = open.get(e.process);
    if (inv === undefined) continue;
    open.delete(e.process);
    out.push({ process: e.process, f: e.f, key: e.key, value: inv.value, result: e.value, outcome: e.type, start: inv.time, end: e.time });
  }
  for (const inv of open.values()) {
    out.push({ process: inv.process, f: inv.f, key: inv.key, value: inv.value, result: null, outcome: 'open', start: inv.time, end: Number.NaN });
  }
  return out.sort((a, b) => a.start - b.start);
}

export type Counts = Record<OpFunction, Record<Outcome, number>>;

export interface LatencyFigures {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface WindowAvailability {
  readonly description: string;
  readonly fromS: number;
  readonly toS: number;
  readonly okPerSec: number;
  /** okPerSec / baseline (NaN without a baseline). */
  readonly ratio: number;
}

export interface RunStats {
  readonly counts: Counts;
  readonly total: number;
  readonly latency: Record<OpFunction | 'all', LatencyFigures>;
  readonly baselineOkPerSec: number;
  readonly windows: readonly WindowAvailability[];
}

const FUNCTIONS: readonly OpFunction[] = ['get', 'put', 'cas'];

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

function latency(ops: readonly TimedOp[]): LatencyFigures {
  const ms = ops.map((o) => (o.end - o.start) / 1e6).sort((a, b) => a - b);
  return { count: ms.length, p50Ms: percentile(ms, 50), p99Ms: percentile(ms, 99), maxMs: ms.at(-1) ?? Number.NaN };
}

/**
 * `workload` is [from, to] in ns of the workload; the baseline counts ok
 * completions outside every fault window.
 */
export function computeStats(ops: readonly TimedOp[], faults: readonly FaultRecord[], workload: { from: number; to: number }): RunStats {
  const counts = Object.fromEntries(FUNCTIONS.map((f) => [f, { ok: 0, fail: 0, info: 0, open: 0 }])) as Counts;
  for (const o of ops) counts[o.f][o.outcome]++;
  // Latency of operations that got an answer (ok, or a definite fail such as a cas that did not swap).
  const answered = ops.filter((o) => o.outcome === 'ok');
  const lat = {
    all: latency(answered),
    get: latency(answered.filter((o) => o.f === 'get')),
    put: latency(answered.filter((o) => o.f === 'put')),
    cas: latency(answered.filter((o) => o.f === 'cas')),
  };
  const okEnds = answered.map((o) => o.end);
  const inFault = (t: number): boolean => faults.some((f) => t >= f.startNs && t <= f.endNs);
  const faultNs = faults.reduce((s, f) => s + Math.max(0, Math.min(f.endNs, workload.to) - Math.max(f.startNs, workload.from)), 0);
  const baselineNs = Math.max(0, workload.to - workload.from - faultNs);
  const baselineOk = okEnds.filter((t) => t >= workload.from && t <= workload.to && !inFault(t)).length;
  const baselineOkPerSec = baselineNs > 0 ? baselineOk / (baselineNs / 1e9) : Number.NaN;
  const windows = faults.map((f): WindowAvailability => {
    const n = okEnds.filter((t) => t >= f.startNs && t <= f.endNs).length;
    const secs = Math.max(1e-9, (f.endNs - f.startNs) / 1e9);
    const okPerSec = n / secs;
    return {
      description: f.description,
      fromS: (f.startNs - workload.from) / 1e9,
      toS: (f.endNs - workload.from) / 1e9,
      okPerSec,
      ratio: baselineOkPerSec > 0 ? okPerSec / baselineOkPerSec : Number.NaN,
    };
  });
  return { counts, total: ops.length, latency: lat, baselineOkPerSec, windows };
}

export function formatStats(s: RunStats): string {
  const lines: string[] = [];
  lines.push(`operations: ${s.total}`);
  for (const f of FUNCTIONS) {
    const c = s.counts[f];
    lines.push(`  ${f.padEnd(4)} ok ${c.ok}  fail ${c.fail}  info ${c.info}${c.open > 0 ? `  open ${c.open}` : ''}`);
  }
  const l = (x: LatencyFigures): string => `p50 ${x.p50Ms.toFixed(1)} ms  p99 ${x.p99Ms.toFixed(1)} ms  max ${x.maxMs.toFixed(1)} ms (${x.count} ok)`;
  lines.push(`latency (ok ops): ${l(s.latency.all)}`);
  for (const f of FUNCTIONS) lines.push(`  ${f.padEnd(4)} ${l(s.latency[f])}`);
  lines.push(`availability: baseline ${s.baselineOkPerSec.toFixed(1)} ok ops/s`);
  for (const w of s.windows) {
    const pct = Number.isFinite(w.ratio) ? `${Math.round(w.ratio * 100)}%` : '-';
    lines.push(`  ${w.fromS.toFixed(1)}–${w.toS.toFixed(1)} s  ${w.okPerSec.toFixed(1)} ok/s (${pct})  ${w.description}`);
  }
  return lines.join('\n');
}
