/**
 * Where the shards live: the shard map every node of a cluster derives from
 * the same inputs (the member table, the shard count, the replication factor)
 * with the meta group's own state machine, so all nodes agree on it without
 * talking. Ranges of the ring come from the consistent-hash layout with
 * bounded loads; replicas of a shard sit on distinct nodes, spread evenly.
 *
 * That bootstrap map (version 1) is the meta group's state at log index 0;
 * the meta group (Raft group 0) then replicates it and changes it as nodes
 * come and go, and every node routes by the newest version it has seen
 * (`ShardLayout.fromState`). A node that joined later starts with no map.
 */
import { MetaStateMachine, ShardRouter, mapToWire } from '../meta/index.js';
import type { MetaConfig, MetaState, ShardRecord, WireShardMap } from '../meta/index.js';
import type { NodeId } from '../raft/index.js';
import type { Member } from './config.js';

export interface ShardLayoutOptions {
  readonly members: readonly Member[];
  /** Data shards (Raft groups 1..shards). */
  readonly shards: number;
  /** Voters per shard, capped at the member count. */
  readonly replication: number;
  /** The meta group marks a node down after this long without a heartbeat (ms). */
  readonly downTimeoutMs?: number;
}

/** The version of the bootstrap map. */
export const BOOTSTRAP_MAP_VERSION = 1;

export class ShardLayout {
  readonly version: number;
  readonly state: MetaState;
  private readonly router: ShardRouter | null;
  private readonly byId: ReadonlyMap<number, ShardRecord>;

  private constructor(state: MetaState, router?: ShardRouter | null) {
    this.state = state;
    this.version = state.version;
    this.router = router !== undefined ? router : state.ranges.length > 0 ? ShardRouter.fromState(state) : null;
    this.byId = new Map(state.shards.map((s) => [s.id, s]));
  }

  /**
   * The layout of a meta state (a replicated, versioned shard map). With
   * `previous`, its router is kept when the ranges did not change (most map
   * versions only move leader hints, replicas or node states): building one
   * parses every range (thousands with many shards).
   */
  static fromState(state: MetaState, previous?: ShardLayout): ShardLayout {
    if (previous !== undefined && previous.router !== null && sameRanges(previous.state.ranges, state.ranges)) {
      return new ShardLayout(state, previous.router);
    }
    return new ShardLayout(state);
  }

  /** No map yet (a node that joins a running cluster, until the map reaches it): every key routes to group 0, which serves no keys. */
  static empty(): ShardLayout {
    return new ShardLayout(new MetaStateMachine().state());
  }

  static bootstrap(o: ShardLayoutOptions): ShardLayout {
    const replication = Math.min(o.replication, o.members.length);
    const config: MetaConfig = {
      replication,
      metaReplication: Math.min(o.members.length >= 5 ? 5 : 3, o.members.length),
      downTimeoutMs: o.downTimeoutMs ?? 30_000,
      maxConcurrentMoves: 3,
      loadFactor: 1.25,
      vnodes: 64,
    };
    const sm = new MetaStateMachine();
    const r = sm.apply({
      type: 'bootstrap',
      ts: 0,
      nodes: o.members.map((m) => ({ id: m.id, host: m.host, clientPort: m.clientPort, peerPort: m.peerPort })),
      shards: o.shards,
      config,
    });
    if (!r.ok) throw new Error(`shard layout: ${r.message}`);
    return new ShardLayout(sm.state());
  }

  /** The data shard (= Raft group id) that owns `key` (0: no map yet). No allocation. */
  groupOf(key: string): number {
    return this.router === null ? 0 : this.router.shardOf(key);
  }

  shard(id: number): ShardRecord | undefined {
    return this.byId.get(id);
  }

  /** The meta group's leader as the map knows it (0: unknown). */
  get metaLeader(): NodeId {
    return this.byId.get(0)?.leader ?? 0;
  }

  /**
   * Groups (the meta group 0 included) that should have a replica on `node`:
   * it is a voter or learner, or a move in flight adds it. Ascending.
   */
  groupsFor(node: NodeId): number[] {
    const out = new Set<number>();
    for (const s of this.state.shards) if (s.voters.includes(node) || s.learners.includes(node)) out.add(s.id);
    for (const m of this.state.moves) if (m.add === node) out.add(m.shard);
    return [...out].sort((a, b) => a - b);
  }

  /** The node's address in the map, if it is there. */
  nodeRecord(node: NodeId): MetaState['nodes'][number] | undefined {
    return this.state.nodes.find((n) => n.id === node);
  }

  /** Data shard ids, ascending. */
  get groups(): number[] {
    return this.state.shards.filter((s) => s.id !== 0).map((s) => s.id);
  }

  /**
   * The voter that should lead `group` when it is healthy: spreads leaders
   * evenly (shard i of the shards on one voter set goes to its (i mod R)-th voter).
   */
  preferredLeader(group: number): NodeId {
    const v = [...this.voters(group)].sort((a, b) => a - b);
    return v.length === 0 ? 0 : (v[group % v.length] as number);
  }

  voters(group: number): readonly number[] {
    return this.byId.get(group)?.voters ?? [];
  }

  /** The `map` op's JSON, with leader hints (group → leader node id, 0 = unknown) this node knows. */
  toWire(leaders: ReadonlyMap<number, { leader: NodeId; term: number }>): WireShardMap {
    const shards = this.state.shards.map((s) => {
      const l = leaders.get(s.id);
      return l === undefined || l.leader === 0 ? s : { ...s, leader: l.leader, term: l.term };
    });
    return mapToWire({ ...this.state, shards });
  }
}

function sameRanges(a: MetaState['ranges'], b: MetaState['ranges']): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.start !== y.start || x.end !== y.end || x.shard !== y.shard) return false;
  }
  return true;
}
