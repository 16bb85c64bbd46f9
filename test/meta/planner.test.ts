import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { META_SHARD, MetaStateMachine, computeTarget, eligibleNodes, hasLiveQuorum, loadCap, nextActions, plan } from '../../src/meta/index.js';
import type { MetaAction, MetaCommand, MetaState } from '../../src/meta/index.js';
import { addr, bootstrapped, completionOf, converge, ok, replicaLoads, replicasMoved, reportLowestLeaders, totalReplicas } from './helpers.js';

const R_META = 3;

/** Placement invariants of a converged state. */
function expectPlaced(state: MetaState): void {
  const c = state.config!;
  const eligible = eligibleNodes(state);
  for (const s of state.shards) {
    const r = Math.min(s.id === META_SHARD ? c.metaReplication : c.replication, eligible.length);
    expect(new Set(s.voters).size, `shard ${s.id} voters distinct`).toBe(s.voters.length);
    expect(s.voters.length, `shard ${s.id} has ${r} voters`).toBe(r);
    expect(s.learners).toEqual([]);
    for (const v of s.voters) expect(eligible, `shard ${s.id} on eligible nodes`).toContain(v);
  }
  const loads = [...replicaLoads(state).values()];
  const total = totalReplicas(state);
  expect(Math.max(...loads)).toBeLessThanOrEqual(loadCap(total, eligible.length, c.loadFactor));
  expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(1);
  expect(state.moves).toEqual([]);
}

function leaderCounts(state: MetaState): Map<number, number> {
  const m = new Map<number, number>();
  for (const id of eligibleNodes(state)) m.set(id, 0);
  for (const s of state.shards) if (s.leader !== null) m.set(s.leader, (m.get(s.leader) ?? 0) + 1);
  return m;
}

const clusterArb = fc.record({
  nodes: fc.integer({ min: 1, max: 7 }),
  shards: fc.integer({ min: 1, max: 20 }),
  replication: fc.integer({ min: 1, max: 3 }),
  loadFactor: fc.constantFrom(1.1, 1.25, 1.5),
  maxConcurrentMoves: fc.integer({ min: 1, max: 5 }),
});

describe('placement at bootstrap', () => {
  it('puts every shard on distinct nodes, evenly, under the bounded-load cap', () => {
    fc.assert(
      fc.property(clusterArb, (k) => {
        const sm = bootstrapped(k.nodes, k.shards, { replication: k.replication, loadFactor: k.loadFactor, maxConcurrentMoves: k.maxConcurrentMoves });
        expectPlaced(sm.state());
        expect(nextActions(sm.state())).toEqual([]);
      }),
      { seed: 7101, numRuns: 40 },
    );
  });
});

describe('planner over random clusters', () => {
  it('adding a node moves close to the ideal fraction, converges safely, keeps bounded load', () => {
    fc.assert(
      fc.property(clusterArb, fc.boolean(), (k, oneAtATime) => {
        const sm = bootstrapped(k.nodes, k.shards, { replication: k.replication, loadFactor: k.loadFactor, maxConcurrentMoves: k.maxConcurrentMoves });
        reportLowestLeaders(sm, 1001);
        converge(sm, { oneAtATime });
        const before = sm.state();
        ok(sm.apply({ type: 'addNode', ts: sm.clock + 1, node: addr(k.nodes + 1) }));
        converge(sm, { oneAtATime });
        const after = sm.state();
        expectPlaced(after);
        const moved = replicasMoved(before, after);
        // The new node's share of the replicas (grows when R was capped by too few nodes).
        const ideal = totalReplicas(after) / (k.nodes + 1) + (totalReplicas(after) - totalReplicas(before));
        expect(moved).toBeLessThanOrEqual(Math.ceil(ideal) + 1);
        const newLoad = replicaLoads(after).get(k.nodes + 1)!;
        expect(newLoad).toBeGreaterThanOrEqual(Math.floor(totalReplicas(after) / (k.nodes + 1)));
      }),
      { seed: 7102, numRuns: 30 },
    );
  });

  it('removing a node moves only its replicas, and it ends removed', () => {
    fc.assert(
      fc.property(clusterArb.filter((k) => k.nodes >= 2), fc.nat(), fc.boolean(), (k, pick, oneAtATime) => {
        const sm = bootstrapped(k.nodes, k.shards, { replication: k.replication, loadFactor: k.loadFactor, maxConcurrentMoves: k.maxConcurrentMoves });
        reportLowestLeaders(sm, 1001);
        const gone = (pick % k.nodes) + 1;
        const before = sm.state();
        ok(sm.apply({ type: 'removeNode', ts: sm.clock + 1, node: gone }));
        converge(sm, { oneAtATime });
        const after = sm.state();
        expectPlaced(after);
        expect(after.nodes.find((n) => n.id === gone)!.admin).toBe('removed');
        const had = before.shards.filter((s) => s.voters.includes(gone)).length;
        const moved = replicasMoved(before, after);
        // Its replicas move; an even spread rarely needs one more (2 of 300 tiny clusters measured).
        expect(moved).toBeLessThanOrEqual(had + 1);
        let othersMoved = 0;
        for (const s of before.shards) {
          const now = after.shards.find((x) => x.id === s.id)!;
          for (const v of s.voters) if (v !== gone && !now.voters.includes(v)) othersMoved++;
        }
        expect(othersMoved).toBeLessThanOrEqual(Math.max(0, moved - had));
      }),
      { seed: 7103, numRuns: 30 },
    );
  });

  it('replaces the replicas of a node that stays down past the timeout', () => {
    fc.assert(
      fc.property(clusterArb.filter((k) => k.nodes >= 2), fc.nat(), (k, pick) => {
        const sm = bootstrapped(k.nodes, k.shards, { replication: k.replication, loadFactor: k.loadFactor, maxConcurrentMoves: k.maxConcurrentMoves });
        const dead = (pick % k.nodes) + 1;
        const t = sm.clock + CONFIG_DOWN + 1;
        for (let id = 1; id <= k.nodes; id++) if (id !== dead) ok(sm.apply({ type: 'heartbeat', ts: t, node: id }));
        ok(sm.apply({ type: 'tick', ts: t }));
        expect(sm.state().nodes.find((n) => n.id === dead)!.live).toBe(false);
        const live = new Set(eligibleNodes(sm.state()));
        // A shard whose live voters are no majority cannot change its configuration: left alone.
        const stuck = new Set(sm.state().shards.filter((s) => !hasLiveQuorum(s.voters, live)).map((s) => s.id));
        const stuckBefore = sm.state().shards.filter((s) => stuck.has(s.id));
        converge(sm);
        const after = sm.state();
        const eligible = eligibleNodes(after).length;
        expect(after.shards.filter((s) => stuck.has(s.id))).toEqual(stuckBefore);
        for (const s of after.shards) {
          if (stuck.has(s.id)) continue;
          const r = s.id === META_SHARD ? R_META : k.replication;
          if (eligible >= r) expect(s.voters, `shard ${s.id} left the dead node`).not.toContain(dead);
          expect(s.voters.filter((v) => v !== dead).length).toBe(Math.min(r, eligible));
        }
      }),
      { seed: 7104, numRuns: 40 },
    );
  });

  it('balances leaders under the cap by transfers', () => {
    fc.assert(
      fc.property(clusterArb.filter((k) => k.nodes >= 2 && k.replication >= 2), (k) => {
        const sm = bootstrapped(k.nodes, k.shards, { replication: k.replication, loadFactor: k.loadFactor });
        reportLowestLeaders(sm, 1001);
        const before = Math.max(...leaderCounts(sm.state()).values());
        converge(sm);
        const state = sm.state();
        const counts = leaderCounts(state);
        const cap = loadCap(state.shards.length, k.nodes, k.loadFactor);
        expect(Math.max(...counts.values())).toBeLessThanOrEqual(Math.max(cap, before));
        // Every node still above the cap leads only shards whose other voters are as loaded (within one): no transfer helps.
        for (const s of state.shards) {
          const x = s.leader!;
          if (counts.get(x)! <= cap) continue;
          for (const v of s.voters) if (v !== x) expect(counts.get(v)!).toBeGreaterThanOrEqual(counts.get(x)! - 1);
        }
      }),
      { seed: 7105, numRuns: 40 },
    );
  });
});

const CONFIG_DOWN = 5000;

/** Nodes other than `victim` heartbeat, time passes beyond the timeout, and a tick marks `victim` down. */
function kill(sm: MetaStateMachine, victim: number): void {
  const t = sm.clock + CONFIG_DOWN + 1;
  for (const n of sm.state().nodes) if (n.id !== victim && n.admin !== 'removed' && n.live) ok(sm.apply({ type: 'heartbeat', ts: t, node: n.id }));
  ok(sm.apply({ type: 'tick', ts: t }));
}

describe('planner under failures', () => {
  it('never breaks a live quorum while nodes die and return during a rebalance, and still converges', () => {
    let killsSeen = 0;
    fc.assert(
      fc.property(
        clusterArb.filter((k) => k.nodes >= 3 && k.replication >= 2),
        fc.array(fc.tuple(fc.nat({ max: 20 }), fc.boolean(), fc.nat()), { maxLength: 6 }),
        (k, faults) => {
          const sm = bootstrapped(k.nodes, k.shards, { replication: k.replication, loadFactor: k.loadFactor, maxConcurrentMoves: k.maxConcurrentMoves });
          reportLowestLeaders(sm, 1001);
          ok(sm.apply({ type: 'addNode', ts: sm.clock + 1, node: addr(k.nodes + 1) }));
          ok(sm.apply({ type: 'removeNode', ts: sm.clock + 1, node: 1 }));
          const fired = new Set<number>();
          let kills = 0;
          converge(sm, {
            between: (m, step) => {
              for (const [i, [at, dies, pick]] of faults.entries()) {
                if (at > step || fired.has(i)) continue;
                fired.add(i);
                const candidates = m.state().nodes.filter((n) => n.admin !== 'removed' && n.live === dies);
                const victim = candidates[pick % Math.max(1, candidates.length)];
                if (victim === undefined) continue;
                if (dies) {
                  kill(m, victim.id);
                  kills++;
                }
                else ok(m.apply({ type: 'heartbeat', ts: m.clock + 1, node: victim.id }));
              }
            },
          });
          killsSeen += kills;
          // Converged: every shard that has a live quorum sits on distinct, eligible nodes.
          const state = sm.state();
          const live = new Set(eligibleNodes(state));
          for (const s of state.shards) {
            expect(new Set(s.voters).size).toBe(s.voters.length);
            if (!hasLiveQuorum(s.voters, new Set(state.nodes.filter((n) => n.live).map((n) => n.id)))) continue;
            const r = Math.min(s.id === META_SHARD ? R_META : k.replication, live.size);
            if (s.voters.every((v) => live.has(v))) expect(s.voters.length).toBe(r);
          }
        },
      ),
      { seed: 7106, numRuns: 30 },
    );
    expect(killsSeen).toBeGreaterThan(10);
  });

  it('converges to the target it computed at the start when nothing fails', () => {
    fc.assert(
      fc.property(clusterArb, fc.boolean(), (k, oneAtATime) => {
        const sm = bootstrapped(k.nodes, k.shards, { replication: k.replication, loadFactor: k.loadFactor, maxConcurrentMoves: k.maxConcurrentMoves });
        ok(sm.apply({ type: 'addNode', ts: sm.clock + 1, node: addr(k.nodes + 1) }));
        const target = computeTarget(sm.state());
        converge(sm, { oneAtATime });
        for (const s of sm.state().shards) expect(s.voters, `shard ${s.id}`).toEqual(target.get(s.id));
      }),
      { seed: 7107, numRuns: 30 },
    );
  });
});

describe('3 → 5 → 4 nodes with 64 shards', () => {
  it('moves close to the ideal number of replicas at each step', () => {
    const sm = bootstrapped(3, 64, { maxConcurrentMoves: 8 });
    reportLowestLeaders(sm, 1001);
    converge(sm);
    const figures: { step: string; moved: number; ideal: number; total: number }[] = [];
    for (const id of [4, 5]) {
      const before = sm.state();
      ok(sm.apply({ type: 'addNode', ts: sm.clock + 1, node: addr(id) }));
      converge(sm);
      const after = sm.state();
      expectPlaced(after);
      figures.push({ step: `add n${id}`, moved: replicasMoved(before, after), ideal: totalReplicas(after) / id, total: totalReplicas(after) });
    }
    const before = sm.state();
    ok(sm.apply({ type: 'removeNode', ts: sm.clock + 1, node: 2 }));
    converge(sm);
    const after = sm.state();
    expectPlaced(after);
    figures.push({ step: 'remove n2', moved: replicasMoved(before, after), ideal: before.shards.filter((s) => s.voters.includes(2)).length, total: totalReplicas(after) });
    // 65 groups (64 + meta) × 3 replicas = 195: adding the 4th node ideally moves 195/4, the 5th 195/5; removing moves n2's share.
    expect(figures.map((f) => [f.step, f.moved])).toEqual([
      ['add n4', 48],
      ['add n5', 39],
      ['remove n2', 39],
    ]);
    for (const f of figures) expect(f.moved).toBeLessThanOrEqual(Math.ceil(f.ideal));
    const leaders = [...leaderCounts(after).values()];
    expect(Math.max(...leaders)).toBeLessThanOrEqual(loadCap(65, 4, 1.25));
  });
});

describe('safety and limits', () => {
  it('never exceeds the concurrent move limit', () => {
    const sm = bootstrapped(3, 32, { maxConcurrentMoves: 2 });
    ok(sm.apply({ type: 'addNode', ts: sm.clock + 1, node: addr(4) }));
    for (let round = 0; ; round++) {
      const actions = nextActions(sm.state());
      if (actions.length === 0) break;
      expect(sm.state().moves.length + actions.filter((a) => a.kind === 'beginMove').length).toBeLessThanOrEqual(2);
      const a = actions[0]!;
      ok(sm.apply(completionFor(sm, a)));
      expect(round).toBeLessThan(1000);
    }
    expectPlaced(sm.state());
  });

  it('does nothing on a shard that has lost its quorum, and repairs one with a single dead voter', () => {
    const sm = bootstrapped(5, 10, { replication: 3 });
    const t = sm.clock + CONFIG_DOWN + 1;
    // Nodes 1 and 2 die.
    for (const id of [3, 4, 5]) ok(sm.apply({ type: 'heartbeat', ts: t, node: id }));
    ok(sm.apply({ type: 'tick', ts: t }));
    const state = sm.state();
    const lost = state.shards.filter((s) => s.voters.includes(1) && s.voters.includes(2)).map((s) => s.id);
    expect(lost.length).toBeGreaterThan(0);
    const actions = nextActions(state);
    for (const a of actions) expect(lost).not.toContain(a.shard);
    converge(sm);
    for (const s of sm.state().shards) {
      if (lost.includes(s.id)) expect(s.voters).toEqual(state.shards.find((x) => x.id === s.id)!.voters);
      else expect(s.voters.some((v) => v === 1 || v === 2)).toBe(false);
    }
  });

  it('transfers leadership away before removing the leader replica', () => {
    const sm = bootstrapped(3, 1, { replication: 3 });
    ok(sm.apply({ type: 'leaderReport', ts: 2000, shard: 1, node: 1, term: 4 }));
    ok(sm.apply({ type: 'removeNode', ts: 2001, node: 1 }));
    ok(sm.apply({ type: 'addNode', ts: 2002, node: addr(4) }));
    const kinds: string[] = [];
    for (let i = 0; i < 50; i++) {
      const a = nextActions(sm.state()).find((x) => x.shard === 1);
      if (a === undefined) break;
      kinds.push(a.kind);
      ok(sm.apply(completionFor(sm, a)));
    }
    expect(kinds).toEqual(['beginMove', 'addLearner', 'promote', 'transferLeader', 'removeReplica']);
    const s1 = sm.state().shards.find((s) => s.id === 1)!;
    expect(s1.voters).toEqual([2, 3, 4]);
    expect(s1.leader).not.toBe(1);
  });

  it('aborts a move whose new node went down before promotion', () => {
    const sm = bootstrapped(3, 4, { replication: 3 });
    ok(sm.apply({ type: 'addNode', ts: 1001, node: addr(4) }));
    const begin = nextActions(sm.state()).find((a) => a.kind === 'beginMove')!;
    ok(sm.apply(completionFor(sm, begin)));
    const add = nextActions(sm.state()).find((a) => a.kind === 'addLearner')!;
    ok(sm.apply(completionFor(sm, add)));
    expect(sm.state().shards.find((s) => s.id === add.shard)!.learners).toEqual([4]);
    const t = 1001 + CONFIG_DOWN + 1;
    for (const id of [1, 2, 3]) ok(sm.apply({ type: 'heartbeat', ts: t, node: id }));
    ok(sm.apply({ type: 'tick', ts: t }));
    const actions = nextActions(sm.state());
    expect(actions).toContainEqual({ kind: 'abortMove', shard: add.shard, reason: 'node 4 is no longer up and active' });
    ok(sm.apply({ type: 'abortMove', ts: t + 1, shard: add.shard }));
    expect(sm.state().shards.find((s) => s.id === add.shard)!.learners).toEqual([]);
    converge(sm);
    expectPlaced(sm.state());
  });

  it('plan() lists every step in order and agrees with the target', () => {
    const sm = bootstrapped(3, 8);
    ok(sm.apply({ type: 'addNode', ts: 1001, node: addr(4) }));
    const p = plan(sm.state());
    expect(p.target).toEqual(computeTarget(sm.state()));
    const adds = p.moves.filter((m) => m.add === 4).length;
    expect(adds).toBe(p.moves.length);
    expect(p.steps.filter((s) => s.kind === 'beginMove').length).toBe(p.moves.length);
    // Each move: begin, addLearner, promote, removeReplica.
    expect(p.steps.slice(0, 4).map((s) => s.kind)).toEqual(['beginMove', 'addLearner', 'promote', 'removeReplica']);
    expect(adds).toBe(Math.floor(totalReplicas(sm.state()) / 4));
  });
});

function completionFor(sm: MetaStateMachine, a: MetaAction): MetaCommand {
  return completionOf(a, sm.state(), sm.clock + 1);
}
