/**
 * The history format shared by the simulation and jepsen-lite: one event per
 * line of JSON Lines. See docs/testing.md.
 *
 * - `invoke` is recorded just before a request is sent, `ok` / `fail` / `info`
 *   just after its outcome is known; `time` is nanoseconds on one monotonic clock
 *   (simulated ticks in the simulation).
 * - `fail`: the operation certainly did not take effect (a read that timed out,
 *   a definite error, a cas that did not swap).
 * - `info`: the outcome of a write is unknown; that process id is then retired.
 * - values: `get` completes with the value read (string, or null = absent);
 *   `put` carries the value written; `cas` carries `[expected, new]`
 *   (expected null = "the key must be absent").
 */
export type OpFunction = 'get' | 'put' | 'cas';
export type EventType = 'invoke' | 'ok' | 'fail' | 'info';
export type RegisterValue = string | null;
export type OpValue = RegisterValue | readonly [RegisterValue, RegisterValue];

export interface HistoryEvent {
  readonly process: number;
  readonly type: EventType;
  readonly f: OpFunction;
  readonly key: string;
  readonly value: OpValue;
  readonly time: number;
}

export type Verdict = 'linearizable' | 'not-linearizable' | 'unknown';

export interface KeyResult {
  readonly key: string;
  readonly verdict: Verdict;
  readonly operations: number;
  /** For a violation: the operations (as pairs of events) the search could not place, and the states it reached. */
  readonly detail?: string;
  /** For a violation: time window around the failing operations, for reports. */
  readonly window?: { readonly from: number; readonly to: number };
}

export interface CheckResult {
  readonly verdict: Verdict;
  readonly keys: readonly KeyResult[];
  readonly operations: number;
  readonly elapsedMs: number;
}

export interface CheckOptions {
  /** Give up (verdict `unknown`) on a key after this many search steps. */
  readonly maxStepsPerKey?: number;
  /** Give up on the whole history after this many wall-clock milliseconds. */
  readonly timeoutMs?: number;
}
