/**
 * Target placement: which nodes should hold each shard's voters. A pure,
 * deterministic function of the meta state (ties broken by id), so every meta
 * replica — and a new meta leader — computes the same target.
 *
 * Rules, in order:
 * 1. Keep what is already placed on eligible nodes (active and live), including
 *    the node an in-flight move is adding and excluding the one it removes.
 * 2. Trim shards above their replication factor (drop the replica on the most
 *    loaded node).
 * 3. Fill shards below it, each time on the least loaded eligible node that
 *    does not hold the shard yet (distinct nodes per shard). When no eligible
 *    node is left, a replica on a down (but not drained) node is kept rather
 *    than dropped: shrinking a group buys nothing while the node may return.
 * 4. Balance: while the most and least loaded eligible nodes differ by more
 *    than one replica, shift one replica from the first to the second:
 *    - for free when a chain of planned (not yet real) replicas can be
 *      re-routed (shard A's planned replica on max goes to x, B's on x to min…);
 *    - else by a real move (there is always a shard on max and not on min;
 *      prefer returning a replica to where it is now, and not moving a leader).
 *
 * Loads so end within one replica of each other, below the bound c × average.
 * The replicas that change node are about the least needed to restore the
 * replication factor and that balance: adding a node to n balanced nodes moves
 * about total/(n+1) replicas to it; removing one moves its own replicas (and
 * rarely one or two more, when the shards it shared leave no even spread).
 * Filling prefers nodes that share few shards with the shard's other replicas,
 * which keeps such extra moves rare.
 */
import type { MetaState, MoveRecord, ShardRecord } from './types.js';
import { META_SHARD } from './types.js';

/** Nodes that may receive replicas: active (not draining/removed) and live. Ascending. */
export function eligibleNodes(state: MetaState): number[] {
  return state.nodes.filter((n) => n.admin === 'active' && n.live).map((n) => n.id);
}

/** The voters a shard is headed for with its in-flight move applied (sorted). */
export function intendedVoters(shard: ShardRecord, move: MoveRecord | undefined): number[] {
  const set = new Set(shard.voters);
  if (move !== undefined) {
    if (move.add !== null) set.add(move.add);
    if (move.remove !== null) set.delete(move.remove);
  }
  return [...set].sort((a, b) => a - b);
}

/** Replication factor of a shard under `state`'s config. */
export function replicationOf(state: MetaState, shard: number): number {
  const c = state.config;
  if (c === null) return 0;
  return shard === META_SHARD ? c.metaReplication : c.replication;
}

/** The bounded-load cap: the most replicas (or leaders) any node may carry, never below the ceiling of the average. */
export function loadCap(total: number, nodes: number, c: number): number {
  if (nodes === 0) return 0;
  const avg = total / nodes;
  return Math.max(Math.ceil(avg), Math.floor(c * avg + 1e-9));
}

/** Shard id → target voters (ascending), for every shard of `state`. */
export function computeTarget(state: MetaState): Map<number, number[]> {
  const eligible = eligibleNodes(state);
  const isEligible = new Set(eligible);
  const downKeepable = new Set(state.nodes.filter((n) => n.admin === 'active' && !n.live).map((n) => n.id));
  const moves = new Map(state.moves.map((m) => [m.shard, m]));
  const load = new Map<number, number>(eligible.map((id) => [id, 0]));
  const bump = (id: number, d: number): void => {
    if (load.has(id)) load.set(id, load.get(id)! + d);
  };

  const target = new Map<number, number[]>();
  const current = new Map<number, Set<number>>();
  const intended = new Map<number, number[]>();
  for (const s of state.shards) {
    current.set(s.id, new Set(s.voters));
    const want = intendedVoters(s, moves.get(s.id));
    intended.set(s.id, want);
    const kept = want.filter((id) => isEligible.has(id));
    for (const id of kept) bump(id, 1);
    target.set(s.id, kept);
  }
  if (eligible.length === 0) return new Map([...intended].map(([id, v]) => [id, v]));

  // How many shards each pair of nodes shares: filling prefers nodes that share
  // few shards with the shard's other replicas, so replica sets do not pair up
  // and the replicas of a lost node can be spread over every other node.
  const pairs = new Map<number, Map<number, number>>();
  const pairCount = (a: number, b: number): number => pairs.get(a)?.get(b) ?? 0;
  const addPair = (a: number, b: number): void => {
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      let m = pairs.get(x);
      if (m === undefined) pairs.set(x, (m = new Map()));
      m.set(y, (m.get(y) ?? 0) + 1);
    }
  };

  // Least loaded eligible node not in `members` (ties: fewest shards shared with `members`, then lowest id).
  const leastLoaded = (members: ReadonlySet<number>): number | undefined => {
    let best: number | undefined;
    let bestLoad = Infinity;
    let bestShared = Infinity;
    for (const id of eligible) {
      if (members.has(id)) continue;
      const l = load.get(id)!;
      if (l > bestLoad) continue;
      let shared = 0;
      for (const m of members) shared += pairCount(id, m);
      if (l < bestLoad || shared < bestShared) {
        best = id;
        bestLoad = l;
        bestShared = shared;
      }
    }
    return best;
  };

  // 2. Trim.
  for (const s of state.shards) {
    const r = replicationOf(state, s.id);
    const kept = target.get(s.id)!;
    while (kept.length > r) {
      let worst = 0;
      for (let i = 1; i < kept.length; i++) {
        const a = load.get(kept[i]!)!;
        const b = load.get(kept[worst]!)!;
        if (a > b || (a === b && kept[i]! > kept[worst]!)) worst = i;
      }
      bump(kept[worst]!, -1);
      kept.splice(worst, 1);
    }
  }

  // 3. Fill.
  for (const kept of target.values()) for (let i = 0; i < kept.length; i++) for (let j = i + 1; j < kept.length; j++) addPair(kept[i]!, kept[j]!);
  for (const s of state.shards) {
    const r = replicationOf(state, s.id);
    const kept = target.get(s.id)!;
    const has = new Set(kept);
    while (kept.length < r) {
      const id = leastLoaded(has);
      if (id === undefined) break;
      for (const m of kept) addPair(id, m);
      kept.push(id);
      has.add(id);
      bump(id, 1);
    }
    // Not enough eligible nodes: keep replicas on down nodes instead of shrinking the group.
    for (const id of intended.get(s.id)!) {
      if (kept.length >= r) break;
      if (downKeepable.has(id) && !has.has(id)) {
        kept.push(id);
        has.add(id);
      }
    }
  }

  // 4. Balance.
  const sets = new Map([...target].map(([id, v]) => [id, new Set(v)]));
  for (;;) {
    let max: number | undefined;
    let min: number | undefined;
    for (const id of eligible) {
      const l = load.get(id)!;
      if (max === undefined || l > load.get(max)! || (l === load.get(max)! && id > max)) max = id;
      if (min === undefined || l < load.get(min)!) min = id;
    }
    if (max === undefined || min === undefined || load.get(max)! - load.get(min)! <= 1) break;
    if (shiftPlannedChain(state.shards, sets, current, eligible, max, min)) {
      bump(max, -1);
      bump(min, 1);
      continue;
    }
    // Cheapest shard to move from `max` to `min`: cost = (max holds it now) − (min holds it now).
    let pick: number | undefined;
    let pickCost = Infinity;
    for (const s of state.shards) {
      const set = sets.get(s.id)!;
      if (!set.has(max) || set.has(min)) continue;
      const cur = current.get(s.id)!;
      const cost = (cur.has(max) ? 1 : 0) - (cur.has(min) ? 1 : 0) + (s.leader === max ? 0.5 : 0);
      if (cost < pickCost) {
        pick = s.id;
        pickCost = cost;
      }
    }
    if (pick === undefined) break; // cannot happen: load(max) > load(min) implies such a shard
    const set = sets.get(pick)!;
    set.delete(max);
    set.add(min);
    bump(max, -1);
    bump(min, 1);
  }
  const out = new Map<number, number[]>();
  for (const s of state.shards) out.set(s.id, [...sets.get(s.id)!].sort((a, b) => a - b));
  return out;
}

/**
 * Shifts one unit of load from `from` to `to` along a chain of planned (not yet
 * real) replicas: shard A's planned replica on `from` goes to node x, shard
 * B's planned replica on x goes to `to`, … (breadth-first, so the shortest
 * chain, ties by id). No real replica moves, only planned adds are re-routed.
 * Returns false when no such chain exists.
 */
function shiftPlannedChain(
  shards: readonly ShardRecord[],
  sets: Map<number, Set<number>>,
  current: ReadonlyMap<number, ReadonlySet<number>>,
  nodes: readonly number[],
  from: number,
  to: number,
): boolean {
  // Edge u → v through shard s: s has a planned replica on u and nothing on v.
  const prev = new Map<number, { node: number; shard: number }>();
  const seen = new Set([from]);
  let frontier = [from];
  while (frontier.length > 0 && !seen.has(to)) {
    const next: number[] = [];
    for (const u of frontier) {
      for (const s of shards) {
        const set = sets.get(s.id)!;
        if (!set.has(u) || current.get(s.id)!.has(u)) continue;
        for (const v of nodes) {
          if (seen.has(v) || set.has(v)) continue;
          seen.add(v);
          prev.set(v, { node: u, shard: s.id });
          next.push(v);
        }
      }
    }
    frontier = next;
  }
  if (!seen.has(to)) return false;
  const path: { from: number; to: number; shard: number }[] = [];
  for (let v = to; v !== from; ) {
    const p = prev.get(v)!;
    path.push({ from: p.node, to: v, shard: p.shard });
    v = p.node;
  }
  // Apply from the end nearest `to` backwards, re-checking each hop (a shard may appear twice).
  const undo: (() => void)[] = [];
  for (const hop of path) {
    const set = sets.get(hop.shard)!;
    if (!set.has(hop.from) || set.has(hop.to)) {
      for (const u of undo.reverse()) u();
      return false;
    }
    set.delete(hop.from);
    set.add(hop.to);
    undo.push(() => {
      set.delete(hop.to);
      set.add(hop.from);
    });
  }
  return true;
}
