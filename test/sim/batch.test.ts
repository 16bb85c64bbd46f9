/**
 * A moderate batch of random seeds (random faults, random Raft knobs) for 3
 * and 5 nodes: no invariant may break, every heal must lead to a commit, and
 * every client history must be linearizable.
 */
import { describe, expect, it } from 'vitest';
import { runSimulation } from '../../src/sim/index.js';
import { explain } from './helpers.js';

const STEPS = 3000;

describe.each([
  { nodes: 3, firstSeed: 1, seeds: 20 },
  { nodes: 5, firstSeed: 1001, seeds: 12 },
])('simulation, $nodes nodes', ({ nodes, firstSeed, seeds }) => {
  it(`${seeds} seeds × ${STEPS} steps find no violation`, { timeout: 120_000 }, () => {
    let ok = 0;
    let heals = 0;
    for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
      const r = runSimulation({ seed, nodes, steps: STEPS });
      expect(explain(r, nodes, STEPS)).toBe('ok');
      expect(r.stats.verdict).toBe('linearizable');
      // The workload did something even in the harshest seeds: clients got answers and the log grew.
      expect(r.stats.ops.ok).toBeGreaterThan(10);
      expect(r.stats.committed).toBeGreaterThan(10);
      ok += r.stats.ops.ok;
      heals += r.stats.livenessChecks;
    }
    // On average the clients are busy, and the liveness check ran after heals.
    expect(ok / seeds).toBeGreaterThan(300);
    expect(heals).toBeGreaterThan(seeds);
  });
});

describe('determinism', () => {
  it('a seed replays exactly', { timeout: 30_000 }, () => {
    const a = runSimulation({ seed: 42, nodes: 5, steps: 1500 });
    const b = runSimulation({ seed: 42, nodes: 5, steps: 1500 });
    expect(b.history).toEqual(a.history);
    expect({ ...b.stats, checkerMs: 0 }).toEqual({ ...a.stats, checkerMs: 0 });
    const c = runSimulation({ seed: 43, nodes: 5, steps: 1500 });
    expect(c.history).not.toEqual(a.history);
  });
});
