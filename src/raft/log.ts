/**
 * The Raft log as the core sees it: the stable part (in Storage, written by the
 * driver) followed by the unstable part (entries and maybe a snapshot not yet
 * handed to the driver / not yet persisted). Also tracks commit and applied.
 *
 * Invariant: every index below `unstable.offset` is in storage (or the snapshot);
 * from `offset` on, the unstable entries win over whatever storage still holds.
 */
import { CompactedError, UnavailableError } from './types.js';
import type { Entry, Snapshot, Storage } from './types.js';

export function entryBytes(e: Entry): number {
  return e.data.byteLength;
}

export function entriesBytes(ents: readonly Entry[]): number {
  let n = 0;
  for (const e of ents) n += e.data.byteLength;
  return n;
}

class Unstable {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  /**
   * Entries up to this index have been handed to the driver in a Ready that is
   * not yet advanced (or already are stable): the next Ready hands out only
   * those after it. Several Readies may be outstanding (RawNode, decision 27).
   */
  inProgress: number;
  /** The snapshot has been handed to the driver. */
  snapshotInProgress = false;
  constructor(public offset: number) {
    this.inProgress = offset - 1;
  }

  maybeFirstIndex(): number | null {
    return this.snapshot ? this.snapshot.metadata.index + 1 : null;
  }

  maybeLastIndex(): number | null {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot) return this.snapshot.metadata.index;
    return null;
  }

  maybeTerm(i: number): number | null {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return null;
    }
    const e = this.entries[i - this.offset];
    return e ? e.term : null;
  }

  /** Entries not yet handed to the driver. */
  toHandOut(): Entry[] {
    const from = this.inProgress + 1 - this.offset;
    if (from >= this.entries.length) return [];
    return from <= 0 ? this.entries.slice() : this.entries.slice(from);
  }

  hasToHandOut(): boolean {
    return this.inProgress + 1 - this.offset < this.entries.length;
  }

  /** Everything unstable now has been handed to the driver. */
  acceptInProgress(): void {
    this.inProgress = this.offset + this.entries.length - 1;
    if (this.snapshot) this.snapshotInProgress = true;
  }

  stableTo(i: number, t: number): void {
    const term = this.maybeTerm(i);
    if (term === null || term !== t || i < this.offset) return;
    this.entries = this.entries.slice(i + 1 - this.offset);
    this.offset = i + 1;
    if (this.inProgress < i) this.inProgress = i;
  }

  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.metadata.index === i) {
      this.snapshot = null;
      this.snapshotInProgress = false;
    }
  }

  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.entries = [];
    this.snapshot = s;
    this.inProgress = s.metadata.index;
    this.snapshotInProgress = false;
  }

  truncateAndAppend(ents: readonly Entry[]): void {
    const first = ents[0];
    if (!first) return;
    const after = first.index;
    if (after === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      // Replaces everything unstable (and, from `after` on, what storage holds).
      this.offset = after;
      this.entries = ents.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset);
      for (const e of ents) this.entries.push(e);
    }
    // Replaced entries handed out earlier are handed out again (the replacements).
    if (this.inProgress >= after) this.inProgress = after - 1;
  }

  slice(lo: number, hi: number): Entry[] {
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}

export class RaftLog {
  private readonly unstable: Unstable;
  committed: number;
  /** Highest index the driver has applied (acknowledged through advance). */
  applied: number;
  /** Highest index handed to the driver for applying (≥ applied). */
  applying: number;

  constructor(
    readonly storage: Storage,
    applied: number,
  ) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applied = Math.max(applied, first - 1);
    this.applying = this.applied;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Last index known to be in stable storage. */
  persistedLastIndex(): number {
    if (this.unstable.entries.length > 0 || this.unstable.snapshot) return this.unstable.offset - 1;
    return this.storage.lastIndex();
  }

  /** Term of entry `i`; throws CompactedError / UnavailableError. */
  term(i: number): number {
    const dummy = this.firstIndex() - 1;
    if (i < dummy) throw new CompactedError(i);
    if (i > this.lastIndex()) throw new UnavailableError(i);
    const t = this.unstable.maybeTerm(i);
    if (t !== null) return t;
    return this.storage.term(i);
  }

  /** Term of entry `i`, or 0 when it is compacted or not there. */
  zeroTermOnError(i: number): number {
    // Bounds first: building an Error (stack trace) on a hot path is expensive.
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return 0;
    try {
      return this.term(i);
    } catch (err) {
      if (err instanceof CompactedError || err instanceof UnavailableError) return 0;
      throw err;
    }
  }

  lastTerm(): number {
    return this.zeroTermOnError(this.lastIndex());
  }

  matchTerm(i: number, t: number): boolean {
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return false;
    try {
      return this.term(i) === t;
    } catch (err) {
      if (err instanceof CompactedError || err instanceof UnavailableError) return false;
      throw err;
    }
  }

  /** §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * The follower side of AppendEntries. Returns the index of the last new entry,
   * or null if the log does not contain (prevIndex, prevTerm).
   */
  maybeAppend(prevIndex: number, prevTerm: number, committed: number, ents: readonly Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) throw new Error(`raft log: conflict at ${ci} is at or below commit ${this.committed}`);
      this.append(ents.slice(ci - (prevIndex + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  /** First index in `ents` whose term differs from ours (or that we lack); 0 if all match. */
  private findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast backtracking (etcd's findConflictByTerm): the largest index ≤ `index`
   * whose term is ≤ `term`, with that term. Entries after it cannot match a log
   * whose entry at `index` has term `term`.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (;;) {
      let t: number;
      try {
        t = this.term(i);
      } catch (err) {
        if (err instanceof CompactedError || err instanceof UnavailableError) return { index: i, term: 0 };
        throw err;
      }
      if (t <= term || i === 0) return { index: i, term: t };
      i--;
    }
  }

  append(ents: readonly Entry[]): number {
    const first = ents[0];
    if (!first) return this.lastIndex();
    if (first.index - 1 < this.committed) throw new Error(`raft log: append at ${first.index} below commit ${this.committed}`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  commitTo(i: number): void {
    if (i > this.committed) {
      if (i > this.lastIndex()) throw new Error(`raft log: commit ${i} beyond last index ${this.lastIndex()}`);
      this.committed = i;
    }
  }

  /** Leader commit rule (Figure 8): only an entry of the current term commits by counting. */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.zeroTermOnError(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  /** Entries in [lo, hi) with at most about `maxBytes` of data (at least one). Throws CompactedError. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo >= hi) return [];
    const first = this.firstIndex();
    if (lo < first) throw new CompactedError(lo);
    const last = this.lastIndex();
    if (hi > last + 1) throw new Error(`raft log: slice [${lo},${hi}) out of bounds [${first},${last}]`);
    let out: Entry[] = [];
    const off = this.unstable.offset;
    if (lo < off) {
      out = this.storage.entries(lo, Math.min(hi, off), maxBytes);
      if (out.length < Math.min(hi, off) - lo) return out; // size-limited
    }
    if (hi > off) {
      const tail = this.unstable.slice(Math.max(lo, off), hi);
      for (const e of tail) out.push(e);
    }
    return limitSize(out, maxBytes);
  }

  /** Entries from `i` to the end, at most about `maxBytes` of data. */
  entriesFrom(i: number, maxBytes: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxBytes);
  }

  unstableEntries(): readonly Entry[] {
    return this.unstable.entries;
  }

  unstableSnapshot(): Snapshot | null {
    return this.unstable.snapshot;
  }

  /** Unstable entries not yet handed to the driver (a copy). */
  entriesToHandOut(): Entry[] {
    return this.unstable.toHandOut();
  }

  hasEntriesToHandOut(): boolean {
    return this.unstable.hasToHandOut();
  }

  /** The unstable snapshot, if it has not been handed to the driver yet. */
  snapshotToHandOut(): Snapshot | null {
    return this.unstable.snapshotInProgress ? null : this.unstable.snapshot;
  }

  /** Marks every unstable entry (and the snapshot) as handed to the driver. */
  acceptInProgress(): void {
    this.unstable.acceptInProgress();
  }

  hasNextCommittedEntries(): boolean {
    return this.committed > this.applying && this.committed >= this.firstIndex();
  }

  /** The committed entries not yet handed out for applying. */
  nextCommittedEntries(maxBytes: number): Entry[] {
    if (!this.hasNextCommittedEntries()) return [];
    const lo = Math.max(this.applying + 1, this.firstIndex());
    return this.slice(lo, this.committed + 1, maxBytes);
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    if (i > this.committed) throw new Error(`raft log: applied ${i} beyond commit ${this.committed}`);
    if (i > this.applied) this.applied = i;
    if (i > this.applying) this.applying = i;
  }

  acceptApplying(i: number): void {
    if (i > this.applying) this.applying = i;
  }

  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /** The newest snapshot: the unstable one if any, else storage's. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }
}

function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0 || maxBytes <= 0) return ents;
  let size = 0;
  for (let i = 0; i < ents.length; i++) {
    size += ents[i]?.data.byteLength ?? 0;
    if (size > maxBytes && i > 0) return ents.slice(0, i);
  }
  return ents;
}
