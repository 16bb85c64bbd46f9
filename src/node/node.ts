/**
 * One raftcache node process: hosts its replicas (one per Raft group: the
 * data shards it holds, and the meta group if it is one of its members), owns
 * the LevelDB store and the peer transport, drives every group's tick() from
 * one timer, and runs the Ready loop once per event-loop turn:
 *
 *   for each group: ready() → hand hard state / entries / snapshot to storage,
 *     send the messages that need nothing durable, apply, serve reads
 *   ONE store.flush() (only if some Ready must sync, or a flush is pending)
 *   then, once durable: the held messages leave, advance()
 *
 * Turns go on while a flush is in flight (the core allows several Readies
 * outstanding, src/raft decision 27): their writes form the next batch (group
 * commit), their appends leave at once, their committed entries are applied
 * and answered; only what claims durability waits for the batch. So the CPU
 * work of a turn overlaps the disk's fsync instead of following it.
 *
 * The shard map: the node routes by the newest map version it has seen — from
 * its own meta replica, or pushed by the meta leader when a liveness beat shows
 * a node behind — and hosts exactly the replicas that map gives it
 * (`reconcile`). On the meta leader, the executor (meta-executor.ts) carries
 * out the planner's moves, and the node proposes heartbeats of the nodes it
 * hears and the ticks that mark silent nodes down.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join as joinPath } from 'node:path';
import { SeededRng } from '../util/rng.js';
import type { Rng } from '../util/rng.js';
import { NodeStore } from '../storage/index.js';
import type { GroupStorage } from '../storage/index.js';
import { PeerTransport } from '../transport/index.js';
import type { TransportEvent } from '../transport/index.js';
import { NONE } from '../raft/index.js';
import type { ConfState, Message, NodeId, RaftConfig, Role } from '../raft/index.js';
import { decodeMetaState, encodeMetaState, suggestSplit } from '../meta/index.js';
import type { MetaCommand, MetaResult, MetaState } from '../meta/index.js';
import { effectiveReplication, memberUrl, nodeName, selfMember } from './config.js';
import type { Member, NodeConfig } from './config.js';
import { NodeError } from './errors.js';
import type { Logger } from './logger.js';
import { Histogram, MetricsText } from './metrics.js';
import { BOOTSTRAP_MAP_VERSION, ShardLayout } from './layout.js';
import { checkLayoutFile } from './layout-file.js';
import { Replica } from './replica.js';
import type { WriteOp, WriteOutcome } from './replica.js';
import type { CacheStateMachine } from '../cache/index.js';
import type { AdminRequest, AdminResult } from './admin.js';
import type { ConfReport, ConfRequestOp, GroupDriver } from './group-driver.js';
import { MetaReplica } from './meta-replica.js';
import { MetaExecutor } from './meta-executor.js';
import { NODE_GROUP, decodeNodeMessage, encodeNodeMessage } from './node-messages.js';
import type { NodeMessage } from './node-messages.js';
import { RaftcacheClient } from '../client/index.js';

export { NODE_GROUP } from './node-messages.js';

/** The tick at which a starting node campaigns in the shards it should lead (peer links are up by then). */
const CAMPAIGN_PREFERRED_TICK = 3;

/** Ticks between two leader-balance rounds (see balanceLeaders): one transfer per round. */
const BALANCE_EVERY_TICKS = 10;

/** Ticks between two rounds in which every shard leader re-reports its groups to the meta leader. */
const REPORT_EVERY_TICKS = 50;

/** A node whose beats show an older map gets the map pushed at most this often (ticks). */
const PUSH_EVERY_TICKS = 5;

/** Ticks between two join announcements of a joining node. */
const JOIN_EVERY_TICKS = 10;

/** The shard of a one-shard cluster (group 0 is the meta group). */
export const DATA_GROUP = 1;

/** The meta group's Raft group id. */
const META_GROUP = 0;

const MAP_FILE = 'raftcache-map.json';

/** Term of the snapshot a group created by a split starts from (any value works: every replica uses the same). */
const SPLIT_TERM = 1;

/** What this node knows of a peer node's liveness (quiescence needs it: quiet groups do not heartbeat). */
interface PeerLiveness {
  /** Node tick at which anything was last heard from the peer. */
  lastHeard: number;
  incarnation: string;
  down: boolean;
  /** The map version the peer said it routes by. */
  mapVersion: number;
  /** Tick of the last map pushed to it. */
  lastPush: number;
  /** The map says the node was removed: no beats to it, but its beats still get it the map (so it drops its last replicas). */
  removed: boolean;
}

export type ReadConsistency = 'linearizable' | 'lease' | 'stale';

export interface GroupStatus {
  readonly group: number;
  readonly node: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly leader: NodeId;
  readonly lastIndex: number;
}

export interface NodeStartOptions {
  readonly config: NodeConfig;
  readonly logger: Logger;
  /** Seed for election jitter and reconnect backoff (default: derived from the node id and time). */
  readonly seed?: number;
}

/** The Readies of one turn: drivers in order, with the messages each held for the flush. */
interface TurnWork {
  readonly drivers: GroupDriver[];
  readonly held: (Message[] | null)[];
}

/**
 * Readies a group may have outstanding (being written): one in flight, the
 * next accumulating, and a few turns' more; beyond it the group waits for a flush.
 */
const MAX_OUTSTANDING_READIES = 8;

export class CacheNode {
  readonly id: NodeId;
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly members: readonly Member[];
  private readonly store: NodeStore;
  private readonly transport: PeerTransport;
  /** Which shard owns a key and which nodes hold each shard: the newest map seen. */
  private currentLayout: ShardLayout;
  /** The bootstrap map (founding nodes; null for a node that joined): the meta group's state at index 0. */
  private readonly bootstrapState: MetaState | null;
  /** Data shards' replicas. */
  private readonly replicas = new Map<number, Replica>();
  /** The meta group's replica, when this node is one of its members. */
  private meta: MetaReplica | null = null;
  /** Every replica (data shards and the meta group): what the Ready loop and the tick drive. */
  private readonly drivers = new Map<number, GroupDriver>();
  /** Data shards hosted here, ascending. */
  private hosted: readonly number[] = [];
  /** Replicas the map no longer gives this node: dropped at the next turn without a flush in flight. */
  private readonly toDrop = new Set<number>();
  private readonly rng: SeededRng;
  private readonly executor: MetaExecutor;
  /** Groups this node leads whose membership or leadership changed: reported to the meta leader at the next tick. */
  private readonly reportDirty = new Set<number>();
  private metaLeaderSince = -1;
  private mapSaving: Promise<void> = Promise.resolve();
  private mapSaveQueued = false;
  private tickTimer: NodeJS.Timeout | null = null;
  private turnScheduled = false;
  /** Turns whose Readies wait for a flush (they complete in order). */
  private waitingTurns = 0;
  private closed = false;
  private failed: Error | null = null;
  private pending = 0;
  private overloaded = 0;
  private turns = 0;
  private ticks = 0;
  private readonly incarnation: string;
  private readonly peerLiveness = new Map<NodeId, PeerLiveness>();
  private leaderTransfers = 0;
  private flushes = 0;
  /** Time from starting a synced flush to its completion (the disk's share of a write's latency). */
  private readonly flushLatency = new Histogram();
  private replicasAdded = 0;
  private replicasDropped = 0;
  private autoSplits = 0;
  private lastAutoSplitTick = Number.NEGATIVE_INFINITY;
  private joining = false;
  private joinInFlight = false;
  private readonly runTurnFn = (): void => this.runTurn();
  private readonly mapListeners = new Set<(version: number) => void>();

  private constructor(
    config: NodeConfig,
    logger: Logger,
    store: NodeStore,
    transport: PeerTransport,
    layout: ShardLayout,
    bootstrapState: MetaState | null,
    rng: SeededRng,
  ) {
    this.currentLayout = layout;
    this.bootstrapState = bootstrapState;
    this.rng = rng;
    this.incarnation = rng.int(0x7fffffff).toString(36);
    this.id = config.id;
    this.config = config;
    this.logger = logger;
    this.members = config.members;
    this.store = store;
    this.transport = transport;
    this.executor = new MetaExecutor({
      propose: (cmd) => this.proposeMeta(cmd),
      request: (group, op, node, targets) => {
        for (const t of targets) {
          if (t === this.id) this.onConfRequest(this.id, group, op, node);
          else this.sendNode(t, { kind: 'conf-request', group, op, node });
        }
      },
      requestSplit: (parent, newGroup, ranges, targets) => {
        for (const t of targets) {
          if (t === this.id) this.onSplitRequest(parent, newGroup, ranges);
          else this.sendNode(t, { kind: 'split-request', group: parent, newGroup, ranges });
        }
      },
      now: () => Date.now(),
    });
  }

  /** Opens the data dir, starts the peer transport and the tick timer. */
  static async start(o: NodeStartOptions): Promise<CacheNode> {
    const c = o.config;
    const rng = new SeededRng(o.seed ?? (c.id * 7919 + Date.now()) >>> 0);
    const store = await NodeStore.open(c.data);
    let saved: MetaState | null;
    try {
      if (!c.join) await checkLayoutFile(c.data, { shards: c.shards, replication: effectiveReplication(c) });
      saved = await loadMapFile(c.data);
    } catch (e) {
      await store.close();
      throw e;
    }
    const transport = new PeerTransport({
      nodeId: c.id,
      host: c.peerListen.host,
      port: c.peerListen.port,
      secret: c.secret,
      rng: rng.fork(),
      maxFrameBytes: Math.max(16 << 20, c.raft.maxSizePerMsg * 2),
      logger: (e: TransportEvent) => logTransport(o.logger, e),
    });
    const bootstrap = c.join
      ? null
      : ShardLayout.bootstrap({ members: c.members, shards: c.shards, replication: effectiveReplication(c), downTimeoutMs: c.downTimeoutMs }).state;
    let layout = bootstrap !== null ? ShardLayout.fromState(bootstrap) : ShardLayout.empty();
    if (saved !== null && saved.version > layout.version) layout = ShardLayout.fromState(saved, layout);
    const node = new CacheNode(c, o.logger, store, transport, layout, bootstrap, rng);
    node.reconcile();
    node.dropPending();
    await store.flush(); // a new group's initial state is durable before we vote
    transport.onBatch((from, batch) => node.onPeerBatch(from, batch.groupIds, batch.messages));
    node.updatePeers();
    try {
      await transport.start();
    } catch (e) {
      await store.close();
      throw e;
    }
    node.joining = c.join && node.currentLayout.nodeRecord(c.id) === undefined;
    node.tickTimer = setInterval(() => node.tick(), c.raft.tickMs);
    node.scheduleTurn();
    return node;
  }

  /** Which shard owns a key and which nodes hold each shard (the newest map this node has seen). */
  get layout(): ShardLayout {
    return this.currentLayout;
  }

  private raftConfig(rng: Rng): Omit<RaftConfig, 'applied'> {
    const c = this.config;
    return {
      id: c.id,
      electionTick: c.raft.electionTicks,
      heartbeatTick: c.raft.heartbeatTicks,
      rng,
      preVote: c.raft.preVote,
      checkQuorum: c.raft.checkQuorum,
      quiesce: c.raft.quiesce,
      maxSizePerMsg: c.raft.maxSizePerMsg,
      maxInflightMsgs: c.raft.maxInflightMsgs,
      maxInflightBytes: c.raft.maxInflightBytes,
      maxUncommittedBytes: c.raft.maxUncommittedBytes,
    };
  }

  /**
   * The membership a new replica of `group` starts with: a founding node
   * creating the groups of the bootstrap map starts with the bootstrap voters;
   * a replica added later starts empty and learns everything (membership
   * included) from the snapshot its leader sends.
   */
  private initialConf(group: number): ConfState {
    const boot = this.bootstrapState?.shards.find((s) => s.id === group);
    if (this.currentLayout.version === BOOTSTRAP_MAP_VERSION && boot !== undefined && boot.voters.includes(this.id)) {
      return { voters: [...boot.voters], learners: [] };
    }
    return { voters: [], learners: [] };
  }

  /**
   * Makes the hosted replicas match the map: creates the replicas the map gives
   * this node (voter, learner, or target of a move in flight) and marks for
   * dropping those it no longer gives it. A replica is only ever dropped when
   * the map records its removal, which the meta leader records only once the
   * removal is committed in the group itself.
   */
  private reconcile(): void {
    const want = new Set(this.currentLayout.groupsFor(this.id));
    let changed = false;
    for (const g of want) {
      this.toDrop.delete(g);
      if (this.drivers.has(g)) continue;
      // The new group of a pending split is created by the parent's split entry (createSplitGroup).
      if (this.currentLayout.shard(g)?.parent !== undefined) continue;
      this.createReplica(g);
      changed = true;
    }
    for (const g of this.drivers.keys()) {
      if (want.has(g) || this.currentLayout.shard(g) === undefined) continue;
      this.toDrop.add(g);
    }
    if (changed) this.hosted = [...this.replicas.keys()].sort((a, b) => a - b);
  }

  private createReplica(g: number): void {
    const conf = this.initialConf(g);
    const storage = this.store.group(g, conf);
    const rng = this.rng.fork();
    if (g === META_GROUP) {
      const meta = new MetaReplica(g, {
        raft: this.raftConfig(rng),
        storage,
        bootstrap: this.bootstrapState,
        logger: this.logger,
        send: (to, group, m) => this.transport.send(to, group, m),
        onMapChanged: (state) => this.adoptMap(state),
        onRoleChanged: (role) => this.onMetaRole(role),
      });
      this.meta = meta;
      this.drivers.set(g, meta);
    } else {
      const r = this.newReplica(g, storage, rng);
      this.replicas.set(g, r);
      this.drivers.set(g, r);
    }
    this.replicasAdded++;
    this.logger.info({ group: g, voters: conf.voters }, 'replica created');
  }

  /** Drops the replicas marked by reconcile (never while a flush is in flight: its Readies name them). */
  private dropPending(): void {
    if (this.toDrop.size === 0 || this.waitingTurns > 0) return;
    for (const g of this.toDrop) {
      const d = this.drivers.get(g);
      if (d === undefined) continue;
      d.failAll(new NodeError('WRONG_SHARD', `shard ${g} moved away from ${nodeName(this.id)}`, false));
      this.drivers.delete(g);
      this.replicas.delete(g);
      this.reportDirty.delete(g);
      if (g === META_GROUP) {
        this.meta = null;
        this.onMetaRole('follower');
      }
      void this.store.dropGroup(g);
      this.replicasDropped++;
      this.logger.info({ group: g }, 'replica dropped (moved away)');
    }
    this.toDrop.clear();
    this.hosted = [...this.replicas.keys()].sort((a, b) => a - b);
  }

  /** Routes by `state` if it is newer than the current map: saves it, updates peers and replicas, tells listeners. */
  private adoptMap(state: MetaState): void {
    if (state.version <= this.currentLayout.version || this.closed) return;
    this.currentLayout = ShardLayout.fromState(state, this.currentLayout);
    this.saveMap();
    this.updatePeers();
    this.reconcile();
    if (this.joining && this.currentLayout.nodeRecord(this.id) !== undefined) {
      this.joining = false;
      this.logger.info({ version: state.version }, 'joined the cluster');
    }
    for (const l of this.mapListeners) l(state.version);
    this.scheduleTurn();
  }

  /**
   * Writes the map next to the data (atomically), so a restart routes by it at
   * once. At most one write in flight: versions that come meanwhile are
   * coalesced into the next write (the file is a start-up hint; the meta group
   * sends a newer map anyway).
   */
  private saveMap(): void {
    if (this.mapSaveQueued) return;
    this.mapSaveQueued = true;
    const dir = this.config.data;
    this.mapSaving = this.mapSaving
      .then(async () => {
        this.mapSaveQueued = false;
        const bytes = encodeMetaState(this.currentLayout.state);
        const tmp = joinPath(dir, `${MAP_FILE}.tmp`);
        await writeFile(tmp, bytes);
        await rename(tmp, joinPath(dir, MAP_FILE));
      })
      .catch((err: unknown) => this.logger.warn({ err: String(err) }, 'could not save the shard map'));
  }

  /**
   * Peers: every node of the map and the configured members (the map's
   * addresses win). Removed nodes stay peers, without beats: a removed node
   * that still runs gets the map when it beats us, and drops its last replicas.
   */
  private updatePeers(): void {
    const peers = new Map<NodeId, { host: string; port: number }>();
    for (const m of this.config.members) if (m.id !== this.id) peers.set(m.id, { host: m.host, port: m.peerPort });
    const removed = new Set<NodeId>();
    for (const n of this.currentLayout.state.nodes) {
      if (n.id === this.id) continue;
      if (n.admin === 'removed') removed.add(n.id);
      peers.set(n.id, { host: n.host, port: n.peerPort });
    }
    for (const id of peers.keys()) {
      let live = this.peerLiveness.get(id);
      if (live === undefined) {
        live = { lastHeard: this.ticks, incarnation: '', down: false, mapVersion: 0, lastPush: -PUSH_EVERY_TICKS, removed: false };
        this.peerLiveness.set(id, live);
      }
      live.removed = removed.has(id);
    }
    this.transport.setPeers(peers);
  }

  private newReplica(groupId: number, storage: GroupStorage, rng: Rng): Replica {
    const c = this.config;
    const transport = this.transport;
    return new Replica({
      groupId,
      raft: this.raftConfig(rng),
      cache: {
        maxEntries: c.cache.maxEntries,
        maxBytes: c.cache.maxBytes,
        sessionTtlMs: c.cache.sessionTtlMs,
        maxSessions: c.cache.maxSessions,
      },
      storage,
      clockIntervalMs: c.clockIntervalMs,
      touchMaxKeys: c.touchMaxKeys,
      snapshotEntries: c.raft.snapshotEntries,
      readRetryTicks: c.raft.electionTicks,
      logger: this.logger,
      onSettled: (n) => {
        this.pending -= n;
      },
      send: (to, g, m) => {
        transport.send(to, g, m);
      },
      sendTouches: (leader, g, keys) => {
        this.sendNode(leader, { kind: 'touch', group: g, keys });
      },
      onSplit: (newGroup, sm, index) => this.createSplitGroup(groupId, newGroup, sm, index),
    });
  }

  /** The peer transport's bound address (port 0 resolved). */
  get peerAddress(): { host: string; port: number } | null {
    return this.transport.address;
  }

  get pendingRequests(): number {
    return this.pending;
  }

  private replica(group: number): Replica {
    const r = this.replicas.get(group);
    if (r === undefined) throw new NodeError('WRONG_SHARD', `shard ${group} has no replica on ${nodeName(this.id)}`, true);
    return r;
  }

  /** The shard (Raft group) that owns `key`. */
  groupOf(key: string): number {
    return this.layout.groupOf(key);
  }

  /** The one shard that owns all of `keys`; WRONG_SHARD when they span shards. */
  groupOfAll(keys: readonly string[]): number {
    const g = this.layout.groupOf(keys[0] as string);
    for (let i = 1; i < keys.length; i++) {
      if (this.layout.groupOf(keys[i] as string) !== g) {
        throw new NodeError('WRONG_SHARD', `keys[0] and keys[${i}] belong to different shards; split the request by shard`, true);
      }
    }
    return g;
  }

  /** Shards with a replica here, ascending. */
  get hostedGroups(): readonly number[] {
    return this.hosted;
  }

  /** The version of the shard map this node routes by. */
  get mapVersion(): number {
    return this.layout.version;
  }

  /** Calls `listener` with the new version whenever this node adopts a newer shard map; returns the unsubscribe. */
  onMapChange(listener: (version: number) => void): () => void {
    this.mapListeners.add(listener);
    return () => {
      this.mapListeners.delete(listener);
    };
  }

  /**
   * Carries out an operator command through the meta group (see admin.ts).
   * Rejects with NodeError: NOT_LEADER (leader = the meta leader's node id, or 0),
   * REJECTED (the meta state machine refused it: "CODE: message"), UNAVAILABLE, TIMEOUT.
   */
  async admin(req: AdminRequest): Promise<AdminResult> {
    const meta = this.meta;
    if (meta === null || meta.role !== 'leader') {
      const leader = meta !== null && meta.leader !== NONE ? meta.leader : this.currentLayout.metaLeader;
      throw new NodeError('NOT_LEADER', `${nodeName(this.id)} does not lead the meta group`, true, leader === this.id ? NONE : leader);
    }
    const ts = Date.now();
    let cmd: MetaCommand;
    let newShard: number | undefined;
    switch (req.op) {
      case 'nodeAdd':
        cmd = { type: 'addNode', ts, node: req.node };
        break;
      case 'join':
        cmd = { type: 'joinNode', ts, node: req.node };
        break;
      case 'nodeRemove':
        cmd = { type: 'removeNode', ts, node: req.node };
        break;
      case 'shardSplit': {
        const split = this.planSplit(meta, req.shard, req.at);
        newShard = split.newShard;
        cmd = { type: 'splitShard', ts, shard: req.shard, at: split.at, newShard };
        break;
      }
    }
    const r = await this.proposeMeta(cmd);
    if (!r.ok) throw new NodeError('REJECTED', `${r.code}: ${r.message}`, true);
    return newShard === undefined ? { version: r.version } : { version: r.version, shard: newShard };
  }

  /**
   * Plans a split (run on the meta leader): the new shard takes the ring
   * positions of `shard` at and above `at` (default: the point halving its
   * span). The map records it first (`splitShard`, the new shard marked with
   * its parent); the executor then has the parent's leader append the split
   * entry, and every replica applying it hands those keys to the new group
   * (createSplitGroup). Until then the keys stay with the parent (writes
   * routed there by older maps are carried over by the split), and requests
   * routed by the new map get WRONG_SHARD and are retried. A meta leader that
   * fails in between leaves nothing half done: the next one drives the split.
   */
  private planSplit(meta: MetaReplica, shard: number, atIn: number | undefined): { at: number; newShard: number } {
    const st = meta.state;
    const s = st.shards.find((x) => x.id === shard);
    if (s === undefined || shard === META_GROUP) throw new NodeError('REJECTED', `UNKNOWN_SHARD: no data shard ${shard}`, true);
    const plan = suggestSplit(st, shard);
    if (plan === null) throw new NodeError('REJECTED', `BAD_ARGUMENT: shard ${shard} is too small to split`, true);
    return { at: atIn ?? plan.at, newShard: plan.newShard };
  }

  /** A split asked by the meta leader: only the shard's leader acts; it answers once the split is applied. */
  private onSplitRequest(group: number, newGroup: number, ranges: readonly { start: number; end: number }[]): void {
    const r = this.replicas.get(group);
    if (r === undefined || r.raw.status().role !== 'leader') return;
    if (!r.proposeSplit(newGroup, ranges)) this.scheduleTurn();
  }

  /**
   * A split entry applied in `parent`: the split-off keys start group
   * `newGroup` here, from a snapshot at the split's index with the parent's
   * membership — the same on every replica, so the new group starts identical
   * everywhere. A replica that learns of the new shard only from the map
   * (restart, snapshot) is created by reconcile instead and catches up from its
   * leader's snapshot.
   */
  private createSplitGroup(parent: number, newGroup: number, sm: CacheStateMachine, index: number): void {
    if (this.drivers.has(newGroup) || this.store.hasGroup(newGroup)) return;
    // A shard the map knows and whose split is done (a replay after a restart, a
    // catch-up): its replica here, if any, comes from reconcile (and a snapshot).
    const known = this.currentLayout.shard(newGroup);
    if (known !== undefined && known.parent === undefined) return;
    const p = this.replicas.get(parent);
    if (p === undefined) return;
    const conf = p.raw.confState();
    const snapshot = {
      metadata: { index, term: SPLIT_TERM, conf: { voters: [...conf.voters], learners: [...conf.learners] } },
      data: sm.snapshotBytes(),
    };
    const storage = this.store.groupFromSnapshot(newGroup, snapshot, { term: SPLIT_TERM, vote: 0, commit: index });
    const r = this.newReplica(newGroup, storage, this.rng.fork());
    this.replicas.set(newGroup, r);
    this.drivers.set(newGroup, r);
    this.hosted = [...this.replicas.keys()].sort((a, b) => a - b);
    this.replicasAdded++;
    this.logger.info({ group: newGroup, parent, index, keys: sm.size }, 'replica created by a split');
  }

  /** Proposes a meta command on the local meta leader replica; resolves with the state machine's result. */
  private proposeMeta(cmd: MetaCommand): Promise<MetaResult> {
    const meta = this.meta;
    if (meta === null) return Promise.reject(new NodeError('NOT_LEADER', 'no meta replica here', true));
    const p = meta.propose(cmd, this.config.limits.requestTimeoutMs);
    this.scheduleTurn();
    return p;
  }

  private onMetaRole(role: Role): void {
    if (role === 'leader') {
      this.metaLeaderSince = this.ticks;
      // Every shard leader re-reports to the new meta leader at its next report round; ask now.
      for (const p of this.peerLiveness.values()) p.lastPush = -PUSH_EVERY_TICKS;
    } else {
      this.metaLeaderSince = -1;
      this.executor.reset();
    }
  }

  private get isMetaLeader(): boolean {
    return this.meta !== null && this.meta.role === 'leader';
  }

  /** The meta leader as far as this node knows (0: unknown). */
  private metaLeaderId(): NodeId {
    if (this.meta !== null && this.meta.leader !== NONE) return this.meta.leader;
    return this.currentLayout.metaLeader;
  }

  private sendNode(to: NodeId, msg: NodeMessage): void {
    this.transport.send(to, NODE_GROUP, encodeNodeMessage(this.id, to, msg));
  }

  /** A membership step asked by the meta leader: only the group's leader acts; it answers with its report. */
  private onConfRequest(from: NodeId, group: number, op: ConfRequestOp, node: NodeId): void {
    const d = this.drivers.get(group);
    if (d === undefined || d.raw.status().role !== 'leader') return;
    d.changeMembership(op, node);
    this.deliverReport(from, d.confReport());
    this.scheduleTurn();
  }

  private deliverReport(to: NodeId, report: ConfReport): void {
    if (to === this.id) {
      if (this.isMetaLeader) this.executor.onReport(report);
    } else this.sendNode(to, { kind: 'conf-report', report });
  }

  /** Leadership transfers this node started to balance leaders. */
  get leaderTransfersStarted(): number {
    return this.leaderTransfers;
  }

  /** Hosted shards whose replica here is quiet (quiescence). */
  get quiescedGroups(): number[] {
    return this.hostedGroups.filter((g) => this.replicas.get(g)?.raw.isQuiesced() === true);
  }

  hosts(group: number): boolean {
    return this.replicas.has(group);
  }

  /** Leader hints of the hosted groups (the meta group included), for the shard map. */
  leaderHints(): Map<number, { leader: NodeId; term: number }> {
    const out = new Map<number, { leader: NodeId; term: number }>();
    for (const [g, r] of this.drivers) {
      const s = r.raw.status();
      out.set(g, { leader: s.leader, term: s.term });
    }
    return out;
  }

  private admit(n: number): void {
    if (this.closed) throw new NodeError('CLOSED', 'node is shutting down', true);
    if (this.failed) throw new NodeError('UNAVAILABLE', `storage failed: ${this.failed.message}`, true);
    if (this.pending + n > this.config.limits.maxPending) {
      this.overloaded++;
      throw new NodeError('OVERLOADED', `more than ${this.config.limits.maxPending} requests pending`, true);
    }
  }

  // ---------------------------------------------------------------- client operations

  /** Proposes a write on the group's leader; resolves once applied. Rejects with NodeError. */
  write(group: number, op: WriteOp): Promise<WriteOutcome> {
    return new Promise<WriteOutcome>((resolve, reject) => this.submit(group, op, resolve, reject));
  }

  /**
   * `write` with callbacks instead of a promise (the API's hot path: no
   * promise and microtask per write). Exactly one of them is called, possibly
   * before `submit` returns (a refused proposal: NodeError).
   */
  submit(group: number, op: WriteOp, onOutcome: (o: WriteOutcome) => void, onError: (e: unknown) => void): void {
    try {
      const r = this.replica(group);
      this.admit(1);
      r.propose(op, this.config.limits.requestTimeoutMs, onOutcome, onError);
      this.pending++;
      this.scheduleTurn();
    } catch (e) {
      onError(e);
    }
  }

  /** Several writes proposed in the same turn (consecutive log entries); not atomic. */
  writeMany(group: number, ops: readonly WriteOp[]): Promise<WriteOutcome[]> {
    try {
      this.admit(ops.length);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return Promise.all(ops.map((op) => this.write(group, op)));
  }

  /** Reads keys at the given consistency. Linearizable reads of one turn share one ReadIndex round. */
  read(group: number, keys: readonly string[], consistency: ReadConsistency): Promise<(Uint8Array | null)[]> {
    return new Promise<(Uint8Array | null)[]>((resolve, reject) => this.readWith(group, keys, consistency, resolve, reject));
  }

  /** `read` with callbacks (no promise per read on the API's hot path); exactly one of them is called, maybe before it returns. */
  readWith(
    group: number,
    keys: readonly string[],
    consistency: ReadConsistency,
    onValues: (values: (Uint8Array | null)[]) => void,
    onError: (e: unknown) => void,
  ): void {
    let local: (Uint8Array | null)[];
    try {
      const r = this.replica(group);
      if (consistency === 'stale' || this.config.unsafeStaleReads) {
        if (this.closed) throw new NodeError('CLOSED', 'node is shutting down', true);
        if (!r.ownsAll(keys)) throw new NodeError('WRONG_SHARD', `shard ${group} no longer holds these keys (split)`, true);
        local = r.readLocal(keys);
      } else {
        this.admit(1);
        // `lease` is served as linearizable for now (docs/operations.md).
        r.enqueueRead(keys, this.config.limits.requestTimeoutMs, onValues, onError);
        this.pending++;
        this.scheduleTurn();
        return;
      }
    } catch (e) {
      onError(e);
      return;
    }
    onValues(local); // outside the try: a throwing callback must not be answered twice
  }

  status(group: number = this.hostedGroups[0] ?? DATA_GROUP): GroupStatus {
    const r = this.replica(group);
    const s = r.raw.status();
    return {
      group,
      node: this.id,
      role: s.role,
      term: s.term,
      commit: s.commit,
      applied: r.applied,
      leader: s.leader,
      lastIndex: s.lastIndex,
    };
  }

  /**
   * The cluster's nodes as this node knows them: the map's (removed ones left
   * out) with their state, or the configured members before any map.
   */
  clusterMembers(): { id: NodeId; state: 'up' | 'down' | 'draining' | null }[] {
    const nodes = this.currentLayout.state.nodes;
    if (nodes.length === 0) return this.members.map((m) => ({ id: m.id, state: null }));
    const out: { id: NodeId; state: 'up' | 'down' | 'draining' | null }[] = [];
    for (const n of nodes) {
      if (n.admin === 'removed') continue;
      out.push({ id: n.id, state: n.admin === 'draining' ? 'draining' : n.live ? 'up' : 'down' });
    }
    return out;
  }

  /** The client URL of a node (from the map, else the configured members), or null. */
  urlOf(id: NodeId): string | null {
    if (id === NONE) return null;
    const m = this.currentLayout.nodeRecord(id) ?? this.members.find((x) => x.id === id);
    return m === undefined ? null : memberUrl(m);
  }

  get selfUrl(): string {
    return memberUrl(selfMember(this.config));
  }

  // ---------------------------------------------------------------- the loop

  private onPeerBatch(from: NodeId, groupIds: readonly number[], messages: readonly Message[]): void {
    if (this.closed) return;
    const live = this.peerLiveness.get(from);
    if (live !== undefined) live.lastHeard = this.ticks;
    for (let i = 0; i < messages.length; i++) {
      const g = groupIds[i] as number;
      const m = messages[i] as Message;
      if (g === NODE_GROUP) {
        this.onNodeMessage(from, m);
        continue;
      }
      const r = this.drivers.get(g);
      if (r !== undefined) r.raw.step(m);
    }
    this.scheduleTurn();
  }

  /** A node-level message (node-messages.ts). */
  private onNodeMessage(from: NodeId, m: Message): void {
    const msg = decodeNodeMessage(m);
    if (msg === null) return;
    switch (msg.kind) {
      case 'alive':
        this.peerAlive(from, msg.incarnation, msg.mapVersion);
        return;
      case 'touch':
        this.replicas.get(msg.group)?.receiveTouches(msg.keys);
        return;
      case 'conf-request':
        this.onConfRequest(from, msg.group, msg.op, msg.node);
        return;
      case 'conf-report':
        if (this.isMetaLeader) this.executor.onReport(msg.report);
        return;
      case 'map':
        this.adoptMap(msg.state);
        return;
      case 'split-request':
        this.onSplitRequest(msg.group, msg.newGroup, msg.ranges);
        return;
    }
  }

  private tick(): void {
    if (this.closed) return;
    this.ticks++;
    this.watchPeers();
    for (const r of this.drivers.values()) r.tick();
    if (this.ticks === CAMPAIGN_PREFERRED_TICK) this.campaignPreferred();
    if (this.ticks % BALANCE_EVERY_TICKS === 0) this.balanceLeaders();
    if (this.ticks % REPORT_EVERY_TICKS === 0) {
      const now = Date.now();
      for (const [g, d] of this.drivers) {
        d.sampleLoad(now);
        if (d.role === 'leader') this.reportDirty.add(g);
      }
    }
    this.sendReports();
    if (this.isMetaLeader) this.metaLeaderTick();
    if (this.joining && this.ticks % JOIN_EVERY_TICKS === 1) this.announceJoin();
    this.persistDeferred();
    this.scheduleTurn();
  }

  /** Reports of the groups this node leads whose membership or leadership changed, to the meta leader. */
  private sendReports(): void {
    if (this.reportDirty.size === 0) return;
    const to = this.metaLeaderId();
    if (to === NONE) return;
    for (const g of this.reportDirty) {
      const d = this.drivers.get(g);
      if (d !== undefined && d.raw.status().role === 'leader') this.deliverReport(to, d.confReport());
    }
    this.reportDirty.clear();
  }

  /** Ticks between the meta leader's heartbeat rounds: a quarter of the down timeout (at least one election timeout). */
  private get heartbeatEveryTicks(): number {
    return Math.max(this.config.raft.electionTicks, Math.floor(this.config.downTimeoutMs / this.config.raft.tickMs / 4));
  }

  /**
   * The meta leader's duties: executor rounds, and heartbeat rounds: a
   * heartbeat for every node heard within an election timeout (itself too),
   * then a tick that marks down the nodes silent for the down timeout. A new
   * meta leader first gives every node two rounds to be heard.
   */
  private metaLeaderTick(): void {
    const meta = this.meta;
    if (meta === null) return;
    const state = meta.state;
    this.executor.round(state);
    if (this.ticks % REPORT_EVERY_TICKS === REPORT_EVERY_TICKS / 2) this.maybeAutoSplit(state);
    const every = this.heartbeatEveryTicks;
    if ((this.ticks - this.metaLeaderSince) % every !== 0 || state.config === null) return;
    const ts = Date.now();
    const quiet = (p: Promise<unknown>): void => {
      p.catch(() => undefined);
    };
    for (const n of state.nodes) {
      if (n.admin === 'removed') continue;
      const live = n.id === this.id ? { lastHeard: this.ticks, down: false } : this.peerLiveness.get(n.id);
      if (live === undefined || live.down || this.ticks - live.lastHeard > this.config.raft.electionTicks) continue;
      if (n.live && ts - n.lastHeartbeat < this.config.downTimeoutMs / 4) continue;
      quiet(this.proposeMeta({ type: 'heartbeat', ts, node: n.id }));
    }
    if (this.ticks - this.metaLeaderSince >= 2 * every) quiet(this.proposeMeta({ type: 'tick', ts }));
  }

  /**
   * Automatic split (config `splitOpsPerSec`): a data shard whose leader
   * reported more load than that is split in two (one split at a time, none
   * while moves run, at most `maxShards` data shards).
   */
  private maybeAutoSplit(state: MetaState): void {
    const limit = this.config.splitOpsPerSec;
    if (limit === 0 || state.moves.length > 0 || state.shards.some((s) => s.parent !== undefined)) return;
    // reports sampled before the last split still show its load: wait for fresh ones
    if (this.ticks - this.lastAutoSplitTick < 2 * REPORT_EVERY_TICKS) return;
    if (state.shards.length - 1 >= this.config.maxShards) return;
    let hot: { shard: number; ops: number } | null = null;
    for (const s of state.shards) {
      if (s.id === META_GROUP) continue;
      const r = this.executor.report(s.id);
      if (r !== undefined && r.opsPerSec > limit && (hot === null || r.opsPerSec > hot.ops)) hot = { shard: s.id, ops: r.opsPerSec };
    }
    if (hot === null) return;
    const shard = hot.shard;
    this.lastAutoSplitTick = this.ticks;
    this.logger.info({ shard, opsPerSec: hot.ops, limit }, 'automatic split of a hot shard');
    this.admin({ op: 'shardSplit', shard }).then(
      (r) => {
        this.autoSplits++;
        this.logger.info({ shard, newShard: r.shard, version: r.version }, 'automatic split done');
      },
      (err: unknown) => this.logger.warn({ shard, err: String(err) }, 'automatic split failed'),
    );
  }

  /** A joining node announces itself to the cluster until the map lists it. */
  private announceJoin(): void {
    if (this.joinInFlight) return;
    const self = selfMember(this.config);
    const seeds = this.config.members.filter((m) => m.id !== this.id).map((m) => memberUrl(m));
    this.joinInFlight = true;
    // The node is a client of the cluster here: the client follows NOT_LEADER to the meta leader.
    const c = this.config.token;
    const client = new RaftcacheClient({ endpoints: seeds, timeoutMs: 2000, ...(c !== undefined ? { token: c } : {}) });
    client
      .join({ id: self.id, host: self.host, clientPort: self.clientPort, peerPort: self.peerPort })
      .then(
        (r) => this.logger.info({ version: r.version }, 'join accepted by the meta group'),
        (err: unknown) => this.logger.debug({ err: String(err) }, 'join not accepted yet'),
      )
      .finally(() => {
        this.joinInFlight = false;
        void client.close();
      });
  }

  /**
   * Node-pair liveness (what quiescence needs: a quiet group does not
   * heartbeat, so a follower cannot see its leader die). Every tick one alive
   * message goes to each peer, with the map version this node routes by; a peer
   * not heard from (alive or anything else) for an election timeout is down:
   * the replicas it leads forget it (they may campaign), the replicas we lead
   * wake up (CheckQuorum decides). A peer heard again, or restarted (new
   * incarnation), is up: the replicas we lead wake up and heartbeat it.
   */
  private watchPeers(): void {
    const timeout = this.config.raft.electionTicks;
    const version = this.currentLayout.version;
    for (const [peer, live] of this.peerLiveness) {
      if (live.removed) continue;
      this.sendNode(peer, { kind: 'alive', incarnation: this.incarnation, mapVersion: version });
      if (!live.down && this.ticks - live.lastHeard > timeout) {
        live.down = true;
        this.logger.debug({ peer: nodeName(peer) }, 'peer node silent: marked down');
        for (const r of this.drivers.values()) {
          r.raw.markPeerDown(peer, true);
          const s = r.raw.status();
          if (s.role === 'follower' && s.leader === peer) r.raw.forgetLeader();
          else if (s.role === 'leader') r.raw.unquiesce();
        }
        this.scheduleTurn();
      }
    }
  }

  private peerAlive(peer: NodeId, incarnation: string, mapVersion: number): void {
    const live = this.peerLiveness.get(peer);
    if (live === undefined) return;
    live.lastHeard = this.ticks;
    live.mapVersion = mapVersion;
    if (mapVersion < this.currentLayout.version && this.isMetaLeader && this.ticks - live.lastPush >= PUSH_EVERY_TICKS) {
      live.lastPush = this.ticks;
      this.sendNode(peer, { kind: 'map', state: this.currentLayout.state });
    }
    const restarted = live.incarnation !== '' && live.incarnation !== incarnation;
    live.incarnation = incarnation;
    if (!live.down && !restarted) return;
    live.down = false;
    for (const r of this.drivers.values()) {
      r.raw.markPeerDown(peer, false);
      if (r.raw.status().role === 'leader') r.raw.unquiesce();
    }
    this.scheduleTurn();
  }

  /**
   * At start, campaign at once in the shards this node should lead, so the first
   * leaders are already spread (the others wait out a randomized election
   * timeout). With PreVote a group that already has a live leader (this node
   * restarted) refuses the pre-vote, so nothing is disrupted.
   */
  private campaignPreferred(): void {
    if (this.replicas.size < 2) return;
    for (const [g, r] of this.replicas) {
      if (this.layout.preferredLeader(g) !== this.id) continue;
      const s = r.raw.status();
      if (s.role === 'follower' && s.leader === NONE) r.raw.campaign();
    }
    this.scheduleTurn();
  }

  /**
   * Leader balance: hands the leadership of one group that this node leads, and
   * whose preferred leader (ShardLayout.preferredLeader) is another voter, to
   * that voter. One transfer per round, so leadership moves gradually; the core
   * catches the target up first and aborts the transfer after an election
   * timeout if the target does not take over (it is retried in a later round).
   */
  private balanceLeaders(): void {
    if (this.replicas.size < 2) return; // one shard: any leader is as good as another
    for (const [g, r] of this.replicas) {
      const s = r.raw.status();
      if (s.role !== 'leader' || (s.leadTransferee ?? 0) !== 0) continue;
      const preferred = this.layout.preferredLeader(g);
      if (preferred === 0 || preferred === this.id) continue;
      // Only to a node heard from just now whose replica is caught up: the core drops
      // proposals while a transfer is in progress, so a transfer to a paused or
      // lagging node would make the shard unavailable (found with a paused node).
      const live = this.peerLiveness.get(preferred);
      if (live === undefined || live.down || this.ticks - live.lastHeard > 2) continue;
      const pr = s.progress?.get(preferred);
      if (pr === undefined || pr.state !== 'replicate' || pr.match !== s.lastIndex) continue;
      r.raw.transferLeadership(preferred);
      this.leaderTransfers++;
      this.scheduleTurn();
      return;
    }
  }

  /** Commit-only hard states not yet handed to storage (see Replica.persist) go into a batch now. */
  private persistDeferred(): void {
    if (this.failed) return;
    try {
      for (const r of this.drivers.values()) r.persistDeferredHardState();
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private scheduleTurn(): void {
    if (this.turnScheduled || this.closed) return;
    this.turnScheduled = true;
    setImmediate(this.runTurnFn);
  }

  private runTurn(): void {
    this.turnScheduled = false;
    if (this.closed || this.failed) return;
    for (const r of this.replicas.values()) r.issueReads();
    if (this.toDrop.size > 0) this.dropPending();
    let work: TurnWork | null = null;
    let mustSync = false;
    for (const r of this.drivers.values()) {
      const raw = r.raw;
      if (raw.outstandingReadies >= MAX_OUTSTANDING_READIES || !raw.hasReady()) continue;
      const rd = raw.ready();
      r.persist(rd);
      if (rd.mustSync) mustSync = true;
      const held = r.sendEarly(rd);
      r.applyReady(rd);
      if (rd.confState !== undefined || rd.softState !== null) this.reportDirty.add(r.groupId);
      work ??= { drivers: [], held: [] };
      work.drivers.push(r);
      work.held.push(held);
    }
    if (work === null) return;
    this.turns++;
    if (this.reportDirty.size > 0) this.sendReports();
    if (!mustSync && this.waitingTurns === 0) {
      this.finishTurn(work);
      return;
    }
    // Everything handed to storage so far (this turn's writes and earlier turns'), in order.
    this.waitingTurns++;
    this.flushes++;
    const batch = work;
    const started = performance.now();
    this.store.flush().then(
      () => {
        this.waitingTurns--;
        this.flushLatency.observe((performance.now() - started) / 1000);
        if (this.closed) return;
        this.finishTurn(batch);
      },
      (err: unknown) => {
        this.waitingTurns--;
        this.fail(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  /** Once durable (or at once if nothing had to be): the held messages leave, then advance(). */
  private finishTurn(work: TurnWork): void {
    const { drivers, held } = work;
    for (let i = 0; i < drivers.length; i++) {
      const r = drivers[i] as GroupDriver;
      const h = held[i];
      if (h) r.sendHeld(h);
      r.raw.advance();
    }
    this.scheduleTurn();
  }

  /** Storage failed: fail-stop. Everything waiting gets UNAVAILABLE; the node stops serving. */
  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    this.logger.fatal({ err: err.message }, 'storage failed; node stops');
    const e = new NodeError('UNAVAILABLE', `storage failed: ${err.message}`, false);
    for (const r of this.drivers.values()) r.failAll(e);
  }

  get healthy(): boolean {
    return !this.closed && this.failed === null;
  }

  // ---------------------------------------------------------------- metrics

  metricsText(out: MetricsText = new MetricsText()): MetricsText {
    out.sample('raftcache_node_pending_requests', 'gauge', 'Client requests waiting for the log or a ReadIndex.', this.pending);
    out.sample('raftcache_node_overloaded_total', 'counter', 'Requests refused with OVERLOADED by the pending-queue limit.', this.overloaded);
    out.sample('raftcache_node_ready_turns_total', 'counter', 'Ready-loop turns that handled at least one Ready.', this.turns);
    out.sample('raftcache_node_leader_transfers_total', 'counter', 'Leadership transfers started to balance leaders.', this.leaderTransfers);
    out.sample('raftcache_node_flushes_total', 'counter', 'Turns whose Readies waited for a synced storage flush.', this.flushes);
    out.histogram('raftcache_storage_flush_seconds', 'Time from starting a synced storage flush to its completion.', this.flushLatency);
    out.sample('raftcache_map_version', 'gauge', 'Version of the shard map this node routes by.', this.currentLayout.version);
    out.sample('raftcache_replicas_added_total', 'counter', 'Replicas created on this node (at start and when shards moved here).', this.replicasAdded);
    out.sample('raftcache_replicas_dropped_total', 'counter', 'Replicas dropped because their shard moved away.', this.replicasDropped);
    out.sample('raftcache_auto_splits_total', 'counter', 'Shards this node (as meta leader) split because of their load.', this.autoSplits);
    out.sample('raftcache_meta_steps_proposed_total', 'counter', 'Move steps and leader reports proposed by this node as meta leader.', this.executor.proposed);
    const st = this.store.stats();
    out.sample('raftcache_storage_batches_total', 'counter', 'LevelDB write batches (one fsync each).', st.batches);
    out.sample('raftcache_storage_ops_total', 'counter', 'LevelDB puts and deletes written.', st.ops);
    out.sample('raftcache_storage_bytes_total', 'counter', 'Bytes written to LevelDB.', st.bytes);
    const tm = this.transport.metrics();
    let sent = 0;
    let received = 0;
    let dropped = 0;
    let connected = 0;
    let framesSent = 0;
    for (const p of Object.values(tm.peers)) {
      framesSent += p.framesSent;
      sent += p.messagesSent;
      received += p.messagesReceived;
      dropped += p.messagesDropped;
      if (p.connected) connected++;
    }
    out.sample('raftcache_peer_messages_sent_total', 'counter', 'Raft messages sent to peers.', sent);
    out.sample('raftcache_peer_frames_sent_total', 'counter', 'Frames sent to peers (each carries every message for that peer in one turn).', framesSent);
    out.sample('raftcache_peer_messages_received_total', 'counter', 'Raft messages received from peers.', received);
    out.sample('raftcache_peer_messages_dropped_total', 'counter', 'Raft messages dropped by the transport.', dropped);
    out.sample('raftcache_peers_connected', 'gauge', 'Peers with an open connection.', connected);
    for (const r of this.replicas.values()) {
      const g = `group="${r.groupId}"`;
      const s = r.raw.status();
      const c = r.counters;
      const roleCode = s.role === 'leader' ? 3 : s.role === 'candidate' ? 2 : s.role === 'pre-candidate' ? 1 : 0;
      out.sample('raftcache_raft_term', 'gauge', 'Current Raft term.', s.term, g);
      out.sample('raftcache_raft_role', 'gauge', 'Role: 0 follower, 1 pre-candidate, 2 candidate, 3 leader.', roleCode, g);
      out.sample('raftcache_raft_quiesced', 'gauge', '1 when the group is quiet (idle: no heartbeats).', r.raw.isQuiesced() ? 1 : 0, g);
      out.sample('raftcache_raft_is_leader', 'gauge', '1 when this replica leads its group.', s.role === 'leader' ? 1 : 0, g);
      out.sample('raftcache_raft_commit_index', 'gauge', 'Commit index.', s.commit, g);
      out.sample('raftcache_raft_applied_index', 'gauge', 'Applied index.', r.applied, g);
      out.sample('raftcache_raft_last_index', 'gauge', 'Last log index.', s.lastIndex, g);
      out.sample('raftcache_raft_leader_changes_total', 'counter', 'Leader changes seen.', c.leaderChanges, g);
      out.sample('raftcache_proposals_total', 'counter', 'Client writes proposed.', c.proposals, g);
      out.sample('raftcache_proposals_failed_total', 'counter', 'Client writes refused by the core (not leader, overloaded).', c.proposalsFailed, g);
      out.sample('raftcache_proposals_lost_total', 'counter', 'Proposed writes overwritten by another leader (answered NOT_LEADER).', c.lostWrites, g);
      out.sample('raftcache_request_timeouts_total', 'counter', 'Requests answered TIMEOUT.', c.timeouts, g);
      out.sample('raftcache_read_index_batches_total', 'counter', 'ReadIndex rounds requested (one per batch of reads).', c.readIndexBatches, g);
      out.sample('raftcache_linearizable_reads_total', 'counter', 'Linearizable reads served.', c.readsServed, g);
      out.sample('raftcache_touch_entries_total', 'counter', 'Touch entries proposed.', c.touchEntries, g);
      out.sample('raftcache_clock_entries_total', 'counter', 'Clock entries proposed.', c.clockEntries, g);
      out.sample('raftcache_snapshots_taken_total', 'counter', 'Snapshots taken (log compacted).', c.snapshotsTaken, g);
      out.sample('raftcache_snapshots_installed_total', 'counter', 'Snapshots received from a leader.', c.snapshotsInstalled, g);
      out.histogram('raftcache_read_index_seconds', 'Time from a ReadIndex request to its release.', r.readIndexLatency, g);
      out.histogram('raftcache_apply_seconds', 'Time from proposing a write to applying it.', r.applyLatency, g);
      const cs = r.sm.stats;
      out.sample('raftcache_cache_hits_total', 'counter', 'Reads that found a live entry.', cs.hits, g);
      out.sample('raftcache_cache_misses_total', 'counter', 'Reads that found nothing.', cs.misses, g);
      out.sample('raftcache_cache_evictions_total', 'counter', 'Entries evicted by the LRU bounds.', cs.evictions, g);
      out.sample('raftcache_cache_expirations_total', 'counter', 'Entries expired by TTL.', cs.expirations, g);
      out.sample('raftcache_cache_entries', 'gauge', 'Entries held.', r.sm.size, g);
      out.sample('raftcache_cache_bytes', 'gauge', 'Bytes held (keys + values + overhead).', r.sm.bytes, g);
      out.sample('raftcache_cache_sessions', 'gauge', 'Client sessions held.', r.sm.sessionCount, g);
    }
    return out;
  }

  // ---------------------------------------------------------------- shutdown

  /** Stops ticking, fails waiting requests, closes the transport, then waits for storage and closes it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
    const e = new NodeError('CLOSED', 'node is shutting down', false);
    for (const r of this.drivers.values()) r.failAll(e);
    this.persistDeferred();
    await this.transport.close();
    await this.mapSaving;
    await this.store.close();
  }

  get name(): string {
    return nodeName(this.id);
  }
}

/** The map saved by a previous run, or null (none, or unreadable: the meta group sends a fresh one). */
async function loadMapFile(dir: string): Promise<MetaState | null> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(joinPath(dir, MAP_FILE));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    return decodeMetaState(bytes);
  } catch {
    return null;
  }
}

function logTransport(log: Logger, e: TransportEvent): void {
  switch (e.kind) {
    case 'connected':
      log.info({ peer: nodeName(e.peer), role: e.role }, 'peer connected');
      return;
    case 'disconnected':
      log.info({ peer: nodeName(e.peer), code: e.code }, 'peer disconnected');
      return;
    case 'dial-failed':
      log.debug({ peer: nodeName(e.peer), reason: e.reason }, 'peer dial failed');
      return;
    case 'auth-failed':
      log.warn({ remote: e.remote, peer: e.peer === null ? null : nodeName(e.peer), reason: e.reason }, 'peer authentication failed');
      return;
    case 'frame-error':
      log.warn({ peer: nodeName(e.peer), reason: e.reason }, 'bad frame from peer');
      return;
    case 'peer-unresponsive':
      log.warn({ peer: nodeName(e.peer) }, 'peer unresponsive');
      return;
    case 'handler-error':
      log.error({ peer: nodeName(e.peer), err: String(e.error) }, 'error handling a peer frame');
      return;
  }
}
