/**
 * The client's opt-in near cache: recent results of reads that accept bounded
 * staleness (`consistency: 'stale'` with `maxStaleMs`). Linearizable and lease
 * reads never read or fill it.
 *
 * - LRU by insertion order of a Map (a hit moves the entry to the end),
 *   bounded by `maxEntries`; an entry older than `maxAgeMs` (or than the
 *   read's `maxStaleMs`) is a miss.
 * - Invalidation: a local write of a key drops it; a map version change
 *   drops everything. A read that was in flight while its key was
 *   invalidated must not store what it fetched (it may predate the write):
 *   each read takes a ticket, the epoch of its key's stripe (1,024 stripes
 *   by ring position), and stores only if the stripe did not move.
 */

export interface NearCacheOptions {
  /** Most entries kept (LRU beyond). */
  readonly maxEntries: number;
  /** Entries older than this are never served, whatever a read's maxStaleMs. */
  readonly maxAgeMs: number;
}

export interface NearCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly size: number;
}

interface Entry {
  value: string | null;
  /** When the read that fetched it was sent (its age counts from there). */
  at: number;
}

const STRIPES = 1024;

export class NearCache {
  private readonly entries = new Map<string, Entry>();
  private readonly epochs = new Uint32Array(STRIPES);
  private hits = 0;
  private misses = 0;
  private readonly maxEntries: number;
  private readonly maxAgeMs: number;

  constructor(
    options: NearCacheOptions,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) throw new RangeError('nearCache.maxEntries must be a positive integer');
    if (!(options.maxAgeMs >= 0)) throw new RangeError('nearCache.maxAgeMs must be >= 0');
    this.maxEntries = options.maxEntries;
    this.maxAgeMs = options.maxAgeMs;
  }

  /** The cached value (null = known absent), or undefined on a miss. */
  lookup(key: string, maxStaleMs: number): string | null | undefined {
    const e = this.entries.get(key);
    if (e !== undefined) {
      const age = this.now() - e.at;
      if (age <= this.maxAgeMs && age <= maxStaleMs) {
        this.hits++;
        this.entries.delete(key); // refresh its LRU position
        this.entries.set(key, e);
        return e.value;
      }
      if (age > this.maxAgeMs) this.entries.delete(key);
    }
    this.misses++;
    return undefined;
  }

  /** Taken before a read is sent; hand it back to `store`. */
  ticket(hash: number): number {
    return this.epochs[hash & (STRIPES - 1)] as number;
  }

  /** Stores a fetched value unless its key was invalidated since `ticket` was taken. */
  store(key: string, hash: number, value: string | null, sentAt: number, ticket: number): void {
    if (this.epochs[hash & (STRIPES - 1)] !== ticket) return;
    const old = this.entries.get(key);
    if (old !== undefined) {
      if (old.at > sentAt) return; // a newer read already stored
      this.entries.delete(key);
    } else if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, at: sentAt });
  }

  /** A local write of `key` (called when it is sent and when it settles). */
  invalidate(key: string, hash: number): void {
    this.epochs[hash & (STRIPES - 1)] = ((this.epochs[hash & (STRIPES - 1)] as number) + 1) >>> 0;
    this.entries.delete(key);
  }

  /** Drops every entry (the map version changed). */
  clear(): void {
    for (let i = 0; i < STRIPES; i++) this.epochs[i] = ((this.epochs[i] as number) + 1) >>> 0;
    this.entries.clear();
  }

  stats(): NearCacheStats {
    return { hits: this.hits, misses: this.misses, size: this.entries.size };
  }
}
