import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  HashRing,
  RING_SIZE,
  computeRangeTable,
  hashKey,
  lookupRange,
  lookupRangeHash,
  mergeAdjacentRanges,
  spanByShard,
  validateRangeTable,
} from '../../src/shard/index.js';
import { hashArb, probeHashes, ringArb } from './arbitraries.js';

describe('range table from a ring', () => {
  it('is valid, merged, and its lookup equals the ring lookup', () => {
    fc.assert(
      fc.property(ringArb, fc.array(fc.string(), { maxLength: 20 }), fc.array(hashArb, { maxLength: 30 }), (ring, keys, hashes) => {
        const table = computeRangeTable(ring, { version: 7 });
        expect(table.version).toBe(7);
        validateRangeTable(table);
        for (let i = 1; i < table.ranges.length; i++) expect(table.ranges[i]!.shard).not.toBe(table.ranges[i - 1]!.shard);
        for (const key of keys) expect(lookupRange(table, key)).toBe(ring.lookup(key));
        for (const h of probeHashes(ring, hashes)) expect(lookupRangeHash(table, h)).toBe(ring.lookupHash(h));
        // Range boundaries are exactly where ownership changes.
        for (const r of table.ranges) {
          expect(ring.lookupHash(r.start)).toBe(r.shard);
          expect(ring.lookupHash(r.end - 1)).toBe(r.shard);
        }
      }),
      { seed: 301, numRuns: 100 },
    );
  });

  it('spans add up to the whole ring', () => {
    fc.assert(
      fc.property(ringArb, (ring) => {
        let total = 0;
        for (const s of spanByShard(computeRangeTable(ring)).values()) total += s;
        expect(total).toBe(RING_SIZE);
      }),
      { seed: 302, numRuns: 50 },
    );
  });

  it('handles a single shard with a single vnode as one range', () => {
    const ring = HashRing.build([{ id: 9, vnodes: 1 }]);
    const table = computeRangeTable(ring);
    expect(table.ranges).toEqual([{ start: 0, end: RING_SIZE, shard: 9 }]);
    expect(lookupRange(table, 'anything')).toBe(9);
  });

  it('looks up ranges at their edges', () => {
    const table = {
      version: 1,
      ranges: [
        { start: 0, end: 10, shard: 1 },
        { start: 10, end: 11, shard: 2 },
        { start: 11, end: RING_SIZE, shard: 3 },
      ],
    };
    expect([0, 9, 10, 11, 12, 0xffffffff].map((h) => lookupRangeHash(table, h))).toEqual([1, 1, 2, 3, 3, 3]);
    expect(lookupRange(table, 'k')).toBe(lookupRangeHash(table, hashKey('k')));
  });

  it('merges adjacent ranges of the same shard', () => {
    expect(
      mergeAdjacentRanges([
        { start: 0, end: 5, shard: 1 },
        { start: 5, end: 9, shard: 1 },
        { start: 9, end: 12, shard: 2 },
        { start: 12, end: 20, shard: 1 },
      ]),
    ).toEqual([
      { start: 0, end: 9, shard: 1 },
      { start: 9, end: 12, shard: 2 },
      { start: 12, end: 20, shard: 1 },
    ]);
  });
});
