import { hashKey, RING_SIZE } from './hash.js';

/** Ring positions [start, end) belong to `shard`. `end` may be 2^32. */
export interface ShardRange {
  readonly start: number;
  readonly end: number;
  readonly shard: number;
}

/**
 * The ring as a versioned table of ranges: sorted, contiguous, covering
 * [0, 2^32) exactly. A plain value: how it was computed (ring, bounded loads)
 * lives elsewhere, so the shard map can grow fields per range later.
 */
export interface RangeTable {
  readonly version: number;
  readonly ranges: readonly ShardRange[];
}

/** A range table that is malformed (gaps, overlaps, bad numbers, bad encoding). */
export class RangeTableError extends Error {
  override readonly name = 'RangeTableError';
}

function isU32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/**
 * Throws RangeTableError unless `table` is well formed: version a non-negative
 * safe integer; at least one range; ranges sorted, non-empty, starting at 0,
 * each starting where the previous ended, the last ending at 2^32; shard ids in [0, 2^32).
 */
export function validateRangeTable(table: RangeTable): void {
  const { version, ranges } = table;
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new RangeTableError(`version must be a non-negative safe integer, got ${String(version)}`);
  }
  if (ranges.length === 0) throw new RangeTableError('a range table needs at least one range');
  let expectedStart = 0;
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (!isU32(r.start)) throw new RangeTableError(`range ${i}: start must be an integer in [0, 2^32), got ${String(r.start)}`);
    if (typeof r.end !== 'number' || !Number.isInteger(r.end) || r.end < 1 || r.end > RING_SIZE) {
      throw new RangeTableError(`range ${i}: end must be an integer in [1, 2^32], got ${String(r.end)}`);
    }
    if (!isU32(r.shard)) throw new RangeTableError(`range ${i}: shard must be an integer in [0, 2^32), got ${String(r.shard)}`);
    if (r.start >= r.end) throw new RangeTableError(`range ${i}: empty or reversed [${r.start}, ${r.end})`);
    if (r.start < expectedStart) {
      throw new RangeTableError(`range ${i}: [${r.start}, ${r.end}) overlaps the previous range, which ends at ${expectedStart}`);
    }
    if (r.start > expectedStart) {
      throw new RangeTableError(`range ${i}: gap [${expectedStart}, ${r.start}) is not covered`);
    }
    expectedStart = r.end;
  }
  if (expectedStart !== RING_SIZE) {
    throw new RangeTableError(`ranges end at ${expectedStart}; [${expectedStart}, 2^32) is not covered`);
  }
}

/** Index of the range containing ring position `hash` (binary search, no allocation). */
export function rangeIndexOf(table: RangeTable, hash: number): number {
  const ranges = table.ranges;
  let lo = 0;
  let hi = ranges.length - 1;
  // Last range whose start ≤ hash; ranges[0].start is 0 in a valid table.
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (ranges[mid]!.start <= hash) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Shard owning ring position `hash`. */
export function lookupRangeHash(table: RangeTable, hash: number): number {
  return table.ranges[rangeIndexOf(table, hash)]!.shard;
}

/** Shard owning a string key. */
export function lookupRange(table: RangeTable, key: string): number {
  return lookupRangeHash(table, hashKey(key));
}

/** Merges adjacent ranges of the same shard (input must be sorted and contiguous). */
export function mergeAdjacentRanges(ranges: readonly ShardRange[]): ShardRange[] {
  const out: ShardRange[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last !== undefined && last.shard === r.shard && last.end === r.start) {
      out[out.length - 1] = { start: last.start, end: r.end, shard: r.shard };
    } else {
      out.push(r);
    }
  }
  return out;
}

/** Ring span owned by each shard (sums of range lengths), ascending by shard id. */
export function spanByShard(table: RangeTable): Map<number, number> {
  const spans = new Map<number, number>();
  for (const r of table.ranges) spans.set(r.shard, (spans.get(r.shard) ?? 0) + (r.end - r.start));
  return new Map([...spans].sort((a, b) => a[0] - b[0]));
}
