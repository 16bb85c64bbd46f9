import type { Rng } from '../util/rng.js';

export interface BackoffOptions {
  /** Delay before the first retry, in ms. */
  readonly baseMs: number;
  /** Cap on the delay, in ms. */
  readonly maxMs: number;
}

/**
 * Delay before reconnect attempt `attempt` (0 = first retry): exponential,
 * capped, with "equal jitter" — uniformly in [d/2, d) where d = min(max, base·2^attempt) —
 * so that nodes that lost a peer together do not all redial in lock step.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, rng: Rng): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(exp / 2 + (exp / 2) * rng.float());
}
