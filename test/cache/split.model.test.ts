import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CacheStateMachine, resolveCacheConfig } from '../../src/cache/index.js';
import type { CacheConfig, Command, CommandResult, RingRange } from '../../src/cache/index.js';
import { hashKey } from '../../src/shard/index.js';
import { ringRangesArb, stepArbOf, withTimes } from './arbitraries.js';
import type { Step } from './arbitraries.js';
import { ModelCache, resultShape } from './model.js';
import { expectSameSessions } from './same-sessions.js';

/** More keys than the other model tests, so a split has something on both sides. */
const POOL = [...Array.from({ length: 22 }, (_, i) => `k${i}`), 'é', '日本'];

const splitConfigArb: fc.Arbitrary<CacheConfig> = fc.record({
  maxEntries: fc.integer({ min: 3, max: 30 }),
  maxBytes: fc.integer({ min: 300, max: 3000 }),
  maxResultsPerSession: fc.integer({ min: 1, max: 4 }),
  sessionTtlMs: fc.integer({ min: 10, max: 3000 }),
  maxSessions: fc.integer({ min: 1, max: 4 }),
});

const stepsArb = (min: number, max: number): fc.Arbitrary<Step[]> =>
  fc.array(stepArbOf(fc.constantFrom(...POOL)), { minLength: min, maxLength: max, size: 'max' });

/** A placeholder step, replaced by a split once times are assigned. */
const PLACEHOLDER: Step = { dt: 3, cmd: { type: 'clock', ts: 0 } };

function observe(sm: CacheStateMachine): unknown {
  return {
    entries: [...sm.keys()].map((k) => ({ key: k, value: [...(sm.peek(k) ?? [])], expiresAt: sm.expiresAt(k) })),
    size: sm.size,
    now: sm.now,
    lastApplied: sm.lastApplied,
    sessions: sm.sessionCount,
    owned: POOL.filter((k) => sm.owns(k)),
  };
}

function observeModel(m: ModelCache): unknown {
  return {
    entries: m.entries.map((e) => ({ key: e.key, value: [...e.value], expiresAt: e.expiresAt === Infinity ? null : e.expiresAt })),
    size: m.entries.length,
    now: m.now,
    lastApplied: m.lastApplied,
    sessions: m.sessions.length,
    owned: POOL.filter((k) => m.owns(k)),
  };
}

/** How often the interesting cases came up (guards against a vacuous property). */
const seen = { bothSidesNonEmpty: 0, wrongShard: 0, withTtlMoved: 0, sessionRetryAcross: 0 };

/** Applies cmds[from..to) at indexes from+1.. to both, comparing every result and the state after each. */
function applyBoth(sm: CacheStateMachine, model: ModelCache, cmds: readonly Command[], from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const cmd = cmds[i] as Command;
    const got: CommandResult = sm.apply(i + 1, cmd);
    expect(resultShape(got)).toEqual(resultShape(model.apply(i + 1, cmd)));
    if (!got.ok && got.code === 'WRONG_SHARD') seen.wrongShard++;
    if (JSON.stringify(observe(sm)) !== JSON.stringify(observeModel(model))) expect(observe(sm)).toEqual(observeModel(model));
    expectSameSessions(sm, model);
  }
}

const inRanges = (key: string, ranges: readonly RingRange[]): boolean => {
  const h = hashKey(key);
  return ranges.some((r) => r.start <= h && h < r.end);
};

describe('split against the reference model', () => {
  it('moves exactly the keys in range (LRU order, values, expiries, sessions); both sides then behave like the model', () => {
    fc.assert(
      fc.property(
        splitConfigArb,
        stepsArb(20, 80),
        ringRangesArb(POOL),
        stepsArb(0, 40),
        stepsArb(0, 40),
        fc.option(fc.tuple(fc.nat(), ringRangesArb(POOL)), { nil: null }),
        (config, before, ranges, afterOld, afterNew, second) => {
          const sm = new CacheStateMachine(config);
          const model = new ModelCache(resolveCacheConfig(config));
          const n = before.length;
          // Same prefix (and so the same register ids) for both tails; the split replaces the placeholder.
          const oldSteps = [...before, PLACEHOLDER, ...afterOld];
          let secondAt = -1;
          if (second !== null) {
            secondAt = n + 1 + (second[0] % (afterOld.length + 1));
            oldSteps.splice(secondAt, 0, PLACEHOLDER);
          }
          const oldCmds = withTimes(oldSteps);
          const newCmds = withTimes([...before, PLACEHOLDER, ...afterNew]);
          const split: Command = { type: 'split', ts: (oldCmds[n] as Command).ts, ranges };
          oldCmds[n] = split;
          newCmds[n] = split;
          if (second !== null) oldCmds[secondAt] = { type: 'split', ts: (oldCmds[secondAt] as Command).ts, ranges: second[1] };

          applyBoth(sm, model, oldCmds, 0, n);
          // Live keys when the split applies (its ts may expire some first).
          const splitNow = Math.max(sm.now, split.ts);
          const keysBefore = [...sm.keys()].filter((k) => (sm.expiresAt(k) ?? Infinity) > splitNow);
          applyBoth(sm, model, oldCmds, n, n + 1);
          const taken = sm.takeSplit();
          expect(taken).not.toBeNull();
          expect(sm.takeSplit()).toBeNull();
          if (taken === null || model.splitOff === null) return;
          const modelTaken = model.splitOff;

          // Exactly the keys in range moved, in their relative LRU order.
          expect([...taken.keys()]).toEqual(keysBefore.filter((k) => inRanges(k, ranges)));
          expect([...sm.keys()]).toEqual(keysBefore.filter((k) => !inRanges(k, ranges)));
          expect(observe(taken)).toEqual(observeModel(modelTaken));
          expectSameSessions(taken, modelTaken);
          expect(taken.sessionCount).toBe(sm.sessionCount);
          expect(taken.now).toBe(sm.now);
          expect(taken.lastApplied).toBe(n + 1);
          for (const k of POOL) expect(taken.owns(k)).toBe(inRanges(k, ranges));
          if (taken.size > 0 && sm.size > 0) seen.bothSidesNonEmpty++;
          if ([...taken.keys()].some((k) => taken.expiresAt(k) !== null)) seen.withTtlMoved++;
          // A write remembered before the split, retried on the new side, returns its first result.
          if (newCmds.slice(n + 1).some((c) => 'session' in c && c.session !== undefined && taken.session(c.session.client)?.seqs.includes(c.session.seq))) {
            seen.sessionRetryAcross++;
          }

          // Both sides go on like the model (WRONG_SHARD for keys the side does not own).
          applyBoth(sm, model, oldCmds, n + 1, oldCmds.length);
          applyBoth(taken, modelTaken, newCmds, n + 1, newCmds.length);
          if (second !== null) {
            const second2 = sm.takeSplit();
            expect(second2).not.toBeNull();
            if (second2 !== null && model.splitOff !== modelTaken && model.splitOff !== null) {
              expect(observe(second2)).toEqual(observeModel(model.splitOff));
            }
          }
          // Snapshots carry the ownership: restore continues identically.
          for (const side of [sm, taken]) {
            const restored = CacheStateMachine.restore(config, [side.snapshotBytes()]);
            expect(restored.snapshotBytes()).toEqual(side.snapshotBytes());
            expect(observe(restored)).toEqual(observe(side));
          }
        },
      ),
      { seed: 5150, numRuns: 120 },
    );
    expect(seen.bothSidesNonEmpty).toBeGreaterThan(30);
    expect(seen.wrongShard).toBeGreaterThan(30);
    expect(seen.withTtlMoved).toBeGreaterThan(15);
    expect(seen.sessionRetryAcross).toBeGreaterThan(3);
  }, 30_000);
});
