import type { MetaState } from './types.js';
import { META_SHARD } from './types.js';

/**
 * A `splitShard` proposal that halves a shard's ring span: `at` is the ring
 * point below which half of the shard's positions lie, `newShard` the next
 * unused id. Null when the shard is unknown, the meta group, or owns a single position.
 */
export function suggestSplit(state: MetaState, shard: number): { shard: number; at: number; newShard: number } | null {
  if (shard === META_SHARD || !state.shards.some((s) => s.id === shard)) return null;
  const mine = state.ranges.filter((r) => r.shard === shard);
  const span = mine.reduce((t, r) => t + (r.end - r.start), 0);
  if (span < 2) return null;
  let left = Math.floor(span / 2);
  let at = 0;
  for (const r of mine) {
    const len = r.end - r.start;
    if (left < len) {
      at = r.start + left;
      break;
    }
    left -= len;
  }
  const newShard = state.shards.reduce((m, s) => Math.max(m, s.id), 0) + 1;
  return { shard, at, newShard };
}
