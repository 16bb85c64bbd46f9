/**
 * The nemesis: seeded schedules (same seed → same schedule, windows inside
 * the run and apart), partition shapes, and the executor always healing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeCuts, makeSchedule, parseNemesisKinds, partitionCuts, partitionPairs, runNemesis, shapesFor } from '../../jepsen-lite/nemesis.js';
import type { DirectedCut, FaultWindow, NemesisTarget, ScheduleOptions } from '../../jepsen-lite/nemesis.js';
import { SeededRng } from '../../src/util/rng.js';

const OPTS: ScheduleOptions = { nodes: 3, durationMs: 60_000, kinds: ['partition', 'kill', 'pause'] };

describe('makeSchedule', () => {
  it('is a function of the seed', () => {
    const a = makeSchedule(new SeededRng(42), OPTS);
    const b = makeSchedule(new SeededRng(42), OPTS);
    const c = makeSchedule(new SeededRng(43), OPTS);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.length).toBeGreaterThan(3);
  });

  it('keeps windows apart, inside warm-up and cool-down, with the requested kinds only', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 2, max: 7 }),
        fc.integer({ min: 5, max: 120 }),
        fc.subarray(['partition', 'kill', 'pause'] as const, { minLength: 1 }),
        (seed, nodes, secs, kinds) => {
          const o: ScheduleOptions = { nodes, durationMs: secs * 1000, kinds, warmupMs: 1000, cooldownMs: 2000 };
          const ws = makeSchedule(new SeededRng(seed), o);
          let last = 0;
          for (const w of ws) {
            expect(w.startMs).toBeGreaterThanOrEqual(Math.max(1000, last));
            expect(w.endMs).toBeGreaterThan(w.startMs);
            expect(w.endMs).toBeLessThanOrEqual(o.durationMs - 2000);
            expect(kinds).toContain(w.fault.kind);
            if (w.fault.kind === 'partition') {
              expect([...w.fault.order].sort()).toEqual(Array.from({ length: nodes }, (_, i) => i + 1));
              expect(shapesFor(nodes)).toContain(w.fault.shape);
            }
            last = w.endMs + 1;
          }
        },
      ),
      { seed: 20261128, numRuns: 100 },
    );
  });

  it('restricts partitions to the given shapes', () => {
    const ws = makeSchedule(new SeededRng(5), { ...OPTS, kinds: ['partition'], shapes: ['isolate-leader'] });
    expect(ws.length).toBeGreaterThan(0);
    for (const w of ws) expect(w.fault.kind === 'partition' && w.fault.shape).toBe('isolate-leader');
  });
});

describe('partitionPairs', () => {
  it('cuts the expected links for each shape', () => {
    expect(partitionPairs('isolate-leader', [1, 2, 3], 2)).toEqual([
      [1, 2],
      [2, 3],
    ]);
    expect(partitionPairs('majority-minority', [3, 1, 2], null)).toEqual([
      [1, 3],
      [2, 3],
    ]);
    expect(partitionPairs('majority-minority', [5, 4, 1, 2, 3], null)).toEqual([
      [1, 4],
      [1, 5],
      [2, 4],
      [2, 5],
      [3, 4],
      [3, 5],
    ]);
    expect(partitionPairs('halves', [4, 1, 3, 2], null)).toEqual([
      [1, 2],
      [1, 3],
      [2, 4],
      [3, 4],
    ]);
    // Bridge: 3 sees both sides {1,2} and {4,5}, which do not see each other.
    expect(partitionPairs('bridge', [3, 1, 2, 4, 5], null)).toEqual([
      [1, 4],
      [1, 5],
      [2, 4],
      [2, 5],
    ]);
    // Ring 1-2-3-4-5-1: each node keeps its two neighbours.
    expect(partitionPairs('ring', [1, 2, 3, 4, 5], null)).toEqual([
      [1, 3],
      [1, 4],
      [2, 4],
      [2, 5],
      [3, 5],
    ]);
  });

  it('every shape cuts at least one link of 5 nodes; symmetric shapes cut both ways', () => {
    for (const shape of shapesFor(5)) {
      const cuts = partitionCuts(shape, [1, 2, 3, 4, 5], 1);
      expect(cuts.length).toBeGreaterThan(0);
      const set = new Set(cuts.map(([a, b]) => `${a}>${b}`));
      for (const [a, b] of cuts) expect(set.has(`${b}>${a}`)).toBe(shape !== 'one-way');
    }
  });

  it('one-way: the leader hears nobody, everybody hears the leader', () => {
    expect(partitionCuts('one-way', [3, 1, 2], 2)).toEqual([
      [1, 2],
      [3, 2],
    ]);
    expect(partitionCuts('one-way', [3, 1, 2], null)).toEqual([
      [1, 3],
      [2, 3],
    ]);
    expect(describeCuts(partitionCuts('one-way', [3, 1, 2], 2))).toBe('1→2 3→2');
    expect(describeCuts(partitionCuts('isolate-leader', [1, 2, 3], 2))).toBe('1-2 2-3');
    expect(describeCuts([])).toBe('nothing');
  });
});

type Call = string;

function fakeTarget(calls: Call[], leader: number | null): NemesisTarget {
  return {
    findLeader: () => Promise.resolve(leader),
    partition: (cuts: readonly DirectedCut[]) => calls.push(`partition ${describeCuts(cuts)}`),
    healNetwork: () => calls.push('heal'),
    kill: (id) => {
      calls.push(`kill ${id}`);
      return Promise.resolve();
    },
    restart: (id) => calls.push(`restart ${id}`),
    pause: (id) => calls.push(`pause ${id}`),
    resume: (id) => calls.push(`resume ${id}`),
  };
}

describe('runNemesis', () => {
  const schedule: FaultWindow[] = [
    { startMs: 1000, endMs: 2000, fault: { kind: 'partition', shape: 'isolate-leader', order: [1, 2, 3] } },
    { startMs: 3000, endMs: 4000, fault: { kind: 'kill', target: { leader: true, fallback: 1 } } },
    { startMs: 5000, endMs: 6000, fault: { kind: 'pause', target: { leader: false, node: 3 } } },
  ];

  it('applies each window and heals it at its end', async () => {
    const calls: Call[] = [];
    let t = 0;
    const records = await runNemesis({
      schedule,
      target: fakeTarget(calls, 2),
      now: () => t,
      sleepUntil: (ms) => {
        t = ms * 1e6;
        return Promise.resolve();
      },
      aborted: () => false,
    });
    expect(calls).toEqual(['partition 1-2 2-3', 'heal', 'kill 2', 'restart 2', 'pause 3', 'resume 3']);
    expect(records.map((r) => [r.kind, r.startNs, r.endNs])).toEqual([
      ['partition', 1000e6, 2000e6],
      ['kill', 3000e6, 4000e6],
      ['pause', 5000e6, 6000e6],
    ]);
    expect(records[1]?.description).toBe('kill -9 leader n2');
  });

  it('uses the fallback when no leader is known', async () => {
    const calls: Call[] = [];
    await runNemesis({ schedule: [schedule[1] as FaultWindow], target: fakeTarget(calls, null), now: () => 0, sleepUntil: () => Promise.resolve(), aborted: () => false });
    expect(calls).toEqual(['kill 1', 'restart 1']);
  });

  it('heals everything when aborted in the middle of a fault', async () => {
    for (const [i, expected] of [
      [0, ['partition 1-2 2-3', 'heal']],
      [1, ['kill 2', 'restart 2']],
      [2, ['pause 3', 'resume 3']],
    ] as const) {
      const calls: Call[] = [];
      let abort = false;
      const w = schedule[i] as FaultWindow;
      const records = await runNemesis({
        schedule: [w, ...schedule],
        target: fakeTarget(calls, 2),
        now: () => 7,
        sleepUntil: (ms) => {
          if (ms === w.endMs) abort = true;
          return Promise.resolve();
        },
        aborted: () => abort,
      });
      expect(calls).toEqual(expected);
      expect(records.every((r) => r.endNs === 7)).toBe(true);
    }
  });

  it('heals even when applying a fault throws', async () => {
    const calls: Call[] = [];
    const target = fakeTarget(calls, 2);
    const failing: NemesisTarget = { ...target, pause: () => { throw new Error('boom'); } };
    const run = runNemesis({ schedule, target: failing, now: () => 0, sleepUntil: () => Promise.resolve(), aborted: () => false });
    await expect(run).rejects.toThrow('boom');
    expect(calls).toEqual(['partition 1-2 2-3', 'heal', 'kill 2', 'restart 2']);
  });
});

describe('parseNemesisKinds', () => {
  it('parses lists and rejects unknown names', () => {
    expect(parseNemesisKinds('partition,kill,pause')).toEqual(['partition', 'kill', 'pause']);
    expect(parseNemesisKinds('kill,kill')).toEqual(['kill']);
    expect(parseNemesisKinds('none')).toEqual([]);
    expect(() => parseNemesisKinds('partition,flood')).toThrow(/unknown nemesis 'flood'/);
  });
});
