import { MetaStateMachine, hasLiveQuorum, nextActions } from '../../src/meta/index.js';
import type { MetaAction, MetaCommand, MetaConfig, MetaResult, MetaState, NodeAddress } from '../../src/meta/index.js';

export const CONFIG: MetaConfig = {
  replication: 3,
  metaReplication: 3,
  downTimeoutMs: 5000,
  maxConcurrentMoves: 4,
  loadFactor: 1.25,
  vnodes: 16,
};

export function addr(id: number): NodeAddress {
  return { id, host: '127.0.0.1', clientPort: 7000 + id, peerPort: 8000 + id };
}

export function ok(r: MetaResult): void {
  if (!r.ok) throw new Error(`expected ok, got ${r.code}: ${r.message}`);
}

export function bootstrapped(nodes: number, shards: number, config: Partial<MetaConfig> = {}, ts = 1000): MetaStateMachine {
  const sm = new MetaStateMachine();
  ok(sm.apply({ type: 'bootstrap', ts, nodes: Array.from({ length: nodes }, (_, i) => addr(i + 1)), shards, config: { ...CONFIG, ...config } }));
  return sm;
}

/** Every shard's leader reported as its lowest voter (piles leaders on low ids, for the balancer to fix). */
export function reportLowestLeaders(sm: MetaStateMachine, ts: number): void {
  for (const s of sm.state().shards) {
    const v = s.voters[0];
    if (v !== undefined) ok(sm.apply({ type: 'leaderReport', ts, shard: s.id, node: v, term: s.term + 1 }));
  }
}

/** The completion command an executor proposes after performing `a`. */
export function completionOf(a: MetaAction, state: MetaState, ts: number): MetaCommand {
  switch (a.kind) {
    case 'beginMove':
      return { type: 'beginMove', ts, shard: a.shard, add: a.add, remove: a.remove };
    case 'addLearner':
      return { type: 'learnerAdded', ts, shard: a.shard, node: a.node };
    case 'promote':
      return { type: 'promoted', ts, shard: a.shard, node: a.node };
    case 'removeReplica':
      return { type: 'replicaRemoved', ts, shard: a.shard, node: a.node };
    case 'abortMove':
      return { type: 'abortMove', ts, shard: a.shard };
    case 'transferLeader': {
      const s = state.shards.find((x) => x.id === a.shard)!;
      return { type: 'leaderReport', ts, shard: a.shard, node: a.to, term: s.term + 1 };
    }
  }
}

export interface RunStats {
  steps: number;
  begun: number;
  transfers: number;
}

/**
 * Executes the planner's actions until there are none: one action per round
 * (`oneAtATime`) or all actions of a round. After every applied completion,
 * checks that no shard that had a live quorum lost it, and that voters and
 * learners stay distinct.
 */
export function converge(
  sm: MetaStateMachine,
  opts: { oneAtATime?: boolean; maxSteps?: number; between?: (sm: MetaStateMachine, step: number) => void } = {},
): RunStats {
  const maxSteps = opts.maxSteps ?? 20000;
  const stats: RunStats = { steps: 0, begun: 0, transfers: 0 };
  for (;;) {
    opts.between?.(sm, stats.steps);
    const actions = nextActions(sm.state());
    if (actions.length === 0) return stats;
    for (const a of opts.oneAtATime === true ? actions.slice(0, 1) : actions) {
      const before = sm.state();
      const live = new Set(before.nodes.filter((n) => n.live && n.admin !== 'removed').map((n) => n.id));
      const cmd = completionOf(a, before, sm.clock + 1);
      const r = sm.apply(cmd);
      if (!r.ok) throw new Error(`${a.kind} on shard ${a.shard} rejected: ${r.code} ${r.message}`);
      if (a.kind === 'beginMove') stats.begun++;
      if (a.kind === 'transferLeader') stats.transfers++;
      stats.steps++;
      const after = sm.state();
      for (const s of after.shards) {
        const was = before.shards.find((x) => x.id === s.id);
        if (was !== undefined && hasLiveQuorum(was.voters, live) && !hasLiveQuorum(s.voters, live)) {
          throw new Error(`shard ${s.id} lost its live quorum by ${a.kind}`);
        }
        if (new Set([...s.voters, ...s.learners]).size !== s.voters.length + s.learners.length) throw new Error(`shard ${s.id}: a node twice`);
      }
      if (stats.steps > maxSteps) throw new Error('planner did not converge');
    }
  }
}

/** Replicas (shard, node) per node among voters. */
export function replicaLoads(state: MetaState): Map<number, number> {
  const loads = new Map<number, number>();
  for (const n of state.nodes) if (n.admin === 'active' && n.live) loads.set(n.id, 0);
  for (const s of state.shards) for (const v of s.voters) loads.set(v, (loads.get(v) ?? 0) + 1);
  return loads;
}

/** Number of (shard, node) voter pairs in `after` that were not in `before`. */
export function replicasMoved(before: MetaState, after: MetaState): number {
  const had = new Set(before.shards.flatMap((s) => s.voters.map((v) => `${s.id}:${v}`)));
  let moved = 0;
  for (const s of after.shards) for (const v of s.voters) if (!had.has(`${s.id}:${v}`)) moved++;
  return moved;
}

export function totalReplicas(state: MetaState): number {
  return state.shards.reduce((t, s) => t + s.voters.length, 0);
}
