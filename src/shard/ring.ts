import { hashKey, hashKeyBytes, vnodeLabel } from './hash.js';
import { BucketIndex } from './bucket-index.js';

/** A shard and how many virtual nodes it places on the ring. */
export interface ShardSpec {
  readonly id: number;
  /** Defaults to the ring's `defaultVnodes`. */
  readonly vnodes?: number;
}

export interface RingOptions {
  /** Virtual nodes of a shard whose spec does not say. Default 64. */
  readonly defaultVnodes?: number;
}

export const DEFAULT_VNODES = 64;

/** Largest vnode count per shard accepted (keeps ring construction bounded). */
export const MAX_VNODES = 1 << 16;

function checkShardId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) {
    throw new RangeError(`shard id must be an integer in [0, 2^32), got ${id}`);
  }
}

function checkVnodes(id: number, vnodes: number): void {
  if (!Number.isInteger(vnodes) || vnodes < 1 || vnodes > MAX_VNODES) {
    throw new RangeError(`shard ${id}: vnodes must be an integer in [1, ${MAX_VNODES}], got ${vnodes}`);
  }
}

/**
 * An immutable consistent-hash ring. Each shard places `vnodes` tokens at
 * `hash("shard:<id>#<v>")`; a key at ring position `h` belongs to the owner of
 * the first token ≥ h, wrapping around to the first token.
 *
 * Token collisions: when several virtual nodes hash to the same token, the one
 * with the lowest shard id (then lowest vnode index) keeps it and the others
 * are dropped. Tokens never move, so adding a shard only takes keys to the new
 * shard and removing one only gives its keys away.
 */
export class HashRing {
  /** Sorted, distinct tokens. Do not mutate. */
  readonly tokens: Uint32Array;
  /** `owners[i]` is the shard that owns `tokens[i]`. Do not mutate. */
  readonly owners: Uint32Array;
  readonly defaultVnodes: number;
  private readonly vnodesByShard: ReadonlyMap<number, number>;
  private readonly buckets: BucketIndex;

  private constructor(vnodesByShard: ReadonlyMap<number, number>, defaultVnodes: number) {
    this.vnodesByShard = vnodesByShard;
    this.defaultVnodes = defaultVnodes;
    let total = 0;
    for (const v of vnodesByShard.values()) total += v;
    // Packed (token, shard, vnode) triples, sorted, then deduplicated by token.
    const entries: Array<[number, number, number]> = [];
    for (const [id, vnodes] of vnodesByShard) {
      for (let v = 0; v < vnodes; v++) entries.push([hashKey(vnodeLabel(id, v)), id, v]);
    }
    entries.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
    const tokens = new Uint32Array(total);
    const owners = new Uint32Array(total);
    let n = 0;
    for (const [token, id] of entries) {
      if (n > 0 && tokens[n - 1] === token) continue; // collision: the earlier (lower id) wins
      tokens[n] = token;
      owners[n] = id;
      n++;
    }
    this.tokens = n === total ? tokens : tokens.slice(0, n);
    this.owners = n === total ? owners : owners.slice(0, n);
    this.buckets = BucketIndex.firstAtOrAbove(this.tokens);
  }

  /** Builds a ring; needs at least one shard and distinct ids. */
  static build(shards: Iterable<number | ShardSpec>, options: RingOptions = {}): HashRing {
    const defaultVnodes = options.defaultVnodes ?? DEFAULT_VNODES;
    checkVnodes(-1, defaultVnodes);
    const byShard = new Map<number, number>();
    for (const s of shards) {
      const id = typeof s === 'number' ? s : s.id;
      const vnodes = typeof s === 'number' ? defaultVnodes : (s.vnodes ?? defaultVnodes);
      checkShardId(id);
      checkVnodes(id, vnodes);
      if (byShard.has(id)) throw new RangeError(`duplicate shard id ${id}`);
      byShard.set(id, vnodes);
    }
    if (byShard.size === 0) throw new RangeError('a ring needs at least one shard');
    return new HashRing(new Map([...byShard].sort((a, b) => a[0] - b[0])), defaultVnodes);
  }

  /** Shard ids, ascending. */
  shardIds(): number[] {
    return [...this.vnodesByShard.keys()];
  }

  get shardCount(): number {
    return this.vnodesByShard.size;
  }

  hasShard(id: number): boolean {
    return this.vnodesByShard.has(id);
  }

  /** Configured virtual nodes of a shard (before collision drops), or undefined. */
  vnodesOf(id: number): number | undefined {
    return this.vnodesByShard.get(id);
  }

  /** A new ring with shard `id` added. */
  withShard(id: number, vnodes: number = this.defaultVnodes): HashRing {
    checkShardId(id);
    checkVnodes(id, vnodes);
    if (this.vnodesByShard.has(id)) throw new RangeError(`shard ${id} is already on the ring`);
    return HashRing.build([...this.specs(), { id, vnodes }], { defaultVnodes: this.defaultVnodes });
  }

  /** A new ring without shard `id`; the last shard cannot be removed. */
  withoutShard(id: number): HashRing {
    if (!this.vnodesByShard.has(id)) throw new RangeError(`shard ${id} is not on the ring`);
    if (this.vnodesByShard.size === 1) throw new RangeError(`cannot remove shard ${id}: it is the last one`);
    return HashRing.build(
      this.specs().filter((s) => s.id !== id),
      { defaultVnodes: this.defaultVnodes },
    );
  }

  specs(): ShardSpec[] {
    return [...this.vnodesByShard].map(([id, vnodes]) => ({ id, vnodes }));
  }

  /** Index of the token that owns ring position `hash` (first token ≥ hash, wrapping). */
  tokenIndexOf(hash: number): number {
    const tokens = this.tokens;
    // The bucket of `hash` narrows the binary search to a few tokens.
    const b = this.buckets;
    const bucket = hash >>> b.shift;
    let lo = b.bounds[bucket]!;
    let hi = b.bounds[bucket + 1]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (tokens[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === tokens.length ? 0 : lo;
  }

  /** Shard owning ring position `hash` (an unsigned 32-bit integer). */
  lookupHash(hash: number): number {
    return this.owners[this.tokenIndexOf(hash)]!;
  }

  /** Shard owning a string key. */
  lookup(key: string): number {
    return this.owners[this.tokenIndexOf(hashKey(key))]!;
  }

  /** Shard owning a binary key. */
  lookupBytes(key: Uint8Array): number {
    return this.owners[this.tokenIndexOf(hashKeyBytes(key))]!;
  }
}
