/**
 * The harness must be able to fail: deliberately broken clients and cores are
 * run until the simulation reports a violation, within a few seeds.
 */
import { describe, expect, it } from 'vitest';
import { runSimulation, type SimOptions, type SimResult } from '../../src/sim/index.js';
import { grantEveryVote, mutedAcks, staleReadIndex } from './helpers.js';

/** Runs seeds first.. until one reports a violation (or `max` seeds pass). */
function firstViolation(base: Omit<SimOptions, 'seed'>, first: number, max: number): SimResult | null {
  for (let seed = first; seed < first + max; seed++) {
    const r = runSimulation({ ...base, seed });
    if (r.violation !== null) return r;
  }
  return null;
}

describe('the simulation catches broken systems', () => {
  it('reads served from local state without ReadIndex are not linearizable', { timeout: 60_000 }, () => {
    const r = firstViolation({ nodes: 3, steps: 2000, mutations: { staleReads: true }, checkLiveness: false }, 1, 10);
    expect(r?.violation?.invariant).toBe('linearizability');
  });

  it('puts acknowledged before commit are not linearizable', { timeout: 60_000 }, () => {
    const r = firstViolation({ nodes: 3, steps: 2000, mutations: { earlyAck: true }, checkLiveness: false }, 1, 10);
    expect(r?.violation?.invariant).toBe('linearizability');
  });

  it('a core that grants every vote breaks a safety invariant', { timeout: 60_000 }, () => {
    const r = firstViolation({ nodes: 5, steps: 2000, factory: grantEveryVote, checkLiveness: false }, 1, 10);
    expect(r).not.toBeNull();
    expect(['election-safety', 'leader-completeness', 'state-machine-safety', 'log-matching', 'linearizability']).toContain(
      r?.violation?.invariant,
    );
  });

  it('a follower read index below the commit point is caught', { timeout: 60_000 }, () => {
    const r = firstViolation({ nodes: 3, steps: 2000, factory: staleReadIndex, checkLiveness: false }, 1, 10);
    expect(r?.violation?.invariant).toBe('read-index-stale');
  });

  it('a cluster that cannot commit after a heal fails the liveness check', { timeout: 60_000 }, () => {
    const r = firstViolation({ nodes: 3, steps: 2000, factory: mutedAcks }, 1, 3);
    expect(r?.violation?.invariant).toBe('liveness');
  });

  it('a node that forgets its vote on restart is caught', { timeout: 60_000 }, () => {
    const r = firstViolation({ nodes: 3, steps: 2000, mutations: { forgetVote: true }, checkLiveness: false }, 1, 10);
    expect(r?.violation?.invariant).toBe('one-vote-per-term');
  });
});
