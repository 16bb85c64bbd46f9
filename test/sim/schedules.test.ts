/**
 * fast-check generates fault schedules (partitions of every shape, crashes,
 * restarts, lossy links, transfers, heals); a failing schedule shrinks to a
 * short list of timed faults (membership changes included). Each schedule ends with a heal followed by a calm
 * window, so liveness is checked too.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CALM_TICKS, runSimulation } from '../../src/sim/index.js';
import { scheduleBefore } from './arbitraries.js';
import { explain } from './helpers.js';

const STEPS = 1200;
const LAST_FAULT = STEPS - CALM_TICKS;

const schedule = scheduleBefore(LAST_FAULT, 14);

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
