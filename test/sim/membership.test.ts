/**
 * The simulation with `--membership --compaction`: random membership changes
 * (add learner, promote, remove, replace, remove or replace the leader) and
 * frequent snapshots/compaction on top of the fault schedules. No invariant may
 * break (election safety across configurations, membership agreement, a
 * restored snapshot equals the state every replica had at that index, state
 * after a restart, …), heals must lead to commits, histories must be linearizable.
 */
import { describe, expect, it } from 'vitest';
import { runSimulation } from '../../src/sim/index.js';
import { explain } from './helpers.js';

const STEPS = 3000;

describe.each([
  { nodes: 5, firstSeed: 1, seeds: 8 },
  { nodes: 3, firstSeed: 501, seeds: 6 },
])('simulation with membership changes and compaction, $nodes nodes', ({ nodes, firstSeed, seeds }) => {
  it(`${seeds} seeds × ${STEPS} steps find no violation`, { timeout: 120_000 }, () => {
    let changes = 0;
    let snapshots = 0;
    for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
      const r = runSimulation({ seed, nodes, steps: STEPS, membership: true, compaction: true });
      expect(explain(r, nodes, STEPS)).toBe('ok');
      expect(r.stats.verdict).toBe('linearizable');
      expect(r.stats.committed).toBeGreaterThan(10);
      changes += r.stats.membershipChanges;
      snapshots += r.stats.snapshotsInstalled;
    }
    // The flags did their job: changes were accepted and snapshots were installed.
    expect(changes).toBeGreaterThan(seeds);
    expect(snapshots).toBeGreaterThan(seeds);
  });
});

describe('the flags keep other seeds unchanged', () => {
  it('without --membership the schedule of a seed is the same as before the flag existed', () => {
    const a = runSimulation({ seed: 9, nodes: 3, steps: 800, checkLinearizability: false });
    const b = runSimulation({ seed: 9, nodes: 3, steps: 800, checkLinearizability: false, membership: false, compaction: false });
    expect(b.schedule).toEqual(a.schedule);
    const c = runSimulation({ seed: 9, nodes: 3, steps: 3000, checkLinearizability: false, membership: true });
    expect(c.schedule.some((e) => e.kind === 'membership' || e.kind === 'remove-leader')).toBe(true);
  });
});
