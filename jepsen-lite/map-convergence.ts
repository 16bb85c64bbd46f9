/**
 * When the shard map has settled after membership changes, judged from the
 * `map` answers of the running nodes (pure, for jepsen-lite's recovery check
 * and the rebalance end-to-end tests):
 *
 * - every node answers, all with the same map version;
 * - no learner anywhere (no move between learner and promote);
 * - every data shard has exactly `replication` voters, on distinct nodes that
 *   are members in state `up` (none down, draining or missing);
 * - no member is draining (a removal still moving replicas away);
 * - when `members` is given, the map's members are exactly those;
 * - loads (replicas per `up` member, data shards plus the meta group, as the
 *   placement counts them) within one replica of each other.
 *
 * A move between `beginMove` and its learner is not visible in the map, so
 * callers ask for the same settled version on two polls in a row.
 */
import type { ParsedShardMap, WireGroup } from '../src/meta/index.js';

export interface MapExpectation {
  /** Voters per data shard. */
  readonly replication: number;
  /** Exact member set ("n1", …) when known. */
  readonly members?: readonly string[];
  /** Allowed spread of loads (default 1). */
  readonly maxLoadSpread?: number;
  /** Nodes that must hold nothing: no voter or learner anywhere, and not `up` (a dead or removed node). */
  readonly excluded?: readonly string[];
}

/** Replicas per `up` member: voters of every data shard and of the meta group. */
export function loadsOf(m: ParsedShardMap): Map<string, number> {
  const loads = new Map<string, number>();
  for (const x of m.members) if (x.state === undefined || x.state === 'up') loads.set(x.node, 0);
  const groups: readonly WireGroup[] = m.meta === undefined ? m.shards : [...m.shards, m.meta];
  for (const g of groups) for (const r of g.replicas) if (loads.has(r)) loads.set(r, loads.get(r)! + 1);
  return loads;
}

/** Null when the maps show a settled, balanced placement; else why not. */
export function mapNotSettled(maps: readonly (ParsedShardMap | null)[], o: MapExpectation): string | null {
  if (maps.length === 0) return 'no map';
  if (maps.some((m) => m === null)) return 'a node does not answer map';
  const all = maps as readonly ParsedShardMap[];
  const versions = [...new Set(all.map((m) => m.version))].sort((a, b) => a - b);
  if (versions.length !== 1) return `map versions differ: ${versions.join(', ')}`;
  const m = all[0]!;
  const state = new Map(m.members.map((x) => [x.node, x.state ?? 'up']));
  const draining = m.members.filter((x) => x.state === 'draining').map((x) => x.node);
  if (draining.length > 0) return `draining: ${draining.join(', ')}`;
  if (o.members !== undefined) {
    const want = [...o.members].sort().join(',');
    const have = m.members.map((x) => x.node).sort().join(',');
    if (want !== have) return `members ${have}, expected ${want}`;
  }
  const groups: readonly (WireGroup & { readonly shard?: number })[] = m.meta === undefined ? m.shards : [...m.shards, m.meta];
  for (const x of o.excluded ?? []) {
    if (state.get(x) === 'up') return `${x} is still up`;
    const holds = groups.filter((g) => g.replicas.includes(x) || (g.learners ?? []).includes(x)).map((g) => (g.shard === undefined ? 'meta' : `shard ${g.shard}`));
    if (holds.length > 0) return `${x} still holds ${holds.join(', ')}`;
  }
  for (const g of groups) {
    const name = g.shard === undefined ? 'meta' : `shard ${g.shard}`;
    if ((g.learners?.length ?? 0) > 0) return `${name}: learners ${g.learners!.join(',')} (move in flight)`;
    if (new Set(g.replicas).size !== g.replicas.length) return `${name}: voters ${g.replicas.join(',')} not distinct`;
    const notUp = g.replicas.filter((r) => state.get(r) !== 'up');
    if (notUp.length > 0) return `${name}: voters ${notUp.join(',')} not up`;
    if (g.shard !== undefined && g.replicas.length !== o.replication) return `${name}: ${g.replicas.length} voters (${g.replicas.join(',')}), expected ${o.replication}`;
  }
  const loads = [...loadsOf(m).values()];
  const spread = Math.max(...loads) - Math.min(...loads);
  if (spread > (o.maxLoadSpread ?? 1)) return `loads ${[...loadsOf(m)].map(([n, l]) => `${n}:${l}`).join(' ')} differ by ${spread}`;
  return null;
}

/** What a settled map says about placement (voters, learners, member states), without leader hints and version. */
export function placementOf(m: ParsedShardMap): string {
  const groups = m.meta === undefined ? m.shards : [...m.shards, { ...m.meta, shard: 0 }];
  return JSON.stringify([
    groups.map((g) => [g.shard, [...g.replicas].sort(), [...(g.learners ?? [])].sort()]),
    m.members.map((x) => [x.node, x.state ?? 'up']),
  ]);
}

/** Shard id → voters ("n1", …) of the data shards. */
export function votersByShard(m: ParsedShardMap): Map<number, readonly string[]> {
  return new Map(m.shards.map((s) => [s.shard, s.replicas]));
}

/** The data shard whose ranges hold ring position `pos`, or null. */
export function shardAt(m: ParsedShardMap, pos: number): number | null {
  const rs = m.table.ranges;
  let lo = 0;
  let hi = rs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = rs[mid]!;
    if (pos < r.start) hi = mid - 1;
    else if (pos >= r.end) lo = mid + 1;
    else return r.shard;
  }
  return null;
}

export interface MovedKeyReplicas {
  /** Σ over shards of keys in it × voters it has now that it did not have before. */
  readonly moved: number;
  /** Key-replicas on `onto` nodes after (what must have moved there at least). */
  readonly landedOnto: number;
  /** Keys × replication: every key-replica. */
  readonly total: number;
  /** Replicas (not keys) that changed node, summed over the shards. */
  readonly replicasMoved: number;
  /** Of those, replicas that moved to a node not in `onto` (needless for a pure scale-out). */
  readonly replicasMovedElsewhere: number;
}

/**
 * How many key-replicas a rebalance moved: for each data shard (same ranges
 * before and after: no split in between), the keys it holds times the voters
 * it gained. `onto`: the nodes added, to compare with the least that had to move.
 */
export function movedKeyReplicas(before: ParsedShardMap, after: ParsedShardMap, positions: readonly number[], onto: readonly string[]): MovedKeyReplicas {
  const keysIn = new Map<number, number>();
  for (const p of positions) {
    const s = shardAt(after, p);
    if (s !== null) keysIn.set(s, (keysIn.get(s) ?? 0) + 1);
  }
  const was = votersByShard(before);
  let moved = 0;
  let landedOnto = 0;
  let replicasMoved = 0;
  let replicasMovedElsewhere = 0;
  let total = 0;
  for (const s of after.shards) {
    const keys = keysIn.get(s.shard) ?? 0;
    const old = new Set(was.get(s.shard) ?? []);
    const gained = s.replicas.filter((r) => !old.has(r)).length;
    replicasMoved += gained;
    replicasMovedElsewhere += s.replicas.filter((r) => !old.has(r) && !onto.includes(r)).length;
    moved += keys * gained;
    landedOnto += keys * s.replicas.filter((r) => onto.includes(r)).length;
    total += keys * s.replicas.length;
  }
  return { moved, landedOnto, total, replicasMoved, replicasMovedElsewhere };
}
