/**
 * Routing on a shard map: key → shard (hash + binary search in a RangeIndex)
 * → replicas and leader hint. Immutable; build one per map version. A lookup
 * allocates nothing: the per-shard routes are built once.
 */
import { RangeIndex } from '../shard/index.js';
import { mapToWire, parseShardMap } from './wire-map.js';
import type { ParsedShardMap } from './wire-map.js';
import type { MetaState } from './types.js';

export interface ShardRoute {
  readonly shard: number;
  readonly group: number;
  /** Voters' node names ("n1"). */
  readonly replicas: readonly string[];
  /** Their client URLs, in the same order (a member without URL is left out). */
  readonly replicaUrls: readonly string[];
  readonly leader: string | null;
  readonly leaderUrl: string | null;
}

export class ShardRouter {
  readonly version: number;
  private readonly index: RangeIndex;
  private readonly routes: ReadonlyMap<number, ShardRoute>;

  private constructor(map: ParsedShardMap) {
    this.version = map.version;
    this.index = RangeIndex.from(map.table);
    const urls = new Map(map.members.map((m) => [m.node, m.url]));
    const routes = new Map<number, ShardRoute>();
    for (const s of map.shards) {
      const replicaUrls: string[] = [];
      for (const r of s.replicas) {
        const u = urls.get(r);
        if (u !== undefined) replicaUrls.push(u);
      }
      routes.set(s.shard, {
        shard: s.shard,
        group: s.group,
        replicas: s.replicas,
        replicaUrls,
        leader: s.leader,
        leaderUrl: s.leader === null ? null : (urls.get(s.leader) ?? null),
      });
    }
    this.routes = routes;
  }

  /** From a parsed (validated) wire map. */
  static fromMap(map: ParsedShardMap): ShardRouter {
    return new ShardRouter(map);
  }

  /** From an untrusted `map` response (throws MetaFormatError naming the bad field). */
  static fromWire(x: unknown): ShardRouter {
    return new ShardRouter(parseShardMap(x));
  }

  /** From the meta state (what a node holds). */
  static fromState(state: MetaState): ShardRouter {
    return new ShardRouter(parseShardMap(mapToWire(state)));
  }

  shardOf(key: string): number {
    return this.index.lookup(key);
  }

  shardOfBytes(key: Uint8Array): number {
    return this.index.lookupBytes(key);
  }

  shardOfHash(hash: number): number {
    return this.index.lookupHash(hash);
  }

  /** Route of the shard owning `key`. */
  route(key: string): ShardRoute {
    return this.routes.get(this.index.lookup(key))!;
  }

  /** Route of a shard by id, or undefined. */
  shard(id: number): ShardRoute | undefined {
    return this.routes.get(id);
  }

  /** Groups keys by shard (for mget/mput split by the client), shards in first-seen order. */
  splitByShard(keys: readonly string[]): Map<number, string[]> {
    const out = new Map<number, string[]>();
    for (const k of keys) {
      const s = this.index.lookup(k);
      let list = out.get(s);
      if (list === undefined) out.set(s, (list = []));
      list.push(k);
    }
    return out;
  }
}
