/**
 * The planner: a pure function of the meta state that says what to do next to
 * reach the target placement (placement.ts), one replica at a time:
 *
 *   beginMove (recorded in the meta log) → addLearner → (learner catches up)
 *   → promote → [transferLeader, if the leaving replica leads] → removeReplica
 *
 * The executor (node integration) performs each action on the shard's group
 * and proposes the matching completion to the meta group: learnerAdded,
 * promoted, leaderReport, replicaRemoved (or abortMove). Then it asks again.
 *
 * Safety: no action is emitted that would leave a shard's voters without a
 * majority of live nodes (promote checks the enlarged set, remove the reduced
 * one), nor any conf change on a shard that has no live majority now (it could
 * not commit). At most `maxConcurrentMoves` moves are in flight. Leaders are
 * balanced by transfers only when no move is pending, and only off nodes
 * above the bounded-load cap c × average.
 */
import { computeTarget, eligibleNodes, loadCap } from './placement.js';
import type { MetaState, NodeRecord, ShardRecord } from './types.js';

export type MoveReason = 'repair' | 'drain' | 'balance';

/** One replica move: add a replica on `add` and/or remove the one on `remove`. */
export interface PlannedMove {
  readonly shard: number;
  readonly add: number | null;
  readonly remove: number | null;
  readonly reason: MoveReason;
}

export type MetaAction =
  /**
   * Propose `beginMove` to the meta group. (No expectVersion: completions of other
   * moves bump the version all the time; the state machine re-validates the move.)
   */
  | { readonly kind: 'beginMove'; readonly shard: number; readonly add: number | null; readonly remove: number | null; readonly reason: MoveReason }
  /** Add `node` as a learner of the shard's group; then propose `learnerAdded`. */
  | { readonly kind: 'addLearner'; readonly shard: number; readonly node: number }
  /** Once the learner has caught up, make it a voter; then propose `promoted`. */
  | { readonly kind: 'promote'; readonly shard: number; readonly node: number }
  /** Transfer the shard's leadership; then propose `leaderReport`. */
  | { readonly kind: 'transferLeader'; readonly shard: number; readonly from: number; readonly to: number }
  /** Remove `node` from the shard's group; then propose `replicaRemoved`. */
  | { readonly kind: 'removeReplica'; readonly shard: number; readonly node: number }
  /** The move cannot finish (its new node is gone): remove a learner it added, then propose `abortMove`. */
  | { readonly kind: 'abortMove'; readonly shard: number; readonly reason: string };

export interface MetaPlan {
  /** Shard → target voters. */
  readonly target: ReadonlyMap<number, readonly number[]>;
  /** Moves not begun yet, in the order they would be begun (repairs, then drains, then balance). */
  readonly moves: readonly PlannedMove[];
  /** Every step to reach the target, in order: in-flight moves' remaining steps, then the planned moves' steps. */
  readonly steps: readonly MetaAction[];
  /** Leader transfers that balance leaders on the current voters (done after the moves). */
  readonly leaderTransfers: readonly MetaAction[];
}

/** Majority of `n` voters. */
export function quorumOf(n: number): number {
  return Math.floor(n / 2) + 1;
}

function liveSet(state: MetaState): Set<number> {
  return new Set(state.nodes.filter((n) => n.live && n.admin !== 'removed').map((n) => n.id));
}

/** True when `voters` (non-empty) has a majority of live nodes. */
export function hasLiveQuorum(voters: readonly number[], live: ReadonlySet<number>): boolean {
  if (voters.length === 0) return false;
  let up = 0;
  for (const v of voters) if (live.has(v)) up++;
  return up >= quorumOf(voters.length);
}

const REASON_RANK: Record<MoveReason, number> = { repair: 0, drain: 1, balance: 2 };

/** Moves not yet begun that turn each shard's voters into its target, one replica per move. */
export function planMoves(state: MetaState, target: ReadonlyMap<number, readonly number[]> = computeTarget(state)): PlannedMove[] {
  const byId = new Map(state.nodes.map((n) => [n.id, n]));
  const moves = new Map(state.moves.map((m) => [m.shard, m]));
  const out: PlannedMove[] = [];
  for (const s of state.shards) {
    const m = moves.get(s.id);
    const now = new Set(s.voters);
    if (m !== undefined) {
      if (m.add !== null) now.add(m.add);
      if (m.remove !== null) now.delete(m.remove);
    }
    const tgt = new Set(target.get(s.id) ?? []);
    const adds = [...tgt].filter((id) => !now.has(id)).sort((a, b) => a - b);
    // Remove replicas on down nodes first, then on draining ones, then the rest.
    const rank = (id: number): number => {
      const n = byId.get(id);
      if (n === undefined || !n.live) return 0;
      return n.admin === 'active' ? 2 : 1;
    };
    const removes = [...now].filter((id) => !tgt.has(id)).sort((a, b) => rank(a) - rank(b) || a - b);
    const count = Math.max(adds.length, removes.length);
    for (let i = 0; i < count; i++) {
      const add = adds[i] ?? null;
      const remove = removes[i] ?? null;
      out.push({ shard: s.id, add, remove, reason: reasonOf(remove, byId) });
    }
  }
  // Stable sort: by reason, then shard id (already in shard order).
  return out.map((p, i) => ({ p, i })).sort((a, b) => REASON_RANK[a.p.reason] - REASON_RANK[b.p.reason] || a.i - b.i).map((x) => x.p);
}

function reasonOf(remove: number | null, byId: ReadonlyMap<number, NodeRecord>): MoveReason {
  if (remove === null) return 'repair';
  const n = byId.get(remove);
  if (n === undefined || !n.live) return 'repair';
  return n.admin !== 'active' ? 'drain' : 'balance';
}

/** Live voter of `s` other than `except` with the fewest leaderships (ties: lowest id). */
function transferTarget(s: ShardRecord, except: number, live: ReadonlySet<number>, leaders: ReadonlyMap<number, number>, byId: ReadonlyMap<number, NodeRecord>): number | undefined {
  let best: number | undefined;
  for (const v of s.voters) {
    if (v === except || !live.has(v)) continue;
    if (byId.get(v)?.admin !== 'active') continue;
    if (best === undefined || (leaders.get(v) ?? 0) < (leaders.get(best) ?? 0)) best = v;
  }
  if (best !== undefined) return best;
  for (const v of s.voters) if (v !== except && live.has(v)) return v;
  return undefined;
}

function leaderCounts(state: MetaState): Map<number, number> {
  const counts = new Map<number, number>();
  for (const s of state.shards) if (s.leader !== null) counts.set(s.leader, (counts.get(s.leader) ?? 0) + 1);
  return counts;
}

/** Leadership transfers that bring every eligible node to at most c × the average leader count (when the voters allow). */
export function planLeaderTransfers(state: MetaState): MetaAction[] {
  const c = state.config?.loadFactor ?? 1.25;
  const eligible = eligibleNodes(state);
  const live = liveSet(state);
  const counts = leaderCounts(state);
  const stuck = new Set<number>();
  const led = state.shards.filter((s) => s.leader !== null);
  const cap = loadCap(led.length, eligible.length, c);
  const out: MetaAction[] = [];
  const isEligible = new Set(eligible);
  const leaderOf = new Map(led.map((s) => [s.id, s.leader!]));
  for (;;) {
    // The most loaded leader node above the cap, or any leader on a non-eligible node.
    let from: number | undefined;
    for (const [id, n] of [...counts].sort((a, b) => a[0] - b[0])) {
      if (n === 0 || stuck.has(id)) continue;
      const over = isEligible.has(id) ? n > cap : live.has(id);
      if (over && (from === undefined || n > counts.get(from)!)) from = id;
    }
    if (from === undefined) break;
    let best: { shard: number; to: number } | undefined;
    for (const s of led) {
      if (leaderOf.get(s.id) !== from || !hasLiveQuorum(s.voters, live)) continue;
      for (const v of s.voters) {
        if (v === from || !isEligible.has(v)) continue;
        const cv = counts.get(v) ?? 0;
        if (isEligible.has(from) && cv + 1 >= counts.get(from)!) continue;
        if (best === undefined || cv < (counts.get(best.to) ?? 0) || (cv === (counts.get(best.to) ?? 0) && v < best.to)) best = { shard: s.id, to: v };
      }
    }
    if (best === undefined) {
      stuck.add(from); // nothing more can be done for this node; look at the others
      continue;
    }
    out.push({ kind: 'transferLeader', shard: best.shard, from, to: best.to });
    leaderOf.set(best.shard, best.to);
    counts.set(from, counts.get(from)! - 1);
    counts.set(best.to, (counts.get(best.to) ?? 0) + 1);
  }
  return out;
}

/** The actions to perform now (safe, within the concurrency limit), in order. */
export function nextActions(state: MetaState): MetaAction[] {
  const config = state.config;
  if (config === null) return [];
  const live = liveSet(state);
  const byId = new Map(state.nodes.map((n) => [n.id, n]));
  const shards = new Map(state.shards.map((s) => [s.id, s]));
  const leaders = leaderCounts(state);
  const out: MetaAction[] = [];

  for (const m of state.moves) {
    const s = shards.get(m.shard)!;
    if (m.add !== null && m.phase !== 'remove') {
      const n = byId.get(m.add);
      if (n === undefined || n.admin !== 'active' || !n.live) {
        out.push({ kind: 'abortMove', shard: m.shard, reason: `node ${m.add} is no longer up and active` });
        continue;
      }
    }
    if (!hasLiveQuorum(s.voters, live)) continue; // no conf change can commit now
    switch (m.phase) {
      case 'add-learner':
        out.push({ kind: 'addLearner', shard: s.id, node: m.add! });
        break;
      case 'promote':
        if (hasLiveQuorum([...s.voters, m.add!], live)) out.push({ kind: 'promote', shard: s.id, node: m.add! });
        break;
      case 'remove': {
        const node = m.remove!;
        const rest = s.voters.filter((v) => v !== node);
        if (s.leader === node && rest.length > 0) {
          const to = transferTarget(s, node, live, leaders, byId);
          if (to !== undefined) out.push({ kind: 'transferLeader', shard: s.id, from: node, to });
          break;
        }
        if (rest.length > 0 && hasLiveQuorum(rest, live)) out.push({ kind: 'removeReplica', shard: s.id, node });
        else if (live.has(node) && hasLiveQuorum(s.voters, live)) {
          // Another voter is down: removing the leaving one would leave no live majority,
          // and the move would wait forever. End it with the extra voter kept; a repair
          // move then removes the down voter first (found by the executor's property test).
          out.push({ kind: 'abortMove', shard: s.id, reason: `removing node ${node} would leave shard ${s.id} without a live majority` });
        }
        break;
      }
    }
  }

  const planned = planMoves(state);
  let budget = config.maxConcurrentMoves - state.moves.length;
  const begun = new Set(state.moves.map((m) => m.shard));
  // No move on either side of a split whose data half is pending: the new group
  // starts on its parent's voters, which must not change meanwhile.
  for (const s of state.shards) {
    if (s.parent === undefined) continue;
    begun.add(s.id);
    begun.add(s.parent);
  }
  for (const p of planned) {
    if (budget <= 0) break;
    if (begun.has(p.shard)) continue;
    const s = shards.get(p.shard)!;
    if (!hasLiveQuorum(s.voters, live)) continue;
    out.push({ kind: 'beginMove', shard: p.shard, add: p.add, remove: p.remove, reason: p.reason });
    begun.add(p.shard);
    budget--;
  }

  if (state.moves.length === 0 && planned.length === 0) out.push(...planLeaderTransfers(state));
  return out;
}

/** The full plan: target, moves to begin, and every step in order. */
export function plan(state: MetaState): MetaPlan {
  const target = computeTarget(state);
  const moves = planMoves(state, target);
  const steps: MetaAction[] = [];
  const pushSteps = (shard: number, add: number | null, remove: number | null, from: 'add-learner' | 'promote' | 'remove'): void => {
    if (add !== null && from === 'add-learner') steps.push({ kind: 'addLearner', shard, node: add });
    if (add !== null && from !== 'remove') steps.push({ kind: 'promote', shard, node: add });
    if (remove !== null) steps.push({ kind: 'removeReplica', shard, node: remove });
  };
  for (const m of state.moves) pushSteps(m.shard, m.add, m.remove, m.phase);
  for (const p of moves) {
    steps.push({ kind: 'beginMove', shard: p.shard, add: p.add, remove: p.remove, reason: p.reason });
    pushSteps(p.shard, p.add, p.remove, 'add-learner');
  }
  return { target, moves, steps, leaderTransfers: planLeaderTransfers(state) };
}
