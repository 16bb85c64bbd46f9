import { RING_SIZE } from './hash.js';
import { mergeAdjacentRanges } from './range-table.js';
import type { RangeTable, ShardRange } from './range-table.js';
import type { HashRing } from './ring.js';

export interface RangeTableOptions {
  /** Version number of the produced table. Default 0. */
  readonly version?: number;
  /**
   * Bounded loads (Mirrokni, Thorup, Zadimoghaddam): the factor c > 1. When
   * set, no shard owns more than floor(c × 2^32 / shardCount) ring positions.
   */
  readonly loadFactor?: number;
}

/**
 * The ring as a range table. Token `t[i]` owns the arc (t[i-1], t[i]], i.e. the
 * positions [t[i-1] + 1, t[i] + 1); the first token also owns the wrap-around
 * [t[last] + 1, 2^32). Adjacent ranges of the same shard are merged.
 *
 * Bounded-load rule (when `loadFactor` c is given): every shard has the same
 * capacity, cap = floor(c × 2^32 / n) positions. The natural segments above are
 * assigned in ring order starting at position 0 (so the wrap-around piece of the
 * first token's arc comes last). A segment goes to its natural owner as far as
 * that owner has room; the part that does not fit continues clockwise: to the
 * owner of the next token, then the next, skipping shards that are full, and may
 * so be split over several shards. Since n × cap ≥ 2^32 every position is placed,
 * and since nothing depends on anything but the ring and c, it is deterministic.
 */
export function computeRangeTable(ring: HashRing, options: RangeTableOptions = {}): RangeTable {
  const version = options.version ?? 0;
  const c = options.loadFactor;
  const tokens = ring.tokens;
  const owners = ring.owners;
  const m = tokens.length;

  // Natural segments in ring order: [start, end) whose owner is token `tokenIndex`.
  const segStart: number[] = [];
  const segEnd: number[] = [];
  const segToken: number[] = [];
  let prevEnd = 0;
  for (let i = 0; i < m; i++) {
    const end = tokens[i]! + 1;
    segStart.push(prevEnd);
    segEnd.push(end);
    segToken.push(i);
    prevEnd = end;
  }
  if (prevEnd < RING_SIZE) {
    segStart.push(prevEnd);
    segEnd.push(RING_SIZE);
    segToken.push(0);
  }

  const ranges: ShardRange[] = [];
  if (c === undefined) {
    for (let s = 0; s < segStart.length; s++) {
      ranges.push({ start: segStart[s]!, end: segEnd[s]!, shard: owners[segToken[s]!]! });
    }
  } else {
    if (!(c > 1) || !Number.isFinite(c)) throw new RangeError(`loadFactor must be a finite number > 1, got ${c}`);
    const n = ring.shardCount;
    const cap = Math.floor((c * RING_SIZE) / n);
    if (cap * n < RING_SIZE) throw new RangeError(`loadFactor ${c} is too close to 1 for ${n} shards`);
    const load = new Map<number, number>();
    for (let s = 0; s < segStart.length; s++) {
      let pos = segStart[s]!;
      const end = segEnd[s]!;
      let k = segToken[s]!;
      while (pos < end) {
        const shard = owners[k]!;
        const room = cap - (load.get(shard) ?? 0);
        if (room > 0) {
          const take = Math.min(room, end - pos);
          ranges.push({ start: pos, end: pos + take, shard });
          load.set(shard, (load.get(shard) ?? 0) + take);
          pos += take;
        }
        k = k + 1 === m ? 0 : k + 1;
      }
    }
  }
  return { version, ranges: mergeAdjacentRanges(ranges) };
}
