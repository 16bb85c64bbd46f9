import { RING_SIZE } from './hash.js';
import type { RangeTable } from './range-table.js';
import type { HashRing } from './ring.js';
import { computeRangeTable } from './assign.js';
import type { RangeTableOptions } from './assign.js';

/** Ring positions [start, end) change owner from shard `from` to shard `to`. */
export interface RangeMove {
  readonly start: number;
  readonly end: number;
  readonly from: number;
  readonly to: number;
}

/**
 * The ranges whose owner differs between two valid tables, sorted by start;
 * adjacent moves with the same `from` and `to` are merged.
 */
export function diffRangeTables(before: RangeTable, after: RangeTable): RangeMove[] {
  const moves: RangeMove[] = [];
  const a = before.ranges;
  const b = after.ranges;
  let i = 0;
  let j = 0;
  let pos = 0;
  while (pos < RING_SIZE) {
    const ra = a[i];
    const rb = b[j];
    if (ra === undefined || rb === undefined) throw new RangeError('range tables must cover [0, 2^32)');
    const end = Math.min(ra.end, rb.end);
    if (ra.shard !== rb.shard) {
      const last = moves[moves.length - 1];
      if (last !== undefined && last.end === pos && last.from === ra.shard && last.to === rb.shard) {
        moves[moves.length - 1] = { start: last.start, end, from: ra.shard, to: rb.shard };
      } else {
        moves.push({ start: pos, end, from: ra.shard, to: rb.shard });
      }
    }
    pos = end;
    if (ra.end === end) i++;
    if (rb.end === end) j++;
  }
  return moves;
}

/** The moves from one ring to another (both turned into range tables with `options`). */
export function ringMoves(before: HashRing, after: HashRing, options: RangeTableOptions = {}): RangeMove[] {
  return diffRangeTables(computeRangeTable(before, options), computeRangeTable(after, options));
}

/** Total span of a list of moves (ring positions that change owner). */
export function movedSpan(moves: readonly RangeMove[]): number {
  let total = 0;
  for (const m of moves) total += m.end - m.start;
  return total;
}
