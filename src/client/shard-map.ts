/**
 * The client's view of the shard map: a validating parser of the `map` op's
 * result, and the routing table built from it (ring position → shard, by
 * binary search over the sorted range starts; no allocation per lookup).
 *
 * Wire shape (docs/protocol.md, `map`):
 * `{version, shards: [{shard, group, ranges: [[start, endInclusive], …],
 *   replicas: ["n1", …], leader: "n2" | null}], members: [{node, url}]}`.
 */
import { endpointUrl } from './protocol.js';
import type { Member } from './protocol.js';

/** The last position on the 32-bit ring. */
const RING_LAST = 0xffffffff;

/** One shard of a parsed map, as the server named it (node ids, not urls). */
export interface ShardInfo {
  readonly shard: number;
  readonly group: number;
  /** Inclusive [start, end] ranges of the ring, as sent. */
  readonly ranges: readonly (readonly [number, number])[];
  readonly replicas: readonly string[];
  readonly leader: string | null;
}

/** The meta group (shard 0: the shard map, the node registry, operator commands) as a map names it. */
export interface MetaInfo {
  readonly group: number;
  /** The meta leader as the answering node knows it (a member's node id), or null. */
  readonly leader: string | null;
}

/** A parsed, validated shard map. */
export interface ShardMapData {
  readonly version: number;
  readonly shards: readonly ShardInfo[];
  readonly members: readonly Member[];
  /** Absent from servers without a meta group, or when its fields are not usable (it is only a hint). */
  readonly meta?: MetaInfo;
}

/** A `map` result that does not describe a usable map; `message` names the field. */
export class ShardMapError extends Error {
  constructor(message: string) {
    super(`shard map: ${message}`);
    this.name = 'ShardMapError';
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isUint(x: unknown, max: number): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= max;
}

/** True when a `map` result carries shard information at all (today's servers always do). */
export function hasShardInfo(frame: Readonly<Record<string, unknown>>): boolean {
  return frame['shards'] !== undefined;
}

/**
 * Validates a `map` result. Throws ShardMapError on anything malformed:
 * wrong types, duplicate shard ids or members, replicas without a member
 * url, a leader that is not a replica, and ranges that overlap or leave a
 * gap (the ranges of all shards must cover the ring exactly once).
 */
export function parseShardMap(frame: Readonly<Record<string, unknown>>): ShardMapData {
  const version = frame['version'];
  if (!isUint(version, Number.MAX_SAFE_INTEGER)) throw new ShardMapError(`version: expected a non-negative integer, got ${show(version)}`);

  const rawMembers = frame['members'];
  if (!Array.isArray(rawMembers)) throw new ShardMapError('members: expected an array');
  const members: Member[] = [];
  const nodes = new Set<string>();
  rawMembers.forEach((m: unknown, i) => {
    if (!isRecord(m)) throw new ShardMapError(`members[${i}]: expected an object`);
    const node = m['node'];
    const url = m['url'];
    if (typeof node !== 'string' || node === '') throw new ShardMapError(`members[${i}].node: expected a non-empty string`);
    if (typeof url !== 'string') throw new ShardMapError(`members[${i}].url: expected a string`);
    if (nodes.has(node)) throw new ShardMapError(`members[${i}].node: duplicate node ${node}`);
    let normal: string;
    try {
      normal = endpointUrl(url);
    } catch {
      throw new ShardMapError(`members[${i}].url: not a ws URL: ${show(url)}`);
    }
    nodes.add(node);
    members.push({ node, url: normal });
  });

  const rawShards = frame['shards'];
  if (!Array.isArray(rawShards) || rawShards.length === 0) throw new ShardMapError('shards: expected a non-empty array');
  const shards: ShardInfo[] = [];
  const shardIds = new Set<number>();
  const spans: { start: number; end: number; where: string }[] = [];
  rawShards.forEach((s: unknown, i) => {
    const at = `shards[${i}]`;
    if (!isRecord(s)) throw new ShardMapError(`${at}: expected an object`);
    const shard = s['shard'];
    const group = s['group'];
    if (!isUint(shard, RING_LAST)) throw new ShardMapError(`${at}.shard: expected a non-negative integer, got ${show(shard)}`);
    if (!isUint(group, RING_LAST)) throw new ShardMapError(`${at}.group: expected a non-negative integer, got ${show(group)}`);
    if (shardIds.has(shard)) throw new ShardMapError(`${at}.shard: duplicate shard ${shard}`);
    shardIds.add(shard);

    const rawRanges = s['ranges'];
    if (!Array.isArray(rawRanges) || rawRanges.length === 0) throw new ShardMapError(`${at}.ranges: expected a non-empty array`);
    const ranges: [number, number][] = [];
    rawRanges.forEach((r: unknown, j) => {
      const where = `${at}.ranges[${j}]`;
      if (!Array.isArray(r) || r.length !== 2) throw new ShardMapError(`${where}: expected [start, end]`);
      const [start, end] = r as unknown[];
      if (!isUint(start, RING_LAST) || !isUint(end, RING_LAST)) {
        throw new ShardMapError(`${where}: bounds must be integers in [0, ${RING_LAST}], got ${show(r)}`);
      }
      if (start > end) throw new ShardMapError(`${where}: start ${start} > end ${end}`);
      ranges.push([start, end]);
      spans.push({ start, end, where });
    });

    const rawReplicas = s['replicas'];
    if (!Array.isArray(rawReplicas) || rawReplicas.length === 0) throw new ShardMapError(`${at}.replicas: expected a non-empty array`);
    const replicas: string[] = [];
    rawReplicas.forEach((n: unknown, j) => {
      if (typeof n !== 'string') throw new ShardMapError(`${at}.replicas[${j}]: expected a node id`);
      if (!nodes.has(n)) throw new ShardMapError(`${at}.replicas[${j}]: node ${n} is not in members`);
      if (replicas.includes(n)) throw new ShardMapError(`${at}.replicas[${j}]: duplicate replica ${n}`);
      replicas.push(n);
    });

    const leader = s['leader'] ?? null;
    if (leader !== null && (typeof leader !== 'string' || !replicas.includes(leader))) {
      throw new ShardMapError(`${at}.leader: ${show(leader)} is not one of its replicas`);
    }
    shards.push({ shard, group, ranges, replicas, leader });
  });

  spans.sort((a, b) => a.start - b.start);
  let next = 0;
  for (const sp of spans) {
    if (sp.start > next) throw new ShardMapError(`ranges leave a gap: [${next}, ${sp.start - 1}] is not covered`);
    if (sp.start < next) throw new ShardMapError(`${sp.where}: overlaps another range at ${sp.start}`);
    next = sp.end + 1;
  }
  if (next !== RING_LAST + 1) throw new ShardMapError(`ranges leave a gap: [${next}, ${RING_LAST}] is not covered`);

  const meta = metaInfo(frame['meta'], nodes);
  return meta === undefined ? { version, shards, members } : { version, shards, members, meta };
}

/** The `meta` field, read leniently: it only gives the client a first guess of where operator ops go. */
function metaInfo(raw: unknown, nodes: ReadonlySet<string>): MetaInfo | undefined {
  if (!isRecord(raw) || !isUint(raw['group'], RING_LAST)) return undefined;
  const leader = raw['leader'];
  return { group: raw['group'], leader: typeof leader === 'string' && nodes.has(leader) ? leader : null };
}

function show(x: unknown): string {
  const s = JSON.stringify(x);
  return s === undefined ? String(x) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Where requests for one shard go: its replicas' urls and the leader as last learned. */
export class ShardRoute {
  /** Url of the leader as last learned (from the map or a NOT_LEADER hint), or null. */
  leaderUrl: string | null;
  /** Round-robin position over `replicas`. */
  rr = 0;

  constructor(
    readonly shard: number,
    readonly group: number,
    /** Urls of the replicas, in map order (grown only on the one-shard view, by leader hints). */
    readonly replicas: string[],
    leaderUrl: string | null,
  ) {
    this.leaderUrl = leaderUrl;
  }
}

/**
 * A compiled map: `routeOfHash` finds the shard of a ring position by binary
 * search over the sorted range starts. `version` is -1 while the map is not
 * known (the seeds as one shard).
 */
export class RoutingTable {
  private readonly starts: Uint32Array;
  private readonly owners: ShardRoute[];

  private constructor(
    readonly version: number,
    readonly routes: readonly ShardRoute[],
    readonly members: readonly Member[],
    spans: readonly { start: number; route: ShardRoute }[],
  ) {
    const sorted = [...spans].sort((a, b) => a.start - b.start);
    this.starts = Uint32Array.from(sorted, (s) => s.start);
    this.owners = sorted.map((s) => s.route);
  }

  /** One shard over the whole ring served by `urls` (a server without shards, or no map yet). */
  static single(version: number, urls: readonly string[], leaderUrl: string | null, members: readonly Member[] = []): RoutingTable {
    const route = new ShardRoute(1, 1, [...urls], leaderUrl);
    return new RoutingTable(version, [route], members, [{ start: 0, route }]);
  }

  static fromMap(map: ShardMapData): RoutingTable {
    const urlOf = new Map(map.members.map((m) => [m.node, m.url]));
    const spans: { start: number; route: ShardRoute }[] = [];
    const routes = map.shards.map((s) => {
      const route = new ShardRoute(
        s.shard,
        s.group,
        s.replicas.map((n) => urlOf.get(n) as string), // parseShardMap checked every replica is a member
        s.leader === null ? null : (urlOf.get(s.leader) ?? null),
      );
      for (const [start] of s.ranges) spans.push({ start, route });
      return route;
    });
    return new RoutingTable(map.version, routes, map.members, spans);
  }

  /** The shard owning ring position `hash` (an unsigned 32-bit integer). */
  routeOfHash(hash: number): ShardRoute {
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((s[mid] as number) <= hash) lo = mid;
      else hi = mid - 1;
    }
    return this.owners[lo] as ShardRoute;
  }

  byGroup(group: number): ShardRoute | undefined {
    for (const r of this.routes) if (r.group === group) return r;
    return undefined;
  }

  byShard(shard: number): ShardRoute | undefined {
    for (const r of this.routes) if (r.shard === shard) return r;
    return undefined;
  }

  /** Inclusive ranges of one route, sorted (for views and tests). */
  rangesOf(route: ShardRoute): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.owners.length; i++) {
      if (this.owners[i] !== route) continue;
      const end = i + 1 < this.starts.length ? (this.starts[i + 1] as number) - 1 : RING_LAST;
      out.push([this.starts[i] as number, end]);
    }
    return out;
  }
}
