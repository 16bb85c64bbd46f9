/**
 * Codec of meta commands (payloads of the meta group's log entries): UTF-8 JSON
 * with a version tag, built in a fixed field order, validated strictly on both
 * encode and decode (unknown fields, wrong types and out-of-range numbers are
 * refused with the field's path).
 *
 * Why JSON and not a binary layout like src/cache: meta entries are rare (a
 * heartbeat per node per second at most, moves and reports now and then), the
 * entries stay readable in a log dump, and the canonical field order keeps the
 * bytes identical for equal commands.
 */
import { MAX_VNODES } from '../shard/index.js';
import {
  MetaFormatError,
  array,
  at,
  fail,
  intIn,
  nat,
  nodeId,
  onlyKeys,
  port,
  record,
  str,
  u32,
} from './check.js';
import type { MetaCommand, MetaCommandType, MetaConfig, NodeAddress } from './types.js';

export const META_COMMAND_VERSION = 1;

/** Most nodes a bootstrap may name, and most data shards it may create. */
export const MAX_NODES = 1024;
export const MAX_SHARDS = 65536;

const TYPES: readonly MetaCommandType[] = [
  'bootstrap',
  'joinNode',
  'addNode',
  'removeNode',
  'heartbeat',
  'tick',
  'leaderReport',
  'beginMove',
  'learnerAdded',
  'promoted',
  'replicaRemoved',
  'abortMove',
  'splitShard',
];

export function parseNodeAddress(x: unknown, field: string): NodeAddress {
  const o = record(x, field);
  onlyKeys(o, field, ['id', 'host', 'clientPort', 'peerPort']);
  const host = str(o['host'], at(field, 'host'));
  if (host === '') fail(at(field, 'host'), 'must not be empty');
  return {
    id: nodeId(o['id'], at(field, 'id')),
    host,
    clientPort: port(o['clientPort'], at(field, 'clientPort')),
    peerPort: port(o['peerPort'], at(field, 'peerPort')),
  };
}

export function parseMetaConfig(x: unknown, field: string): MetaConfig {
  const o = record(x, field);
  onlyKeys(o, field, ['replication', 'metaReplication', 'downTimeoutMs', 'maxConcurrentMoves', 'loadFactor', 'vnodes']);
  const lf = o['loadFactor'];
  if (typeof lf !== 'number' || !Number.isFinite(lf) || lf <= 1 || lf > 16) {
    fail(at(field, 'loadFactor'), 'must be a number in (1, 16]');
  }
  return {
    replication: intIn(o['replication'], at(field, 'replication'), 1, 15),
    metaReplication: intIn(o['metaReplication'], at(field, 'metaReplication'), 1, 15),
    downTimeoutMs: intIn(o['downTimeoutMs'], at(field, 'downTimeoutMs'), 1, Number.MAX_SAFE_INTEGER),
    maxConcurrentMoves: intIn(o['maxConcurrentMoves'], at(field, 'maxConcurrentMoves'), 1, 4096),
    loadFactor: lf,
    vnodes: intIn(o['vnodes'], at(field, 'vnodes'), 1, MAX_VNODES),
  };
}

function optVersion(o: Record<string, unknown>): { expectVersion?: number } {
  return o['expectVersion'] === undefined ? {} : { expectVersion: nat(o['expectVersion'], 'expectVersion') };
}

function nodeOrNull(x: unknown, field: string): number | null {
  return x === null ? null : nodeId(x, field);
}

/** Validates an untrusted value as a meta command; throws MetaFormatError naming the bad field. */
export function parseMetaCommand(x: unknown): MetaCommand {
  const o = record(x, 'command');
  const type = o['type'];
  if (typeof type !== 'string' || !(TYPES as readonly string[]).includes(type)) {
    fail('type', `must be one of ${TYPES.join(', ')}`);
  }
  const ts = nat(o['ts'], 'ts');
  const keys = (...rest: string[]): void => onlyKeys(o, '', ['v', 'type', 'ts', ...rest]);
  switch (type as MetaCommandType) {
    case 'bootstrap': {
      keys('nodes', 'shards', 'config');
      const nodes = array(o['nodes'], 'nodes', MAX_NODES).map((n, i) => parseNodeAddress(n, at('nodes', i)));
      if (nodes.length === 0) fail('nodes', 'must name at least one node');
      const seen = new Set<number>();
      nodes.forEach((n, i) => {
        if (seen.has(n.id)) fail(at(at('nodes', i), 'id'), `duplicate node id ${n.id}`);
        seen.add(n.id);
      });
      return { type: 'bootstrap', ts, nodes, shards: intIn(o['shards'], 'shards', 1, MAX_SHARDS), config: parseMetaConfig(o['config'], 'config') };
    }
    case 'joinNode':
      keys('node');
      return { type: 'joinNode', ts, node: parseNodeAddress(o['node'], 'node') };
    case 'addNode':
      keys('node', 'expectVersion');
      return { type: 'addNode', ts, node: parseNodeAddress(o['node'], 'node'), ...optVersion(o) };
    case 'removeNode':
      keys('node', 'expectVersion');
      return { type: 'removeNode', ts, node: nodeId(o['node'], 'node'), ...optVersion(o) };
    case 'heartbeat':
      keys('node');
      return { type: 'heartbeat', ts, node: nodeId(o['node'], 'node') };
    case 'tick':
      keys();
      return { type: 'tick', ts };
    case 'leaderReport':
      keys('shard', 'node', 'term');
      return { type: 'leaderReport', ts, shard: u32(o['shard'], 'shard'), node: nodeId(o['node'], 'node'), term: nat(o['term'], 'term') };
    case 'beginMove': {
      keys('shard', 'add', 'remove', 'expectVersion');
      const add = nodeOrNull(o['add'], 'add');
      const remove = nodeOrNull(o['remove'], 'remove');
      if (add === null && remove === null) fail('add', 'a move needs add or remove');
      if (add !== null && add === remove) fail('remove', 'must differ from add');
      return { type: 'beginMove', ts, shard: u32(o['shard'], 'shard'), add, remove, ...optVersion(o) };
    }
    case 'learnerAdded':
    case 'promoted':
    case 'replicaRemoved':
      keys('shard', 'node');
      return { type: type as 'learnerAdded' | 'promoted' | 'replicaRemoved', ts, shard: u32(o['shard'], 'shard'), node: nodeId(o['node'], 'node') };
    case 'abortMove':
      keys('shard');
      return { type: 'abortMove', ts, shard: u32(o['shard'], 'shard') };
    case 'splitShard':
      keys('shard', 'at', 'newShard', 'expectVersion');
      return {
        type: 'splitShard',
        ts,
        shard: u32(o['shard'], 'shard'),
        at: intIn(o['at'], 'at', 1, 0xffffffff),
        newShard: u32(o['newShard'], 'newShard'),
        ...optVersion(o),
      };
  }
}

/** The command as a plain object in canonical field order (what goes into the entry). */
function canonical(c: MetaCommand): Record<string, unknown> {
  const base = { v: META_COMMAND_VERSION, type: c.type, ts: c.ts };
  const ev = (v: number | undefined): { expectVersion?: number } => (v === undefined ? {} : { expectVersion: v });
  const addr = (n: NodeAddress): NodeAddress => ({ id: n.id, host: n.host, clientPort: n.clientPort, peerPort: n.peerPort });
  switch (c.type) {
    case 'bootstrap': {
      const k = c.config;
      return {
        ...base,
        nodes: c.nodes.map(addr),
        shards: c.shards,
        config: {
          replication: k.replication,
          metaReplication: k.metaReplication,
          downTimeoutMs: k.downTimeoutMs,
          maxConcurrentMoves: k.maxConcurrentMoves,
          loadFactor: k.loadFactor,
          vnodes: k.vnodes,
        },
      };
    }
    case 'joinNode':
      return { ...base, node: addr(c.node) };
    case 'addNode':
      return { ...base, node: addr(c.node), ...ev(c.expectVersion) };
    case 'removeNode':
      return { ...base, node: c.node, ...ev(c.expectVersion) };
    case 'heartbeat':
      return { ...base, node: c.node };
    case 'tick':
      return base;
    case 'leaderReport':
      return { ...base, shard: c.shard, node: c.node, term: c.term };
    case 'beginMove':
      return { ...base, shard: c.shard, add: c.add, remove: c.remove, ...ev(c.expectVersion) };
    case 'learnerAdded':
    case 'promoted':
    case 'replicaRemoved':
      return { ...base, shard: c.shard, node: c.node };
    case 'abortMove':
      return { ...base, shard: c.shard };
    case 'splitShard':
      return { ...base, shard: c.shard, at: c.at, newShard: c.newShard, ...ev(c.expectVersion) };
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes a command (validated first: throws MetaFormatError for an invalid one). */
export function encodeMetaCommand(c: MetaCommand): Uint8Array {
  const obj = canonical(c);
  parseMetaCommand(obj);
  return encoder.encode(JSON.stringify(obj));
}

/** Decodes and validates entry bytes; throws MetaFormatError naming the bad field. */
export function decodeMetaCommand(bytes: Uint8Array): MetaCommand {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new MetaFormatError('command', 'is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new MetaFormatError('command', 'is not valid JSON');
  }
  const o = record(parsed, 'command');
  if (o['v'] !== META_COMMAND_VERSION) fail('v', `must be ${META_COMMAND_VERSION}`);
  return parseMetaCommand(o);
}
