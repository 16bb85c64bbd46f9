/**
 * fast-check generates fault schedules (partitions of every shape, crashes,
 * restarts, lossy links, transfers, heals); a failing schedule shrinks to a
 * short list of timed faults (membership changes included). Each schedule ends with a heal followed by a calm
 * window, so liveness is checked too.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CALM_TICKS,
  type ClockRate,
  type CrashPoint,
  type FaultEvent,
  type FaultTarget,
  type PartitionShape,
  runSimulation,
} from '../../src/sim/index.js';
import { explain } from './helpers.js';

const STEPS = 1200;
const LAST_FAULT = STEPS - CALM_TICKS;

const target: fc.Arbitrary<FaultTarget> = fc.oneof(
  fc.constant<FaultTarget>('leader'),
  fc.constant<FaultTarget>('random'),
  fc.integer({ min: 1, max: 5 }),
);

const shape: fc.Arbitrary<PartitionShape> = fc.oneof(
  fc.constant<PartitionShape>({ kind: 'halves' }),
  fc.constant<PartitionShape>({ kind: 'isolate-leader' }),
  fc.constant<PartitionShape>({ kind: 'minority' }),
  fc.constant<PartitionShape>({ kind: 'bridge' }),
  fc.constant<PartitionShape>({ kind: 'leader-mute' }),
  fc.record({ kind: fc.constant('one-way' as const), from: target, to: target }),
);

const at = fc.integer({ min: 1, max: LAST_FAULT - 1 });

const fault: fc.Arbitrary<FaultEvent> = fc.oneof(
  fc.record({ at, kind: fc.constant('partition' as const), shape }),
  fc.record({ at, kind: fc.constant('crash' as const), target }),
  fc.record({ at, kind: fc.constant('restart' as const), target }),
  fc.record({
    at,
    kind: fc.constant('links' as const),
    faults: fc.record({
      dropRate: fc.double({ min: 0, max: 0.4, noNaN: true }),
      dupRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
      maxExtraDelay: fc.integer({ min: 0, max: 10 }),
      longDelayRate: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.05, noNaN: true })),
    }),
  }),
  fc.record({
    at,
    kind: fc.constant('crash-mid-ready' as const),
    target,
    point: fc.constantFrom<CrashPoint[]>('before-persist', 'after-persist', 'after-send'),
  }),
  fc.record({ at, kind: fc.constant('pause' as const), target }),
  fc.record({ at, kind: fc.constant('resume' as const), target }),
  fc.record({ at, kind: fc.constant('clock' as const), target, rate: fc.constantFrom<ClockRate[]>(0.5, 1, 2) }),
  fc.record({ at, kind: fc.constant('campaign' as const), target }),
  fc.record({ at, kind: fc.constant('membership' as const), size: fc.constantFrom<(1 | 2)[]>(1, 2) }),
  fc.record({ at, kind: fc.constant('transfer' as const) }),
  fc.record({ at, kind: fc.constant('heal' as const) }),
);

const schedule = fc
  .array(fault, { maxLength: 14 })
  .map((events): FaultEvent[] => [...events, { at: LAST_FAULT, kind: 'heal' }]);

describe('generated fault schedules', () => {
  it('never break an invariant, and the cluster recovers after the final heal', { timeout: 120_000 }, () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom(3, 5), schedule, (seed, nodes, events) => {
        const r = runSimulation({ seed, nodes, steps: STEPS, schedule: events });
        expect(explain(r, nodes, STEPS)).toBe('ok');
        expect(r.stats.livenessChecks).toBeGreaterThan(0);
      }),
      { seed: 20261127, numRuns: 20 },
    );
  });
});
