/**
 * Sets of ring positions as sorted, disjoint [start, end) ranges of the u32
 * ring (end may be 2^32). A shard split names the ranges that leave a state
 * machine; the state machine keeps the union of everything it gave away.
 *
 * RingRangeSet is immutable and canonical: ranges sorted, non-empty, and
 * neither overlapping nor touching (touching ranges are merged), so equal sets
 * have equal range lists (and equal snapshot bytes).
 */
import { RING_SIZE } from '../shard/index.js';
import type { RingRange } from './types.js';

const isRingPoint = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= RING_SIZE;

/**
 * Why `ranges` is not a valid split range list, or null: a non-empty array of
 * { start, end } with integers 0 <= start < end <= 2^32, sorted and
 * non-overlapping (touching is allowed: [a, b) then [b, c)).
 */
export function validateRingRanges(ranges: readonly RingRange[]): string | null {
  if (!Array.isArray(ranges)) return 'ranges must be an array';
  if (ranges.length === 0) return 'ranges must not be empty';
  let prevEnd = 0;
  for (let i = 0; i < ranges.length; i++) {
    const r: unknown = ranges[i];
    if (typeof r !== 'object' || r === null) return `ranges[${i}] must be an object`;
    const { start, end } = r as Partial<RingRange>;
    if (!isRingPoint(start) || !isRingPoint(end)) return `ranges[${i}] bounds must be integers in [0, 2^32]`;
    if (start >= end) return `ranges[${i}] is empty or reversed: [${start}, ${end})`;
    if (i > 0 && start < prevEnd) return `ranges[${i}] overlaps or is out of order`;
    prevEnd = end;
  }
  return null;
}

export class RingRangeSet {
  static readonly EMPTY = new RingRangeSet([], []);

  /** Parallel arrays: range i is [starts[i], ends[i]) (typed: one element kind for the search). */
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;

  private constructor(starts: readonly number[], ends: readonly number[]) {
    this.starts = Float64Array.from(starts);
    this.ends = Float64Array.from(ends);
  }

  /** From valid ranges (see validateRingRanges); touching ranges are merged. */
  static of(ranges: readonly RingRange[]): RingRangeSet {
    return RingRangeSet.EMPTY.union(ranges);
  }

  /** Number of (merged) ranges. */
  get size(): number {
    return this.starts.length;
  }

  /** Whether ring position `pos` lies in one of the ranges: binary search, no allocation. */
  contains(pos: number): boolean {
    const starts = this.starts;
    // Last range with start <= pos.
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((starts[mid] as number) <= pos) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && pos < (this.ends[lo - 1] as number);
  }

  /** This set plus sorted, disjoint (possibly touching) `ranges`. */
  union(ranges: readonly RingRange[]): RingRangeSet {
    const starts: number[] = [];
    const ends: number[] = [];
    const push = (s: number, e: number): void => {
      const last = ends.length - 1;
      if (last >= 0 && s <= (ends[last] as number)) {
        if (e > (ends[last] as number)) ends[last] = e;
      } else {
        starts.push(s);
        ends.push(e);
      }
    };
    let i = 0;
    let j = 0;
    while (i < this.starts.length || j < ranges.length) {
      const r = ranges[j];
      if (r === undefined || (i < this.starts.length && (this.starts[i] as number) <= r.start)) {
        push(this.starts[i] as number, this.ends[i] as number);
        i++;
      } else {
        push(r.start, r.end);
        j++;
      }
    }
    return new RingRangeSet(starts, ends);
  }

  /** Every ring position not in this set. */
  complement(): RingRangeSet {
    const starts: number[] = [];
    const ends: number[] = [];
    let from = 0;
    for (let i = 0; i < this.starts.length; i++) {
      const s = this.starts[i] as number;
      if (s > from) {
        starts.push(from);
        ends.push(s);
      }
      from = this.ends[i] as number;
    }
    if (from < RING_SIZE) {
      starts.push(from);
      ends.push(RING_SIZE);
    }
    return new RingRangeSet(starts, ends);
  }

  /** The ranges, sorted (fresh objects). */
  toRanges(): RingRange[] {
    return Array.from(this.starts, (start, i) => ({ start, end: this.ends[i] as number }));
  }
}
