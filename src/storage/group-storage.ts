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
  encodeEntry,
  encodeHardState,
  encodeLogStart,
  encodeSnapshotMeta,
} from './codec.js';
import type { LogStart } from './codec.js';
import type { Checked, GroupCommit } from './group-commit.js';
import {
  KIND_CONF,
  KIND_HARD_STATE,
  KIND_LOG_START,
  KIND_SNAPSHOT_META,
  chunkKey,
  entryKey,
  groupKey,
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
}

export class GroupStorage implements Storage, Checked {
  private hs: HardState;
  private conf: ConfState;
  private start: LogStart;
  private snap: Snapshot;
  private snapChunks: number;
  /** ents[i] has index start.index + 1 + i. */
  private ents: Entry[];
  private readonly hardStateKey: Uint8Array;
  private readonly confKey: Uint8Array;
  private readonly logStartKey: Uint8Array;
  private readonly snapshotMetaKey: Uint8Array;

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
    this.hardStateKey = groupKey(KIND_HARD_STATE, groupId);
    this.confKey = groupKey(KIND_CONF, groupId);
    this.logStartKey = groupKey(KIND_LOG_START, groupId);
    this.snapshotMetaKey = groupKey(KIND_SNAPSHOT_META, groupId);
  }

  /** @internal NodeStore: writes every record of a group that does not exist on disk yet. */
  writeAll(): Promise<void> {
    this.commit.assertWritable();
    this.commit.put(this.hardStateKey, encodeHardState(this.hs));
    this.commit.put(this.confKey, encodeConf(this.conf));
    this.commit.put(this.logStartKey, encodeLogStart(this.start));
    this.putSnapshot(this.snap, 0);
    for (const e of this.ents) this.commit.put(entryKey(this.groupId, e.index), encodeEntry(e));
    this.commit.touch(this);
    return this.commit.durable();
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
    this.commit.assertWritable();
    this.hs = { term: hs.term, vote: hs.vote, commit: hs.commit };
    this.commit.put(this.hardStateKey, encodeHardState(this.hs));
    this.commit.touch(this);
    return this.commit.durable();
  }

  setConf(conf: ConfState): Promise<void> {
    this.commit.assertWritable();
    this.conf = copyConf(conf);
    this.commit.put(this.confKey, encodeConf(this.conf));
    return this.commit.durable();
  }

  /**
   * Appends entries, replacing any existing suffix from the first new index on
   * (a conflict): the keys of replaced entries beyond the new last index are
   * deleted in the same batch. Entries already compacted away are skipped.
   * Refuses to replace entries covered by the snapshot (they are applied).
   */
  append(entries: readonly Entry[]): Promise<void> {
    this.commit.assertWritable();
    let from = 0;
    const off = this.start.index;
    const first = entries[0];
    if (first && first.index <= off) from = off + 1 - first.index;
    const head = entries[from];
    if (!head) return this.commit.durable();
    for (let i = from + 1; i < entries.length; i++) {
      const e = entries[i];
      if (e && e.index !== head.index + (i - from)) {
        throw new Error(`group ${this.groupId}: append: entries not contiguous at ${e.index}`);
      }
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
    this.ents.length = head.index - off - 1; // drop the conflicting suffix
    for (let i = from; i < entries.length; i++) {
      const e = entries[i];
      if (!e) break;
      this.ents.push(e);
      this.commit.put(entryKey(this.groupId, e.index), encodeEntry(e));
    }
    for (let i = this.lastIndex() + 1; i <= oldLast; i++) this.commit.del(entryKey(this.groupId, i));
    this.commit.touch(this);
    return this.commit.durable();
  }

  /**
   * Records a snapshot of the state machine at `index` (≤ lastIndex), as
   * MemoryStorage does; returns the current snapshot if it is not newer. Durable
   * with the batch now accumulating (`NodeStore.flush()`).
   */
  createSnapshot(index: number, data: Uint8Array, conf?: ConfState): Snapshot {
    this.commit.assertWritable();
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
    this.commit.assertWritable();
    const { index, term } = snap.metadata;
    if (index <= this.snap.metadata.index) {
      throw new Error(`group ${this.groupId}: applySnapshot: snapshot at ${index} is not newer than ${this.snap.metadata.index}`);
    }
    this.deleteEntries(this.firstIndex(), this.lastIndex());
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
    this.commit.assertWritable();
    const off = this.start.index;
    if (index <= off) return this.commit.durable();
    if (index > this.lastIndex()) throw new UnavailableError(index);
    if (index > this.snap.metadata.index) {
      throw new Error(`group ${this.groupId}: compact(${index}) past the snapshot at ${this.snap.metadata.index}`);
    }
    const term = this.term(index);
    // LevelDB has no atomic range delete; the in-memory log knows exactly which keys exist.
    this.deleteEntries(off + 1, index);
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
  }

  // ------------------------------------------------------------ helpers

  private deleteEntries(lo: number, hi: number): void {
    for (let i = lo; i <= hi; i++) this.commit.del(entryKey(this.groupId, i));
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


