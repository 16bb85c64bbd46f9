/**
 * The durable Storage of one Raft group. The group's whole log, hard state,
 * membership and latest snapshot live in memory, so the core's reads are
 * synchronous; every change is written through to the node's database by the
 * shared GroupCommit. A change is visible to reads at once and durable when the
 * promise it returns resolves (or `NodeStore.flush()` does): send the messages
 * of a Ready only after that.
 *
 * Read semantics are those of MemoryStorage in src/raft (same errors, same
 * `maxBytes` rule), so the two are interchangeable for the core.
 */
import { copyConf } from '../raft/memory-storage.js';
import { CompactedError, UnavailableError } from '../raft/types.js';
import type { ConfState, Entry, HardState, Snapshot, SnapshotMetadata, Storage } from '../raft/types.js';
import {
  encodeConf,
  HARD_STATE_BYTES,
  encodeHardState,
  encodeHardStateInto,
  encodeLogStart,
  RUN_ENTRY_BYTES,
  encodeRun,
  encodeSnapshotMeta,
  runSize,
} from './codec.js';
import type { LogStart } from './codec.js';
import { GroupDroppedError } from './errors.js';
import type { Checked, GroupCommit } from './group-commit.js';
import {
  KIND_CONF,
  KIND_HARD_STATE,
  KIND_LOG_START,
  KIND_SNAPSHOT_META,
  RUN_KEY_BYTES,
  chunkKey,
  groupKey,
  runKey,
} from './keys.js';

/** A group's state as loaded from disk (or fresh). `entries` follow `start` without gaps. */
export interface GroupState {
  hardState: HardState;
  conf: ConfState;
  start: LogStart;
  snapshot: Snapshot;
  /** Chunks the snapshot occupies on disk. */
  snapshotChunks: number;
  entries: Entry[];
  /** The runs of entries on disk (keys.ts), ascending and contiguous; the first may begin at or below `start`. */
  runs: Run[];
}

/** A run of consecutive entries stored under one key (written by one append). */
export interface Run {
  readonly first: number;
  last: number;
}

export class GroupStorage implements Storage, Checked {
  private hs: HardState;
  private conf: ConfState;
  private start: LogStart;
  private snap: Snapshot;
  private snapChunks: number;
  /** ents[i] has index start.index + 1 + i. */
  private ents: Entry[];
  /** What is on disk: the runs holding the log, ascending, each beginning where the previous ends. */
  private runs: Run[];
  private readonly hardStateKey: Uint8Array;
  /**
   * The hard state's value as put in the accumulating batch (`hsBatch`): a later
   * setHardState before that batch starts rewrites it in place, so a batch holds
   * one hard-state put per group however many Readies it carries.
   */
  private readonly hsValue = new Uint8Array(new ArrayBuffer(HARD_STATE_BYTES));
  private hsBatch = -1;
  private readonly confKey: Uint8Array;
  private readonly logStartKey: Uint8Array;
  private readonly snapshotMetaKey: Uint8Array;
  /** Set by `drop()`: every later write throws GroupDroppedError. */
  private dropped = false;

  /** Built by NodeStore; use `NodeStore.group()`. */
  constructor(
    readonly groupId: number,
    state: GroupState,
    private readonly commit: GroupCommit,
    private readonly chunkSize: number,
  ) {
    this.hs = state.hardState;
    this.conf = state.conf;
    this.start = state.start;
    this.snap = state.snapshot;
    this.snapChunks = state.snapshotChunks;
    this.ents = state.entries;
    this.runs = state.runs;
    this.hardStateKey = groupKey(KIND_HARD_STATE, groupId);
    this.confKey = groupKey(KIND_CONF, groupId);
    this.logStartKey = groupKey(KIND_LOG_START, groupId);
    this.snapshotMetaKey = groupKey(KIND_SNAPSHOT_META, groupId);
  }

  /** @internal NodeStore: writes every record of a group that does not exist on disk yet. */
  writeAll(): Promise<void> {
    this.assertWritable();
    this.commit.put(this.hardStateKey, encodeHardState(this.hs));
    this.commit.put(this.confKey, encodeConf(this.conf));
    this.commit.put(this.logStartKey, encodeLogStart(this.start));
    this.putSnapshot(this.snap, 0);
    this.deleteRuns(Number.POSITIVE_INFINITY);
    const head = this.ents[0];
    if (head) {
      this.commit.put(runKey(this.groupId, head.index), encodeRun(this.ents, 0));
      this.runs.push({ first: head.index, last: this.lastIndex() });
    }
    this.commit.touch(this);
    return this.commit.durable();
  }

  /**
   * @internal NodeStore.dropGroup: deletes every key of the group in the batch
   * now accumulating and refuses all later writes through this object. The
   * in-memory view knows every key on disk (metadata, snapshot chunks, runs),
   * including those of writes still queued or in flight: batches are written in
   * order, so these deletes land after them. Reads keep showing the last view.
   */
  drop(): void {
    this.assertWritable();
    this.commit.del(this.hardStateKey);
    this.commit.del(this.confKey);
    this.commit.del(this.logStartKey);
    this.commit.del(this.snapshotMetaKey);
    for (let c = 0; c < this.snapChunks; c++) this.commit.del(chunkKey(this.groupId, c));
    this.deleteRuns(Number.POSITIVE_INFINITY);
    this.snapChunks = 0;
    this.dropped = true;
  }

  /** True once NodeStore.dropGroup removed this group. */
  get isDropped(): boolean {
    return this.dropped;
  }

  // ------------------------------------------------------------ Storage (reads)

  initialState(): { hardState: HardState; conf: ConfState } {
    return { hardState: this.hs, conf: this.conf };
  }

  firstIndex(): number {
    return this.start.index + 1;
  }

  lastIndex(): number {
    return this.start.index + this.ents.length;
  }

  term(index: number): number {
    const off = this.start.index;
    if (index < off) throw new CompactedError(index);
    if (index === off) return this.start.term;
    const e = this.ents[index - off - 1];
    if (!e) throw new UnavailableError(index);
    return e.term;
  }

  entries(lo: number, hi: number, maxBytes: number = Number.POSITIVE_INFINITY): Entry[] {
    const off = this.start.index;
    if (lo <= off) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    const out: Entry[] = [];
    let size = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - off - 1];
      if (!e) break;
      size += e.data.byteLength;
      if (out.length > 0 && size > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  // ------------------------------------------------------------ driver side (writes)

  setHardState(hs: HardState): Promise<void> {
    this.assertWritable();
    this.hs = { term: hs.term, vote: hs.vote, commit: hs.commit };
    encodeHardStateInto(this.hsValue, this.hs);
    if (this.hsBatch !== this.commit.accumulating) {
      this.commit.put(this.hardStateKey, this.hsValue);
      this.hsBatch = this.commit.accumulating;
    }
    this.commit.touch(this);
    return this.commit.durable();
  }

  setConf(conf: ConfState): Promise<void> {
    this.assertWritable();
    this.conf = copyConf(conf);
    this.commit.put(this.confKey, encodeConf(this.conf));
    return this.commit.durable();
  }

  /**
   * Appends entries, replacing any existing suffix from the first new index on
   * (a conflict): the keys of replaced entries beyond the new last index are
   * deleted in the same batch. Entries already compacted away are skipped.
   * Refuses to replace entries covered by the snapshot (they are applied).
   * `entries` (the array and its entries) must not change afterwards: the
   * store keeps them and encodes them when their batch is written.
   */
  append(entries: readonly Entry[]): Promise<void> {
    this.assertWritable();
    let from = 0;
    const off = this.start.index;
    const first = entries[0];
    if (first && first.index <= off) from = off + 1 - first.index;
    const head = entries[from];
    if (!head) return this.commit.durable();
    let bytes = RUN_KEY_BYTES + runSize(entries, from, from + 1);
    for (let i = from + 1; i < entries.length; i++) {
      const e = entries[i] as Entry;
      if (e.index !== head.index + (i - from)) {
        throw new Error(`group ${this.groupId}: append: entries not contiguous at ${e.index}`);
      }
      bytes += RUN_ENTRY_BYTES + e.data.byteLength;
    }
    const oldLast = this.lastIndex();
    if (head.index > oldLast + 1) {
      throw new Error(`group ${this.groupId}: append: gap: ${head.index} after ${oldLast}`);
    }
    if (head.index <= oldLast && head.index <= this.snap.metadata.index) {
      throw new Error(
        `group ${this.groupId}: append: would replace entry ${head.index} covered by the snapshot at ${this.snap.metadata.index}`,
      );
    }
    const ents = this.ents;
    if (head.index <= oldLast) {
      this.truncateRuns(head.index); // a conflict: the disk drops the suffix too
      ents.length = head.index - off - 1; // and so does the log in memory
    }
    for (let i = from; i < entries.length; i++) ents.push(entries[i] as Entry);
    // All new entries go under one key: one LevelDB put per append, not one per entry,
    // encoded when the batch is written (`entries` is not changed by its owner).
    this.commit.putRun(this.groupId, head.index, entries, from, entries.length, bytes);
    this.runs.push({ first: head.index, last: this.lastIndex() });
    this.commit.touch(this);
    return this.commit.durable();
  }

  /**
   * Records a snapshot of the state machine at `index` (≤ lastIndex), as
   * MemoryStorage does; returns the current snapshot if it is not newer. Durable
   * with the batch now accumulating (`NodeStore.flush()`).
   */
  createSnapshot(index: number, data: Uint8Array, conf?: ConfState): Snapshot {
    this.assertWritable();
    if (index <= this.snap.metadata.index) return this.snap;
    if (index > this.lastIndex()) throw new UnavailableError(index);
    const metadata: SnapshotMetadata = { index, term: this.term(index), conf: conf ? copyConf(conf) : this.conf };
    this.putSnapshot({ metadata, data }, this.snapChunks);
    // initialState().conf is the membership as of the snapshot: the core replays later conf entries.
    this.conf = metadata.conf;
    this.commit.put(this.confKey, encodeConf(this.conf));
    this.commit.touch(this);
    return this.snap;
  }

  /** Replaces the whole log by a snapshot received from the leader (InstallSnapshot). */
  applySnapshot(snap: Snapshot): Promise<void> {
    this.assertWritable();
    const { index, term } = snap.metadata;
    if (index <= this.snap.metadata.index) {
      throw new Error(`group ${this.groupId}: applySnapshot: snapshot at ${index} is not newer than ${this.snap.metadata.index}`);
    }
    this.deleteRuns(Number.POSITIVE_INFINITY);
    this.ents = [];
    this.start = { index, term };
    this.commit.put(this.logStartKey, encodeLogStart(this.start));
    this.putSnapshot(snap, this.snapChunks);
    this.conf = copyConf(snap.metadata.conf);
    this.commit.put(this.confKey, encodeConf(this.conf));
    this.commit.touch(this);
    return this.commit.durable();
  }

  /**
   * Drops the entries up to and including `index`, which becomes the log start
   * (its term stays readable as `term(firstIndex() - 1)`), as MemoryStorage.compact.
   * `index` must be covered by the snapshot: a log is never cut past what a
   * snapshot can replace.
   */
  compact(index: number): Promise<void> {
    this.assertWritable();
    const off = this.start.index;
    if (index <= off) return this.commit.durable();
    if (index > this.lastIndex()) throw new UnavailableError(index);
    if (index > this.snap.metadata.index) {
      throw new Error(`group ${this.groupId}: compact(${index}) past the snapshot at ${this.snap.metadata.index}`);
    }
    const term = this.term(index);
    // LevelDB has no atomic range delete; we know exactly which runs exist. A run
    // that straddles `index` stays (open skips its entries up to the log start).
    this.deleteRuns(index);
    this.ents.splice(0, index - off);
    this.start = { index, term };
    this.commit.put(this.logStartKey, encodeLogStart(this.start));
    this.commit.touch(this);
    return this.commit.durable();
  }

  // ------------------------------------------------------------ invariants

  /**
   * What a reopen requires: the hard state commits nothing beyond the log, and
   * the snapshot sits between the log start and the last index with matching term.
   */
  checkInvariants(): void {
    if (this.dropped) return; // its keys are deleted in this batch, whatever the view says
    const last = this.lastIndex();
    const g = this.groupId;
    if (this.hs.commit > last) throw new Error(`group ${g}: commit ${this.hs.commit} beyond last index ${last}`);
    const s = this.snap.metadata;
    if (s.index < this.start.index || s.index > last) {
      throw new Error(`group ${g}: snapshot at ${s.index} outside the log [${this.start.index}, ${last}]`);
    }
    if (this.term(s.index) !== s.term) {
      throw new Error(`group ${g}: snapshot term ${s.term} at ${s.index} differs from the log's ${this.term(s.index)}`);
    }
    const lastRun = this.runs[this.runs.length - 1];
    const firstRun = this.runs[0];
    if (this.ents.length > 0 && (lastRun?.last !== last || (firstRun?.first ?? Infinity) > this.start.index + 1)) {
      throw new Error(`group ${g}: the runs on disk do not cover the log [${this.start.index + 1}, ${last}]`);
    }
  }

  // ------------------------------------------------------------ helpers

  private assertWritable(): void {
    if (this.dropped) throw new GroupDroppedError(this.groupId);
    this.commit.assertWritable();
  }

  /** Deletes the runs that hold nothing above `index` (+Infinity: every run). */
  private deleteRuns(index: number): void {
    const runs = this.runs;
    let n = 0;
    while (n < runs.length && (runs[n] as Run).last <= index) {
      this.commit.del(runKey(this.groupId, (runs[n] as Run).first));
      n++;
    }
    if (n > 0) runs.splice(0, n);
  }

  /**
   * Makes the disk hold nothing from `from` on (called before a conflicting
   * append, while the in-memory log still holds every entry below `from`):
   * runs that begin at or after it are deleted; one that straddles it is
   * rewritten with its entries below `from` (those above the log start: the
   * compacted ones are no longer in memory, so such a run moves to a new key).
   */
  private truncateRuns(from: number): void {
    const runs = this.runs;
    while (runs.length > 0 && (runs[runs.length - 1] as Run).first >= from) {
      this.commit.del(runKey(this.groupId, (runs.pop() as Run).first));
    }
    const r = runs[runs.length - 1];
    if (r === undefined || r.last < from) return;
    const off = this.start.index;
    const lo = Math.max(r.first, off + 1);
    if (lo !== r.first) this.commit.del(runKey(this.groupId, r.first));
    if (lo > from - 1) {
      runs.pop();
      return;
    }
    this.commit.put(runKey(this.groupId, lo), encodeRun(this.ents, lo - off - 1, from - off - 1));
    runs[runs.length - 1] = { first: lo, last: from - 1 };
  }

  /** Writes `snap` in chunks, deleting chunks of the previous one that are not overwritten. */
  private putSnapshot(snap: Snapshot, oldChunks: number): void {
    const { data } = snap;
    const chunks = Math.ceil(data.byteLength / this.chunkSize);
    for (let c = 0; c < chunks; c++) {
      this.commit.put(chunkKey(this.groupId, c), data.subarray(c * this.chunkSize, (c + 1) * this.chunkSize));
    }
    for (let c = chunks; c < oldChunks; c++) this.commit.del(chunkKey(this.groupId, c));
    const { index, term, conf } = snap.metadata;
    this.commit.put(this.snapshotMetaKey, encodeSnapshotMeta({ index, term, conf, dataLength: data.byteLength, chunks }));
    this.snap = snap;
    this.snapChunks = chunks;
  }
}


