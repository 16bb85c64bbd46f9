import { hashKey, hashKeyBytes } from './hash.js';
import { validateRangeTable } from './range-table.js';
import { BucketIndex } from './bucket-index.js';
import type { RangeTable } from './range-table.js';

/**
 * A range table compiled for routing: range starts and shards in typed arrays,
 * so a lookup is a hash plus a binary search over a Uint32Array, with no
 * allocation. Build one per table version (a client keeps the latest).
 */
export class RangeIndex {
  readonly version: number;
  private readonly starts: Uint32Array;
  private readonly shards: Uint32Array;
  private readonly buckets: BucketIndex;

  private constructor(table: RangeTable) {
    this.version = table.version;
    const n = table.ranges.length;
    this.starts = new Uint32Array(n);
    this.shards = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const r = table.ranges[i]!;
      this.starts[i] = r.start;
      this.shards[i] = r.shard;
    }
    this.buckets = BucketIndex.lastAtOrBelow(this.starts);
  }

  /** Validates `table` (throws RangeTableError) and compiles it. */
  static from(table: RangeTable): RangeIndex {
    validateRangeTable(table);
    return new RangeIndex(table);
  }

  get rangeCount(): number {
    return this.starts.length;
  }

  /** Index of the range containing ring position `hash`. */
  rangeIndexOf(hash: number): number {
    const starts = this.starts;
    // The bucket of `hash` narrows the binary search to a few ranges.
    const b = this.buckets;
    const bucket = hash >>> b.shift;
    let lo = b.bounds[bucket]!;
    let hi = b.bounds[bucket + 1]!;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid]! <= hash) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  lookupHash(hash: number): number {
    return this.shards[this.rangeIndexOf(hash)]!;
  }

  lookup(key: string): number {
    return this.shards[this.rangeIndexOf(hashKey(key))]!;
  }

  lookupBytes(key: Uint8Array): number {
    return this.shards[this.rangeIndexOf(hashKeyBytes(key))]!;
  }
}
