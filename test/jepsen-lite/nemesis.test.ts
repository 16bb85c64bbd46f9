/**
 * The nemesis: seeded schedules (same seed → same schedule, windows inside
 * the run and apart), partition shapes, and the executor always healing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { changesMembership, describeCuts, makeSchedule, membersAfter, parseNemesisKinds, partitionCuts, partitionPairs, runNemesis, shapesFor } from '../../jepsen-lite/nemesis.js';
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

  it('expands membership to add-node,remove-node', () => {
    expect(parseNemesisKinds('partition,kill,pause,membership,split')).toEqual(['partition', 'kill', 'pause', 'add-node', 'remove-node', 'split']);
    expect(parseNemesisKinds('add-node,membership')).toEqual(['add-node', 'remove-node']);
    expect(() => parseNemesisKinds('constructor')).toThrow(/unknown nemesis 'constructor'/);
    expect(changesMembership(parseNemesisKinds('partition,kill,pause'))).toBe(false);
    expect(changesMembership(parseNemesisKinds('split'))).toBe(true);
  });
});

describe('makeSchedule with membership faults', () => {
  const MEMBERSHIP: ScheduleOptions = { nodes: 3, durationMs: 120_000, kinds: ['partition', 'kill', 'pause', 'add-node', 'remove-node', 'split'], minMembers: 3, maxMembers: 5 };

  it('leaves the schedules of partition, kill and pause as they were (a seed replays the same faults)', () => {
    // First windows of seed 42 with the default timing, as made before membership faults existed.
    expect(makeSchedule(new SeededRng(42), { nodes: 3, durationMs: 60_000, kinds: ['partition', 'kill', 'pause'] }).slice(0, 4)).toEqual([
      { startMs: 2000, endMs: 4718, fault: { kind: 'kill', target: { leader: true, fallback: 1 } } },
      { startMs: 6612, endMs: 11119, fault: { kind: 'pause', target: { leader: false, node: 2 } } },
      { startMs: 14102, endMs: 16758, fault: { kind: 'pause', target: { leader: true, fallback: 3 } } },
      { startMs: 18604, endMs: 23567, fault: { kind: 'pause', target: { leader: true, fallback: 2 } } },
    ]);
  });

  it('tracks the node set: removals stay above minMembers, additions below maxMembers, new ids are fresh, kill and pause target nodes that exist', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 3, max: 6 }),
        fc.integer({ min: 20, max: 300 }),
        fc.subarray(['partition', 'kill', 'pause', 'add-node', 'remove-node', 'split'] as const, { minLength: 1 }),
        (seed, nodes, secs, kinds) => {
          const o: ScheduleOptions = { nodes, durationMs: secs * 1000, kinds, minMembers: 3, maxMembers: nodes + 2 };
          const ws = makeSchedule(new SeededRng(seed), o);
          const active = new Set(Array.from({ length: nodes }, (_, i) => i + 1));
          let nextId = nodes + 1;
          let last = 0;
          for (const w of ws) {
            expect(w.startMs).toBeGreaterThanOrEqual(last);
            last = w.endMs + 1;
            const f = w.fault;
            // remove-node turns into add-node at the floor and back at the ceiling.
            if (f.kind === 'add-node' || f.kind === 'remove-node') expect(kinds.includes('add-node') || kinds.includes('remove-node')).toBe(true);
            else expect(kinds).toContain(f.kind);
            if (f.kind === 'add-node') {
              expect(f.node).toBe(nextId++);
              active.add(f.node);
              expect(active.size).toBeLessThanOrEqual(nodes + 2);
            } else if (f.kind === 'remove-node') {
              expect(active.has(f.node)).toBe(true);
              active.delete(f.node);
              expect(active.size).toBeGreaterThanOrEqual(3);
            } else if (f.kind === 'kill' || f.kind === 'pause') {
              expect(active.has(f.target.leader ? f.target.fallback : f.target.node)).toBe(true);
            } else if (f.kind === 'partition') {
              // Partitions cut links among the initial nodes (the proxied ones).
              expect([...f.order].sort((a, b) => a - b)).toEqual(Array.from({ length: nodes }, (_, i) => i + 1));
            }
          }
          expect(membersAfter(nodes, ws)).toEqual([...active].sort((a, b) => a - b));
        },
      ),
      { seed: 20261128, numRuns: 100 },
    );
  });

  it('adds before it can remove when the cluster is at its floor, and draws every membership kind', () => {
    const ws = makeSchedule(new SeededRng(3), { ...MEMBERSHIP, kinds: ['remove-node'] });
    expect(ws[0]?.fault).toEqual({ kind: 'add-node', node: 4 });
    expect(ws[1]?.fault.kind).toBe('remove-node');
    const kinds = new Set(makeSchedule(new SeededRng(8), { ...MEMBERSHIP, durationMs: 600_000 }).map((w) => w.fault.kind));
    expect([...kinds].sort()).toEqual(['add-node', 'kill', 'partition', 'pause', 'remove-node', 'split']);
  });

  it('makes no membership fault when the floor and the ceiling leave no room', () => {
    expect(makeSchedule(new SeededRng(1), { ...MEMBERSHIP, kinds: ['add-node', 'remove-node'], minMembers: 3, maxMembers: 3 })).toEqual([]);
  });
});

function membershipTarget(calls: Call[], o: { removed?: boolean; refuse?: boolean } = {}): NemesisTarget {
  return {
    ...fakeTarget(calls, 2),
    addNode: (id) => {
      calls.push(`add ${id}`);
      return Promise.resolve();
    },
    removeNode: (id) => {
      calls.push(`remove ${id}`);
      return o.refuse === true ? Promise.reject(new Error('REJECTED: last node')) : Promise.resolve();
    },
    awaitRemoved: (id) => {
      calls.push(`await-removed ${id}`);
      return Promise.resolve(o.removed ?? true);
    },
    split: (pick) => {
      calls.push(`split ${pick}`);
      return Promise.resolve(`shard ${(pick % 4) + 1} → new shard 5`);
    },
  };
}

describe('runNemesis with membership faults', () => {
  const run = (schedule: FaultWindow[], target: NemesisTarget): ReturnType<typeof runNemesis> =>
    runNemesis({ schedule, target, now: () => 0, sleepUntil: () => Promise.resolve(), aborted: () => false });
  const at = (i: number, fault: FaultWindow['fault']): FaultWindow => ({ startMs: i * 1000, endMs: i * 1000 + 500, fault });

  it('adds a node, drains one and waits for its removal before the next fault, splits, and skips faults on a removed node', async () => {
    const calls: Call[] = [];
    const records = await run(
      [
        at(1, { kind: 'add-node', node: 4 }),
        at(2, { kind: 'remove-node', node: 3 }),
        at(3, { kind: 'kill', target: { leader: false, node: 3 } }),
        at(4, { kind: 'split', pick: 6 }),
        at(5, { kind: 'pause', target: { leader: false, node: 4 } }),
      ],
      membershipTarget(calls),
    );
    expect(calls).toEqual(['add 4', 'remove 3', 'await-removed 3', 'split 6', 'pause 4', 'resume 4']);
    expect(records.map((r) => r.description)).toEqual([
      'add node n4 (join)',
      'remove node n3 (drain, then stop)',
      'kill n3: skipped (removed)',
      'split shard 3 → new shard 5',
      'pause (SIGSTOP) n4',
    ]);
  });

  it('records a refused removal and keeps targeting that node', async () => {
    const calls: Call[] = [];
    const records = await run(
      [at(1, { kind: 'remove-node', node: 2 }), at(2, { kind: 'kill', target: { leader: false, node: 2 } })],
      membershipTarget(calls, { refuse: true }),
    );
    expect(calls).toEqual(['remove 2', 'kill 2', 'restart 2']);
    expect(records[0]?.description).toBe('remove node n2: refused (REJECTED: last node)');
  });

  it('a drain that did not finish leaves the node a target', async () => {
    const calls: Call[] = [];
    await run([at(1, { kind: 'remove-node', node: 2 }), at(2, { kind: 'kill', target: { leader: false, node: 2 } })], membershipTarget(calls, { removed: false }));
    expect(calls).toEqual(['remove 2', 'await-removed 2', 'kill 2', 'restart 2']);
  });

  it('isolates order[0] instead of a leader that is not among the proxied nodes (an added node)', async () => {
    const calls: Call[] = [];
    const target: NemesisTarget = { ...membershipTarget(calls), findLeader: () => Promise.resolve(4) };
    const records = await run([at(1, { kind: 'partition', shape: 'isolate-leader', order: [2, 1, 3] })], target);
    expect(calls).toEqual(['partition 1-2 2-3', 'heal']);
    expect(records[0]?.description).toBe('partition isolate-leader (leader n4 is not proxied; n2 instead): cut 1-2 2-3');
  });

  it('waits for a pending removal when aborted in its window', async () => {
    const calls: Call[] = [];
    let abort = false;
    const w = at(1, { kind: 'remove-node', node: 3 });
    await runNemesis({
      schedule: [w, at(2, { kind: 'add-node', node: 4 })],
      target: membershipTarget(calls),
      now: () => 0,
      sleepUntil: (ms) => {
        if (ms === w.endMs) abort = true;
        return Promise.resolve();
      },
      aborted: () => abort,
    });
    expect(calls).toEqual(['remove 3', 'await-removed 3']);
  });
});
