/**
 * Request frames of the client protocol (PROTOCOL.md), validated with zod at
 * the edge. Unknown extra fields are ignored (forward compatibility); a wrong
 * type or a missing field is a BAD_REQUEST whose message names the field.
 * Size limits (key/value bytes) are checked after parsing, in requests.ts,
 * because they depend on the configured limits and give TOO_LARGE.
 */
import { z } from 'zod';
import { fastCas, fastDelete, fastGet, fastMget, fastPut } from './fast-parse.js';

const id = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const key = z.string().min(1, 'must be a non-empty string');
const encoding = z.enum(['utf8', 'base64']).optional();
const ttlMs = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional();
const session = z.object({
  /** Decimal id from `register`. */
  client: z.string().regex(/^[1-9][0-9]{0,15}$/, 'must be the decimal client id returned by register'),
  seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  firstIncomplete: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});
const consistency = z.enum(['linearizable', 'lease', 'stale']).optional();
/** A node id: 1..2^32-1 (0 means "none" in Raft). */
const nodeId = z.number().int().min(1).max(0xffffffff);
const port = z.number().int().min(1).max(65535);
/** A node's addresses, for nodeAdd and join. */
const nodeAddress = z.object({ id: nodeId, host: z.string().min(1, 'must be a non-empty host name or address'), clientPort: port, peerPort: port });

export const requestSchemas = {
  hello: z.object({ id, op: z.literal('hello'), token: z.string().optional(), client: z.string().optional() }),
  get: z.object({ id, op: z.literal('get'), key, consistency, encoding }),
  put: z.object({ id, op: z.literal('put'), key, value: z.string(), ttlMs, session: session.optional(), encoding }),
  delete: z.object({ id, op: z.literal('delete'), key, session: session.optional() }),
  cas: z.object({
    id,
    op: z.literal('cas'),
    key,
    expected: z.string().nullable(),
    value: z.string().nullable(),
    ttlMs,
    session: session.optional(),
    encoding,
  }),
  incr: z.object({
    id,
    op: z.literal('incr'),
    key,
    by: z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).optional(),
    session: session.optional(),
  }),
  mget: z.object({ id, op: z.literal('mget'), keys: z.array(key).min(1), consistency, encoding }),
  mput: z.object({
    id,
    op: z.literal('mput'),
    entries: z.array(z.object({ key, value: z.string(), ttlMs })).min(1),
    session: session.optional(),
    encoding,
  }),
  /** `group`: the Raft group whose log holds the session (sessions are per group). */
  register: z.object({ id, op: z.literal('register'), group: z.number().int().min(0).max(0xffffffff).optional() }),
  status: z.object({ id, op: z.literal('status') }),
  map: z.object({ id, op: z.literal('map') }),
  // Operator commands, carried out by the meta group (docs/protocol.md, "Changing the cluster").
  nodeAdd: z.object({ id, op: z.literal('nodeAdd'), node: nodeAddress }),
  nodeRemove: z.object({ id, op: z.literal('nodeRemove'), node: nodeId }),
  join: z.object({ id, op: z.literal('join'), node: nodeAddress }),
  /** `at`: the ring point where the new shard starts (default: the middle of the shard's span). */
  shardSplit: z.object({ id, op: z.literal('shardSplit'), shard: z.number().int().min(1).max(0xffffffff), at: z.number().int().min(0).max(0xffffffff).optional() }),
  /** Subscribe this socket to `{event: "map", version}` pushes. */
  watch: z.object({ id, op: z.literal('watch') }),
} as const;

export type Op = keyof typeof requestSchemas;
export type Request = { [K in Op]: z.output<(typeof requestSchemas)[K]> }[Op];
export type RequestOf<K extends Op> = z.output<(typeof requestSchemas)[K]>;
export type SessionField = z.output<typeof session>;

export function isOp(op: unknown): op is Op {
  return typeof op === 'string' && Object.prototype.hasOwnProperty.call(requestSchemas, op);
}

/** The hand-written validator of the hot ops (fast-parse.ts): the request zod would return, or null to ask zod. */
export function fastParse(op: Op, frame: unknown): Request | null {
  switch (op) {
    case 'get':
      return fastGet(frame);
    case 'put':
      return fastPut(frame);
    case 'delete':
      return fastDelete(frame);
    case 'cas':
      return fastCas(frame);
    case 'mget':
      return fastMget(frame);
    default:
      return null;
  }
}

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? 'frame' : out;
}

/** Validates a parsed frame for `op`: the request, or the message of the first problem ("key: …"). */
export function parseRequest(op: Op, frame: unknown): { ok: true; req: Request } | { ok: false; message: string } {
  const fast = fastParse(op, frame);
  if (fast !== null) return { ok: true, req: fast };
  const r = requestSchemas[op].safeParse(frame);
  if (r.success) return { ok: true, req: r.data };
  const issue = r.error.issues[0];
  return { ok: false, message: issue === undefined ? 'invalid request' : `${pathText(issue.path)}: ${issue.message}` };
}
