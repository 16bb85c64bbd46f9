/**
 * Where the shards live: the shard map every node of a cluster derives from
 * the same inputs (the member table, the shard count, the replication factor)
 * with the meta group's own state machine, so all nodes agree on it without
 * talking. Ranges of the ring come from the consistent-hash layout with
 * bounded loads; replicas of a shard sit on distinct nodes, spread evenly.
 *
 * Until the meta group runs (it will replicate this map and change it when
 * nodes come and go), the map is fixed at this bootstrap layout: version 1.
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
}

export class ShardLayout {
  readonly version: number;
  readonly state: MetaState;
  private readonly router: ShardRouter;
  private readonly byId: ReadonlyMap<number, ShardRecord>;

  private constructor(state: MetaState) {
    this.state = state;
    this.version = state.version;
    this.router = ShardRouter.fromState(state);
    this.byId = new Map(state.shards.map((s) => [s.id, s]));
  }

  static bootstrap(o: ShardLayoutOptions): ShardLayout {
    const replication = Math.min(o.replication, o.members.length);
    const config: MetaConfig = {
      replication,
      metaReplication: Math.min(o.members.length >= 5 ? 5 : 3, o.members.length),
      downTimeoutMs: 30_000,
      maxConcurrentMoves: 1,
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

  /** The data shard (= Raft group id) that owns `key`. No allocation. */
  groupOf(key: string): number {
    return this.router.shardOf(key);
  }

  /** Data shards with a replica on `node`, by id. */
  groupsOn(node: NodeId): ShardRecord[] {
    return this.state.shards.filter((s) => s.id !== 0 && s.voters.includes(node));
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
