/**
 * One raftcache node process: hosts its replicas (one per Raft group), owns
 * the LevelDB store and the peer transport, drives every group's tick() from
 * one timer, and runs the Ready loop once per event-loop turn:
 *
 *   for each group: ready() → hand hard state / entries / snapshot to storage
 *   ONE store.flush() (only if some Ready must sync)
 *   then for each group: send messages → apply → serve reads → advance()
 *
 * While a flush is in flight, client requests and peer messages keep flowing
 * into the cores; they form the next turn's batch (group commit + pipelining).
 */
import { SeededRng } from '../util/rng.js';
import type { Rng } from '../util/rng.js';
import { NodeStore } from '../storage/index.js';
import { PeerTransport } from '../transport/index.js';
import type { TransportEvent } from '../transport/index.js';
import { NONE } from '../raft/index.js';
import type { Message, NodeId, Role } from '../raft/index.js';
import { effectiveReplication, memberUrl, nodeName, selfMember } from './config.js';
import type { Member, NodeConfig } from './config.js';
import { NodeError } from './errors.js';
import type { Logger } from './logger.js';
import { MetricsText } from './metrics.js';
import { ShardLayout } from './layout.js';
import { checkLayoutFile } from './layout-file.js';
import { Replica } from './replica.js';
import type { WriteOp, WriteOutcome } from './replica.js';

/** The tick at which a starting node campaigns in the shards it should lead (peer links are up by then). */
const CAMPAIGN_PREFERRED_TICK = 3;

/** Ticks between two leader-balance rounds (see balanceLeaders): one transfer per round. */
const BALANCE_EVERY_TICKS = 10;

/** The shard of a one-shard cluster (group 0 is reserved for the meta group). */
export const DATA_GROUP = 1;

/**
 * Pseudo group id of node-level messages. The peer transport carries only
 * (group, Raft message) pairs, so a node-level message travels as a
 * `read-index` message of this group whose context holds the payload; it never
 * reaches a Raft core. Used for followers' touch reports.
 */
export const NODE_GROUP = 0xffffffff;
const TOUCH_PREFIX = 'touch:';

function encodeTouchReport(from: NodeId, to: NodeId, group: number, keys: readonly string[]): Message {
  return { type: 'read-index', from, to, term: 0, context: TOUCH_PREFIX + JSON.stringify({ group, keys }) };
}

function decodeTouchReport(m: Message): { group: number; keys: string[] } | null {
  if (m.type !== 'read-index' || !m.context.startsWith(TOUCH_PREFIX)) return null;
  try {
    const v: unknown = JSON.parse(m.context.slice(TOUCH_PREFIX.length));
    if (typeof v !== 'object' || v === null) return null;
    const { group, keys } = v as { group?: unknown; keys?: unknown };
    if (typeof group !== 'number' || !Array.isArray(keys)) return null;
    const out: string[] = [];
    for (const k of keys) if (typeof k === 'string') out.push(k);
    return { group, keys: out };
  } catch {
    return null;
  }
}

const ALIVE_PREFIX = 'alive:';

/** One liveness heartbeat per node pair per tick (NODE_GROUP); `incarnation` changes when the node restarts. */
function encodeAlive(from: NodeId, to: NodeId, incarnation: string): Message {
  return { type: 'read-index', from, to, term: 0, context: ALIVE_PREFIX + incarnation };
}

/** What this node knows of a peer node's liveness (quiescence needs it: quiet groups do not heartbeat). */
interface PeerLiveness {
  /** Node tick at which anything was last heard from the peer. */
  lastHeard: number;
  incarnation: string;
  down: boolean;
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

export class CacheNode {
  readonly id: NodeId;
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly members: readonly Member[];
  /** Which shard owns a key and which nodes hold each shard. */
  readonly layout: ShardLayout;
  private readonly store: NodeStore;
  private readonly transport: PeerTransport;
  private readonly replicas = new Map<number, Replica>();
  /** Ids of the hosted shards, ascending (set once at start). */
  private hosted: readonly number[] = [];
  private tickTimer: NodeJS.Timeout | null = null;
  private turnScheduled = false;
  private flushing = false;
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
  private readonly runTurnFn = (): void => this.runTurn();

  private constructor(config: NodeConfig, logger: Logger, store: NodeStore, transport: PeerTransport, layout: ShardLayout, incarnation: string) {
    this.layout = layout;
    this.incarnation = incarnation;
    for (const m of config.members) if (m.id !== config.id) this.peerLiveness.set(m.id, { lastHeard: 0, incarnation: '', down: false });
    this.id = config.id;
    this.config = config;
    this.logger = logger;
    this.members = config.members;
    this.store = store;
    this.transport = transport;
  }

  /** Opens the data dir, starts the peer transport and the tick timer. */
  static async start(o: NodeStartOptions): Promise<CacheNode> {
    const c = o.config;
    const rng = new SeededRng(o.seed ?? (c.id * 7919 + Date.now()) >>> 0);
    const store = await NodeStore.open(c.data);
    try {
      await checkLayoutFile(c.data, { shards: c.shards, replication: effectiveReplication(c) });
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
    const layout = ShardLayout.bootstrap({ members: c.members, shards: c.shards, replication: effectiveReplication(c) });
    const node = new CacheNode(c, o.logger, store, transport, layout, rng.int(0x7fffffff).toString(36));
    for (const shard of layout.groupsOn(c.id)) {
      const voters = [...shard.voters].sort((a, b) => a - b);
      node.replicas.set(shard.id, node.newReplica(shard.id, voters, rng.fork(), transport));
    }
    node.hosted = [...node.replicas.keys()].sort((a, b) => a - b); // fixed for the node's life
    await store.flush(); // a new group's initial state is durable before we vote
    transport.onBatch((from, batch) => node.onPeerBatch(from, batch.groupIds, batch.messages));
    const peers = new Map<NodeId, { host: string; port: number }>();
    for (const m of c.members) if (m.id !== c.id) peers.set(m.id, { host: m.host, port: m.peerPort });
    transport.setPeers(peers);
    try {
      await transport.start();
    } catch (e) {
      await store.close();
      throw e;
    }
    node.tickTimer = setInterval(() => node.tick(), c.raft.tickMs);
    node.scheduleTurn();
    return node;
  }

  private newReplica(groupId: number, voters: number[], rng: Rng, transport: PeerTransport): Replica {
    const c = this.config;
    return new Replica({
      groupId,
      raft: {
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
      },
      cache: {
        maxEntries: c.cache.maxEntries,
        maxBytes: c.cache.maxBytes,
        sessionTtlMs: c.cache.sessionTtlMs,
        maxSessions: c.cache.maxSessions,
      },
      storage: this.store.group(groupId, { voters, learners: [] }),
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
        transport.send(leader, NODE_GROUP, encodeTouchReport(c.id, leader, g, keys));
      },
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

  /** Leader hints of the hosted shards, for the shard map. */
  leaderHints(): Map<number, { leader: NodeId; term: number }> {
    const out = new Map<number, { leader: NodeId; term: number }>();
    for (const [g, r] of this.replicas) {
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
    return new Promise<(Uint8Array | null)[]>((resolve, reject) => {
      try {
        const r = this.replica(group);
        if (consistency === 'stale' || this.config.unsafeStaleReads) {
          if (this.closed) throw new NodeError('CLOSED', 'node is shutting down', true);
          resolve(r.readLocal(keys));
          return;
        }
        this.admit(1);
        // `lease` is served as linearizable for now (docs/operations.md).
        r.enqueueRead(keys, this.config.limits.requestTimeoutMs, resolve, reject);
        this.pending++;
        this.scheduleTurn();
      } catch (e) {
        reject(e);
      }
    });
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

  /** The client URL of a member, or null. */
  urlOf(id: NodeId): string | null {
    if (id === NONE) return null;
    const m = this.members.find((x) => x.id === id);
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
        this.onNodeMessage(m);
        continue;
      }
      const r = this.replicas.get(g);
      if (r !== undefined) r.raw.step(m);
    }
    this.scheduleTurn();
  }

  /** A node-level message (see NODE_GROUP): for now only followers' touch reports. */
  private onNodeMessage(m: Message): void {
    if (m.type === 'read-index' && m.context.startsWith(ALIVE_PREFIX)) {
      this.peerAlive(m.from, m.context.slice(ALIVE_PREFIX.length));
      return;
    }
    const report = decodeTouchReport(m);
    if (report === null) return;
    this.replicas.get(report.group)?.receiveTouches(report.keys);
  }

  private tick(): void {
    if (this.closed) return;
    this.ticks++;
    this.watchPeers();
    for (const r of this.replicas.values()) r.tick();
    if (this.ticks === CAMPAIGN_PREFERRED_TICK) this.campaignPreferred();
    if (this.ticks % BALANCE_EVERY_TICKS === 0) this.balanceLeaders();
    this.persistDeferred();
    this.scheduleTurn();
  }

  /**
   * Node-pair liveness (what quiescence needs: a quiet group does not
   * heartbeat, so a follower cannot see its leader die). Every tick one alive
   * message goes to each peer; a peer not heard from (alive or anything else)
   * for an election timeout is down: the replicas it leads forget it (they may
   * campaign), the replicas we lead wake up (CheckQuorum decides). A peer heard
   * again, or restarted (new incarnation), is up: the replicas we lead wake up
   * and heartbeat it.
   */
  private watchPeers(): void {
    const timeout = this.config.raft.electionTicks;
    for (const [peer, live] of this.peerLiveness) {
      this.transport.send(peer, NODE_GROUP, encodeAlive(this.id, peer, this.incarnation));
      if (!live.down && this.ticks - live.lastHeard > timeout) {
        live.down = true;
        this.logger.debug({ peer: nodeName(peer) }, 'peer node silent: marked down');
        for (const r of this.replicas.values()) {
          r.raw.markPeerDown(peer, true);
          const s = r.raw.status();
          if (s.role === 'follower' && s.leader === peer) r.raw.forgetLeader();
          else if (s.role === 'leader') r.raw.unquiesce();
        }
        this.scheduleTurn();
      }
    }
  }

  private peerAlive(peer: NodeId, incarnation: string): void {
    const live = this.peerLiveness.get(peer);
    if (live === undefined) return;
    live.lastHeard = this.ticks;
    const restarted = live.incarnation !== '' && live.incarnation !== incarnation;
    live.incarnation = incarnation;
    if (!live.down && !restarted) return;
    live.down = false;
    for (const r of this.replicas.values()) {
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
      for (const r of this.replicas.values()) r.persistDeferredHardState();
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
    if (this.flushing) return; // the flush's completion runs the next turn
    let work: Replica[] | null = null;
    let mustSync = false;
    for (const r of this.replicas.values()) {
      if (!r.raw.hasReady()) continue;
      const rd = r.raw.ready();
      r.persist(rd);
      if (rd.mustSync) {
        mustSync = true;
        r.sendEarly(rd);
      } else {
        r.sendEarly(rd);
        r.sendHeld();
      }
      r.applyReady(rd);
      (work ??= []).push(r);
    }
    if (work === null) return;
    this.turns++;
    if (!mustSync) {
      this.finishTurn(work);
      return;
    }
    this.flushing = true;
    this.flushes++;
    const batch = work;
    this.store.flush().then(
      () => {
        this.flushing = false;
        if (this.closed) return;
        this.finishTurn(batch);
      },
      (err: unknown) => {
        this.flushing = false;
        this.fail(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  /** After the flush (if any): the held messages leave, then advance(). */
  private finishTurn(work: readonly Replica[]): void {
    for (const r of work) {
      r.sendHeld();
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
    for (const r of this.replicas.values()) r.failAll(e);
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
    out.sample('raftcache_node_flushes_total', 'counter', 'Synced storage flushes awaited by the Ready loop.', this.flushes);
    const st = this.store.stats();
    out.sample('raftcache_storage_batches_total', 'counter', 'LevelDB write batches (one fsync each).', st.batches);
    out.sample('raftcache_storage_ops_total', 'counter', 'LevelDB puts and deletes written.', st.ops);
    out.sample('raftcache_storage_bytes_total', 'counter', 'Bytes written to LevelDB.', st.bytes);
    const tm = this.transport.metrics();
    let sent = 0;
    let received = 0;
    let dropped = 0;
    let connected = 0;
    for (const p of Object.values(tm.peers)) {
      sent += p.messagesSent;
      received += p.messagesReceived;
      dropped += p.messagesDropped;
      if (p.connected) connected++;
    }
    out.sample('raftcache_peer_messages_sent_total', 'counter', 'Raft messages sent to peers.', sent);
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
    for (const r of this.replicas.values()) r.failAll(e);
    this.persistDeferred();
    await this.transport.close();
    await this.store.close();
  }

  get name(): string {
    return nodeName(this.id);
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
