/** fast-check generators of fault schedules, shared by the schedule tests. */
import fc from 'fast-check';
import type { ClockRate, CrashPoint, FaultEvent, FaultTarget, PartitionShape } from '../../src/sim/index.js';

export const target: fc.Arbitrary<FaultTarget> = fc.oneof(
  fc.constant<FaultTarget>('leader'),
  fc.constant<FaultTarget>('random'),
  fc.integer({ min: 1, max: 5 }),
);

export const shape: fc.Arbitrary<PartitionShape> = fc.oneof(
  fc.constant<PartitionShape>({ kind: 'halves' }),
  fc.constant<PartitionShape>({ kind: 'isolate-leader' }),
  fc.constant<PartitionShape>({ kind: 'minority' }),
  fc.constant<PartitionShape>({ kind: 'bridge' }),
  fc.constant<PartitionShape>({ kind: 'leader-mute' }),
  fc.record({ kind: fc.constant('one-way' as const), from: target, to: target }),
);

/** One fault at a tick in [1, lastFault - 1]. */
export function faultBefore(lastFault: number): fc.Arbitrary<FaultEvent> {
  const at = fc.integer({ min: 1, max: lastFault - 1 });
  return fc.oneof(
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
}

/** Up to `maxLength` faults before `lastFault`, then a heal at `lastFault`. */
export function scheduleBefore(lastFault: number, maxLength: number): fc.Arbitrary<FaultEvent[]> {
  return fc
    .array(faultBefore(lastFault), { maxLength })
    .map((events): FaultEvent[] => [...events, { at: lastFault, kind: 'heal' }]);
}
