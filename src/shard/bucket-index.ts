/**
 * A jump table over a sorted Uint32Array of ring positions: the ring is cut
 * into 2^bits equal buckets (about one per element), and `bounds` says where
 * each bucket's elements start, so a lookup binary-searches only one bucket's
 * few elements instead of the whole array (about 5× faster at 2,560 tokens).
 * For `hash`, the bucket is `hash >>> shift`; its window is
 * [bounds[bucket], bounds[bucket + 1]].
 */
export interface BucketIndex {
  readonly shift: number;
  /** 2^bits + 1 entries. */
  readonly bounds: Uint32Array;
}

const MIN_BITS = 4;
const MAX_BITS = 16;

function bitsFor(count: number): number {
  let bits = MIN_BITS;
  while (1 << bits < count && bits < MAX_BITS) bits++;
  return bits;
}

/**
 * For "first element ≥ hash" searches: bounds[b] = index of the first element ≥
 * the lowest position of bucket b (bounds[2^bits] = length). The answer for any
 * hash in bucket b lies in [bounds[b], bounds[b + 1]].
 */
export function firstAtOrAbove(sorted: Uint32Array): BucketIndex {
  const bits = bitsFor(sorted.length);
  const shift = 32 - bits;
  const count = 1 << bits;
  const bounds = new Uint32Array(count + 1);
  let j = 0;
  for (let b = 0; b < count; b++) {
    const lowest = b * 2 ** shift;
    while (j < sorted.length && sorted[j]! < lowest) j++;
    bounds[b] = j;
  }
  bounds[count] = sorted.length;
  return { shift, bounds };
}

/**
 * For "last element ≤ hash" searches over starts with sorted[0] = 0: bounds[b] =
 * index of the last element ≤ the lowest position of bucket b (bounds[2^bits] =
 * length - 1). The answer for any hash in bucket b lies in [bounds[b], bounds[b + 1]].
 */
export function lastAtOrBelow(sorted: Uint32Array): BucketIndex {
  const bits = bitsFor(sorted.length);
  const shift = 32 - bits;
  const count = 1 << bits;
  const bounds = new Uint32Array(count + 1);
  let j = 0;
  for (let b = 0; b < count; b++) {
    const lowest = b * 2 ** shift;
    while (j + 1 < sorted.length && sorted[j + 1]! <= lowest) j++;
    bounds[b] = j;
  }
  bounds[count] = sorted.length - 1;
  return { shift, bounds };
}

export const BucketIndex = { firstAtOrAbove, lastAtOrBelow };
