/**
 * The simulation with `--quiesce`: idle groups quiesce, a per-node-pair
 * liveness signal wakes them (forgetLeader on followers of a silent leader,
 * unquiesce on leaders), and the workload has idle windows. Same invariants,
 * linearizable histories, liveness after every heal.
 */
import { describe, expect, it } from 'vitest';
import { idleTraffic, runSimulation } from '../../src/sim/index.js';
import type { FaultEvent, SimResult } from '../../src/sim/index.js';
import { explain } from './helpers.js';

const STEPS = 3000;

describe.each([
  { nodes: 3, firstSeed: 1, seeds: 6, membership: false },
  { nodes: 5, firstSeed: 2001, seeds: 4, membership: false },
  { nodes: 5, firstSeed: 3001, seeds: 3, membership: true },
])('simulation with quiescence, $nodes nodes, membership=$membership', ({ nodes, firstSeed, seeds, membership }) => {
  it(`${seeds} seeds × ${STEPS} steps find no violation`, { timeout: 120_000 }, () => {
    let idleTicks = 0;
    let idleMessages = 0;
    let wakes = 0;
    for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
      const r = runSimulation({ seed, nodes, steps: STEPS, quiesce: true, membership, compaction: membership });
      expect(explain(r, nodes, STEPS)).toBe('ok');
      expect(r.stats.verdict).toBe('linearizable');
      expect(r.stats.ops.ok).toBeGreaterThan(10);
      idleTicks += r.stats.idleTicks;
      idleMessages += r.stats.idleMessages;
      wakes += r.stats.livenessWakes;
    }
    // The idle windows happened, and the liveness signal had work to do (crashes, partitions).
    expect(idleTicks).toBeGreaterThan(seeds * 500);
    expect(wakes).toBeGreaterThan(0);
    // Quiet most of the time even with faults going on (a healthy idle group costs ≥ 2 messages per tick per follower without it).
    expect(idleMessages / idleTicks).toBeLessThan(nodes - 1);
  });
});

describe('the --quiesce flag keeps other seeds unchanged', () => {
  it('the fault schedule and the drawn Raft knobs are those of the plain run; a run without the flag is unchanged', { timeout: 30_000 }, () => {
    const plain = runSimulation({ seed: 9, nodes: 3, steps: 800, checkLinearizability: false });
    const off = runSimulation({ seed: 9, nodes: 3, steps: 800, checkLinearizability: false, quiesce: false });
    const on = runSimulation({ seed: 9, nodes: 3, steps: 800, checkLinearizability: false, quiesce: true });
    expect(off.schedule).toEqual(plain.schedule);
    expect(off.history).toEqual(plain.history);
    expect({ ...off.stats, checkerMs: 0 }).toEqual({ ...plain.stats, checkerMs: 0 });
    expect(on.schedule).toEqual(plain.schedule);
    expect({ ...on.tuning, quiesce: undefined }).toEqual({ ...plain.tuning, quiesce: undefined });
    expect(on.tuning.quiesce).toBe(true);
  });
});

describe('idle traffic', () => {
  it('a healthy idle group goes quiet with quiescence and keeps heartbeating without it', { timeout: 30_000 }, () => {
    for (const nodes of [3, 5]) {
      const tuning = { heartbeatTick: 1 };
      const awake = idleTraffic({ seed: 5, nodes, quiesce: false, tuning });
      const quiet = idleTraffic({ seed: 5, nodes, quiesce: true, tuning });
      // Without: one heartbeat and one answer per follower per tick.
      expect(awake).toBe(2 * (nodes - 1));
      expect(quiet).toBe(0);
    }
  });

  it('with a node down for good, only the heartbeat to the down member remains', { timeout: 30_000 }, () => {
    for (const quiesce of [false, true]) {
      const base = {
        seed: 5, nodes: 3, schedule: [{ at: 300, kind: 'crash' as const, target: 3 }], clients: { clients: 0 },
        checkLinearizability: false, quiesce, tuning: { heartbeatTick: 1 },
      };
      const a = runSimulation({ ...base, steps: 500 });
      const b = runSimulation({ ...base, steps: 1500 });
      // (The simulated network counts messages to a crashed node as delivered.)
      expect((b.stats.messages - a.stats.messages) / 1000).toBe(quiesce ? 1 : 3);
    }
  });
});

/** Nodes that end the run as leader of the highest term seen, and that term. */
function leaders(r: SimResult): { ids: number[]; term: number } {
  let term = -1;
  let ids: number[] = [];
  for (const line of r.finalStatus) {
    const m = /^n(\d+): (\{.*\})$/.exec(line);
    if (m === null) continue;
    const s = JSON.parse(m[2]!) as { role: string; term: number };
    if (s.role !== 'leader') continue;
    if (s.term > term) {
      term = s.term;
      ids = [];
    }
    if (s.term === term) ids.push(Number(m[1]));
  }
  return { ids, term };
}

describe('the node liveness signal', () => {
  // No clients (nothing else wakes the group): the quiesced leader crashes for good at tick 400.
  const crash: readonly FaultEvent[] = [{ at: 400, kind: 'crash', target: 'leader' }];
  const base = { seed: 3, nodes: 3, steps: 1200, schedule: crash, clients: { clients: 0 }, checkLinearizability: false, quiesce: true };

  it('gets a new leader elected when the leader of a quiesced group dies', { timeout: 30_000 }, () => {
    const r = runSimulation(base);
    expect(explain(r, 3, 1200)).toBe('ok');
    const l = leaders(r);
    expect(l.ids.length).toBe(1);
    expect(l.term).toBeGreaterThan(1);
    expect(r.stats.livenessWakes).toBeGreaterThanOrEqual(2);
  });

  it('without it the followers of a dead quiesced leader wait forever (the mutant the signal exists for)', { timeout: 30_000 }, () => {
    const r = runSimulation({ ...base, mutations: { noNodeLiveness: true } });
    expect(leaders(r).ids).toEqual([]);
    expect(r.stats.elections).toBe(1);
  });
});
