/**
 * The client writes a replica waits to apply, keyed by the log index the core
 * gave them: a ring of parallel arrays indexed by `index & mask` instead of a
 * Map of one record per write (no allocation per write, no hashing; the hot
 * path is `slotOf` + reads + `release` for each applied entry).
 *
 * Writes are added in increasing index order (a leader proposes at lastIndex + 1)
 * and mostly leave in that order (applied, expired, replaced), so the live ones
 * lie in [head, tail). Expiring walks from the head and stops at the first
 * write still in time, so a write expires at its deadline or once every
 * earlier write has, whichever is later (the node gives every write the same
 * timeout, so the two coincide). Indexes without a client write (no-ops,
 * touch and clock entries) are holes.
 */
import type { NodeError } from './errors.js';
import type { WriteOutcome } from './replica.js';

const EMPTY = -1;
const INITIAL_CAPACITY = 64;

export class PendingWrites {
  private mask = INITIAL_CAPACITY - 1;
  /** Log index held by each slot, or EMPTY. */
  private index = new Float64Array(INITIAL_CAPACITY).fill(EMPTY);
  private term = new Float64Array(INITIAL_CAPACITY);
  private startedAt = new Float64Array(INITIAL_CAPACITY);
  private deadlineAt = new Float64Array(INITIAL_CAPACITY);
  private peek: (string | null)[] = new Array<string | null>(INITIAL_CAPACITY).fill(null);
  private resolveFn: (((o: WriteOutcome) => void) | undefined)[] = new Array<((o: WriteOutcome) => void) | undefined>(INITIAL_CAPACITY);
  private rejectFn: (((e: NodeError) => void) | undefined)[] = new Array<((e: NodeError) => void) | undefined>(INITIAL_CAPACITY);
  /** Lowest index that may be live; every live index is in [head, tail). */
  private head = 0;
  private tail = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** True when a live write sits at `index` or above. */
  hasFrom(index: number): boolean {
    return this.count > 0 && index < this.tail;
  }

  /**
   * Adds the write proposed at `index`. The caller first settles every live
   * write at `index` or above (`takeFrom`): a new proposal at an index means
   * the entries there in older terms left this replica's log.
   */
  add(
    index: number,
    term: number,
    started: number,
    deadline: number,
    peekKey: string | null,
    resolve: (o: WriteOutcome) => void,
    reject: (e: NodeError) => void,
  ): void {
    if (this.count > 0 && index < this.tail) throw new Error(`pending write at ${index} below the tail ${this.tail}`);
    if (this.count === 0) this.head = index;
    else if (index - this.head > this.mask) this.grow(index - this.head + 1);
    const s = index & this.mask;
    this.index[s] = index;
    this.term[s] = term;
    this.startedAt[s] = started;
    this.deadlineAt[s] = deadline;
    this.peek[s] = peekKey;
    this.resolveFn[s] = resolve;
    this.rejectFn[s] = reject;
    this.tail = index + 1;
    this.count++;
  }

  /** The slot of the live write at `index`, or -1. Read it with termAt/startedOf/…, then `release` it. */
  slotOf(index: number): number {
    if (this.count === 0 || index < this.head || index >= this.tail) return -1;
    const s = index & this.mask;
    return this.index[s] === index ? s : -1;
  }

  termAt(slot: number): number {
    return this.term[slot] as number;
  }

  startedOf(slot: number): number {
    return this.startedAt[slot] as number;
  }

  peekKeyOf(slot: number): string | null {
    return this.peek[slot] as string | null;
  }

  resolveOf(slot: number): (o: WriteOutcome) => void {
    return this.resolveFn[slot] as (o: WriteOutcome) => void;
  }

  rejectOf(slot: number): (e: NodeError) => void {
    return this.rejectFn[slot] as (e: NodeError) => void;
  }

  /** Removes the write in `slot` (any live one); the head moves past released slots and holes. */
  release(slot: number): void {
    this.index[slot] = EMPTY;
    this.peek[slot] = null;
    this.resolveFn[slot] = undefined;
    this.rejectFn[slot] = undefined;
    this.count--;
    this.advanceHead();
  }

  /**
   * Removes every write whose deadline is at or before `now`, oldest first,
   * calling `onExpired(index, reject)` for each; returns how many.
   */
  expire(now: number, onExpired: (index: number, reject: (e: NodeError) => void) => void): number {
    let n = 0;
    while (this.count > 0) {
      const s = this.head & this.mask;
      if ((this.deadlineAt[s] as number) > now) break;
      const reject = this.rejectFn[s] as (e: NodeError) => void;
      const index = this.head;
      this.release(s);
      n++;
      onExpired(index, reject);
    }
    return n;
  }

  /** Removes every write at an index ≤ `index` (all of them: +Infinity) and returns their reject callbacks, oldest first. */
  takeUpTo(index: number): ((e: NodeError) => void)[] {
    const out: ((e: NodeError) => void)[] = [];
    while (this.count > 0 && this.head <= index) {
      const s = this.head & this.mask;
      out.push(this.rejectFn[s] as (e: NodeError) => void);
      this.release(s);
    }
    return out;
  }

  /** Removes every write at an index ≥ `index` and returns their reject callbacks, oldest first. */
  takeFrom(index: number): ((e: NodeError) => void)[] {
    const out: ((e: NodeError) => void)[] = [];
    if (this.count === 0 || index >= this.tail) return out;
    for (let i = Math.max(index, this.head); i < this.tail; i++) {
      const s = i & this.mask;
      if (this.index[s] !== i) continue;
      out.push(this.rejectFn[s] as (e: NodeError) => void);
      this.index[s] = EMPTY;
      this.peek[s] = null;
      this.resolveFn[s] = undefined;
      this.rejectFn[s] = undefined;
      this.count--;
    }
    this.tail = Math.max(this.head, index);
    if (this.count === 0) this.tail = this.head;
    else this.advanceHead();
    return out;
  }

  /** Moves the head to the lowest live index (past released slots and holes). */
  private advanceHead(): void {
    if (this.count === 0) {
      this.head = this.tail;
      return;
    }
    while (this.index[this.head & this.mask] !== this.head) this.head++;
  }

  /** Doubles the ring until `span` consecutive indexes fit, keeping every live write. */
  private grow(span: number): void {
    let cap = this.mask + 1;
    while (cap < span) cap *= 2;
    const mask = cap - 1;
    const index = new Float64Array(cap).fill(EMPTY);
    const term = new Float64Array(cap);
    const startedAt = new Float64Array(cap);
    const deadlineAt = new Float64Array(cap);
    const peek = new Array<string | null>(cap).fill(null);
    const resolveFn = new Array<((o: WriteOutcome) => void) | undefined>(cap);
    const rejectFn = new Array<((e: NodeError) => void) | undefined>(cap);
    for (let i = this.head; i < this.tail; i++) {
      const s = i & this.mask;
      if (this.index[s] !== i) continue;
      const t = i & mask;
      index[t] = i;
      term[t] = this.term[s] as number;
      startedAt[t] = this.startedAt[s] as number;
      deadlineAt[t] = this.deadlineAt[s] as number;
      peek[t] = this.peek[s] as string | null;
      resolveFn[t] = this.resolveFn[s];
      rejectFn[t] = this.rejectFn[s];
    }
    this.mask = mask;
    this.index = index;
    this.term = term;
    this.startedAt = startedAt;
    this.deadlineAt = deadlineAt;
    this.peek = peek;
    this.resolveFn = resolveFn;
    this.rejectFn = rejectFn;
  }
}
