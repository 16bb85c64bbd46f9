/**
 * Snapshot of the meta state: canonical UTF-8 JSON (fixed field order, lists
 * sorted by id), so equal states give identical bytes on every replica.
 * Decoding validates everything a restored state machine relies on.
 */
import { RING_SIZE, validateRangeTable, RangeTableError } from '../shard/index.js';
import { MetaFormatError, array, at, bool, fail, intIn, nat, nodeId, oneOf, onlyKeys, record, u32 } from './check.js';
import { parseMetaConfig, parseNodeAddress } from './command-codec.js';
import type { MetaConfig, MetaRange, MetaState, MoveRecord, NodeRecord, ShardRecord } from './types.js';
import { META_SHARD } from './types.js';

export const META_SNAPSHOT_FORMAT = 'raftcache-meta/1';

function configJson(c: MetaConfig): MetaConfig {
  return {
    replication: c.replication,
    metaReplication: c.metaReplication,
    downTimeoutMs: c.downTimeoutMs,
    maxConcurrentMoves: c.maxConcurrentMoves,
    loadFactor: c.loadFactor,
    vnodes: c.vnodes,
  };
}

/** The state as a canonical JSON-ready object. */
export function metaStateToJson(s: MetaState): Record<string, unknown> {
  return {
    format: META_SNAPSHOT_FORMAT,
    version: s.version,
    now: s.now,
    config: s.config === null ? null : configJson(s.config),
    nodes: s.nodes.map((n) => ({
      id: n.id,
      host: n.host,
      clientPort: n.clientPort,
      peerPort: n.peerPort,
      admin: n.admin,
      live: n.live,
      lastHeartbeat: n.lastHeartbeat,
    })),
    shards: s.shards.map((x) => {
      const o = { id: x.id, voters: [...x.voters], learners: [...x.learners], leader: x.leader, term: x.term };
      return x.parent === undefined ? o : { ...o, parent: x.parent };
    }),
    ranges: s.ranges.map((r) => [r.start, r.end, r.shard]),
    moves: s.moves.map((m) => ({ shard: m.shard, add: m.add, remove: m.remove, phase: m.phase, startedAt: m.startedAt })),
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeMetaState(s: MetaState): Uint8Array {
  return encoder.encode(JSON.stringify(metaStateToJson(s)));
}

function ascendingIds(ids: readonly number[], field: string): void {
  for (let i = 1; i < ids.length; i++) if (ids[i]! <= ids[i - 1]!) fail(at(field, i), 'ids must be strictly ascending');
}

function nodeList(x: unknown, field: string, known: ReadonlySet<number>): number[] {
  const ids = array(x, field, 64).map((v, i) => nodeId(v, at(field, i)));
  ascendingIds(ids, field);
  ids.forEach((id, i) => {
    if (!known.has(id)) fail(at(field, i), `unknown node ${id}`);
  });
  return ids;
}

/** Validates an untrusted value as a meta state; throws MetaFormatError naming the bad field. */
export function metaStateFromJson(x: unknown): MetaState {
  const o = record(x, 'snapshot');
  onlyKeys(o, '', ['format', 'version', 'now', 'config', 'nodes', 'shards', 'ranges', 'moves']);
  if (o['format'] !== META_SNAPSHOT_FORMAT) fail('format', `must be "${META_SNAPSHOT_FORMAT}"`);
  const version = nat(o['version'], 'version');
  const now = nat(o['now'], 'now');
  const config = o['config'] === null ? null : parseMetaConfig(o['config'], 'config');

  const nodes: NodeRecord[] = array(o['nodes'], 'nodes').map((v, i) => {
    const f = at('nodes', i);
    const r = record(v, f);
    onlyKeys(r, f, ['id', 'host', 'clientPort', 'peerPort', 'admin', 'live', 'lastHeartbeat']);
    const addr = parseNodeAddress({ id: r['id'], host: r['host'], clientPort: r['clientPort'], peerPort: r['peerPort'] }, f);
    return {
      ...addr,
      admin: oneOf(r['admin'], at(f, 'admin'), ['active', 'draining', 'removed'] as const),
      live: bool(r['live'], at(f, 'live')),
      lastHeartbeat: nat(r['lastHeartbeat'], at(f, 'lastHeartbeat')),
    };
  });
  ascendingIds(
    nodes.map((n) => n.id),
    'nodes',
  );
  const known = new Set(nodes.map((n) => n.id));

  const shards: ShardRecord[] = array(o['shards'], 'shards').map((v, i) => {
    const f = at('shards', i);
    const r = record(v, f);
    onlyKeys(r, f, ['id', 'voters', 'learners', 'leader', 'term', 'parent']);
    const voters = nodeList(r['voters'], at(f, 'voters'), known);
    const learners = nodeList(r['learners'], at(f, 'learners'), known);
    learners.forEach((l, j) => {
      if (voters.includes(l)) fail(at(at(f, 'learners'), j), `node ${l} is also a voter`);
    });
    const leader = r['leader'] === null ? null : nodeId(r['leader'], at(f, 'leader'));
    const base = { id: u32(r['id'], at(f, 'id')), voters, learners, leader, term: nat(r['term'], at(f, 'term')) };
    return r['parent'] === undefined ? base : { ...base, parent: u32(r['parent'], at(f, 'parent')) };
  });
  ascendingIds(
    shards.map((s) => s.id),
    'shards',
  );
  const shardIds = new Set(shards.map((s) => s.id));

  const ranges: MetaRange[] = array(o['ranges'], 'ranges').map((v, i) => {
    const f = at('ranges', i);
    const t = array(v, f, 3);
    if (t.length !== 3) fail(f, 'must be [start, end, shard]');
    const shard = u32(t[2], at(f, 2));
    if (shard === META_SHARD || !shardIds.has(shard)) fail(at(f, 2), `shard ${shard} is not a data shard of the map`);
    return { start: u32(t[0], at(f, 0)), end: intIn(t[1], at(f, 1), 1, RING_SIZE), shard };
  });
  if (config !== null || ranges.length > 0) {
    try {
      validateRangeTable({ version, ranges });
    } catch (e) {
      if (e instanceof RangeTableError) fail('ranges', e.message);
      throw e;
    }
    const owning = new Set(ranges.map((r) => r.shard));
    shards.forEach((s, i) => {
      if (s.id !== META_SHARD && !owning.has(s.id)) fail(at(at('shards', i), 'id'), `data shard ${s.id} owns no range`);
    });
  }

  const moves: MoveRecord[] = array(o['moves'], 'moves').map((v, i) => {
    const f = at('moves', i);
    const r = record(v, f);
    onlyKeys(r, f, ['shard', 'add', 'remove', 'phase', 'startedAt']);
    const shard = u32(r['shard'], at(f, 'shard'));
    if (!shardIds.has(shard)) fail(at(f, 'shard'), `unknown shard ${shard}`);
    const add = r['add'] === null ? null : nodeId(r['add'], at(f, 'add'));
    const remove = r['remove'] === null ? null : nodeId(r['remove'], at(f, 'remove'));
    if (add === null && remove === null) fail(at(f, 'add'), 'a move needs add or remove');
    return { shard, add, remove, phase: oneOf(r['phase'], at(f, 'phase'), ['add-learner', 'promote', 'remove'] as const), startedAt: nat(r['startedAt'], at(f, 'startedAt')) };
  });
  ascendingIds(
    moves.map((m) => m.shard),
    'moves',
  );
  return { version, now, config, nodes, shards, ranges, moves };
}

export function decodeMetaState(bytes: Uint8Array): MetaState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new MetaFormatError('snapshot', 'is not valid UTF-8 JSON');
  }
  return metaStateFromJson(parsed);
}
