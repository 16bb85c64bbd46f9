import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { RING_SIZE, RangeIndex, RangeTableError, computeRangeTable, lookupRangeHash } from '../../src/shard/index.js';
import { hashArb, probeHashes, rangeTableArb, ringArb } from './arbitraries.js';

describe('RangeIndex', () => {
  it('looks up like the plain range table', () => {
    fc.assert(
      fc.property(rangeTableArb, fc.array(hashArb, { maxLength: 30 }), (table, hashes) => {
        const index = RangeIndex.from(table);
        expect(index.version).toBe(table.version);
        expect(index.rangeCount).toBe(table.ranges.length);
        const edges = Array.from({ length: 15 }, (_, i) => [(i + 1) * 2 ** 28 - 1, (i + 1) * 2 ** 28]).flat();
        const probes = [0, 0xffffffff, ...edges, ...hashes, ...table.ranges.flatMap((r) => [r.start, r.end - 1])];
        for (const h of probes) expect(index.lookupHash(h)).toBe(lookupRangeHash(table, h));
      }),
      { seed: 701, numRuns: 200 },
    );
  });

  it('looks up like the ring it was computed from', () => {
    fc.assert(
      fc.property(ringArb, fc.array(fc.string(), { maxLength: 20 }), fc.array(hashArb, { maxLength: 20 }), (ring, keys, hashes) => {
        const index = RangeIndex.from(computeRangeTable(ring));
        for (const k of keys) expect(index.lookup(k)).toBe(ring.lookup(k));
        for (const h of probeHashes(ring, hashes)) expect(index.lookupHash(h)).toBe(ring.lookupHash(h));
      }),
      { seed: 702, numRuns: 100 },
    );
  });

  it('refuses an invalid table', () => {
    expect(() => RangeIndex.from({ version: 1, ranges: [{ start: 0, end: RING_SIZE - 1, shard: 1 }] })).toThrow(RangeTableError);
  });
});

describe('RangeIndex with many ranges', () => {
  it('agrees with the plain table at every range edge', () => {
    // 3,000 ranges: enough for a 2^12-bucket jump table with several ranges per bucket.
    const starts = Array.from({ length: 3000 }, (_, i) => (i === 0 ? 0 : Math.floor(i * 1431655.7) + (i % 7)));
    const table = {
      version: 1,
      ranges: starts.map((start, i) => ({ start, end: starts[i + 1] ?? 0x1_0000_0000, shard: (i * 31) % 17 })),
    };
    const index = RangeIndex.from(table);
    for (const r of table.ranges) {
      for (const h of [r.start, r.end - 1]) expect(index.lookupHash(h)).toBe(r.shard);
    }
    for (let b = 0; b < 4096; b++) {
      const h = b * 2 ** 20;
      expect(index.lookupHash(h)).toBe(lookupRangeHash(table, h));
      if (h > 0) expect(index.lookupHash(h - 1)).toBe(lookupRangeHash(table, h - 1));
    }
  });
});
