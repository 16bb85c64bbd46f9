/**
 * The hottest request, a put, read straight from the frame's bytes: no text
 * of the whole frame (Buffer.toString), no JSON.parse object to validate.
 *
 * It reads only the shape the clients write (JSON.stringify / JsonWriter: no
 * whitespace) and only what it can check completely:
 *   {"id":N,"op":"put","key":S,"value":S[,"ttlMs":N][,"session":{"client":S,"seq":N[,"firstIncomplete":N]}][,"encoding":S]}
 * with the optional fields in any order, each at most once; strings without
 * escapes or control characters; numbers as plain digits (at most 15, so
 * exact), no sign, fraction or exponent. For such a frame it returns exactly
 * what fastPut(JSON.parse(text)) returns (the request zod would return); for
 * anything else null ("not sure": the caller takes the general path, where
 * every error message comes from).
 */
import type { RequestOf, SessionField } from './schema.js';

const QUOTE = 0x22;
const COMMA = 0x2c;
const RBRACE = 0x7d;
const ZERO = 0x30;
const NINE = 0x39;
/** At most this many digits: below 2^53, so exact and safe. */
const MAX_DIGITS = 15;
/** schema.ts `session.client`. */
const CLIENT_ID = /^[1-9][0-9]{0,15}$/;

/** `"id":` etc.: the bytes of each expected field name with its quotes and colon. */
const bytesOf = (s: string): Buffer => Buffer.from(s, 'latin1');
const ID = bytesOf('{"id":');
const OP_PUT_KEY = bytesOf(',"op":"put","key":');
const VALUE = bytesOf(',"value":');
const TTL = bytesOf('"ttlMs":');
const SESSION_CLIENT = bytesOf('"session":{"client":');
const SEQ = bytesOf(',"seq":');
const FIRST = bytesOf(',"firstIncomplete":');
const ENCODING = bytesOf('"encoding":');

/** Strings with any of these need care: escapes and control characters (then null), non-ASCII (then UTF-8). */
const NOT_PLAIN = /[\x00-\x1f\\\x80-\xff]/;
const ESCAPE_OR_CONTROL = /[\x00-\x1f\\]/;

/** The reader's state: position, and the last number or string read (one object, reused: no allocation per frame). */
class Reader {
  buf: Buffer = Buffer.alloc(0);
  at = 0;
  num = 0;
  str = '';

  /** Reads the bytes of `lit`, or nothing. */
  literal(lit: Buffer): boolean {
    const buf = this.buf;
    const at = this.at;
    const n = lit.length;
    if (at + n > buf.length) return false;
    for (let i = 0; i < n; i++) if (buf[at + i] !== lit[i]) return false;
    this.at = at + n;
    return true;
  }

  /** Reads an integer of plain digits (no leading zero but for 0 itself) into `num`. */
  integer(): boolean {
    const buf = this.buf;
    const start = this.at;
    let at = start;
    let v = 0;
    while (at < buf.length) {
      const c = buf[at] as number;
      if (c < ZERO || c > NINE) break;
      v = v * 10 + (c - ZERO);
      at++;
    }
    const digits = at - start;
    if (digits === 0 || digits > MAX_DIGITS || (digits > 1 && buf[start] === ZERO)) return false;
    // a fraction or exponent follows: not a plain integer
    const next = buf[at];
    if (next === 0x2e || next === 0x65 || next === 0x45) return false;
    this.at = at;
    this.num = v;
    return true;
  }

  /** Reads a string without escapes or control characters into `str`. */
  string(): boolean {
    const buf = this.buf;
    if (buf[this.at] !== QUOTE) return false;
    const start = this.at + 1;
    const end = buf.indexOf(QUOTE, start);
    if (end < 0) return false;
    // (an escaped quote may have ended it early: then the part holds a backslash and is refused)
    let s = buf.toString('latin1', start, end);
    if (NOT_PLAIN.test(s)) {
      if (ESCAPE_OR_CONTROL.test(s)) return false;
      // non-ASCII: UTF-8 (a quote byte never occurs inside a UTF-8 sequence, so the part decodes as within the whole text)
      s = buf.toString('utf8', start, end);
    }
    this.str = s;
    this.at = end + 1;
    return true;
  }
}

const r = new Reader();
const EMPTY = Buffer.alloc(0);

/** The put request in `buf`, or null when the frame is not (surely) a put of the shape above. */
export function parsePutBytes(buf: Buffer): RequestOf<'put'> | null {
  r.buf = buf;
  r.at = 0;
  try {
    return read(buf);
  } finally {
    r.buf = EMPTY; // (do not keep the frame)
  }
}

function read(buf: Buffer): RequestOf<'put'> | null {
  if (!r.literal(ID) || !r.integer()) return null;
  const id = r.num;
  if (!r.literal(OP_PUT_KEY) || !r.string() || r.str.length === 0) return null;
  const key = r.str;
  if (!r.literal(VALUE) || !r.string()) return null;
  const value = r.str;
  let ttlMs: number | undefined;
  let session: SessionField | undefined;
  let encoding: 'utf8' | 'base64' | undefined;
  while (buf[r.at] === COMMA) {
    r.at++;
    if (ttlMs === undefined && r.literal(TTL)) {
      if (!r.integer() || r.num < 1) return null;
      ttlMs = r.num;
    } else if (session === undefined && r.literal(SESSION_CLIENT)) {
      if (!r.string() || !CLIENT_ID.test(r.str)) return null;
      const client = r.str;
      if (!r.literal(SEQ) || !r.integer() || r.num < 1) return null;
      const seq = r.num;
      if (buf[r.at] === COMMA) {
        if (!r.literal(FIRST) || !r.integer()) return null;
        session = { client, seq, firstIncomplete: r.num };
      } else {
        session = { client, seq };
      }
      if (buf[r.at++] !== RBRACE) return null;
    } else if (encoding === undefined && r.literal(ENCODING)) {
      if (!r.string() || (r.str !== 'utf8' && r.str !== 'base64')) return null;
      encoding = r.str;
    } else {
      return null; // another field, or one repeated
    }
  }
  if (buf[r.at] !== RBRACE || r.at + 1 !== buf.length) return null;
  const out: RequestOf<'put'> = { id, op: 'put', key, value };
  if (ttlMs !== undefined) out.ttlMs = ttlMs;
  if (session !== undefined) out.session = session;
  if (encoding !== undefined) out.encoding = encoding;
  return out;
}
