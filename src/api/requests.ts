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

/** A request the node executes (hello and watch need the socket: server.ts). */
export type NodeRequest = Exclude<Request, { op: 'hello' | 'watch' }>;

/**
 * Where the one response to a request goes. `reply` is called exactly once,
 * possibly before `dispatch` returns, possibly from the node's apply loop: it
 * must not throw. (An object, not a callback, so that the server passes its
 * per-socket state and allocates nothing per request for it.)
 */
export interface ReplyTo {
  reply(r: Response): void;
}

/**
 * Runs one validated request and hands its response to `to` (the server's hot
 * path: no promise per request where the node takes callbacks). A throw out of
 * here means `to` was not called (a bug: the caller answers INTERNAL).
 */
export function dispatch(node: CacheNode, req: NodeRequest, limits: Limits, to: ReplyTo): void {
  const id = req.id;
  switch (req.op) {
    case 'get':
      getOne(node, req, limits, to);
      return;
    case 'mget':
      getMany(node, req, limits, to);
      return;
    case 'put':
      put(node, req, limits, to);
      return;
    case 'delete': {
      const kp = keyProblem(req.key, 'key', limits.maxKeyBytes);
      if (kp) to.reply(errorResponse(id, problemError(kp)));
      else writeOne(node, id, node.groupOf(req.key), { type: 'delete', key: req.key, session: sessionRef(req.session) }, limits, deleted, 'utf8', to);
      return;
    }
    case 'cas':
      cas(node, req, limits, to);
      return;
    case 'incr': {
      const kp = keyProblem(req.key, 'key', limits.maxKeyBytes);
      if (kp) to.reply(errorResponse(id, problemError(kp)));
      else writeOne(node, id, node.groupOf(req.key), { type: 'incr', key: req.key, by: req.by ?? 1, session: sessionRef(req.session) }, limits, incremented, 'utf8', to);
      return;
    }
    case 'mput':
      mput(node, req, limits, to);
      return;
    case 'register':
      writeOne(node, id, req.group ?? node.status().group, { type: 'register' }, limits, registered, 'utf8', to);
      return;
    case 'status':
      to.reply({ id, ok: true, ...statusFields(node) });
      return;
    case 'map':
      to.reply({ id, ok: true, ...mapFields(node) });
      return;
    case 'nodeAdd':
    case 'join':
      replyLater(admin(node, id, { op: req.op, node: { id: req.node.id, host: req.node.host, clientPort: req.node.clientPort, peerPort: req.node.peerPort } }), to);
      return;
    case 'nodeRemove':
      replyLater(admin(node, id, { op: 'nodeRemove', node: req.node }), to);
      return;
    case 'shardSplit':
      replyLater(admin(node, id, req.at === undefined ? { op: 'shardSplit', shard: req.shard } : { op: 'shardSplit', shard: req.shard, at: req.at }), to);
      return;
  }
}

/** A promise that never rejects (admin), answered through `to`. */
function replyLater(p: Promise<Response>, to: ReplyTo): void {
  void p.then((r) => to.reply(r));
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

/** Builds a write's success response from its outcome, or null for an unexpected result. A plain function: no closure per write. */
type WriteDone = (o: WriteOutcome, id: number, enc: Encoding) => Response | null;

const stored: WriteDone = (_o, id) => ({ id, ok: true });
const deleted: WriteDone = (o, id) => (o.result.ok && o.result.kind === 'deleted' ? { id, ok: true, deleted: o.result.existed } : null);
const incremented: WriteDone = (o, id) => (o.result.ok && o.result.kind === 'incr' ? { id, ok: true, value: o.result.value } : null);
const registered: WriteDone = (o, id) => (o.result.ok && o.result.kind === 'registered' ? { id, ok: true, client: String(o.result.clientId) } : null);
const swapped: WriteDone = (o, id, enc) =>
  o.result.ok && o.result.kind === 'cas' ? { id, ok: true, swapped: o.result.swapped, current: wireValue(o.current, enc) } : null;

/** The response to an applied write. Called from the node's apply loop: never throws. */
function writeResponse(node: CacheNode, id: number, o: WriteOutcome, limits: Limits, done: WriteDone, enc: Encoding): Response {
  try {
    if (!o.result.ok) return errorResponse(id, fromResult(o.result, limits.cacheMaxBytes, node.mapVersion));
    return done(o, id, enc) ?? errorResponse(id, wireError('INTERNAL', `unexpected result ${o.result.kind}`, false));
  } catch (e) {
    return errorResponse(id, wireError('INTERNAL', e instanceof Error ? e.message : String(e), false));
  }
}

/** One write through node.submit (callbacks: no promise, no microtask per write). */
function writeOne(node: CacheNode, id: number, group: number, op: WriteOp, limits: Limits, done: WriteDone, enc: Encoding, to: ReplyTo): void {
  node.submit(
    group,
    op,
    (o) => to.reply(writeResponse(node, id, o, limits, done, enc)),
    (e: unknown) => to.reply(errorResponse(id, fromThrown(node, e))),
  );
}

function put(node: CacheNode, req: RequestOf<'put'>, limits: Limits, to: ReplyTo): void {
  const kp = keyProblem(req.key, 'key', limits.maxKeyBytes);
  if (kp) return to.reply(errorResponse(req.id, problemError(kp)));
  const value = valueBytes(req.value, 'value', req.encoding ?? 'utf8', limits.maxValueBytes);
  if (isProblem(value)) return to.reply(errorResponse(req.id, problemError(value)));
  const op: WriteOp = { type: 'put', key: req.key, value, ttlMs: req.ttlMs, session: sessionRef(req.session) };
  writeOne(node, req.id, node.groupOf(req.key), op, limits, stored, 'utf8', to);
}

function cas(node: CacheNode, req: RequestOf<'cas'>, limits: Limits, to: ReplyTo): void {
  const id = req.id;
  const enc: Encoding = req.encoding ?? 'utf8';
  const kp = keyProblem(req.key, 'key', limits.maxKeyBytes);
  if (kp) return to.reply(errorResponse(id, problemError(kp)));
  let expected: Uint8Array | null = null;
  if (req.expected !== null) {
    const v = valueBytes(req.expected, 'expected', enc, limits.maxValueBytes);
    if (isProblem(v)) return to.reply(errorResponse(id, problemError(v)));
    expected = v;
  }
  let next: Uint8Array | null = null;
  if (req.value !== null) {
    const v = valueBytes(req.value, 'value', enc, limits.maxValueBytes);
    if (isProblem(v)) return to.reply(errorResponse(id, problemError(v)));
    next = v;
  }
  const op: WriteOp = { type: 'cas', key: req.key, expected, next, ttlMs: req.ttlMs, session: sessionRef(req.session) };
  writeOne(node, id, node.groupOf(req.key), op, limits, swapped, enc, to);
}

function mput(node: CacheNode, req: RequestOf<'mput'>, limits: Limits, to: ReplyTo): void {
  const id = req.id;
  const enc: Encoding = req.encoding ?? 'utf8';
  if (req.entries.length > limits.maxBatchKeys) {
    return to.reply(errorResponse(id, tooLarge(`entries: ${req.entries.length} entries exceed the limit of ${limits.maxBatchKeys}`, limits.maxBatchKeys)));
  }
  if (req.session !== undefined && req.entries.length > 1) {
    return to.reply(errorResponse(id, badRequest('session: a session write covers one entry; send mput without session, or one put per entry')));
  }
  const session = sessionRef(req.session);
  const ops: WriteOp[] = [];
  for (let i = 0; i < req.entries.length; i++) {
    const e = req.entries[i];
    if (e === undefined) continue;
    const kp = keyProblem(e.key, `entries[${i}].key`, limits.maxKeyBytes);
    if (kp) return to.reply(errorResponse(id, problemError(kp)));
    const value = valueBytes(e.value, `entries[${i}].value`, enc, limits.maxValueBytes);
    if (isProblem(value)) return to.reply(errorResponse(id, problemError(value)));
    ops.push({ type: 'put', key: e.key, value, ttlMs: e.ttlMs, session });
  }
  let group: number;
  try {
    group = node.groupOfAll(ops.map((o) => (o.type === 'put' ? o.key : '')));
  } catch (e) {
    return to.reply(errorResponse(id, fromThrown(node, e)));
  }
  node.writeMany(group, ops).then(
    (outcomes) => {
      let applied = 0;
      let firstFailure: Extract<CommandResult, { ok: false }> | null = null;
      for (const o of outcomes) {
        if (o.result.ok) applied++;
        else firstFailure ??= o.result;
      }
      if (firstFailure === null) return to.reply({ id, ok: true });
      const err = fromResult(firstFailure, limits.cacheMaxBytes, node.mapVersion);
      // Some entries were applied: the mput as a whole is not "certainly not applied".
      to.reply(errorResponse(id, applied > 0 ? { ...err, definite: false, applied } : err));
    },
    (e: unknown) => {
      const err = fromThrown(node, e);
      // writeMany proposes entries one by one: if a later one was refused, earlier ones may apply.
      to.reply(errorResponse(id, ops.length > 1 ? { ...err, definite: false } : err));
    },
  );
}

/** Reads keys of one group; `build` turns the values into the response. */
function readKeys(
  node: CacheNode,
  id: number,
  keys: readonly string[],
  consistency: 'linearizable' | 'lease' | 'stale',
  enc: Encoding,
  build: (id: number, values: (Uint8Array | null)[], enc: Encoding) => Response,
  to: ReplyTo,
): void {
  let group: number;
  try {
    group = keys.length === 1 ? node.groupOf(keys[0] as string) : node.groupOfAll(keys);
  } catch (e) {
    return to.reply(errorResponse(id, fromThrown(node, e)));
  }
  // node.read has no callback form: one promise from the node and this `then`.
  node.readWith(
    group,
    keys,
    consistency,
    (values) => to.reply(readResponse(id, values, enc, build)),
    (e: unknown) => to.reply(errorResponse(id, fromThrown(node, e))),
  );
}

function readResponse(id: number, values: (Uint8Array | null)[], enc: Encoding, build: (id: number, values: (Uint8Array | null)[], enc: Encoding) => Response): Response {
  try {
    return build(id, values, enc);
  } catch (e) {
    return errorResponse(id, wireError('INTERNAL', e instanceof Error ? e.message : String(e), false));
  }
}

const oneValue = (id: number, values: (Uint8Array | null)[], enc: Encoding): Response => ({ id, ok: true, value: wireValue(values[0], enc) });
const manyValues = (id: number, values: (Uint8Array | null)[], enc: Encoding): Response => ({ id, ok: true, values: values.map((v) => wireValue(v, enc)) });

function getOne(node: CacheNode, req: RequestOf<'get'>, limits: Limits, to: ReplyTo): void {
  const kp = keyProblem(req.key, 'key', limits.maxKeyBytes);
  if (kp) return to.reply(errorResponse(req.id, problemError(kp)));
  readKeys(node, req.id, [req.key], req.consistency ?? 'linearizable', req.encoding ?? 'utf8', oneValue, to);
}

function getMany(node: CacheNode, req: RequestOf<'mget'>, limits: Limits, to: ReplyTo): void {
  const id = req.id;
  if (req.keys.length > limits.maxBatchKeys) {
    return to.reply(errorResponse(id, tooLarge(`keys: ${req.keys.length} keys exceed the limit of ${limits.maxBatchKeys}`, limits.maxBatchKeys)));
  }
  for (let i = 0; i < req.keys.length; i++) {
    const kp = keyProblem(req.keys[i] as string, `keys[${i}]`, limits.maxKeyBytes);
    if (kp) return to.reply(errorResponse(id, problemError(kp)));
  }
  readKeys(node, id, req.keys, req.consistency ?? 'linearizable', req.encoding ?? 'utf8', manyValues, to);
}
