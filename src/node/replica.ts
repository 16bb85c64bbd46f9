/**
 * One replica of one Raft group on this node: the Raft core, its storage, the
 * cache state machine, and the client requests waiting on them.
 *
 * - Writes wait in `proposals` under the (index, term) the core gave them and
 *   are answered when that index is applied: the same term means it is our
 *   entry; another term means our entry was overwritten and can never commit
 *   (Log Matching), a definite NOT_LEADER.
 * - Linearizable reads queue in `readQueue`; once per node turn the whole
 *   queue becomes one `readIndex(ctx)` batch, answered together when the core
 *   releases its ReadState. A batch that waits too long (lost message, leader
 *   change) is re-issued with a new context; reads are safe to retry.
 * - Keys read are collected and the leader proposes them as `touch` entries
 *   (at most one per tick); with TTL keys pending and no entry carrying time
 *   for `clockIntervalMs`, the leader proposes a `clock` entry.
 */
import { performance } from 'node:perf_hooks';
import { CacheStateMachine, decodeCommand, encodeCommand } from '../cache/index.js';
import type { CacheConfig, Command, CommandResult } from '../cache/index.js';
import { NONE, RawNode } from '../raft/index.js';
import type { Entry, HardState, Message, NodeId, RaftConfig, Ready, Role } from '../raft/index.js';
import type { GroupStorage } from '../storage/index.js';
import { NodeError } from './errors.js';
import { Histogram } from './metrics.js';
import type { Logger } from './logger.js';

/** A client write, before the leader stamps its time on it. */
export type WriteOp =
  | Omit<Extract<Command, { type: 'put' }>, 'ts'>
  | Omit<Extract<Command, { type: 'delete' }>, 'ts'>
  | Omit<Extract<Command, { type: 'cas' }>, 'ts'>
  | Omit<Extract<Command, { type: 'incr' }>, 'ts'>
  | Omit<Extract<Command, { type: 'register' }>, 'ts'>;

export interface WriteOutcome {
  readonly result: CommandResult;
  /** For cas: the key's value right after the entry was applied. */
  readonly current?: Uint8Array | null;
}

interface PendingWrite {
  readonly term: number;
  readonly started: number;
  readonly deadline: number;
  /** Key whose value is reported back (cas), or null. */
  readonly peekKey: string | null;
  readonly resolve: (o: WriteOutcome) => void;
  readonly reject: (e: NodeError) => void;
}

interface PendingRead {
  readonly keys: readonly string[];
  readonly started: number;
  readonly deadline: number;
  readonly resolve: (values: (Uint8Array | null)[]) => void;
  readonly reject: (e: NodeError) => void;
}

interface ReadBatch {
  readonly reads: PendingRead[];
  readonly issuedTick: number;
  readonly started: number;
}

export interface ReplicaOptions {
  readonly groupId: number;
  readonly raft: Omit<RaftConfig, 'applied'>;
  readonly cache: CacheConfig;
  readonly storage: GroupStorage;
  readonly clockIntervalMs: number;
  readonly touchMaxKeys: number;
  readonly snapshotEntries: number;
  /** Ticks a ReadIndex batch may wait before it is re-issued. */
  readonly readRetryTicks: number;
  readonly logger: Logger;
  /** Called when a pending request finishes (the node's budget). */
  readonly onSettled: (n: number) => void;
  /** Sends one message of this group. */
  readonly send: (to: NodeId, groupId: number, m: Message) => void;
  /** Follower: hands the keys its reads touched to the leader (a node-level message). */
  readonly sendTouches: (leader: NodeId, groupId: number, keys: readonly string[]) => void;
}

export interface ReplicaCounters {
  proposals: number;
  proposalsFailed: number;
  readIndexBatches: number;
  readsServed: number;
  leaderChanges: number;
  touchEntries: number;
  clockEntries: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  lostWrites: number;
  timeouts: number;
}

/** The largest expiry among live keys (after a snapshot restore). O(entries), once per restore. */
function ttlHorizonOf(sm: CacheStateMachine): number {
  let max = 0;
  for (const k of sm.keys()) {
    const e = sm.expiresAt(k);
    if (typeof e === 'number' && e > max) max = e;
  }
  return max;
}

/**
 * Message types that may leave before this Ready's write is durable (when the
 * Ready changes neither term nor vote). Heartbeats and ReadIndex traffic claim
 * nothing about the log. `app` is only ever sent by a leader: its entries come
 * from the leader's own log, and the core counts the leader's own copy toward a
 * commit only once it is persisted (`Raft.onPersisted`, from `advance()`), so
 * the append says nothing about our disk; the leader writes its log in
 * parallel with replicating it (Raft thesis §10.2.1; README decision 3).
 * Answers to appends (`app-resp`), votes and snapshots still wait for the flush.
 */
const EARLY_TYPES: ReadonlySet<Message['type']> = new Set<Message['type']>([
  'heartbeat',
  'heartbeat-resp',
  'read-index',
  'read-index-resp',
  'app',
]);

export class Replica {
  readonly groupId: number;
  readonly storage: GroupStorage;
  readonly raw: RawNode;
  sm: CacheStateMachine;
  /** Last applied log index (entries without a command count too). */
  applied: number;
  role: Role = 'follower';
  leader: NodeId = NONE;
  readonly counters: ReplicaCounters = {
    proposals: 0,
    proposalsFailed: 0,
    readIndexBatches: 0,
    readsServed: 0,
    leaderChanges: 0,
    touchEntries: 0,
    clockEntries: 0,
    snapshotsTaken: 0,
    snapshotsInstalled: 0,
    lostWrites: 0,
    timeouts: 0,
  };
  readonly readIndexLatency = new Histogram();
  readonly applyLatency = new Histogram();

  private readonly opts: ReplicaOptions;
  private readonly proposals = new Map<number, PendingWrite>();
  private readQueue: PendingRead[] = [];
  private readonly readBatches = new Map<string, ReadBatch>();
  private readSeq = 0;
  private ticks = 0;
  private readonly touched = new Set<string>();
  /** Largest expiry (log time) of a TTL write applied: keys may expire until now reaches it. */
  private ttlHorizon = 0;
  /** Last ts this replica stamped (monotone while it leads). */
  private lastTs = 0;
  /** Wall time of the last entry this replica proposed (every entry carries time). */
  private lastProposedAt = 0;

  constructor(opts: ReplicaOptions) {
    this.opts = opts;
    this.groupId = opts.groupId;
    this.storage = opts.storage;
    const snap = opts.storage.snapshot();
    this.applied = 0;
    this.sm = new CacheStateMachine(opts.cache);
    if (snap.metadata.index > 0 && snap.data.length > 0) {
      this.sm = CacheStateMachine.restore(opts.cache, [snap.data]);
      this.applied = snap.metadata.index;
      this.ttlHorizon = ttlHorizonOf(this.sm);
    } else if (snap.metadata.index > 0) {
      this.applied = snap.metadata.index;
    }
    this.raw = new RawNode({ ...opts.raft, applied: this.applied }, opts.storage);
    const hs = opts.storage.initialState().hardState;
    this.persistedTerm = hs.term;
    this.persistedVote = hs.vote;
  }

  // ---------------------------------------------------------------- writes

  private nextTs(): number {
    const now = Date.now();
    this.lastTs = now > this.lastTs ? now : this.lastTs;
    this.lastProposedAt = now;
    return this.lastTs;
  }

  /** Proposes a client write; resolves when it is applied. Throws NodeError when it cannot be proposed. */
  propose(op: WriteOp, timeoutMs: number, resolve: (o: WriteOutcome) => void, reject: (e: NodeError) => void): void {
    let data: Uint8Array;
    try {
      // A put (the hot path) as a fixed-shape literal: a spread costs ~1 µs per write.
      const ts = this.nextTs();
      const cmd: Command =
        op.type === 'put'
          ? { type: 'put', ts, key: op.key, value: op.value, ttlMs: op.ttlMs, session: op.session }
          : ({ ...op, ts } as Command);
      data = encodeCommand(cmd);
    } catch (e) {
      throw new NodeError('BAD_REQUEST', e instanceof Error ? e.message : String(e), true);
    }
    const r = this.raw.propose(data);
    if (!r.ok) {
      this.counters.proposalsFailed++;
      switch (r.reason) {
        case 'NOT_LEADER':
          throw new NodeError('NOT_LEADER', 'this replica is not the leader', true, r.leader);
        case 'OVERLOADED':
          throw new NodeError('OVERLOADED', 'too many uncommitted bytes on the leader', true);
        case 'DROPPED':
          throw new NodeError('UNAVAILABLE', 'proposal dropped (leadership transfer in progress)', true, r.leader);
      }
      throw new NodeError('UNAVAILABLE', 'proposal refused', true);
    }
    this.counters.proposals++;
    const started = performance.now();
    this.proposals.set(r.index, {
      term: r.term,
      started,
      deadline: started + timeoutMs,
      peekKey: op.type === 'cas' ? op.key : null,
      resolve,
      reject,
    });
  }

  /** Leader only: proposes an internal entry (touch / clock); false when it could not. */
  private proposeInternal(cmd: Command): boolean {
    const r = this.raw.propose(encodeCommand(cmd));
    return r.ok;
  }

  // ---------------------------------------------------------------- reads

  /** Serves a read from the local state at once (stale). */
  readLocal(keys: readonly string[]): (Uint8Array | null)[] {
    const out: (Uint8Array | null)[] = new Array<Uint8Array | null>(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = this.sm.get(keys[i] as string);
    this.noteTouched(keys);
    return out;
  }

  /** Queues a linearizable read; it joins this turn's ReadIndex batch. */
  enqueueRead(
    keys: readonly string[],
    timeoutMs: number,
    resolve: (values: (Uint8Array | null)[]) => void,
    reject: (e: NodeError) => void,
  ): void {
    const started = performance.now();
    this.readQueue.push({ keys, started, deadline: started + timeoutMs, resolve, reject });
  }

  /** Turns the queued reads into one ReadIndex request (called once per node turn). */
  issueReads(): void {
    if (this.readQueue.length === 0) return;
    const reads = this.readQueue;
    this.readQueue = [];
    const ctx = `${this.groupId}:${++this.readSeq}`;
    const r = this.raw.readIndex(ctx);
    if (!r.ok) {
      const err = new NodeError('UNAVAILABLE', 'no leader known for a linearizable read', true);
      for (const read of reads) read.reject(err);
      this.opts.onSettled(reads.length);
      return;
    }
    this.counters.readIndexBatches++;
    this.readBatches.set(ctx, { reads, issuedTick: this.ticks, started: performance.now() });
  }

  /** Up to touchMaxKeys touched keys, removed from the set (oldest first). */
  private takeTouched(): string[] {
    const keys: string[] = [];
    for (const k of this.touched) {
      if (keys.length >= this.opts.touchMaxKeys) break;
      keys.push(k);
    }
    for (const k of keys) this.touched.delete(k);
    return keys;
  }

  /** Leader: keys a follower's reads touched (they join the next touch entry). */
  receiveTouches(keys: readonly string[]): void {
    if (this.role === 'leader') this.noteTouched(keys);
  }

  private noteTouched(keys: readonly string[]): void {
    const cap = this.opts.touchMaxKeys * 4;
    for (let i = 0; i < keys.length && this.touched.size < cap; i++) this.touched.add(keys[i] as string);
  }

  // ---------------------------------------------------------------- ticks

  /** One tick: the core's clock, touch/clock entries, timeouts, read retries. */
  tick(): void {
    this.ticks++;
    if (!this.raw.isQuiesced()) this.raw.tick(); // a quiet group costs no Raft work
    const now = performance.now();
    if (this.role === 'leader') {
      if (this.touched.size > 0) {
        const keys = this.takeTouched();
        if (this.proposeInternal({ type: 'touch', ts: this.nextTs(), keys })) this.counters.touchEntries++;
      } else if (this.ttlHorizon > this.sm.now && Date.now() - this.lastProposedAt >= this.opts.clockIntervalMs) {
        if (this.proposeInternal({ type: 'clock', ts: this.nextTs() })) this.counters.clockEntries++;
      }
    } else if (this.touched.size > 0) {
      if (this.leader !== NONE) this.opts.sendTouches(this.leader, this.groupId, this.takeTouched());
      else this.touched.clear();
    }
    this.expire(now);
    for (const [ctx, b] of this.readBatches) {
      if (this.ticks - b.issuedTick >= this.opts.readRetryTicks) {
        this.readBatches.delete(ctx);
        for (const r of b.reads) this.readQueue.push(r);
      }
    }
  }

  private expire(now: number): void {
    let settled = 0;
    for (const [index, p] of this.proposals) {
      if (p.deadline > now) continue;
      this.proposals.delete(index);
      p.reject(new NodeError('TIMEOUT', `no outcome within the request timeout (log index ${index})`, false));
      settled++;
    }
    const timeout = new NodeError('TIMEOUT', 'read not served within the request timeout', false);
    const keep = (r: PendingRead): boolean => {
      if (r.deadline > now) return true;
      r.reject(timeout);
      settled++;
      return false;
    };
    if (this.readQueue.length > 0) this.readQueue = this.readQueue.filter(keep);
    for (const [ctx, b] of this.readBatches) {
      const left = b.reads.filter(keep);
      if (left.length === 0) this.readBatches.delete(ctx);
      else if (left.length !== b.reads.length) this.readBatches.set(ctx, { ...b, reads: left });
    }
    if (settled > 0) {
      this.counters.timeouts += settled;
      this.opts.onSettled(settled);
    }
  }

  // ---------------------------------------------------------------- Ready

  /** Term and vote last handed to storage: messages of a Ready that changes neither may leave early. */
  private persistedTerm = -1;
  private persistedVote = -1;
  /** Messages of the Ready in progress that wait for the flush. */
  private held: Message[] = [];
  /** Latest hard state that changed only the commit index and is not yet handed to storage. */
  private deferredHardState: HardState | null = null;

  /**
   * Step 1 of the Ready: hand hard state, entries and snapshot to storage
   * (durable at the next flush). Returns true when the Ready must wait for
   * the flush before its remaining messages leave (see `sendEarly`).
   */
  persist(rd: Ready): void {
    if (rd.snapshot) void this.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) void this.storage.append(rd.entries);
    if (rd.hardState !== null && !rd.mustSync) {
      // Only the commit index moved: the core does not require it synced, and
      // handing it to storage now would start a synced batch of its own (one
      // extra fsync per write). It rides with the next synced batch, or the
      // next tick (decision 4 in README.md).
      this.deferredHardState = rd.hardState;
      return;
    }
    const hs = rd.hardState ?? (rd.mustSync ? this.deferredHardState : null);
    this.deferredHardState = null;
    if (hs !== null) void this.storage.setHardState(hs);
  }

  /**
   * Hands a deferred commit-only hard state to storage (its own batch). Called
   * on every tick and before close, so the persisted commit index lags by at
   * most one tick when no synced Ready comes along.
   */
  persistDeferredHardState(): void {
    const hs = this.deferredHardState;
    if (hs === null) return;
    this.deferredHardState = null;
    void this.storage.setHardState(hs);
  }

  /**
   * Before the flush: messages that depend on nothing being persisted leave at
   * once (heartbeats, ReadIndex traffic and the leader's appends, of an
   * unchanged term and vote: see EARLY_TYPES); everything else (append
   * answers, votes, snapshots) is held until the flush resolves. Returns
   * whether anything was held.
   */
  sendEarly(rd: Ready): boolean {
    const hs = rd.hardState;
    const termStable = hs === null || (hs.term === this.persistedTerm && hs.vote === this.persistedVote);
    if (hs !== null) {
      this.persistedTerm = hs.term;
      this.persistedVote = hs.vote;
    }
    const held = this.held;
    for (const m of rd.messages) {
      if (termStable && EARLY_TYPES.has(m.type)) this.opts.send(m.to, this.groupId, m);
      else held.push(m);
    }
    return held.length > 0;
  }

  /** After the flush: send what was held. */
  sendHeld(): void {
    const held = this.held;
    if (held.length === 0) return;
    this.held = [];
    for (const m of held) this.opts.send(m.to, this.groupId, m);
  }

  /**
   * Applies the Ready's committed entries and serves its reads. Committed
   * entries are durable on a majority already, so this need not wait for our
   * own flush (docs/decisions.md); the client answers it produces are as safe
   * as after the flush.
   */
  applyReady(rd: Ready): void {
    if (rd.softState) this.onSoftState(rd.softState.role, rd.softState.leader);
    if (rd.snapshot) this.installSnapshot(rd);
    if (rd.committedEntries.length > 0) this.applyEntries(rd.committedEntries);
    if (rd.readStates.length > 0) this.serveReads(rd);
  }

  private onSoftState(role: Role, leader: NodeId): void {
    const leaderChanged = leader !== this.leader;
    if (leaderChanged) this.counters.leaderChanges++;
    if (leaderChanged || role !== this.role) {
      this.opts.logger.info({ group: this.groupId, role, leader: leader === NONE ? null : `n${leader}` }, 'raft role');
      // A read sent to an old leader may never be answered: re-issue every batch now.
      for (const b of this.readBatches.values()) for (const r of b.reads) this.readQueue.push(r);
      this.readBatches.clear();
    }
    this.role = role;
    this.leader = leader;
    if (role === 'leader') this.lastTs = Math.max(this.lastTs, this.sm.now);
  }

  private installSnapshot(rd: Ready): void {
    const snap = rd.snapshot;
    if (!snap) return;
    const index = snap.metadata.index;
    this.sm = snap.data.length > 0 ? CacheStateMachine.restore(this.opts.cache, [snap.data]) : new CacheStateMachine(this.opts.cache);
    this.applied = index;
    this.ttlHorizon = ttlHorizonOf(this.sm);
    this.counters.snapshotsInstalled++;
    let settled = 0;
    for (const [i, p] of this.proposals) {
      if (i > index) continue;
      this.proposals.delete(i);
      p.reject(new NodeError('UNAVAILABLE', 'outcome unknown: the log was replaced by a snapshot', false));
      settled++;
    }
    if (settled > 0) this.opts.onSettled(settled);
    this.opts.logger.info({ group: this.groupId, index }, 'installed snapshot');
  }

  private applyEntries(entries: readonly Entry[]): void {
    const sm = this.sm;
    let settled = 0;
    const now = performance.now();
    for (const e of entries) {
      if (e.index <= this.applied) continue;
      this.applied = e.index;
      let result: CommandResult | null = null;
      if (e.type === 'normal' && e.data.length > 0) {
        let cmd: Command | null = null;
        try {
          cmd = decodeCommand(e.data);
        } catch (err) {
          this.opts.logger.error({ group: this.groupId, index: e.index, err: String(err) }, 'undecodable log entry');
        }
        if (cmd !== null) {
          result = sm.apply(e.index, cmd);
          if ((cmd.type === 'put' || cmd.type === 'cas') && cmd.ttlMs !== undefined) {
            const until = sm.now + cmd.ttlMs;
            if (until > this.ttlHorizon) this.ttlHorizon = until;
          }
        }
      }
      if (this.proposals.size === 0) continue;
      const p = this.proposals.get(e.index);
      if (p === undefined) continue;
      this.proposals.delete(e.index);
      settled++;
      if (p.term !== e.term) {
        this.counters.lostWrites++;
        p.reject(new NodeError('NOT_LEADER', 'leadership changed: the write was not applied', true, this.leader));
        continue;
      }
      this.applyLatency.observe((now - p.started) / 1000);
      if (result === null) {
        p.reject(new NodeError('UNAVAILABLE', 'entry could not be applied', false));
        continue;
      }
      if (p.peekKey !== null) p.resolve({ result, current: sm.peek(p.peekKey) });
      else p.resolve({ result });
    }
    if (settled > 0) this.opts.onSettled(settled);
    this.maybeSnapshot();
  }

  private serveReads(rd: Ready): void {
    const now = performance.now();
    let settled = 0;
    for (const rs of rd.readStates) {
      const b = this.readBatches.get(rs.context);
      if (b === undefined) continue;
      this.readBatches.delete(rs.context);
      this.readIndexLatency.observe((now - b.started) / 1000);
      for (const r of b.reads) {
        r.resolve(this.readLocal(r.keys));
        settled++;
      }
    }
    if (settled > 0) {
      this.counters.readsServed += settled;
      this.opts.onSettled(settled);
    }
  }

  /** Snapshot the state machine and compact the log up to the previous snapshot. */
  private maybeSnapshot(): void {
    const prev = this.storage.snapshot().metadata.index;
    if (this.applied - prev < this.opts.snapshotEntries) return;
    const data = this.sm.snapshotBytes();
    this.storage.createSnapshot(this.applied, data);
    if (prev > 0) void this.storage.compact(prev);
    this.counters.snapshotsTaken++;
  }

  /** Fails everything waiting (shutdown). */
  failAll(err: NodeError): void {
    let n = 0;
    for (const p of this.proposals.values()) {
      p.reject(err);
      n++;
    }
    this.proposals.clear();
    for (const r of this.readQueue) {
      r.reject(err);
      n++;
    }
    this.readQueue = [];
    for (const b of this.readBatches.values()) {
      for (const r of b.reads) {
        r.reject(err);
        n++;
      }
    }
    this.readBatches.clear();
    if (n > 0) this.opts.onSettled(n);
  }
}
