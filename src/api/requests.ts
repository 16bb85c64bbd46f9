/**
 * Executes validated requests against the node and builds response objects.
 * Every path ends in exactly one response: `{id, ok:true, …}` or
 * `{id, ok:false, error}`; nothing here throws to the socket.
 */
import type { CommandResult, SessionRef } from '../cache/index.js';
import { nodeName } from '../node/index.js';
import type { AdminRequest, AdminResult, CacheNode, WriteOp, WriteOutcome } from '../node/index.js';
import { badRequest, fromResult, fromThrown, tooLarge, wireError } from './errors.js';
import type { WireError } from './errors.js';
import type { Request, RequestOf, SessionField } from './schema.js';
import { isProblem, keyProblem, valueBytes, wireValue } from './values.js';
import type { Encoding, Problem } from './values.js';

export const PROTOCOL_VERSION = 1;
export const MAP_VERSION = 1;

export interface Limits {
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly maxBatchKeys: number;
  /** The cache's maxBytes (the TOO_LARGE limit of an entry refused on apply). */
  readonly cacheMaxBytes: number;
}

export type Response = { readonly id: number | null; readonly ok: true; readonly [field: string]: unknown } | { readonly id: number | null; readonly ok: false; readonly error: WireError };

export function errorResponse(id: number | null, error: WireError): Response {
  return { id, ok: false, error };
}

function problemError(p: Problem): WireError {
  return p.kind === 'bad' ? badRequest(p.message) : tooLarge(p.message, p.limit);
}

function sessionRef(s: SessionField | undefined): SessionRef | undefined {
  if (s === undefined) return undefined;
  const client = Number(s.client);
  return s.firstIncomplete === undefined ? { client, seq: s.seq } : { client, seq: s.seq, firstIncomplete: s.firstIncomplete };
}

/**
 * The `status` result (also the body of GET /health). The top-level Raft fields
 * are those of this node's first shard (the only one in a one-shard cluster);
 * `shards` lists every shard with a replica here.
 */
export function statusFields(node: CacheNode): Record<string, unknown> {
  const hosted = node.hostedGroups;
  // A node that holds no shard (more members than replicas) still answers, as a router.
  const s =
    hosted.length > 0
      ? node.status(hosted[0])
      : { group: 0, role: 'none', term: 0, commit: 0, applied: 0, lastIndex: 0, leader: 0 };
  return {
    node: nodeName(node.id),
    role: s.role,
    term: s.term,
    commit: s.commit,
    applied: s.applied,
    lastIndex: s.lastIndex,
    leader: s.leader === 0 ? null : nodeName(s.leader),
    leaderUrl: node.urlOf(s.leader),
    pid: process.pid,
    address: node.selfUrl,
    group: s.group,
    shards: node.hostedGroups.map((g) => {
      const gs = node.status(g);
      return {
        group: g,
        role: gs.role,
        term: gs.term,
        commit: gs.commit,
        applied: gs.applied,
        lastIndex: gs.lastIndex,
        leader: gs.leader === 0 ? null : nodeName(gs.leader),
      };
    }),
    // the map's nodes (joined ones included, removed ones left out), else the configured members
    members: node.clusterMembers().map((m) => (m.state === null ? { node: nodeName(m.id), url: node.urlOf(m.id) } : { node: nodeName(m.id), url: node.urlOf(m.id), state: m.state })),
    mapVersion: node.layout.version,
    pending: node.pendingRequests,
  };
}

/** The shard map (docs/protocol.md, `map`), with the leader hints this node knows. */
export function mapFields(node: CacheNode): Record<string, unknown> {
  return { ...node.layout.toWire(node.leaderHints()) };
}

/** Runs one validated request (not hello, not watch: those need the socket, server.ts). Resolves with the response; never rejects. */
export function execute(node: CacheNode, req: Exclude<Request, { op: 'hello' | 'watch' }>, limits: Limits): Response | Promise<Response> {
  const id = req.id;
  switch (req.op) {
    case 'get':
      return getOne(node, req, limits);
    case 'mget':
      return getMany(node, req, limits);
    case 'put':
      return put(node, req, limits);
    case 'delete': {
      const kp = keyProblem(req.key, 'key', limits.maxKeyBytes);
      if (kp) return errorResponse(id, problemError(kp));
      return writeOne(node, id, node.groupOf(req.key), { type: 'delete', key: req.key, session: sessionRef(req.session) }, limits, (r) =>
        r.result.ok && r.result.kind === 'deleted' ? { id, ok: true, deleted: r.result.existed } : null,
      );
    }
    case 'cas':
      return cas(node, req, limits);
    case 'incr': {
      const kp = keyProblem(req.key, 'key', limits.maxKeyBytes);
      if (kp) return errorResponse(id, problemError(kp));
      return writeOne(node, id, node.groupOf(req.key), { type: 'incr', key: req.key, by: req.by ?? 1, session: sessionRef(req.session) }, limits, (r) =>
        r.result.ok && r.result.kind === 'incr' ? { id, ok: true, value: r.result.value } : null,
      );
    }
    case 'mput':
      return mput(node, req, limits);
    case 'register':
      return writeOne(node, id, req.group ?? node.status().group, { type: 'register' }, limits, (r) =>
        r.result.ok && r.result.kind === 'registered' ? { id, ok: true, client: String(r.result.clientId) } : null,
      );
    case 'status':
      return { id, ok: true, ...statusFields(node) };
    case 'map':
      return { id, ok: true, ...mapFields(node) };
    case 'nodeAdd':
    case 'join':
      return admin(node, id, { op: req.op, node: { id: req.node.id, host: req.node.host, clientPort: req.node.clientPort, peerPort: req.node.peerPort } });
    case 'nodeRemove':
      return admin(node, id, { op: 'nodeRemove', node: req.node });
    case 'shardSplit':
      return admin(node, id, req.at === undefined ? { op: 'shardSplit', shard: req.shard } : { op: 'shardSplit', shard: req.shard, at: req.at });
  }
}

/**
 * An operator command through the meta group: `{id, ok, version}` (+ `shard`
 * for shardSplit). NOT_LEADER names the meta leader (leader, leaderUrl);
 * REJECTED passes the state machine's message through.
 */
export function admin(node: CacheNode, id: number, req: AdminRequest): Promise<Response> {
  let pending: Promise<AdminResult>;
  try {
    pending = node.admin(req);
  } catch (e) {
    return Promise.resolve(errorResponse(id, fromThrown(node, e)));
  }
  return pending.then(
    (r): Response => (r.shard === undefined ? { id, ok: true, version: r.version } : { id, ok: true, version: r.version, shard: r.shard }),
    (e: unknown) => errorResponse(id, fromThrown(node, e)),
  );
}

function writeOne(
  node: CacheNode,
  id: number,
  group: number,
  op: WriteOp,
  limits: Limits,
  success: (o: WriteOutcome) => Response | null,
): Promise<Response> {
  // One promise per write (node.submit takes callbacks), not a promise and a `then` on it.
  return new Promise<Response>((resolve) =>
    node.submit(
      group,
      op,
      (o) => {
        // Called from the node's apply loop: nothing may throw out of here.
        try {
          if (!o.result.ok) resolve(errorResponse(id, fromResult(o.result, limits.cacheMaxBytes, node.mapVersion)));
          else resolve(success(o) ?? errorResponse(id, wireError('INTERNAL', `unexpected result ${o.result.kind}`, false)));
        } catch (e) {
          resolve(errorResponse(id, wireError('INTERNAL', e instanceof Error ? e.message : String(e), false)));
        }
      },
      (e: unknown) => resolve(errorResponse(id, fromThrown(node, e))),
    ),
  );
}

function put(node: CacheNode, req: RequestOf<'put'>, limits: Limits): Response | Promise<Response> {
  const kp = keyProblem(req.key, 'key', limits.maxKeyBytes);
  if (kp) return errorResponse(req.id, problemError(kp));
  const value = valueBytes(req.value, 'value', req.encoding ?? 'utf8', limits.maxValueBytes);
  if (isProblem(value)) return errorResponse(req.id, problemError(value));
  const id = req.id;
  return writeOne(node, id, node.groupOf(req.key), { type: 'put', key: req.key, value, ttlMs: req.ttlMs, session: sessionRef(req.session) }, limits, () => ({
    id,
    ok: true,
  }));
}

function cas(node: CacheNode, req: RequestOf<'cas'>, limits: Limits): Response | Promise<Response> {
  const id = req.id;
  const enc: Encoding = req.encoding ?? 'utf8';
  const kp = keyProblem(req.key, 'key', limits.maxKeyBytes);
  if (kp) return errorResponse(id, problemError(kp));
  let expected: Uint8Array | null = null;
  if (req.expected !== null) {
    const v = valueBytes(req.expected, 'expected', enc, limits.maxValueBytes);
    if (isProblem(v)) return errorResponse(id, problemError(v));
    expected = v;
  }
  let next: Uint8Array | null = null;
  if (req.value !== null) {
    const v = valueBytes(req.value, 'value', enc, limits.maxValueBytes);
    if (isProblem(v)) return errorResponse(id, problemError(v));
    next = v;
  }
  return writeOne(node, id, node.groupOf(req.key), { type: 'cas', key: req.key, expected, next, ttlMs: req.ttlMs, session: sessionRef(req.session) }, limits, (o) =>
    o.result.ok && o.result.kind === 'cas' ? { id, ok: true, swapped: o.result.swapped, current: wireValue(o.current, enc) } : null,
  );
}

function mput(node: CacheNode, req: RequestOf<'mput'>, limits: Limits): Response | Promise<Response> {
  const id = req.id;
  const enc: Encoding = req.encoding ?? 'utf8';
  if (req.entries.length > limits.maxBatchKeys) {
    return errorResponse(id, tooLarge(`entries: ${req.entries.length} entries exceed the limit of ${limits.maxBatchKeys}`, limits.maxBatchKeys));
  }
  if (req.session !== undefined && req.entries.length > 1) {
    return errorResponse(id, badRequest('session: a session write covers one entry; send mput without session, or one put per entry'));
  }
  const session = sessionRef(req.session);
  const ops: WriteOp[] = [];
  for (let i = 0; i < req.entries.length; i++) {
    const e = req.entries[i];
    if (e === undefined) continue;
    const kp = keyProblem(e.key, `entries[${i}].key`, limits.maxKeyBytes);
    if (kp) return errorResponse(id, problemError(kp));
    const value = valueBytes(e.value, `entries[${i}].value`, enc, limits.maxValueBytes);
    if (isProblem(value)) return errorResponse(id, problemError(value));
    ops.push({ type: 'put', key: e.key, value, ttlMs: e.ttlMs, session });
  }
  let group: number;
  try {
    group = node.groupOfAll(ops.map((o) => (o.type === 'put' ? o.key : '')));
  } catch (e) {
    return errorResponse(id, fromThrown(node, e));
  }
  return node.writeMany(group, ops).then(
    (outcomes) => {
      let applied = 0;
      let firstFailure: Extract<CommandResult, { ok: false }> | null = null;
      for (const o of outcomes) {
        if (o.result.ok) applied++;
        else firstFailure ??= o.result;
      }
      if (firstFailure === null) return { id, ok: true };
      const err = fromResult(firstFailure, limits.cacheMaxBytes, node.mapVersion);
      // Some entries were applied: the mput as a whole is not "certainly not applied".
      return errorResponse(id, applied > 0 ? { ...err, definite: false, applied } : err);
    },
    (e: unknown) => {
      const err = fromThrown(node, e);
      // writeMany proposes entries one by one: if a later one was refused, earlier ones may apply.
      return errorResponse(id, ops.length > 1 ? { ...err, definite: false } : err);
    },
  );
}

function readKeys(
  node: CacheNode,
  id: number,
  keys: readonly string[],
  consistency: 'linearizable' | 'lease' | 'stale',
  build: (values: (Uint8Array | null)[]) => Response,
): Promise<Response> {
  let group: number;
  try {
    group = keys.length === 1 ? node.groupOf(keys[0] as string) : node.groupOfAll(keys);
  } catch (e) {
    return Promise.resolve(errorResponse(id, fromThrown(node, e)));
  }
  return node.read(group, keys, consistency).then(build, (e: unknown) => errorResponse(id, fromThrown(node, e)));
}

function getOne(node: CacheNode, req: RequestOf<'get'>, limits: Limits): Response | Promise<Response> {
  const id = req.id;
  const kp = keyProblem(req.key, 'key', limits.maxKeyBytes);
  if (kp) return errorResponse(id, problemError(kp));
  const enc: Encoding = req.encoding ?? 'utf8';
  return readKeys(node, id, [req.key], req.consistency ?? 'linearizable', (values) => ({ id, ok: true, value: wireValue(values[0], enc) }));
}

function getMany(node: CacheNode, req: RequestOf<'mget'>, limits: Limits): Response | Promise<Response> {
  const id = req.id;
  if (req.keys.length > limits.maxBatchKeys) {
    return errorResponse(id, tooLarge(`keys: ${req.keys.length} keys exceed the limit of ${limits.maxBatchKeys}`, limits.maxBatchKeys));
  }
  for (let i = 0; i < req.keys.length; i++) {
    const kp = keyProblem(req.keys[i] as string, `keys[${i}]`, limits.maxKeyBytes);
    if (kp) return errorResponse(id, problemError(kp));
  }
  const enc: Encoding = req.encoding ?? 'utf8';
  return readKeys(node, id, req.keys, req.consistency ?? 'linearizable', (values) => ({
    id,
    ok: true,
    values: values.map((v) => wireValue(v, enc)),
  }));
}
