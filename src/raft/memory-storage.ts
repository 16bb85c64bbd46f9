/**
 * An in-memory Storage for tests and the simulation. The driver writes to it
 * while handling a Ready (append, setHardState, applySnapshot); a crash is
 * modelled by keeping a clone of what was persisted.
 *
 * `ents[0]` is a dummy entry at the snapshot's (index, term), so term(firstIndex-1) works.
 */
import { CompactedError, UnavailableError } from './types.js';
import type { ConfState, Entry, HardState, Snapshot, Storage, NodeId } from './types.js';

const EMPTY = new Uint8Array(0);

export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private conf: ConfState;
  private snap: Snapshot;
  private ents: Entry[];

  /** `conf`: the initial membership, or just the voters' ids. */
  constructor(conf: ConfState | readonly NodeId[] = { voters: [], learners: [] }) {
    this.conf = isConfState(conf) ? copyConf(conf) : { voters: [...conf], learners: [] };
    this.snap = { metadata: { index: 0, term: 0, conf: this.conf }, data: EMPTY };
    this.ents = [{ term: 0, index: 0, type: 'normal', data: EMPTY }];
  }

  initialState(): { hardState: HardState; conf: ConfState } {
    return { hardState: this.hardState, conf: this.conf };
  }

  private dummy(): Entry {
    const d = this.ents[0];
    if (!d) throw new Error('memory storage: missing dummy entry');
    return d;
  }

  firstIndex(): number {
    return this.dummy().index + 1;
  }

  lastIndex(): number {
    return this.dummy().index + this.ents.length - 1;
  }

  term(index: number): number {
    const off = this.dummy().index;
    if (index < off) throw new CompactedError(index);
    const e = this.ents[index - off];
    if (!e) throw new UnavailableError(index);
    return e.term;
  }

  entries(lo: number, hi: number, maxBytes: number = Number.POSITIVE_INFINITY): Entry[] {
    const off = this.dummy().index;
    if (lo <= off) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    const out: Entry[] = [];
    let size = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - off];
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

  // ------------------------------------------------------------ driver side

  setHardState(hs: HardState): void {
    this.hardState = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  setConf(conf: ConfState): void {
    this.conf = copyConf(conf);
  }

  /** Appends entries, truncating any existing suffix from the first new index on. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (!first) return;
    const off = this.dummy().index;
    if (first.index <= off) {
      // Entries already covered by the snapshot: skip them.
      const skip = off + 1 - first.index;
      if (skip >= entries.length) return;
      this.append(entries.slice(skip));
      return;
    }
    if (first.index > this.lastIndex() + 1) {
      throw new Error(`memory storage: gap: appending ${first.index} after ${this.lastIndex()}`);
    }
    this.ents.length = first.index - off; // drop the conflicting suffix
    for (const e of entries) this.ents.push(e);
  }

  /** Replaces the whole log by a snapshot (InstallSnapshot on a follower). */
  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index <= this.snap.metadata.index) throw new Error('memory storage: snapshot out of date');
    this.snap = snap;
    this.conf = copyConf(snap.metadata.conf);
    this.ents = [{ term: snap.metadata.term, index: snap.metadata.index, type: 'normal', data: EMPTY }];
  }

  /** Records a snapshot of the state machine at `index` (≤ lastIndex); call compact() to drop the log before it. */
  createSnapshot(index: number, data: Uint8Array, conf?: ConfState): Snapshot {
    if (index <= this.snap.metadata.index) return this.snap;
    if (index > this.lastIndex()) throw new UnavailableError(index);
    this.snap = { metadata: { index, term: this.term(index), conf: conf ? copyConf(conf) : this.conf }, data };
    // initialState().conf is the membership as of the snapshot: the core replays later conf entries.
    this.conf = this.snap.metadata.conf;
    return this.snap;
  }

  /** Drops entries before `index` (keeps `index` as the new dummy). */
  compact(index: number): void {
    const off = this.dummy().index;
    if (index <= off) return;
    if (index > this.lastIndex()) throw new UnavailableError(index);
    const d = this.ents[index - off];
    if (!d) throw new UnavailableError(index);
    this.ents = [{ term: d.term, index: d.index, type: 'normal', data: EMPTY }, ...this.ents.slice(index - off + 1)];
  }

  /** A deep-enough copy (entries are immutable): what survives a crash. */
  clone(): MemoryStorage {
    const c = new MemoryStorage(this.conf);
    c.hardState = this.hardState;
    c.snap = this.snap;
    c.ents = this.ents.slice();
    return c;
  }

  /** Every entry held (for checks in tests and the simulation). */
  allEntries(): readonly Entry[] {
    return this.ents.slice(1);
  }
}

function isConfState(c: ConfState | readonly NodeId[]): c is ConfState {
  return !Array.isArray(c);
}

/** A deep copy of a membership, joint part included. */
export function copyConf(c: ConfState): ConfState {
  const out: ConfState = { voters: [...c.voters], learners: [...c.learners] };
  if (!c.votersOutgoing || c.votersOutgoing.length === 0) return out;
  return { ...out, votersOutgoing: [...c.votersOutgoing], autoLeave: c.autoLeave ?? false };
}
