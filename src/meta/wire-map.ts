/**
 * The shard map as the protocol's `map` op returns it, and a strict parser of
 * it for clients. Compatible with what src/api/requests.ts `mapFields` emits:
 *
 *   { version, shards: [{ shard, group, ranges: [[start, endInclusive]], replicas: ["n1", …], leader }],
 *     members: [{ node, url }] }
 *
 * extended with optional fields a reader may ignore: per shard `learners` and
 * `term`; per member `state` (up/down/draining); and `meta` (the meta group's
 * replicas and leader, which own no range). Removed nodes are not listed.
 *
 * The parser rejects wrong types, bad node names, ranges that overlap or leave
 * a gap, and replicas that name no member, each with the field's path (e.g.
 * `shards[2].ranges[0][1]`). Unknown extra fields are allowed (forward compatibility).
 */
import { RING_SIZE } from '../shard/index.js';
import type { RangeTable, ShardRange } from '../shard/index.js';
import { array, at, fail, nat, oneOf, record, str, u32 } from './check.js';
import { nodeState } from './state-machine.js';
import type { MetaState, NodeState, ShardRecord } from './types.js';
import { META_SHARD } from './types.js';

export interface WireShard {
  readonly shard: number;
  /** The Raft group id of the shard (equal to the shard id). */
  readonly group: number;
  /** Ring ranges [start, endInclusive], ascending. */
  readonly ranges: readonly (readonly [number, number])[];
  /** Voters, as node names ("n1"). */
  readonly replicas: readonly string[];
  readonly leader: string | null;
  readonly learners?: readonly string[];
  readonly term?: number;
}

export interface WireGroup {
  readonly group: number;
  readonly replicas: readonly string[];
  readonly leader: string | null;
  readonly learners?: readonly string[];
  readonly term?: number;
}

export interface WireMember {
  readonly node: string;
  readonly url: string;
  readonly state?: Exclude<NodeState, 'removed'>;
}

export interface WireShardMap {
  readonly version: number;
  readonly shards: readonly WireShard[];
  readonly members: readonly WireMember[];
  readonly meta?: WireGroup;
}

/** A parsed wire map with its ranges as a validated table (for RangeIndex). */
export interface ParsedShardMap extends WireShardMap {
  readonly table: RangeTable;
}

/** "n2" for node 2 (the client protocol's node names, as in src/node). */
export function nodeName(id: number): string {
  return `n${id}`;
}

/** Node id of a name "n<id>", or null. */
export function nodeIdOf(name: string): number | null {
  const m = /^n([1-9][0-9]{0,9})$/.exec(name);
  if (m === null) return null;
  const id = Number(m[1]);
  return id <= 0xffffffff ? id : null;
}

/** The client WebSocket URL of a node (same form as src/node's memberUrl). */
export function clientUrl(host: string, clientPort: number): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `ws://${h}:${clientPort}/v1`;
}

function groupFields(s: ShardRecord): WireGroup {
  return {
    group: s.id,
    replicas: s.voters.map(nodeName),
    leader: s.leader === null ? null : nodeName(s.leader),
    learners: s.learners.map(nodeName),
    term: s.term,
  };
}

/** The wire form of the map in `state` (data shards ascending, members ascending, removed nodes left out). */
export function mapToWire(state: MetaState): WireShardMap {
  const rangesOf = new Map<number, [number, number][]>();
  for (const r of state.ranges) {
    let list = rangesOf.get(r.shard);
    if (list === undefined) rangesOf.set(r.shard, (list = []));
    list.push([r.start, r.end - 1]);
  }
  const shards: WireShard[] = [];
  let meta: WireGroup | undefined;
  for (const s of state.shards) {
    const g = groupFields(s);
    if (s.id === META_SHARD) {
      meta = g;
      continue;
    }
    shards.push({ shard: s.id, group: g.group, ranges: rangesOf.get(s.id) ?? [], replicas: g.replicas, leader: g.leader, learners: g.learners!, term: g.term! });
  }
  const members: WireMember[] = [];
  for (const n of state.nodes) {
    const st = nodeState(n);
    if (st === 'removed') continue;
    members.push({ node: nodeName(n.id), url: clientUrl(n.host, n.clientPort), state: st });
  }
  return meta === undefined ? { version: state.version, shards, members } : { version: state.version, shards, members, meta };
}

function nodeNameField(x: unknown, field: string): string {
  const s = str(x, field, 16);
  if (nodeIdOf(s) === null) fail(field, `must be a node name like "n1", got ${JSON.stringify(s)}`);
  return s;
}

function nameList(x: unknown, field: string, members: ReadonlySet<string>): string[] {
  const list = array(x, field, 64).map((v, i) => nodeNameField(v, at(field, i)));
  const seen = new Set<string>();
  list.forEach((n, i) => {
    if (seen.has(n)) fail(at(field, i), `duplicate node ${n}`);
    if (!members.has(n)) fail(at(field, i), `node ${n} is not a member`);
    seen.add(n);
  });
  return list;
}

function parseGroup(o: Record<string, unknown>, field: string, members: ReadonlySet<string>): Omit<WireGroup, 'group'> {
  const replicas = nameList(o['replicas'], at(field, 'replicas'), members);
  const leader = o['leader'] === null ? null : nodeNameField(o['leader'], at(field, 'leader'));
  if (leader !== null && !members.has(leader)) fail(at(field, 'leader'), `node ${leader} is not a member`);
  const learners = o['learners'] === undefined ? undefined : nameList(o['learners'], at(field, 'learners'), members);
  learners?.forEach((l, i) => {
    if (replicas.includes(l)) fail(at(at(field, 'learners'), i), `node ${l} is also a replica`);
  });
  const term = o['term'] === undefined ? undefined : nat(o['term'], at(field, 'term'));
  return { replicas, leader, ...(learners === undefined ? {} : { learners }), ...(term === undefined ? {} : { term }) };
}

/** Parses an untrusted `map` response (or its fields); throws MetaFormatError naming the bad field. */
export function parseShardMap(x: unknown): ParsedShardMap {
  const o = record(x, 'map');
  const version = nat(o['version'], 'version');

  const members: WireMember[] = array(o['members'], 'members', 4096).map((v, i) => {
    const f = at('members', i);
    const m = record(v, f);
    const node = nodeNameField(m['node'], at(f, 'node'));
    const url = str(m['url'], at(f, 'url'), 1024);
    if (!/^wss?:\/\/./.test(url)) fail(at(f, 'url'), 'must be a ws:// or wss:// URL');
    const state = m['state'] === undefined ? undefined : oneOf(m['state'], at(f, 'state'), ['up', 'down', 'draining'] as const);
    return state === undefined ? { node, url } : { node, url, state };
  });
  const memberNames = new Set<string>();
  members.forEach((m, i) => {
    if (memberNames.has(m.node)) fail(at(at('members', i), 'node'), `duplicate member ${m.node}`);
    memberNames.add(m.node);
  });

  // Every range, remembered with its field path so a gap or overlap can name it.
  const pieces: { start: number; end: number; shard: number; field: string }[] = [];
  const shardIds = new Set<number>();
  const shards: WireShard[] = array(o['shards'], 'shards', 1 << 17).map((v, i) => {
    const f = at('shards', i);
    const s = record(v, f);
    const shard = u32(s['shard'], at(f, 'shard'));
    if (shardIds.has(shard)) fail(at(f, 'shard'), `duplicate shard ${shard}`);
    shardIds.add(shard);
    const group = u32(s['group'], at(f, 'group'));
    const ranges = array(s['ranges'], at(f, 'ranges')).map((rv, j) => {
      const rf = at(at(f, 'ranges'), j);
      const pair = array(rv, rf, 2);
      if (pair.length !== 2) fail(rf, 'must be [start, endInclusive]');
      const start = u32(pair[0], at(rf, 0));
      const end = u32(pair[1], at(rf, 1));
      if (end < start) fail(at(rf, 1), `end ${end} is before start ${start}`);
      pieces.push({ start, end: end + 1, shard, field: rf });
      return [start, end] as const;
    });
    return { shard, group, ranges, ...parseGroup(s, f, memberNames) };
  });
  if (shards.length === 0) fail('shards', 'must list at least one shard');

  pieces.sort((a, b) => a.start - b.start);
  let expected = 0;
  const table: ShardRange[] = [];
  for (const p of pieces) {
    if (p.start < expected) fail(p.field, `[${p.start}, ${p.end - 1}] overlaps another range`);
    if (p.start > expected) fail(p.field, `the ring positions [${expected}, ${p.start - 1}] before it belong to no shard`);
    table.push({ start: p.start, end: p.end, shard: p.shard });
    expected = p.end;
  }
  if (expected !== RING_SIZE) fail('shards', `the ring positions from ${expected} on belong to no shard`);

  let meta: WireGroup | undefined;
  if (o['meta'] !== undefined) {
    const m = record(o['meta'], 'meta');
    meta = { group: u32(m['group'], 'meta.group'), ...parseGroup(m, 'meta', memberNames) };
  }
  const base = { version, shards, members, table: { version, ranges: table } };
  return meta === undefined ? base : { ...base, meta };
}
