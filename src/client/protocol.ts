/**
 * Wire shapes of the client protocol (PROTOCOL.md, version 1) as the client
 * sees them, and the endpoint notation the client and CLI accept.
 */

export type Consistency = 'linearizable' | 'lease' | 'stale';

export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly definite: boolean;
  readonly leader?: string | null;
  readonly leaderUrl?: string | null;
  readonly [hint: string]: unknown;
}

/** A decoded response frame: `id`, `ok`, and either result fields or `error`. */
export interface ResponseFrame {
  readonly id: number | null;
  readonly ok: boolean;
  readonly error?: WireError;
  readonly [field: string]: unknown;
}

/**
 * A frame the server pushes without a request: it has `event` and no `id`.
 * Today only `{event: "map", version}` (after `watch`).
 */
export interface PushFrame {
  readonly event: string;
  readonly [field: string]: unknown;
}

/** A node's address, as the operator ops `nodeAdd` and `join` take it. */
export interface NodeAddress {
  /** Node id, 1..2^32-1. */
  readonly id: number;
  readonly host: string;
  readonly clientPort: number;
  readonly peerPort: number;
}

/** A request frame; `id` is set by the connection on every send. */
export interface RequestFrame {
  id: number;
  readonly op: string;
  [field: string]: unknown;
}

export interface SessionField {
  readonly client: string;
  readonly seq: number;
  /** Lowest seq this client has not seen an outcome for (lets the server forget older results). */
  firstIncomplete: number;
}

export interface Member {
  readonly node: string;
  readonly url: string;
  /** In `status`: the node's state in the answering node's shard map (`up`, `down`, `draining`), when it has a map. */
  readonly state?: string;
}

/** One shard with a replica on the answering node (`status.shards`). */
export interface ShardStatus {
  readonly group: number;
  readonly role: string;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly leader: string | null;
}

/** The `status` op's result (and GET /health). */
export interface NodeStatus {
  readonly node: string;
  readonly role: string;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly leader: string | null;
  readonly leaderUrl: string | null;
  readonly pid: number;
  readonly address: string;
  readonly group: number;
  readonly members: readonly Member[];
  readonly mapVersion: number;
  /** The node's shards; absent from servers that predate sharding. */
  readonly shards?: readonly ShardStatus[];
  readonly [field: string]: unknown;
}

/**
 * "host:port", "ws://host:port", "ws://host:port/v1" or "wss://…" → a full
 * ws URL with the /v1 path.
 */
export function endpointUrl(endpoint: string): string {
  const e = endpoint.trim();
  if (e === '') throw new Error('empty endpoint');
  const withScheme = /^wss?:\/\//i.test(e) ? e : `ws://${e}`;
  const url = new URL(withScheme);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1';
  return url.toString();
}

/** Parses a comma-separated endpoint list ("a:1,b:2"). */
export function parseEndpoints(list: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(endpointUrl);
}

/** ws://host:port/v1 → http://host:port (for /health). */
export function httpBase(wsUrl: string): string {
  const u = new URL(wsUrl);
  return `${u.protocol === 'wss:' ? 'https' : 'http'}://${u.host}`;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Decodes one text frame; null when it is not a response object. */
export function decodeResponse(text: string): ResponseFrame | null {
  const f = decodeFrame(text);
  return f === null || isPush(f) ? null : f;
}

export function isPush(f: ResponseFrame | PushFrame): f is PushFrame {
  return !('id' in f);
}

/** Decodes one text frame: a response, a push (`event` and no `id`), or null for anything else. */
export function decodeFrame(text: string): ResponseFrame | PushFrame | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(parsed)) return null;
  if (!('id' in parsed)) return typeof parsed['event'] === 'string' ? (parsed as PushFrame) : null;
  if (typeof parsed['ok'] !== 'boolean') return null;
  const id = parsed['id'];
  if (id !== null && typeof id !== 'number') return null;
  if (parsed['ok'] === false) {
    const err = parsed['error'];
    if (!isRecord(err) || typeof err['code'] !== 'string') return null;
    if (typeof err['definite'] !== 'boolean') err['definite'] = false;
    if (typeof err['message'] !== 'string') err['message'] = err['code'];
  }
  return parsed as unknown as ResponseFrame;
}

/** Reads a NodeStatus out of a `status` response or /health body. */
export function toNodeStatus(frame: Readonly<Record<string, unknown>>): NodeStatus {
  const members: Member[] = [];
  const raw = frame['members'];
  if (Array.isArray(raw)) {
    for (const m of raw) {
      if (isRecord(m) && typeof m['url'] === 'string') {
        const node = String(m['node'] ?? '');
        const url = endpointUrl(m['url']);
        members.push(typeof m['state'] === 'string' ? { node, url, state: m['state'] } : { node, url });
      }
    }
  }
  const num = (k: string): number => (typeof frame[k] === 'number' ? (frame[k] as number) : 0);
  const strOrNull = (k: string): string | null => (typeof frame[k] === 'string' ? (frame[k] as string) : null);
  const leaderUrl = strOrNull('leaderUrl');
  const { id: _id, ok: _ok, ...rest } = frame;
  return {
    ...rest,
    node: String(frame['node'] ?? ''),
    role: String(frame['role'] ?? 'unknown'),
    term: num('term'),
    commit: num('commit'),
    applied: num('applied'),
    leader: strOrNull('leader'),
    leaderUrl: leaderUrl === null ? null : endpointUrl(leaderUrl),
    pid: num('pid'),
    address: typeof frame['address'] === 'string' ? endpointUrl(frame['address']) : '',
    group: num('group'),
    members,
    mapVersion: num('mapVersion'),
    ...(Array.isArray(frame['shards']) ? { shards: toShardStatuses(frame['shards'] as unknown[]) } : {}),
  };
}

function toShardStatuses(raw: readonly unknown[]): ShardStatus[] {
  const out: ShardStatus[] = [];
  for (const x of raw) {
    if (!isRecord(x) || typeof x['group'] !== 'number') continue;
    const num = (k: string): number => (typeof x[k] === 'number' ? (x[k] as number) : 0);
    out.push({
      group: x['group'],
      role: typeof x['role'] === 'string' ? x['role'] : 'unknown',
      term: num('term'),
      commit: num('commit'),
      applied: num('applied'),
      leader: typeof x['leader'] === 'string' ? x['leader'] : null,
    });
  }
  return out;
}
