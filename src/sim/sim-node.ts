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
  RaftNodeApi,
  ReadState,
  Snapshot,
  SoftState,
  Storage,
} from '../raft/types.js';
import { NONE } from '../raft/types.js';
import type { Rng } from '../util/rng.js';
import type { ClockRate, CrashPoint } from './faults.js';
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
    // The core restores the membership as of its persisted commit (conf entries it
    // re-delivers are not applied twice): snapshots taken from now on record that.
    this.conf = this.raft.status().conf ?? this.conf;
  }

  crash(): void {
    this.raft = null;
    this.crashPoint = null;
    this.paused = false;
    this.held.length = 0;
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

  /** Runs the Ready loop until the core has nothing more to say. */
  drive(): void {
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
      // 1. persist
      if (rd.snapshot !== null) this.disk.applySnapshot(rd.snapshot);
      this.lastIndexBeforeAppend = this.disk.lastIndex();
      if (rd.entries.length > 0) this.disk.append(rd.entries);
      if (rd.hardState !== null) this.disk.setHardState(rd.hardState);
      this.observer.onPersisted(this, rd.hardState, rd.entries, rd.snapshot);
      if (this.crashPoint === 'after-persist') return this.crashInReady();
      // 2. send
      for (const m of rd.messages) this.observer.send(this, m);
      if (this.crashPoint === 'after-send') return this.crashInReady();
      // 3. apply, then serve reads
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
      // 4. advance
      raft.advance();
      if (this.raft !== raft) return; // an observer crashed us
    }
    this.maybeCompact();
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
    this.disk.compact(this.applied, this.conf, this.kv.snapshot(), keep);
  }
}
