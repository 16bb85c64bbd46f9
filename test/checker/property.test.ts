import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHistory, generateHistory, type GenerateOptions } from '../../jepsen-lite/checker/index.js';
import type { HistoryEvent } from '../../jepsen-lite/history.js';

const options: fc.Arbitrary<GenerateOptions> = fc.record({
  seed: fc.integer({ min: 0, max: 0x7fffffff }),
  operations: fc.integer({ min: 1, max: 200 }),
  clients: fc.integer({ min: 1, max: 8 }),
  keys: fc.integer({ min: 1, max: 3 }),
  readRatio: fc.double({ min: 0, max: 0.8, noNaN: true }),
  casRatio: fc.double({ min: 0, max: 0.2, noNaN: true }),
  infoRatio: fc.constantFrom(0, 0, 0.02, 0.1),
  failRatio: fc.constantFrom(0, 0.05),
  valuesPerKey: fc.constantFrom(undefined, 1, 2, 4),
  maxLatency: fc.integer({ min: 1, max: 100 }),
  maxGap: fc.integer({ min: 1, max: 30 }),
});

/** Indexes of `ok` get completions. */
function okReads(events: readonly HistoryEvent[]): number[] {
  const out: number[] = [];
  events.forEach((e, i) => {
    if (e.type === 'ok' && e.f === 'get') out.push(i);
  });
  return out;
}

describe('checkHistory on generated histories', () => {
  it('judges every history of a linearizable register linearizable', () => {
    fc.assert(
      fc.property(options, (o) => {
        const result = checkHistory(generateHistory(o));
        expect(result.verdict).toBe('linearizable');
      }),
      { seed: 0x5eed, numRuns: 100 },
    );
  });

  it('judges a history not linearizable once one read returns a value never written', () => {
    fc.assert(
      fc.property(options, fc.nat(), (o, pick) => {
        const events = generateHistory(o);
        const reads = okReads(events);
        fc.pre(reads.length > 0);
        const i = reads[pick % reads.length]!;
        const mutated = events.map((e, j) => (j === i ? { ...e, value: 'never-written' } : e));
        const result = checkHistory(mutated);
        expect(result.verdict).toBe('not-linearizable');
        const bad = result.keys.find((k) => k.verdict === 'not-linearizable');
        expect(bad?.key).toBe(events[i]!.key);
      }),
      { seed: 0xbad, numRuns: 100 },
    );
  });

  it('generates the same history for the same seed', () => {
    const o = { seed: 7, operations: 200, clients: 5, keys: 2, infoRatio: 0.05 };
    expect(generateHistory(o)).toEqual(generateHistory(o));
    expect(generateHistory(o)).not.toEqual(generateHistory({ ...o, seed: 8 }));
  });

  it('checks a 4,000-operation history over one key', () => {
    const events = generateHistory({ seed: 11, operations: 4000, clients: 10, keys: 1, valuesPerKey: 3 });
    const result = checkHistory(events);
    expect(result.verdict).toBe('linearizable');
    expect(result.operations).toBeGreaterThan(3000);
  });
});
