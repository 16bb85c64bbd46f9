/**
 * A hand-written validator for the hot request shapes (get, put, delete, cas,
 * mget), tried before zod by parseRequest. It returns exactly the object the
 * zod schema would return (schema.ts: fields in schema order, unknown fields
 * dropped, absent optional fields absent), or null for "not sure": then zod
 * runs, so every error message still comes from zod. It only accepts what it
 * has fully checked; anything unusual (a field present but undefined, an
 * unexpected type anywhere) is "not sure". test/api/fast-parse.test.ts checks
 * it against zod on random frames.
 */
import type { RequestOf, SessionField } from './schema.js';

type Fields = Record<string, unknown>;
type Encoding = 'utf8' | 'base64';
type Consistency = 'linearizable' | 'lease' | 'stale';

/** Marks a field that failed: the caller returns null ("not sure"). */
const BAD: unique symbol = Symbol('bad');
type Bad = typeof BAD;

/** schema.ts `session.client`. */
const CLIENT_ID = /^[1-9][0-9]{0,15}$/;

function isFields(v: unknown): v is Fields {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A safe integer in [min, 2^53-1]. */
function isInt(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
}

/** schema.ts `key`. */
function isKey(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

/**
 * The absent case of an optional field: zod leaves a missing key out, but keeps
 * a key that is present with the value undefined (not JSON; left to zod).
 */
function absent(f: Fields, name: string): boolean {
  return !(name in f);
}

function encodingOf(f: Fields): Encoding | undefined | Bad {
  const v = f['encoding'];
  if (v === 'utf8' || v === 'base64') return v;
  return v === undefined && absent(f, 'encoding') ? undefined : BAD;
}

function consistencyOf(f: Fields): Consistency | undefined | Bad {
  const v = f['consistency'];
  if (v === 'linearizable' || v === 'lease' || v === 'stale') return v;
  return v === undefined && absent(f, 'consistency') ? undefined : BAD;
}

function ttlOf(f: Fields): number | undefined | Bad {
  const v = f['ttlMs'];
  if (isInt(v, 1)) return v;
  return v === undefined && absent(f, 'ttlMs') ? undefined : BAD;
}

function sessionOf(f: Fields): SessionField | undefined | Bad {
  const s = f['session'];
  if (s === undefined) return absent(f, 'session') ? undefined : BAD;
  if (!isFields(s)) return BAD;
  const client = s['client'];
  const seq = s['seq'];
  if (typeof client !== 'string' || !CLIENT_ID.test(client) || !isInt(seq, 1)) return BAD;
  const first = s['firstIncomplete'];
  if (first === undefined) return absent(s, 'firstIncomplete') ? { client, seq } : BAD;
  return isInt(first, 0) ? { client, seq, firstIncomplete: first } : BAD;
}

/** `{"op": "get"}` frames: the request zod would return, or null. */
export function fastGet(frame: unknown): RequestOf<'get'> | null {
  if (!isFields(frame)) return null;
  const id = frame['id'];
  const key = frame['key'];
  if (!isInt(id, 0) || frame['op'] !== 'get' || !isKey(key)) return null;
  const consistency = consistencyOf(frame);
  const encoding = encodingOf(frame);
  if (consistency === BAD || encoding === BAD) return null;
  const out: RequestOf<'get'> = { id, op: 'get', key };
  if (consistency !== undefined) out.consistency = consistency;
  if (encoding !== undefined) out.encoding = encoding;
  return out;
}

/** `{"op": "put"}` frames. */
export function fastPut(frame: unknown): RequestOf<'put'> | null {
  if (!isFields(frame)) return null;
  const id = frame['id'];
  const key = frame['key'];
  const value = frame['value'];
  if (!isInt(id, 0) || frame['op'] !== 'put' || !isKey(key) || typeof value !== 'string') return null;
  const ttlMs = ttlOf(frame);
  const session = sessionOf(frame);
  const encoding = encodingOf(frame);
  if (ttlMs === BAD || session === BAD || encoding === BAD) return null;
  const out: RequestOf<'put'> = { id, op: 'put', key, value };
  if (ttlMs !== undefined) out.ttlMs = ttlMs;
  if (session !== undefined) out.session = session;
  if (encoding !== undefined) out.encoding = encoding;
  return out;
}

/** `{"op": "delete"}` frames. */
export function fastDelete(frame: unknown): RequestOf<'delete'> | null {
  if (!isFields(frame)) return null;
  const id = frame['id'];
  const key = frame['key'];
  if (!isInt(id, 0) || frame['op'] !== 'delete' || !isKey(key)) return null;
  const session = sessionOf(frame);
  if (session === BAD) return null;
  const out: RequestOf<'delete'> = { id, op: 'delete', key };
  if (session !== undefined) out.session = session;
  return out;
}

/** `{"op": "cas"}` frames (`expected` and `value` are required, string or null). */
export function fastCas(frame: unknown): RequestOf<'cas'> | null {
  if (!isFields(frame)) return null;
  const id = frame['id'];
  const key = frame['key'];
  const expected = frame['expected'];
  const value = frame['value'];
  if (!isInt(id, 0) || frame['op'] !== 'cas' || !isKey(key)) return null;
  if ((typeof expected !== 'string' && expected !== null) || (typeof value !== 'string' && value !== null)) return null;
  const ttlMs = ttlOf(frame);
  const session = sessionOf(frame);
  const encoding = encodingOf(frame);
  if (ttlMs === BAD || session === BAD || encoding === BAD) return null;
  const out: RequestOf<'cas'> = { id, op: 'cas', key, expected, value };
  if (ttlMs !== undefined) out.ttlMs = ttlMs;
  if (session !== undefined) out.session = session;
  if (encoding !== undefined) out.encoding = encoding;
  return out;
}

/** `{"op": "mget"}` frames (a fresh keys array, as zod returns). */
export function fastMget(frame: unknown): RequestOf<'mget'> | null {
  if (!isFields(frame)) return null;
  const id = frame['id'];
  const keys = frame['keys'];
  if (!isInt(id, 0) || frame['op'] !== 'mget' || !Array.isArray(keys) || keys.length === 0) return null;
  const copy: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    const k: unknown = keys[i];
    if (!isKey(k)) return null;
    copy.push(k);
  }
  const consistency = consistencyOf(frame);
  const encoding = encodingOf(frame);
  if (consistency === BAD || encoding === BAD) return null;
  const out: RequestOf<'mget'> = { id, op: 'mget', keys: copy };
  if (consistency !== undefined) out.consistency = consistency;
  if (encoding !== undefined) out.encoding = encoding;
  return out;
}
