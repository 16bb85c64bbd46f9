import fc from 'fast-check';
import { HashRing } from '../../src/shard/index.js';
import type { RangeTable, ShardSpec } from '../../src/shard/index.js';

/** 1..8 shards with distinct ids and 1..32 vnodes each. */
export const shardSpecsArb: fc.Arbitrary<ShardSpec[]> = fc.uniqueArray(
  fc.record({ id: fc.nat({ max: 1000 }), vnodes: fc.integer({ min: 1, max: 32 }) }),
  { minLength: 1, maxLength: 8, selector: (s) => s.id },
);

export const ringArb: fc.Arbitrary<HashRing> = shardSpecsArb.map((specs) => HashRing.build(specs));

export const hashArb: fc.Arbitrary<number> = fc.nat({ max: 0xffffffff });

/** Ring positions that include edge cases: 0, 2^32 - 1 and values around the ring's tokens. */
export function probeHashes(ring: HashRing, extra: readonly number[]): number[] {
  const out = [0, 0xffffffff, ...extra];
  // Edges of the lookup buckets (every multiple of 2^28 is a bucket edge at any bucket size).
  for (let b = 1; b < 16; b++) out.push(b * 2 ** 28 - 1, b * 2 ** 28);
  for (const t of ring.tokens) {
    out.push(t);
    if (t > 0) out.push(t - 1);
    if (t < 0xffffffff) out.push(t + 1);
  }
  return out;
}

/** Any valid range table (not necessarily from a ring; adjacent ranges may share a shard). */
export const rangeTableArb: fc.Arbitrary<RangeTable> = fc
  .record({
    version: fc.maxSafeNat(),
    cuts: fc.uniqueArray(fc.integer({ min: 1, max: 0xffffffff }), { maxLength: 20 }),
    shards: fc.array(fc.nat({ max: 0xffffffff }), { minLength: 21, maxLength: 21 }),
  })
  .map(({ version, cuts, shards }) => {
    const starts = [0, ...cuts.sort((a, b) => a - b)];
    const ranges = starts.map((start, i) => ({ start, end: starts[i + 1] ?? 0x1_0000_0000, shard: shards[i]! }));
    return { version, ranges };
  });
