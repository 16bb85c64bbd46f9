import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { HashRing, RING_SIZE, computeRangeTable, diffRangeTables, spanByShard, validateRangeTable } from '../../src/shard/index.js';
import { ringArb, shardSpecsArb } from './arbitraries.js';

const factorArb = fc.double({ min: 1.01, max: 3, noNaN: true });

describe('bounded-load range table', () => {
  it('keeps every shard at or under floor(c × 2^32 / n) and covers the ring', () => {
    fc.assert(
      fc.property(ringArb, factorArb, (ring, c) => {
        const table = computeRangeTable(ring, { loadFactor: c, version: 2 });
        validateRangeTable(table);
        const cap = Math.floor((c * RING_SIZE) / ring.shardCount);
        for (const span of spanByShard(table).values()) expect(span).toBeLessThanOrEqual(cap);
      }),
      { seed: 501, numRuns: 150 },
    );
  });

  it('moves a range off its natural owner only when that owner is full', () => {
    fc.assert(
      fc.property(ringArb, factorArb, (ring, c) => {
        const natural = computeRangeTable(ring);
        const bounded = computeRangeTable(ring, { loadFactor: c });
        const cap = Math.floor((c * RING_SIZE) / ring.shardCount);
        const spans = spanByShard(bounded);
        for (const move of diffRangeTables(natural, bounded)) expect(spans.get(move.from)).toBe(cap);
      }),
      { seed: 502, numRuns: 150 },
    );
  });

  it('is deterministic, whatever order the shards were given in', () => {
    fc.assert(
      fc.property(shardSpecsArb, factorArb, (specs, c) => {
        const a = computeRangeTable(HashRing.build(specs), { loadFactor: c });
        const b = computeRangeTable(HashRing.build([...specs].reverse()), { loadFactor: c });
        const again = computeRangeTable(HashRing.build(specs), { loadFactor: c });
        expect(b).toEqual(a);
        expect(again).toEqual(a);
      }),
      { seed: 503, numRuns: 100 },
    );
  });

  it('changes nothing when no shard is over c × average', () => {
    fc.assert(
      fc.property(ringArb, (ring) => {
        // c = n: capacity is the whole ring.
        const c = Math.max(ring.shardCount, 1.5);
        expect(computeRangeTable(ring, { loadFactor: c }).ranges).toEqual(computeRangeTable(ring).ranges);
      }),
      { seed: 504, numRuns: 50 },
    );
  });

  it('actually rebalances a lopsided ring', () => {
    const ring = HashRing.build([{ id: 1, vnodes: 1 }, { id: 2, vnodes: 1 }, { id: 3, vnodes: 1 }]);
    const natural = spanByShard(computeRangeTable(ring));
    const max = Math.max(...natural.values());
    expect(max).toBeGreaterThan((1.1 * RING_SIZE) / 3); // this ring is uneven without bounds
    const bounded = spanByShard(computeRangeTable(ring, { loadFactor: 1.1 }));
    for (const span of bounded.values()) expect(span).toBeLessThanOrEqual(Math.floor((1.1 * RING_SIZE) / 3));
  });

  it('rejects load factors that are not > 1 or too close to 1', () => {
    const ring = HashRing.build([1, 2, 3]);
    for (const c of [1, 0.5, -2, Number.NaN, Number.POSITIVE_INFINITY, 1 + 1e-15]) {
      expect(() => computeRangeTable(ring, { loadFactor: c })).toThrow(RangeError);
    }
  });
});
