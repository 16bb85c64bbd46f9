/**
 * checkHistory: P-compositionality — every key is an independent register, so
 * the history is linearizable iff each key's sub-history is. Keys are checked
 * one after another, so only one key's memo is alive at a time.
 */
import type { CheckOptions, CheckResult, HistoryEvent, KeyResult, Verdict } from '../history.js';
import { describeViolation, explainViolation, type Violation } from './explain.js';
import { operationsByKey } from './operations.js';
import { pruneIndefiniteWrites } from './prune.js';
import { searchKey } from './search.js';

export interface CheckerOptions extends CheckOptions {
  /** Memory the memo of one key may use before that key is `unknown`. Default 512 MiB. */
  readonly maxMemoBytesPerKey?: number;
}

export interface KeyCheckResult extends KeyResult {
  /** Search steps spent on this key. */
  readonly steps: number;
  /** Distinct (linearized set, state) pairs explored. */
  readonly memoEntries: number;
  /** For a violation: the structured explanation behind `detail`. */
  readonly violation?: Violation;
}

export interface DetailedCheckResult extends CheckResult {
  readonly keys: readonly KeyCheckResult[];
}

export const DEFAULT_MAX_STEPS_PER_KEY = 10_000_000;
export const DEFAULT_MAX_MEMO_BYTES_PER_KEY = 512 * 1024 * 1024;

/** Throws HistoryError when the history itself is malformed (see operationsByKey). */
export function checkHistory(events: readonly HistoryEvent[], options: CheckerOptions = {}): DetailedCheckResult {
  const started = Date.now();
  const maxSteps = options.maxStepsPerKey ?? DEFAULT_MAX_STEPS_PER_KEY;
  const deadline = options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : started + options.timeoutMs;
  const maxMemoBytes = options.maxMemoBytesPerKey ?? DEFAULT_MAX_MEMO_BYTES_PER_KEY;

  const byKey = operationsByKey(events);
  const keys: KeyCheckResult[] = [];
  let operations = 0;
  for (const [key, ops] of [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    operations += ops.length;
    if (Date.now() > deadline) {
      keys.push({ key, verdict: 'unknown', operations: ops.length, detail: 'time budget exhausted before this key', steps: 0, memoEntries: 0 });
      continue;
    }
    const searched = pruneIndefiniteWrites(ops).ops;
    const outcome = searchKey(searched, { maxSteps, deadline, maxMemoBytes });
    const base = { key, operations: ops.length, steps: outcome.steps, memoEntries: outcome.memoEntries };
    switch (outcome.kind) {
      case 'linearizable':
        keys.push({ ...base, verdict: 'linearizable' });
        break;
      case 'unknown':
        keys.push({ ...base, verdict: 'unknown', detail: outcome.reason });
        break;
      case 'not-linearizable': {
        const violation = explainViolation(searched, outcome.longestPrefix, outcome.stateAfterPrefix);
        keys.push({
          ...base,
          verdict: 'not-linearizable',
          detail: describeViolation(violation, ops.length),
          window: violation.window,
          violation,
        });
        break;
      }
    }
  }
  return { verdict: overallVerdict(keys), keys, operations, elapsedMs: Date.now() - started };
}

/** not-linearizable if any key is; else unknown if any key is; else linearizable. */
export function overallVerdict(keys: readonly KeyResult[]): Verdict {
  if (keys.some((k) => k.verdict === 'not-linearizable')) return 'not-linearizable';
  if (keys.some((k) => k.verdict === 'unknown')) return 'unknown';
  return 'linearizable';
}
