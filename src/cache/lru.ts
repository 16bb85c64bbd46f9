/**
 * The LRU structure: a hash map from key to slot index plus an intrusive,
 * circular doubly linked list over slots, stored as a struct of arrays
 * (typed arrays for links and sizes, plain packed arrays for keys and values).
 * No object is allocated per entry; freed slots are chained on a free list and
 * the arrays grow by doubling.
 *
 * Slot 0 is the list sentinel: next[0] is the least recently used slot,
 * prev[0] the most recently used one. Real entries use slots 1..capacity-1.
 *
 * Value ownership: a value stored with `owned = true` is a private copy that
 * no one else references, so an overwrite of the same length may copy into it
 * (overwriteOwned) instead of allocating. valueAt() hands the array out and
 * therefore clears the mark: an array a caller holds is never mutated.
 */

const EMPTY_VALUE: Uint8Array = new Uint8Array(0);
const NO_SLOT = -1;

export class LruStore {
  private readonly index = new Map<string, number>();
  private keys: string[];
  private values: Uint8Array[];
  private prev: Int32Array;
  private next: Int32Array;
  private sizes: Float64Array;
  /** Per slot: 1 when values[slot] is a private copy never handed out (see overwriteOwned). */
  private owned: Uint8Array;
  /** Head of the free list (chained through `next`), or NO_SLOT. */
  private freeHead = NO_SLOT;
  /** Slots below this were handed out at least once; slots above it are fresh. */
  private highWater = 1;
  private totalBytes = 0;

  constructor(initialCapacity = 16) {
    const cap = Math.max(2, initialCapacity + 1);
    this.keys = new Array<string>(cap).fill('');
    this.values = new Array<Uint8Array>(cap).fill(EMPTY_VALUE);
    this.prev = new Int32Array(cap);
    this.next = new Int32Array(cap);
    this.sizes = new Float64Array(cap);
    this.owned = new Uint8Array(cap);
  }

  /** Number of slots (including the sentinel); per-slot side arrays must be at least this long. */
  get capacity(): number {
    return this.prev.length;
  }

  get size(): number {
    return this.index.size;
  }

  /** Sum of the sizes of all entries. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** The slot holding `key`, or -1. */
  slotOf(key: string): number {
    const slot = this.index.get(key);
    return slot === undefined ? NO_SLOT : slot;
  }

  keyAt(slot: number): string {
    return this.keys[slot] as string;
  }

  /** The value at `slot`. It is handed out: from now on it is never written into. */
  valueAt(slot: number): Uint8Array {
    this.owned[slot] = 0;
    return this.values[slot] as Uint8Array;
  }

  /**
   * The value at `slot` for a look that ends before the store changes again
   * (a comparison, a parse): not handed out, so a same-size overwrite may
   * still reuse its memory. Never keep it.
   */
  peekValueAt(slot: number): Uint8Array {
    return this.values[slot] as Uint8Array;
  }

  /** Length of the value at `slot` (does not hand it out). */
  valueLengthAt(slot: number): number {
    return (this.values[slot] as Uint8Array).length;
  }

  sizeAt(slot: number): number {
    return this.sizes[slot] as number;
  }

  /** Least recently used slot, or -1 when empty. */
  lruSlot(): number {
    const s = this.next[0] as number;
    return s === 0 ? NO_SLOT : s;
  }

  /** Most recently used slot, or -1 when empty. */
  mruSlot(): number {
    const s = this.prev[0] as number;
    return s === 0 ? NO_SLOT : s;
  }

  /** The next more recently used slot after `slot`, or -1 at the MRU end. */
  newerThan(slot: number): number {
    const s = this.next[slot] as number;
    return s === 0 ? NO_SLOT : s;
  }

  /**
   * Inserts an absent key as the most recently used entry; returns its slot.
   * owned: `value` is a private copy nobody else references (see overwriteOwned).
   */
  insert(key: string, value: Uint8Array, size: number, owned = false): number {
    const slot = this.allocSlot();
    this.keys[slot] = key;
    this.values[slot] = value;
    this.owned[slot] = owned ? 1 : 0;
    this.sizes[slot] = size;
    this.totalBytes += size;
    this.index.set(key, slot);
    this.linkAtMru(slot);
    return slot;
  }

  /** Replaces the value of an existing slot (recency unchanged). owned: as for insert. */
  setValue(slot: number, value: Uint8Array, size: number, owned = false): void {
    this.totalBytes += size - (this.sizes[slot] as number);
    this.values[slot] = value;
    this.owned[slot] = owned ? 1 : 0;
    this.sizes[slot] = size;
  }

  /**
   * Replaces the value of an existing slot with src[start, end) by copying into
   * the stored array, when that array is a private copy of exactly that length;
   * returns false (and changes nothing) otherwise. Recency unchanged.
   */
  overwriteOwned(slot: number, src: Uint8Array, start: number, end: number, size: number): boolean {
    if (this.owned[slot] !== 1) return false;
    const value = this.values[slot] as Uint8Array;
    const n = end - start;
    if (value.length !== n) return false;
    if (n <= 128) for (let i = 0; i < n; i++) value[i] = src[start + i] as number;
    else value.set(src.subarray(start, end));
    this.totalBytes += size - (this.sizes[slot] as number);
    this.sizes[slot] = size;
    return true;
  }

  moveToMru(slot: number): void {
    if ((this.prev[0] as number) === slot) return;
    this.unlink(slot);
    this.linkAtMru(slot);
  }

  remove(slot: number): void {
    this.index.delete(this.keys[slot] as string);
    this.unlink(slot);
    this.totalBytes -= this.sizes[slot] as number;
    this.keys[slot] = '';
    this.values[slot] = EMPTY_VALUE;
    this.owned[slot] = 0;
    this.sizes[slot] = 0;
    this.next[slot] = this.freeHead;
    this.freeHead = slot;
  }

  private unlink(slot: number): void {
    const p = this.prev[slot] as number;
    const n = this.next[slot] as number;
    this.next[p] = n;
    this.prev[n] = p;
  }

  private linkAtMru(slot: number): void {
    const last = this.prev[0] as number;
    this.next[last] = slot;
    this.prev[slot] = last;
    this.next[slot] = 0;
    this.prev[0] = slot;
  }

  private allocSlot(): number {
    if (this.freeHead !== NO_SLOT) {
      const slot = this.freeHead;
      this.freeHead = this.next[slot] as number;
      return slot;
    }
    if (this.highWater === this.prev.length) this.grow();
    return this.highWater++;
  }

  private grow(): void {
    const cap = this.prev.length * 2;
    const prev = new Int32Array(cap);
    prev.set(this.prev);
    this.prev = prev;
    const next = new Int32Array(cap);
    next.set(this.next);
    this.next = next;
    const sizes = new Float64Array(cap);
    sizes.set(this.sizes);
    this.sizes = sizes;
    const owned = new Uint8Array(cap);
    owned.set(this.owned);
    this.owned = owned;
    for (let i = this.keys.length; i < cap; i++) {
      this.keys.push('');
      this.values.push(EMPTY_VALUE);
    }
  }
}

/** UTF-8 byte length of a string without encoding it. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3; // lone surrogate: encoded as U+FFFD (3 bytes)
    } else n += 3;
  }
  return n;
}

export interface LruCacheOptions {
  maxEntries: number;
  maxBytes: number;
  /** Added to every entry's size (key UTF-8 bytes + value bytes). */
  entryOverhead?: number;
}

/**
 * A plain in-process LRU cache on top of LruStore, where `get` refreshes
 * recency. Not the replicated state machine (whose reads never change state);
 * useful for a client near-cache and as the benchmark's like-for-like
 * counterpart of the `lru-cache` package.
 */
export class LruCache {
  private readonly store: LruStore;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly overhead: number;

  constructor(options: LruCacheOptions) {
    this.maxEntries = options.maxEntries;
    this.maxBytes = options.maxBytes;
    this.overhead = options.entryOverhead ?? 48;
    // Slots for maxEntries up front, as lru-cache does: inserts never pay for growth.
    // (The replicated state machine grows its store instead: replicas are often
    // configured far larger than they fill.)
    this.store = new LruStore(options.maxEntries);
  }

  get size(): number {
    return this.store.size;
  }

  get bytes(): number {
    return this.store.bytes;
  }

  get(key: string): Uint8Array | undefined {
    const slot = this.store.slotOf(key);
    if (slot < 0) return undefined;
    this.store.moveToMru(slot);
    return this.store.valueAt(slot);
  }

  /** Returns false (and changes nothing) when the entry alone exceeds maxBytes. */
  set(key: string, value: Uint8Array): boolean {
    const store = this.store;
    const size = utf8Length(key) + value.length + this.overhead;
    if (size > this.maxBytes) return false;
    const slot = store.slotOf(key);
    if (slot >= 0) {
      store.setValue(slot, value, size);
      store.moveToMru(slot);
    } else {
      // Full: the LRU entry goes anyway; evicting first lets the insert reuse its slot.
      if (store.size >= this.maxEntries) store.remove(store.lruSlot());
      store.insert(key, value, size);
    }
    while (store.size > this.maxEntries || store.bytes > this.maxBytes) {
      store.remove(store.lruSlot());
    }
    return true;
  }

  delete(key: string): boolean {
    const slot = this.store.slotOf(key);
    if (slot < 0) return false;
    this.store.remove(slot);
    return true;
  }
}
