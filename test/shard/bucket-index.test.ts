import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { firstAtOrAbove, lastAtOrBelow } from '../../src/shard/bucket-index.js';

// Sorted distinct ring positions, many of them exactly on bucket edges (multiples of 2^20).
const sortedArb = fc
  .uniqueArray(fc.oneof(fc.nat({ max: 0xffffffff }), fc.nat({ max: 4095 }).map((k) => k * 2 ** 20)), {
    minLength: 1,
    maxLength: 300,
  })
  .map((xs) => Uint32Array.from(xs.sort((a, b) => a - b)));

function probes(sorted: Uint32Array, shift: number): number[] {
  const out = [0, 0xffffffff];
  for (const x of sorted) out.push(x, Math.max(0, x - 1), Math.min(0xffffffff, x + 1));
  for (let b = 1; b < 2 ** (32 - shift); b++) out.push(b * 2 ** shift, b * 2 ** shift - 1);
  return out;
}

describe('bucket index', () => {
  it('firstAtOrAbove: the first element ≥ hash lies in its bucket window', () => {
    fc.assert(
      fc.property(sortedArb, (sorted) => {
        const { shift, bounds } = firstAtOrAbove(sorted);
        expect(bounds.length).toBe(2 ** (32 - shift) + 1);
        for (const h of probes(sorted, shift)) {
          let first = sorted.findIndex((x) => x >= h);
          if (first < 0) first = sorted.length;
          const b = h >>> shift;
          expect(first).toBeGreaterThanOrEqual(bounds[b]!);
          expect(first).toBeLessThanOrEqual(bounds[b + 1]!);
        }
      }),
      { seed: 801, numRuns: 100 },
    );
  });

  it('lastAtOrBelow: the last element ≤ hash lies in its bucket window', () => {
    fc.assert(
      fc.property(sortedArb, (xs) => {
        const sorted = xs[0] === 0 ? xs : Uint32Array.from([0, ...xs]);
        const { shift, bounds } = lastAtOrBelow(sorted);
        for (const h of probes(sorted, shift)) {
          let last = -1;
          sorted.forEach((x, i) => {
            if (x <= h) last = i;
          });
          const b = h >>> shift;
          expect(last).toBeGreaterThanOrEqual(bounds[b]!);
          expect(last).toBeLessThanOrEqual(bounds[b + 1]!);
        }
      }),
      { seed: 802, numRuns: 100 },
    );
  });
});
