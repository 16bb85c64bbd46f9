/**
 * One simulated server: a Raft core, its "disk" (a storage the driver writes
 * and the core reads) and its KV state machine, driven through the Ready loop
 * exactly as types.ts prescribes. A crash throws away everything but the disk;
 * a restart builds a new core from a copy of the disk and rebuilds the state
 * machine from the disk's snapshot plus the committed log the core re-delivers.
 */
import type {
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  RaftConfig,
  Ready,
  Role,
  RaftNodeApi,
  ReadState,
  Snapshot,
  SoftState,
  Storage,
} from '../raft/types.js';
import { NONE } from '../raft/types.js';
import { sendsBeforePersist } from '../raft/raw-node.js';
import type { Rng } from '../util/rng.js';
import type { AsyncDisk } from './async-disk.js';
import type { ClockRate, CrashPoint } from './faults.js';
import { SimViolation } from './invariants.js';
import { type ApplyOutcome, KvStateMachine } from './kv.js';

/** The stable storage of one node as the driver sees it (the core only reads). */
export interface SimDisk extends Storage {
  /** Appends entries, truncating any conflicting suffix. */
  append(entries: readonly Entry[]): void;
  setHardState(hs: HardState): void;
  applySnapshot(snap: Snapshot): void;
  /** Records a snapshot of the state machine at `index` (≤ applied) and drops log entries before `index - keep`. */
  compact(index: number, conf: ConfState, data: Uint8Array, keep: number): void;
  /** An independent copy: what survives a crash. */
  clone(): SimDisk;
}

/** How the simulation builds cores and disks (the real core by default; tests may wrap it). */
export interface RaftCoreFactory {
  newDisk(conf: ConfState): SimDisk;
  newNode(config: RaftConfig, disk: SimDisk): RaftNodeApi;
}

/** Everything a node reports while it handles a Ready, in the contract's order. */
export interface NodeObserver {
  onSoftState(node: SimNode, ss: SoftState): void;
  /** After the Ready's snapshot, entries and hard state are on disk (before any message leaves). */
  onPersisted(node: SimNode, hs: HardState | null, entries: readonly Entry[], snap: Snapshot | null): void;
  send(node: SimNode, m: Message): void;
  /** After `entry` was applied (node.applied === entry.index; `prevApplied` was the index before). */
  onApplied(node: SimNode, entry: Entry, outcome: ApplyOutcome | null, prevApplied: number): void;
  /** After the state machine was replaced by a snapshot. */
  onSnapshotRestored(node: SimNode, snap: Snapshot, prevApplied: number): void;
  onReadState(node: SimNode, rs: ReadState): void;
  /** The membership after this Ready's committed entries (or snapshot): the one right after entry `atIndex` (the last conf entry applied, or the snapshot). */
  onConfState(node: SimNode, conf: ConfState, atIndex: number): void;
  /**
   * Async disk only: a Ready was taken (its soft state already reported), before
   * its early messages leave and its committed entries are applied. `hs` is the
   * hard state the core handed out (its commit may be ahead of the disk);
   * `termStable`: the Ready changes neither term nor vote.
   */
  onTaken(node: SimNode, hs: HardState | null, termStable: boolean): void;
}

export type RaftTuning = Omit<RaftConfig, 'id' | 'rng' | 'applied'>;

export interface CompactionPolicy {
  /** Compact when the log holds more than this many applied entries (0 = never). */
  readonly threshold: number;
  /** Entries kept behind the snapshot so slightly-behind followers avoid a snapshot. */
  readonly keep: number;
}

export class SimNode {
  disk: SimDisk;
  raft: RaftNodeApi | null = null;
  kv = new KvStateMachine();
  /** Index of the last entry applied by this incarnation. */
  applied = 0;
  incarnation = 0;
  role: SoftState['role'] = 'follower';
  leader: NodeId = NONE;
  /** Set when a mutation test asks a restart to forget the vote. */
  forgetVoteOnRestart = false;
  /** Armed by a fault: crash at this point of the next Ready. */
  crashPoint: CrashPoint | null = null;
  /** Set when drive() crashed the node at `crashPoint`; the simulation cleans up and clears it. */
  crashedInReady = false;
  /** A paused process neither ticks nor handles messages; these wait for it. */
  paused = false;
  readonly held: Message[] = [];
  /** Ticks per simulated tick (0.5: every other tick). */
  clockRate: ClockRate = 1;
  /** The disk's last index just before the current Ready's entries were appended. */
  lastIndexBeforeAppend = 0;
  /** The role when the Ready now being persisted was taken (async disk: it may have changed since). */
  writeRole: Role = 'follower';
  /** Async disk driver mode (null: the synchronous driver). */
  asyncDisk: AsyncDisk | null = null;
  /** Async disk: the last log index handed out in a Ready (the next Ready's entries follow it, or replace a conflicting suffix). */
  private lastHanded = 0;
  /** A deliberately wrong async driver: these message types also leave when their Ready is taken, before its write is durable. */
  wrongEarlyTypes: ReadonlySet<Message['type']> = new Set();
  /** Membership as of `applied` (what a snapshot taken now must record). */
  conf: ConfState;

  constructor(
    readonly id: NodeId,
    private readonly factory: RaftCoreFactory,
    private readonly tuning: RaftTuning,
    private readonly rng: Rng & { fork(): Rng },
    initialConf: ConfState,
    private readonly compaction: CompactionPolicy,
    private readonly observer: NodeObserver,
  ) {
    this.disk = factory.newDisk(initialConf);
    this.conf = initialConf;
  }

  get alive(): boolean {
    return this.raft !== null;
  }

  /** Starts an incarnation from what is on disk. */
  start(): void {
    const snap = this.disk.snapshot();
    this.kv = new KvStateMachine();
    this.kv.restore(snap.data);
    this.applied = snap.metadata.index;
    this.conf = snap.metadata.conf;
    this.incarnation++;
    this.role = 'follower';
    this.leader = NONE;
    this.raft = this.factory.newNode(
      { ...this.tuning, id: this.id, rng: this.rng.fork(), applied: this.applied },
      this.disk,
    );
    if (this.asyncDisk !== null) {
      this.asyncDisk.clear();
      this.asyncDisk.handedHard = this.disk.initialState().hardState;
      this.lastHanded = this.disk.lastIndex();
    }
    // The core restores the membership as of its persisted commit (conf entries it
    // re-delivers are not applied twice): snapshots taken from now on record that.
    this.conf = this.raft.status().conf ?? this.conf;
  }

  crash(): void {
    this.raft = null;
    this.crashPoint = null;
    this.paused = false;
    this.held.length = 0;
    this.asyncDisk?.clear();
    this.role = 'follower';
    this.leader = NONE;
  }

  restart(): void {
    this.disk = this.disk.clone();
    if (this.forgetVoteOnRestart) {
      const hs = this.disk.initialState().hardState;
      this.disk.setHardState({ ...hs, vote: NONE });
    }
    this.start();
  }

  /** Whether a taken Ready that changes term or vote is not durable yet (async disk). */
  termChangePending(): boolean {
    return this.asyncDisk?.termChangePending() ?? false;
  }

  /** Runs the Ready loop until the core has nothing more to say. */
  drive(): void {
    if (this.asyncDisk !== null) return this.driveAsync(this.asyncDisk);
    const raft = this.raft;
    if (raft === null) return;
    while (raft.hasReady()) {
      const rd = raft.ready();
      if (this.crashPoint === 'before-persist') return this.crashInReady();
      if (rd.softState !== null) {
        this.role = rd.softState.role;
        this.leader = rd.softState.leader;
        this.observer.onSoftState(this, rd.softState);
      }
      this.writeRole = this.role;
      // 1. persist
      this.writeToDisk(rd.snapshot, rd.entries, rd.hardState);
      if (this.crashPoint === 'after-persist') return this.crashInReady();
      // 2. send
      for (const m of rd.messages) this.observer.send(this, m);
      if (this.crashPoint === 'after-send') return this.crashInReady();
      // 3. apply, then serve reads
      this.applyReady(rd);
      // 4. advance
      raft.advance();
      if (this.raft !== raft) return; // an observer crashed us
    }
    this.maybeCompact();
  }

  /** Applies a Ready's snapshot and committed entries, then serves its reads. */
  private applyReady(rd: Ready): void {
    if (rd.snapshot !== null) {
      const prev = this.applied;
      this.kv.restore(rd.snapshot.data);
      this.applied = rd.snapshot.metadata.index;
      this.observer.onSnapshotRestored(this, rd.snapshot, prev);
    }
    let lastConfIndex = rd.snapshot !== null ? rd.snapshot.metadata.index : 0;
    for (const e of rd.committedEntries) {
      if (e.type === 'conf') lastConfIndex = e.index;
      const prev = this.applied;
      const outcome = e.type === 'normal' ? this.kv.apply(e.data) : null;
      this.applied = e.index;
      this.observer.onApplied(this, e, outcome, prev);
    }
    if (rd.confState !== undefined) {
      this.conf = rd.confState;
      this.observer.onConfState(this, rd.confState, lastConfIndex);
    }
    for (const rs of rd.readStates) this.observer.onReadState(this, rs);
  }

  /** A Ready's write reaches the disk (at once, or when the async disk completes it). */
  private writeToDisk(snapshot: Snapshot | null, entries: readonly Entry[], hardState: HardState | null): void {
    if (snapshot !== null) this.disk.applySnapshot(snapshot);
    this.lastIndexBeforeAppend = this.disk.lastIndex();
    if (entries.length > 0) this.disk.append(entries);
    if (hardState !== null) this.disk.setHardState(hardState);
    this.observer.onPersisted(this, hardState, entries, snapshot);
  }

  /**
   * The async disk Ready loop: finish the writes that are durable by now (in
   * order: persist, send what they held, advance), then take Readies while the
   * core has one and fewer than `maxOutstanding` are in flight. A taken Ready's
   * early messages leave at once, the rest wait for its write; its committed
   * entries are applied at once (committed means durable on a quorum). The core
   * reads this.disk, which holds only durable writes: advance() follows them.
   */
  private driveAsync(disk: AsyncDisk): void {
    const raft = this.raft;
    if (raft === null) return;
    for (;;) {
      for (let w = disk.due(); w !== null; w = disk.due()) {
        disk.shift();
        this.writeRole = w.role;
        this.writeToDisk(w.snapshot, w.entries, w.hardState);
        if (this.crashPoint === 'after-persist') return this.crashInReady();
        for (const m of w.held) this.observer.send(this, m);
        if (this.crashPoint === 'after-send') return this.crashInReady();
        raft.advance();
        if (this.raft !== raft) return;
      }
      if (disk.outstanding >= disk.maxOutstanding || !raft.hasReady()) break;
      const rd = raft.ready();
      this.checkHandedOut(disk, rd);
      if (this.crashPoint === 'before-persist') return this.crashInReady();
      if (rd.softState !== null) {
        this.role = rd.softState.role;
        this.leader = rd.softState.leader;
        this.observer.onSoftState(this, rd.softState);
      }
      const hs = rd.hardState;
      const prev = disk.handedHard;
      const termStable = hs === null || (hs.term === prev.term && hs.vote === prev.vote);
      if (hs !== null) disk.handedHard = hs;
      this.observer.onTaken(this, hs, termStable);
      const held: Message[] = [];
      for (const m of rd.messages) {
        if (this.wrongEarlyTypes.has(m.type) || sendsBeforePersist(m.type, termStable)) {
          disk.stats.earlyMessages++;
          this.observer.send(this, m);
        } else held.push(m);
      }
      disk.push({ snapshot: rd.snapshot, entries: rd.entries, hardState: hs, termChange: !termStable, role: this.role, held });
      this.applyReady(rd);
      if (this.raft !== raft) return; // an observer crashed us
    }
    this.maybeCompact();
  }

  /**
   * The core's side of the several-Readies contract: a Ready's entries follow
   * the last entry handed out, or replace a conflicting suffix (their first
   * entry differs in term from the one handed out at its index), and its
   * committed entries were handed out already (now or before).
   */
  private checkHandedOut(disk: AsyncDisk, rd: Ready): void {
    const fail = (detail: string): never => {
      throw new SimViolation('ready-contract', `n${this.id}: ${detail}`);
    };
    if (rd.snapshot !== null) this.lastHanded = rd.snapshot.metadata.index;
    const first = rd.entries[0];
    if (first !== undefined) {
      if (first.index > this.lastHanded + 1) fail(`Ready hands out entries from ${first.index}, but only up to ${this.lastHanded} were handed out`);
      if (first.index <= this.lastHanded) {
        const inFlight = disk.pendingTerm(first.index);
        const known = inFlight ?? (first.index >= this.disk.firstIndex() && first.index <= this.disk.lastIndex() ? this.disk.term(first.index) : null);
        if (known === first.term) fail(`Ready hands out entry ${first.index} (term ${first.term}) again (last handed out: ${this.lastHanded})`);
        if (inFlight !== null) disk.stats.replacedInFlight++;
      }
      this.lastHanded = rd.entries[rd.entries.length - 1]!.index;
    }
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined && lastCommitted.index > this.lastHanded) {
      fail(`Ready commits entry ${lastCommitted.index}, beyond the last entry handed out (${this.lastHanded})`);
    }
  }

  private crashInReady(): void {
    this.crash();
    this.crashedInReady = true;
  }

  private maybeCompact(): void {
    const { threshold, keep } = this.compaction;
    if (threshold <= 0) return;
    const snapIndex = this.disk.snapshot().metadata.index;
    if (this.applied - snapIndex <= threshold) return;
    // Async disk: applied may run ahead of the durable log, and a snapshot being
    // written must not find a newer one on disk.
    if (this.asyncDisk !== null && (this.applied > this.disk.initialState().hardState.commit || this.asyncDisk.snapshotPending())) return;
    this.disk.compact(this.applied, this.conf, this.kv.snapshot(), keep);
  }
}
