/**
 * The memo of the search: a hash set of (set of linearized operations, model
 * state) pairs already explored. Everything lives in typed arrays (open
 * addressing with linear probing; bitsets appended to one word pool), so adding
 * an entry allocates nothing except when a table doubles.
 *
 * Bitsets are stored compactly: the search linearizes operations roughly in
 * order, so a set is "every operation below some point, plus a few". An entry
 * keeps only the words from the first not-full word (`lo`) up to the last
 * non-zero word (`hi`); the words below `lo` are all ones, those from `hi` on
 * all zeros. Memory per entry is then about concurrency/32 words, not n/32.
 */
export const ADDED = 1;
export const PRESENT = 0;
export const FULL = -1;
export type AddResult = typeof ADDED | typeof PRESENT | typeof FULL;

export class VisitedSet {
  /** Slot → entry index + 1 (0 = empty). */
  private slots: Int32Array;
  private mask: number;
  private entryHash: Int32Array;
  private entryState: Int32Array;
  private entryLo: Int32Array;
  private entryStart: Int32Array;
  private entryLength: Int32Array;
  private pool: Uint32Array;
  private poolUsed = 0;
  private count = 0;
  /** Bytes the set may hold; past it `addIfAbsent` reports FULL. */
  private readonly maxBytes: number;

  constructor(maxBytes: number, initialCapacity = 1024) {
    this.maxBytes = maxBytes;
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
    const entries = cap >> 1;
    this.entryHash = new Int32Array(entries);
    this.entryState = new Int32Array(entries);
    this.entryLo = new Int32Array(entries);
    this.entryStart = new Int32Array(entries);
    this.entryLength = new Int32Array(entries);
    this.pool = new Uint32Array(entries * 2);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the tables. */
  get bytes(): number {
    return this.slots.byteLength + this.entryHash.byteLength * 5 + this.pool.byteLength;
  }

  /**
   * Adds (bits, state) unless present. `hash` must be a hash of the set alone
   * (the caller keeps it incrementally); `lo` is the index of the first word of
   * `bits` that is not all ones, `hi` one past the last non-zero word.
   */
  addIfAbsent(bits: Uint32Array, lo: number, hi: number, hash: number, state: number): AddResult {
    const h = (hash ^ Math.imul(state + 1, 0x9e3779b1)) | 0;
    const length = hi > lo ? hi - lo : 0;
    const slots = this.slots;
    const mask = this.mask;
    let slot = mix(h) & mask;
    for (;;) {
      const ref = slots[slot]!;
      if (ref === 0) break;
      const e = ref - 1;
      if (this.entryHash[e] === h && this.entryState[e] === state && this.entryLo[e] === lo && this.entryLength[e] === length) {
        const start = this.entryStart[e]!;
        const pool = this.pool;
        let same = true;
        for (let w = 0; w < length; w++) {
          if (pool[start + w] !== bits[lo + w]) {
            same = false;
            break;
          }
        }
        if (same) return PRESENT;
      }
      slot = (slot + 1) & mask;
    }
    const e = this.count;
    if (e >= this.entryHash.length || this.poolUsed + length > this.pool.length) {
      if (this.bytes * 2 > this.maxBytes) return FULL;
      this.grow(length);
      return this.addIfAbsent(bits, lo, hi, hash, state);
    }
    this.count = e + 1;
    this.entryHash[e] = h;
    this.entryState[e] = state;
    this.entryLo[e] = lo;
    this.entryStart[e] = this.poolUsed;
    this.entryLength[e] = length;
    for (let w = 0; w < length; w++) this.pool[this.poolUsed + w] = bits[lo + w]!;
    this.poolUsed += length;
    slots[slot] = e + 1;
    return ADDED;
  }

  private grow(need: number): void {
    if (this.poolUsed + need > this.pool.length) {
      let size = this.pool.length * 2;
      while (size < this.poolUsed + need) size *= 2;
      const pool = new Uint32Array(size);
      pool.set(this.pool.subarray(0, this.poolUsed));
      this.pool = pool;
    }
    if (this.count < this.entryHash.length) return;
    const cap = this.slots.length * 2;
    const entries = cap >> 1;
    const widen = (a: Int32Array): Int32Array => {
      const b = new Int32Array(entries);
      b.set(a);
      return b;
    };
    this.entryHash = widen(this.entryHash);
    this.entryState = widen(this.entryState);
    this.entryLo = widen(this.entryLo);
    this.entryStart = widen(this.entryStart);
    this.entryLength = widen(this.entryLength);
    const slots = new Int32Array(cap);
    const mask = cap - 1;
    for (let e = 0; e < this.count; e++) {
      let slot = mix(this.entryHash[e]!) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = e + 1;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/** Final mixing step of murmur3, so nearby hashes spread over the table. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}
