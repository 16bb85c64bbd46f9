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
import { CacheStateMachine, CommandDecoder, encodeCommand } from '../cache/index.js';
import type { CacheConfig, Command, CommandResult, SplitCommand } from '../cache/index.js';
import { NONE, RawNode } from '../raft/index.js';
import type { Entry, Message, NodeId, RaftConfig, Ready, Role } from '../raft/index.js';
import type { GroupStorage } from '../storage/index.js';
import { NodeError } from './errors.js';
import { GroupDriver } from './group-driver.js';
import { Histogram } from './metrics.js';
import { PendingWrites } from './pending-writes.js';
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
  /**
   * A split entry was applied at `index`: `sm` holds the keys that left this
   * group for group `newGroup`, whose replicas start from it (same membership).
   */
  readonly onSplit?: (newGroup: number, sm: CacheStateMachine, index: number) => void;
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

function rejectTimedOut(index: number, reject: (e: NodeError) => void): void {
  reject(new NodeError('TIMEOUT', `no outcome within the request timeout (log index ${index})`, false));
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


export class Replica extends GroupDriver {
  readonly raw: RawNode;
  sm: CacheStateMachine;
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
  /** Client writes waiting to be applied, by log index (for cas: the key whose value is reported back). */
  private readonly proposals = new PendingWrites();
  /** Decodes committed entries for applyEntries (reused: no objects per put). */
  private readonly decoder = new CommandDecoder();
  private readQueue: PendingRead[] = [];
  private readonly readBatches = new Map<string, ReadBatch>();
  private readSeq = 0;
  private ticks = 0;
  private readonly touched = new Set<string>();
  /** Term in which this replica proposed the split into a group (re-proposed in a later term if still not applied). */
  private readonly splitProposedTerm = new Map<number, number>();
  /** Largest expiry (log time) of a TTL write applied: keys may expire until now reaches it. */
  private ttlHorizon = 0;
  /** Last ts this replica stamped (monotone while it leads). */
  private lastTs = 0;
  /** Wall time of the last entry this replica proposed (every entry carries time). */
  private lastProposedAt = 0;

  constructor(opts: ReplicaOptions) {
    super(opts.groupId, opts.storage, opts.send);
    this.opts = opts;
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
    // Writes this replica proposed at r.index or above in an earlier term left the log (it ends below r.index now).
    const replaced = this.proposals.hasFrom(r.index) ? this.proposals.takeFrom(r.index) : null;
    const started = performance.now();
    this.proposals.add(r.index, r.term, started, started + timeoutMs, op.type === 'cas' ? op.key : null, resolve, reject);
    if (replaced !== null) this.settleReplaced(replaced); // after add: a callback may propose again
  }

  /**
   * Writes proposed in an earlier term whose entries left this replica's log
   * before they were applied: another leader may still commit them (its log
   * may hold them), so the outcome is unknown.
   */
  private settleReplaced(rejects: readonly ((e: NodeError) => void)[]): void {
    if (rejects.length === 0) return;
    const err = new NodeError('UNAVAILABLE', 'outcome unknown: the entry was replaced in this replica\'s log', false);
    for (const reject of rejects) reject(err);
    this.opts.onSettled(rejects.length);
  }

  /** Leader only: proposes an internal entry (touch / clock); false when it could not. */
  private proposeInternal(cmd: Command): boolean {
    const r = this.raw.propose(encodeCommand(cmd));
    return r.ok;
  }

  // ---------------------------------------------------------------- reads

  /** True when this group's state machine owns every key (a split moves ranges away). */
  ownsAll(keys: readonly string[]): boolean {
    const sm = this.sm;
    for (let i = 0; i < keys.length; i++) if (!sm.owns(keys[i] as string)) return false;
    return true;
  }

  /**
   * Leader: proposes the split of `ranges` into group `newGroup`, unless it is
   * applied already (then true: done) or was proposed in this term.
   */
  proposeSplit(newGroup: number, ranges: readonly { start: number; end: number }[]): boolean {
    if (ranges.every((r) => this.rangeGone(r))) return true;
    const s = this.raw.status();
    if (s.role !== 'leader' || this.splitProposedTerm.get(newGroup) === s.term) return false;
    if (this.proposeInternal({ type: 'split', ts: this.nextTs(), ranges, group: newGroup })) this.splitProposedTerm.set(newGroup, s.term);
    return false;
  }

  private rangeGone(r: { start: number; end: number }): boolean {
    return this.sm.notOwnedRanges().some((n) => n.start <= r.start && n.end >= r.end);
  }

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
    this.serveSnapshotWanted();
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
    // Oldest first, stopping at the first write still in time (not a walk over every pending write).
    let settled = this.proposals.size > 0 ? this.proposals.expire(now, rejectTimedOut) : 0;
    // Made only when a read times out: an Error captures a stack (µs), and this runs every tick for every replica.
    let timeout: NodeError | null = null;
    const keep = (r: PendingRead): boolean => {
      if (r.deadline > now) return true;
      r.reject((timeout ??= new NodeError('TIMEOUT', 'read not served within the request timeout', false)));
      settled++;
      return false;
    };
    if (this.readQueue.length > 0) this.readQueue = this.readQueue.filter(keep);
    if (this.readBatches.size > 0) for (const [ctx, b] of this.readBatches) {
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
    const gone = this.proposals.takeUpTo(index);
    if (gone.length > 0) {
      const err = new NodeError('UNAVAILABLE', 'outcome unknown: the log was replaced by a snapshot', false);
      for (const reject of gone) reject(err);
      this.opts.onSettled(gone.length);
    }
    this.opts.logger.info({ group: this.groupId, index }, 'installed snapshot');
  }

  private applyEntries(entries: readonly Entry[]): void {
    const sm = this.sm;
    const d = this.decoder;
    const pending = this.proposals;
    let settled = 0;
    const now = performance.now();
    for (const e of entries) {
      if (e.index <= this.applied) continue;
      this.applied = e.index;
      let result: CommandResult | null = null;
      if (e.type === 'normal' && e.data.length > 0) {
        let decoded = false;
        try {
          d.decode(e.data);
          decoded = true;
        } catch (err) {
          this.opts.logger.error({ group: this.groupId, index: e.index, err: String(err) }, 'undecodable log entry');
        }
        if (decoded) {
          // A put is applied straight from the entry bytes (no command object, value copied into the cache).
          result = sm.applyDecoded(e.index, d);
          if (d.type === 'split') {
            const group = (d.command as SplitCommand).group;
            const out = sm.takeSplit();
            if (out !== null && group !== undefined && result.ok) this.opts.onSplit?.(group, out, e.index);
          }
          if (d.ttlMs !== undefined) {
            const until = sm.now + d.ttlMs;
            if (until > this.ttlHorizon) this.ttlHorizon = until;
          }
        }
      }
      if (pending.size === 0) continue;
      const slot = pending.slotOf(e.index);
      if (slot < 0) continue;
      const term = pending.termAt(slot);
      const started = pending.startedOf(slot);
      const peekKey = pending.peekKeyOf(slot);
      const resolve = pending.resolveOf(slot);
      const reject = pending.rejectOf(slot);
      pending.release(slot);
      settled++;
      if (term !== e.term) {
        this.counters.lostWrites++;
        reject(new NodeError('NOT_LEADER', 'leadership changed: the write was not applied', true, this.leader));
        continue;
      }
      this.applyLatency.observe((now - started) / 1000);
      if (result === null) {
        reject(new NodeError('UNAVAILABLE', 'entry could not be applied', false));
        continue;
      }
      if (peekKey !== null) resolve({ result, current: sm.peek(peekKey) });
      else resolve({ result });
    }
    d.release();
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
        if (this.ownsAll(r.keys)) r.resolve(this.readLocal(r.keys));
        else r.reject(new NodeError('WRONG_SHARD', `shard ${this.groupId} no longer holds these keys (split)`, true));
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
    if (this.applied - this.storage.snapshot().metadata.index < this.opts.snapshotEntries) return;
    const prev = this.takeSnapshot();
    if (prev > 0 && prev >= this.storage.firstIndex()) void this.storage.compact(prev);
    this.counters.snapshotsTaken++;
  }

  protected snapshotData(): Uint8Array {
    return this.sm.snapshotBytes();
  }

  protected override clientOps(): number {
    return this.counters.proposals + this.counters.readsServed;
  }

  /** Fails everything waiting (shutdown). */
  failAll(err: NodeError): void {
    let n = 0;
    for (const reject of this.proposals.takeUpTo(Number.POSITIVE_INFINITY)) {
      reject(err);
      n++;
    }
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
