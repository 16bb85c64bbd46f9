import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  RING_SIZE,
  computeRangeTable,
  diffRangeTables,
  lookupRangeHash,
  movedSpan,
  ringMoves,
  spanByShard,
} from '../../src/shard/index.js';
import type { RangeMove, RangeTable } from '../../src/shard/index.js';
import { hashArb, rangeTableArb, ringArb } from './arbitraries.js';

type Owner = (hash: number) => number;

/** Brute force: cut the ring at every candidate boundary, compare owners piece by piece, merge. */
function bruteMoves(boundaries: Iterable<number>, before: Owner, after: Owner): RangeMove[] {
  const cuts = [...new Set([0, ...boundaries])].filter((b) => b < RING_SIZE).sort((a, b) => a - b);
  const out: RangeMove[] = [];
  cuts.forEach((start, i) => {
    const end = cuts[i + 1] ?? RING_SIZE;
    const from = before(start);
    const to = after(start);
    if (from === to) return;
    const last = out[out.length - 1];
    if (last && last.end === start && last.from === from && last.to === to) out[out.length - 1] = { ...last, end };
    else out.push({ start, end, from, to });
  });
  return out;
}

const starts = (t: RangeTable): number[] => t.ranges.map((r) => r.start);

describe('moves', () => {
  it('of adding a shard match a brute-force comparison and all go to the new shard', () => {
    fc.assert(
      fc.property(ringArb, fc.nat({ max: 2000 }), (ring, newId) => {
        fc.pre(!ring.hasShard(newId));
        const grown = ring.withShard(newId);
        const moves = ringMoves(ring, grown);
        const tokenCuts = [...ring.tokens, ...grown.tokens].map((t) => t + 1);
        expect(moves).toEqual(bruteMoves(tokenCuts, (h) => ring.lookupHash(h), (h) => grown.lookupHash(h)));
        for (const m of moves) expect(m.to).toBe(newId);
        expect(movedSpan(moves)).toBe(spanByShard(computeRangeTable(grown)).get(newId) ?? 0);
      }),
      { seed: 601, numRuns: 100 },
    );
  });

  it('of removing a shard match a brute-force comparison and all come from it', () => {
    fc.assert(
      fc.property(ringArb, fc.nat({ max: 7 }), (ring, pick) => {
        fc.pre(ring.shardCount > 1);
        const gone = ring.shardIds()[pick % ring.shardCount]!;
        const shrunk = ring.withoutShard(gone);
        const moves = ringMoves(ring, shrunk);
        const tokenCuts = [...ring.tokens, ...shrunk.tokens].map((t) => t + 1);
        expect(moves).toEqual(bruteMoves(tokenCuts, (h) => ring.lookupHash(h), (h) => shrunk.lookupHash(h)));
        for (const m of moves) expect(m.from).toBe(gone);
        expect(movedSpan(moves)).toBe(spanByShard(computeRangeTable(ring)).get(gone));
      }),
      { seed: 602, numRuns: 100 },
    );
  });

  it('of bounded-load tables match a brute-force comparison', () => {
    fc.assert(
      fc.property(ringArb, fc.nat({ max: 2000 }), fc.double({ min: 1.05, max: 2, noNaN: true }), (ring, newId, c) => {
        fc.pre(!ring.hasShard(newId));
        const before = computeRangeTable(ring, { loadFactor: c });
        const after = computeRangeTable(ring.withShard(newId), { loadFactor: c });
        const moves = ringMoves(ring, ring.withShard(newId), { loadFactor: c });
        expect(moves).toEqual(
          bruteMoves([...starts(before), ...starts(after)], (h) => lookupRangeHash(before, h), (h) => lookupRangeHash(after, h)),
        );
      }),
      { seed: 603, numRuns: 100 },
    );
  });

  it('between arbitrary tables say exactly which positions change owner', () => {
    fc.assert(
      fc.property(rangeTableArb, rangeTableArb, fc.array(hashArb, { maxLength: 30 }), (a, b, hashes) => {
        const moves = diffRangeTables(a, b);
        expect(moves).toEqual(bruteMoves([...starts(a), ...starts(b)], (h) => lookupRangeHash(a, h), (h) => lookupRangeHash(b, h)));
        for (const h of [...hashes, ...starts(a), ...starts(b)]) {
          const m = moves.find((x) => x.start <= h && h < x.end);
          const from = lookupRangeHash(a, h);
          const to = lookupRangeHash(b, h);
          if (from === to) expect(m).toBeUndefined();
          else expect(m).toMatchObject({ from, to });
        }
        expect(diffRangeTables(a, a)).toEqual([]);
      }),
      { seed: 604, numRuns: 200 },
    );
  });
});
