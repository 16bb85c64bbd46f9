/**
 * The expiry index: a binary min-heap over LRU slots keyed by
 * (expiresAt, seq), where seq is a per-write sequence number that breaks ties
 * deterministically. Every slot's heap position is tracked, so insert, update
 * and removal are O(log n) and popping all expired entries costs
 * O(k log n) for k expired entries — the cache is never scanned.
 */

const NOT_IN_HEAP = -1;

export class ExpiryHeap {
  /** heap[i] = slot at heap position i (0..length-1). */
  private heap: Int32Array;
  private length = 0;
  /** Per slot: position in `heap`, or NOT_IN_HEAP. */
  private pos: Int32Array;
  private expiry: Float64Array;
  private seqs: Float64Array;

  constructor(slotCapacity = 16) {
    this.heap = new Int32Array(Math.max(1, slotCapacity));
    this.pos = new Int32Array(Math.max(1, slotCapacity)).fill(NOT_IN_HEAP);
    this.expiry = new Float64Array(Math.max(1, slotCapacity));
    this.seqs = new Float64Array(Math.max(1, slotCapacity));
  }

  get size(): number {
    return this.length;
  }

  /** Makes room for slots 0..capacity-1 (grows by at least doubling). */
  ensureSlotCapacity(capacity: number): void {
    if (capacity <= this.pos.length) return;
    const cap = Math.max(capacity, this.pos.length * 2);
    const pos = new Int32Array(cap).fill(NOT_IN_HEAP);
    pos.set(this.pos);
    this.pos = pos;
    const heap = new Int32Array(cap);
    heap.set(this.heap);
    this.heap = heap;
    const expiry = new Float64Array(cap);
    expiry.set(this.expiry);
    this.expiry = expiry;
    const seqs = new Float64Array(cap);
    seqs.set(this.seqs);
    this.seqs = seqs;
  }

  has(slot: number): boolean {
    return slot < this.pos.length && (this.pos[slot] as number) !== NOT_IN_HEAP;
  }

  /** The expiry time of `slot`, or Infinity when it has none. */
  expiresAt(slot: number): number {
    return this.has(slot) ? (this.expiry[slot] as number) : Infinity;
  }

  /** The tiebreak sequence of `slot` (meaningful only when it has an expiry). */
  seqOf(slot: number): number {
    return this.seqs[slot] as number;
  }

  /** Inserts `slot` or updates its key. */
  set(slot: number, expiresAt: number, seq: number): void {
    this.expiry[slot] = expiresAt;
    this.seqs[slot] = seq;
    const p = this.pos[slot] as number;
    if (p === NOT_IN_HEAP) {
      const i = this.length++;
      this.heap[i] = slot;
      this.pos[slot] = i;
      this.siftUp(i);
    } else {
      this.siftUp(p);
      this.siftDown(this.pos[slot] as number);
    }
  }

  /** Removes `slot` if present. */
  remove(slot: number): void {
    if (slot >= this.pos.length) return;
    const p = this.pos[slot] as number;
    if (p === NOT_IN_HEAP) return;
    this.pos[slot] = NOT_IN_HEAP;
    const lastIndex = --this.length;
    if (p === lastIndex) return;
    const moved = this.heap[lastIndex] as number;
    this.heap[p] = moved;
    this.pos[moved] = p;
    this.siftUp(p);
    this.siftDown(this.pos[moved] as number);
  }

  /** The slot with the smallest (expiresAt, seq), or -1 when empty. */
  minSlot(): number {
    return this.length === 0 ? -1 : (this.heap[0] as number);
  }

  /** The smallest expiry time, or Infinity when empty. */
  minExpiresAt(): number {
    return this.length === 0 ? Infinity : (this.expiry[this.heap[0] as number] as number);
  }

  private less(a: number, b: number): boolean {
    const ea = this.expiry[a] as number;
    const eb = this.expiry[b] as number;
    return ea < eb || (ea === eb && (this.seqs[a] as number) < (this.seqs[b] as number));
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const slot = heap[i] as number;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex] as number;
      if (!this.less(slot, parent)) break;
      heap[i] = parent;
      this.pos[parent] = i;
      i = parentIndex;
    }
    heap[i] = slot;
    this.pos[slot] = i;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = this.length;
    const slot = heap[i] as number;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let child = l;
      if (r < n && this.less(heap[r] as number, heap[l] as number)) child = r;
      const c = heap[child] as number;
      if (!this.less(c, slot)) break;
      heap[i] = c;
      this.pos[c] = i;
      i = child;
    }
    heap[i] = slot;
    this.pos[slot] = i;
  }
}
