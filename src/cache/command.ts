/**
 * Compact binary codec for commands (the payloads of Raft log entries) and for
 * results (remembered in sessions and written into snapshots).
 *
 * Command layout (all little-endian):
 *   u8  version (= 1)
 *   u8  opcode: 1 put, 2 delete, 3 cas, 4 incr, 5 touch, 6 clock, 7 register, 8 split
 *   u8  flags: 1 ttlMs, 2 session, 4 firstIncomplete, 8 cas expected present, 16 cas next present
 *   f64 ts
 *   [session] varuint client, varuint seq, [firstIncomplete] varuint
 *   body: put    = key, value, [ttlMs varuint]
 *         delete = key
 *         cas    = key, [expected], [next], [ttlMs varuint]
 *         incr   = key, f64 by
 *         touch  = varuint count, count × key
 *         split  = [varuint group if flags bit 0], varuint count (>= 1), count × (varuint start, varuint end)
 *                  (ranges [start, end) of the u32 ring, end <= 2^32, sorted, non-overlapping)
 * Opcode 8 was added without a version bump: the encodings of opcodes 1-7 are
 * unchanged, and a decoder that predates it refuses it (unknown opcode).
 * key = varuint byte length + strict UTF-8; value = varuint length + bytes.
 * Encoding is canonical: decode(encode(c)) equals c and re-encodes to the same bytes.
 */
import { ByteReader, ByteWriter, DecodeError, strictUtf8Length } from './bytes.js';
import { validateRingRanges } from './ring-ranges.js';
import type { Command, CommandResult, ErrorCode, PutCommand, RingRange, SessionRef } from './types.js';

export const COMMAND_CODEC_VERSION = 1;

/** Thrown by encodeCommand/decodeCommand for invalid commands or undecodable bytes. */
export class CommandCodecError extends Error {
  readonly code = 'INVALID_COMMAND' as const;
  constructor(message: string) {
    super(message);
    this.name = 'CommandCodecError';
  }
}

const OPCODES = { put: 1, delete: 2, cas: 3, incr: 4, touch: 5, clock: 6, register: 7, split: 8 } as const;
const FLAG_TTL = 1;
const FLAG_SESSION = 2;
const FLAG_FIRST_INCOMPLETE = 4;
const FLAG_EXPECTED = 8;
const FLAG_NEXT = 16;

const isNonNegInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isKey = (v: unknown): v is string => typeof v === 'string' && strictUtf8Length(v) >= 0;
const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

function validateSession(s: SessionRef | undefined): string | null {
  if (s === undefined) return null;
  if (typeof s !== 'object' || s === null) return 'session must be an object';
  if (!isNonNegInt(s.client) || s.client < 1) return 'session.client must be a positive integer';
  if (!isNonNegInt(s.seq)) return 'session.seq must be a non-negative integer';
  if (s.firstIncomplete !== undefined && !isNonNegInt(s.firstIncomplete)) {
    return 'session.firstIncomplete must be a non-negative integer';
  }
  return null;
}

function validateTtl(ttl: number | undefined): string | null {
  if (ttl === undefined) return null;
  return isNonNegInt(ttl) && ttl >= 1 ? null : 'ttlMs must be a positive integer';
}

/** Why `cmd` is not a valid command, or null when it is. */
export function validateCommand(cmd: Command): string | null {
  return validateExceptPutKey(cmd) ?? (cmd.type === 'put' && !isKey(cmd.key) ? 'key must be a well-formed string' : null);
}

/**
 * validateCommand without the UTF-8 well-formedness check of a put's key: the
 * state machine checks it where it computes the key's size, scanning it once.
 */
export function validateExceptPutKey(cmd: Command): string | null {
  if (typeof cmd !== 'object' || cmd === null) return 'command must be an object';
  if (!isNonNegInt(cmd.ts)) return 'ts must be a non-negative integer';
  switch (cmd.type) {
    case 'put':
      if (typeof cmd.key !== 'string') return 'key must be a string';
      if (!isBytes(cmd.value)) return 'value must be a Uint8Array';
      return validateTtl(cmd.ttlMs) ?? validateSession(cmd.session);
    case 'delete':
      if (!isKey(cmd.key)) return 'key must be a well-formed string';
      return validateSession(cmd.session);
    case 'cas':
      if (!isKey(cmd.key)) return 'key must be a well-formed string';
      if (cmd.expected !== null && !isBytes(cmd.expected)) return 'expected must be a Uint8Array or null';
      if (cmd.next !== null && !isBytes(cmd.next)) return 'next must be a Uint8Array or null';
      return validateTtl(cmd.ttlMs) ?? validateSession(cmd.session);
    case 'incr':
      if (!isKey(cmd.key)) return 'key must be a well-formed string';
      if (typeof cmd.by !== 'number' || !Number.isSafeInteger(cmd.by)) return 'by must be a safe integer';
      return validateSession(cmd.session);
    case 'touch':
      if (!Array.isArray(cmd.keys)) return 'keys must be an array';
      for (const k of cmd.keys) if (!isKey(k)) return 'keys must be well-formed strings';
      return null;
    case 'clock':
    case 'register':
      return null;
    case 'split':
      if (cmd.group !== undefined && !(Number.isInteger(cmd.group) && cmd.group > 0 && cmd.group < 0xffffffff)) return 'group must be a positive u32';
      return validateRingRanges(cmd.ranges);
    default:
      return `unknown command type ${String((cmd as { type?: unknown }).type)}`;
  }
}

const writer = new ByteWriter(256);
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

function writeSession(w: ByteWriter, s: SessionRef | undefined): void {
  if (s === undefined) return;
  w.varuint(s.client);
  w.varuint(s.seq);
  if (s.firstIncomplete !== undefined) w.varuint(s.firstIncomplete);
}

function sessionFlags(s: SessionRef | undefined): number {
  if (s === undefined) return 0;
  return FLAG_SESSION | (s.firstIncomplete !== undefined ? FLAG_FIRST_INCOMPLETE : 0);
}

function varuintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

function putVaruint(out: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80) {
    out[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[pos++] = v;
  return pos;
}

/** Encoded commands up to this size share chunks (see allocEncoded). */
const SHARED_MAX_BYTES = 2048;
const SHARED_CHUNK_BYTES = 64 * 1024;
let chunk = new Uint8Array(0);
let chunkPos = 0;

/**
 * Room for one encoded command. Small ones are consecutive views into a
 * shared 64 KiB chunk: one small heap object each instead of an ArrayBuffer
 * of their own (malloc, free, and the GC's ArrayBuffer tracking). Bytes are
 * never reused: a chunk lives while any command in it does. Log entries are
 * dropped in log order (compaction), so chunks are freed in order too, and at
 * most one chunk is partly wasted.
 */
function allocEncoded(size: number): Uint8Array {
  if (size > SHARED_MAX_BYTES) return new Uint8Array(size);
  if (chunkPos + size > chunk.length) {
    chunk = new Uint8Array(SHARED_CHUNK_BYTES);
    chunkPos = 0;
  }
  const out = chunk.subarray(chunkPos, chunkPos + size);
  chunkPos += size;
  return out;
}

/**
 * encodeCommand of a valid put (validateExceptPutKey passed): sizes the output
 * exactly and writes it once (no growable buffer, no final copy), scanning the
 * key once for both its UTF-8 length and well-formedness.
 */
function encodePut(cmd: PutCommand): Uint8Array {
  const key = cmd.key;
  const keyLen = strictUtf8Length(key);
  if (keyLen < 0) throw new CommandCodecError('key must be a well-formed string');
  const { value, ttlMs, session } = cmd;
  let size = 3 + 8 + varuintLength(keyLen) + keyLen + varuintLength(value.length) + value.length;
  if (ttlMs !== undefined) size += varuintLength(ttlMs);
  if (session !== undefined) {
    size += varuintLength(session.client) + varuintLength(session.seq);
    if (session.firstIncomplete !== undefined) size += varuintLength(session.firstIncomplete);
  }
  const out = allocEncoded(size);
  out[0] = COMMAND_CODEC_VERSION;
  out[1] = OPCODES.put;
  out[2] = (ttlMs !== undefined ? FLAG_TTL : 0) | sessionFlags(session);
  f64[0] = cmd.ts;
  out.set(f64Bytes, 3);
  let pos = 11;
  if (session !== undefined) {
    pos = putVaruint(out, pos, session.client);
    pos = putVaruint(out, pos, session.seq);
    if (session.firstIncomplete !== undefined) pos = putVaruint(out, pos, session.firstIncomplete);
  }
  pos = putVaruint(out, pos, keyLen);
  if (keyLen === key.length) {
    for (let i = 0; i < keyLen; i++) out[pos + i] = key.charCodeAt(i);
    pos += keyLen;
  } else {
    const w = writer;
    w.reset();
    w.string(key);
    const encoded = w.view();
    // w.string wrote the length prefix too: skip it.
    out.set(encoded.subarray(encoded.length - keyLen), pos);
    pos += keyLen;
  }
  pos = putVaruint(out, pos, value.length);
  out.set(value, pos);
  pos += value.length;
  if (ttlMs !== undefined) putVaruint(out, pos, ttlMs);
  return out;
}

/**
 * Encodes a command. Throws CommandCodecError when it is invalid. The bytes of
 * a put up to 2 KiB are a view into a shared chunk (see allocEncoded): never
 * write into them, nor transfer or use their `.buffer` beyond their range.
 */
export function encodeCommand(cmd: Command): Uint8Array {
  const problem = validateExceptPutKey(cmd);
  if (problem !== null) throw new CommandCodecError(problem);
  if (cmd.type === 'put') return encodePut(cmd);
  const w = writer;
  w.reset();
  w.u8(COMMAND_CODEC_VERSION);
  w.u8(OPCODES[cmd.type]);
  switch (cmd.type) {
    case 'delete':
      w.u8(sessionFlags(cmd.session));
      w.f64(cmd.ts);
      writeSession(w, cmd.session);
      w.string(cmd.key);
      break;
    case 'cas':
      w.u8(
        (cmd.ttlMs !== undefined ? FLAG_TTL : 0) |
          sessionFlags(cmd.session) |
          (cmd.expected !== null ? FLAG_EXPECTED : 0) |
          (cmd.next !== null ? FLAG_NEXT : 0),
      );
      w.f64(cmd.ts);
      writeSession(w, cmd.session);
      w.string(cmd.key);
      if (cmd.expected !== null) w.bytes(cmd.expected);
      if (cmd.next !== null) w.bytes(cmd.next);
      if (cmd.ttlMs !== undefined) w.varuint(cmd.ttlMs);
      break;
    case 'incr':
      w.u8(sessionFlags(cmd.session));
      w.f64(cmd.ts);
      writeSession(w, cmd.session);
      w.string(cmd.key);
      w.f64(cmd.by);
      break;
    case 'touch':
      w.u8(0);
      w.f64(cmd.ts);
      w.varuint(cmd.keys.length);
      for (const k of cmd.keys) w.string(k);
      break;
    case 'clock':
    case 'register':
      w.u8(0);
      w.f64(cmd.ts);
      break;
    case 'split':
      w.u8(cmd.group === undefined ? 0 : 1);
      w.f64(cmd.ts);
      if (cmd.group !== undefined) w.varuint(cmd.group);
      w.varuint(cmd.ranges.length);
      for (const r of cmd.ranges) {
        w.varuint(r.start);
        w.varuint(r.end);
      }
      break;
  }
  return w.finish();
}

function readSession(r: ByteReader, flags: number): SessionRef | undefined {
  if ((flags & FLAG_SESSION) === 0) {
    if ((flags & FLAG_FIRST_INCOMPLETE) !== 0) throw new DecodeError('firstIncomplete without session');
    return undefined;
  }
  const client = r.varuint('session client');
  const seq = r.varuint('session seq');
  if ((flags & FLAG_FIRST_INCOMPLETE) === 0) return { client, seq };
  return { client, seq, firstIncomplete: r.varuint('firstIncomplete') };
}

function checkFlags(flags: number, allowed: number): void {
  if ((flags & ~allowed) !== 0) throw new DecodeError(`unexpected flags 0x${flags.toString(16)}`);
}

function decodeUnchecked(bytes: Uint8Array): Command {
  const r = new ByteReader(bytes);
  const version = r.u8('version');
  if (version !== COMMAND_CODEC_VERSION) throw new DecodeError(`unknown command version ${version}`);
  const op = r.u8('opcode');
  const flags = r.u8('flags');
  const ts = r.f64('ts');
  const sessionBits = FLAG_SESSION | FLAG_FIRST_INCOMPLETE;
  let cmd: Command;
  switch (op) {
    case OPCODES.put: {
      checkFlags(flags, FLAG_TTL | sessionBits);
      const session = readSession(r, flags);
      const key = r.string('key');
      const value = r.bytes('value');
      // Object literals of fixed shape (no spreads): this is the apply hot path.
      if ((flags & FLAG_TTL) !== 0) {
        const ttlMs = r.varuint('ttlMs');
        cmd = session === undefined ? { type: 'put', ts, key, value, ttlMs } : { type: 'put', ts, key, value, ttlMs, session };
      } else {
        cmd = session === undefined ? { type: 'put', ts, key, value } : { type: 'put', ts, key, value, session };
      }
      break;
    }
    case OPCODES.delete: {
      checkFlags(flags, sessionBits);
      const session = readSession(r, flags);
      const key = r.string('key');
      cmd = session === undefined ? { type: 'delete', ts, key } : { type: 'delete', ts, key, session };
      break;
    }
    case OPCODES.cas: {
      checkFlags(flags, FLAG_TTL | sessionBits | FLAG_EXPECTED | FLAG_NEXT);
      const session = readSession(r, flags);
      const key = r.string('key');
      const expected = (flags & FLAG_EXPECTED) !== 0 ? r.bytes('expected') : null;
      const next = (flags & FLAG_NEXT) !== 0 ? r.bytes('next') : null;
      const ttl = (flags & FLAG_TTL) !== 0 ? r.varuint('ttlMs') : undefined;
      let c: Command = { type: 'cas', ts, key, expected, next };
      if (ttl !== undefined) c = { ...c, ttlMs: ttl };
      if (session !== undefined) c = { ...c, session };
      cmd = c;
      break;
    }
    case OPCODES.incr: {
      checkFlags(flags, sessionBits);
      const session = readSession(r, flags);
      const key = r.string('key');
      const by = r.f64('by');
      cmd = session === undefined ? { type: 'incr', ts, key, by } : { type: 'incr', ts, key, by, session };
      break;
    }
    case OPCODES.touch: {
      checkFlags(flags, 0);
      const count = r.varuint('key count');
      if (count > r.remaining) throw new DecodeError('key count exceeds input');
      const keys: string[] = [];
      for (let i = 0; i < count; i++) keys.push(r.string('key'));
      cmd = { type: 'touch', ts, keys };
      break;
    }
    case OPCODES.clock:
      checkFlags(flags, 0);
      cmd = { type: 'clock', ts };
      break;
    case OPCODES.register:
      checkFlags(flags, 0);
      cmd = { type: 'register', ts };
      break;
    case OPCODES.split: {
      checkFlags(flags, 1);
      const group = (flags & 1) !== 0 ? r.varuint('group') : undefined;
      const count = r.varuint('range count');
      if (count > r.remaining / 2) throw new DecodeError('range count exceeds input');
      const ranges: RingRange[] = [];
      for (let i = 0; i < count; i++) ranges.push({ start: r.varuint('range start'), end: r.varuint('range end') });
      cmd = group === undefined ? { type: 'split', ts, ranges } : { type: 'split', ts, ranges, group };
      break;
    }
    default:
      throw new DecodeError(`unknown opcode ${op}`);
  }
  r.end();
  // Keys are well-formed (strict UTF-8 decoding); check the numeric fields.
  const problem = validateNumbers(cmd);
  if (problem !== null) throw new DecodeError(problem);
  return cmd;
}

function validateNumbers(cmd: Command): string | null {
  if (!isNonNegInt(cmd.ts)) return 'ts must be a non-negative integer';
  switch (cmd.type) {
    case 'put':
    case 'cas':
      return validateTtl(cmd.ttlMs) ?? validateSession(cmd.session);
    case 'delete':
      return validateSession(cmd.session);
    case 'incr':
      return Number.isSafeInteger(cmd.by) ? validateSession(cmd.session) : 'by must be a safe integer';
    case 'split':
      if (cmd.group !== undefined && !(Number.isInteger(cmd.group) && cmd.group > 0 && cmd.group < 0xffffffff)) return 'group must be a positive u32';
      return validateRingRanges(cmd.ranges);
    default:
      return null;
  }
}

/** Decodes a command. Throws CommandCodecError on any malformed input. */
export function decodeCommand(bytes: Uint8Array): Command {
  if (!(bytes instanceof Uint8Array)) throw new CommandCodecError('command bytes must be a Uint8Array');
  try {
    return decodeUnchecked(bytes);
  } catch (e) {
    if (e instanceof DecodeError) throw new CommandCodecError(`cannot decode command: ${e.message}`);
    throw e;
  }
}

// ---- results ---------------------------------------------------------------

const ERROR_CODES: readonly ErrorCode[] = [
  'TOO_LARGE',
  'NOT_INTEGER',
  'OUT_OF_RANGE',
  'SESSION_EXPIRED',
  'STALE_SEQUENCE',
  'INVALID_COMMAND',
  'WRONG_SHARD', // appended: the codes above keep their numbers
];

/** Appends a result: u8 tag (0 error, 1 done, 2 deleted, 3 cas, 4 incr, 5 registered) + fields. */
export function writeResult(w: ByteWriter, r: CommandResult): void {
  if (!r.ok) {
    w.u8(0);
    w.u8(ERROR_CODES.indexOf(r.code));
    w.string(r.message);
    return;
  }
  switch (r.kind) {
    case 'done':
      w.u8(1);
      break;
    case 'deleted':
      w.u8(2);
      w.u8(r.existed ? 1 : 0);
      break;
    case 'cas':
      w.u8(3);
      w.u8(r.swapped ? 1 : 0);
      break;
    case 'incr':
      w.u8(4);
      w.f64(r.value);
      break;
    case 'registered':
      w.u8(5);
      w.varuint(r.clientId);
      break;
  }
}

function readBool(r: ByteReader): boolean {
  const b = r.u8('boolean');
  if (b > 1) throw new DecodeError('bad boolean');
  return b === 1;
}

/** Reads what writeResult wrote. Throws DecodeError. */
export function readResult(r: ByteReader): CommandResult {
  const tag = r.u8('result tag');
  switch (tag) {
    case 0: {
      const code = ERROR_CODES[r.u8('error code')];
      if (code === undefined) throw new DecodeError('unknown error code');
      return { ok: false, code, message: r.string('error message') };
    }
    case 1:
      return DONE;
    case 2:
      return { ok: true, kind: 'deleted', existed: readBool(r) };
    case 3:
      return { ok: true, kind: 'cas', swapped: readBool(r) };
    case 4: {
      const value = r.f64('incr value');
      if (!Number.isSafeInteger(value)) throw new DecodeError('incr value is not a safe integer');
      return { ok: true, kind: 'incr', value };
    }
    case 5:
      return { ok: true, kind: 'registered', clientId: r.varuint('client id') };
    default:
      throw new DecodeError(`unknown result tag ${tag}`);
  }
}

export const DONE: CommandResult = Object.freeze({ ok: true, kind: 'done' });

export function errorResult(code: ErrorCode, message: string): CommandResult {
  return { ok: false, code, message };
}

// ---- string conveniences ----------------------------------------------------

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** UTF-8 bytes of a string value. */
export function textValue(s: string): Uint8Array {
  return textEncoder.encode(s);
}

/** A value's bytes as UTF-8 text (invalid sequences become U+FFFD). */
export function valueText(v: Uint8Array): string {
  return textDecoder.decode(v);
}

/** A put command with a string value. */
export function putString(
  key: string,
  value: string,
  ts: number,
  options: { ttlMs?: number; session?: SessionRef } = {},
): Command {
  let cmd: Command = { type: 'put', ts, key, value: textValue(value) };
  if (options.ttlMs !== undefined) cmd = { ...cmd, ttlMs: options.ttlMs };
  if (options.session !== undefined) cmd = { ...cmd, session: options.session };
  return cmd;
}
