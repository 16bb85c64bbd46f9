/**
 * A reusable decoder of log entry payloads for the apply hot path.
 *
 * decodeCommand builds a ByteReader, a command object, a session object and a
 * copy of the value for every entry. CommandDecoder decodes a put into its own
 * fields instead: the only allocation is the key string, and the value stays a
 * range of the entry's bytes (CacheStateMachine.applyDecoded copies it into
 * memory the cache owns). Every other command type, and any put the fast parse
 * does not accept as is, goes through decodeCommand, so both paths accept
 * exactly the same bytes and report the same errors.
 *
 * Valid until the next decode(); it references the entry's bytes until then
 * (call release() to drop them early).
 */
import { tryDecodeUtf8 } from './bytes.js';
import { decodeCommand } from './command.js';
import type { Command, CommandType, SessionRef } from './types.js';

// Layout constants of command.ts (version 1, opcode 1 = put).
const VERSION = 1;
const OP_PUT = 1;
const FLAG_TTL = 1;
const FLAG_SESSION = 2;
const FLAG_FIRST_INCOMPLETE = 4;
const PUT_FLAGS = FLAG_TTL | FLAG_SESSION | FLAG_FIRST_INCOMPLETE;
/** version + opcode + flags + f64 ts. */
const HEADER_BYTES = 11;

const EMPTY = new Uint8Array(0);
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
/** Set by readVaruint: the position after the varint read. */
let varEnd = 0;

/** A minimally encoded varuint (<= 2^53-1) at bytes[pos], or -1 when there is none. Sets varEnd. */
function readVaruint(bytes: Uint8Array, pos: number): number {
  const len = bytes.length;
  if (pos >= len) return -1;
  const first = bytes[pos] as number;
  if (first < 0x80) {
    varEnd = pos + 1;
    return first;
  }
  let value = first & 0x7f;
  let mul = 0x80;
  for (let i = 1; i < 8; i++) {
    if (pos + i >= len) return -1;
    const b = bytes[pos + i] as number;
    value += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (b === 0 || !Number.isSafeInteger(value)) return -1;
      varEnd = pos + i + 1;
      return value;
    }
    mul *= 0x80;
  }
  return -1;
}

export class CommandDecoder {
  /** Type of the decoded command. */
  type: CommandType = 'clock';
  /** Leader timestamp of the entry. */
  ts = 0;
  /** put: the key (strict UTF-8, well-formed). */
  key = '';
  /** put: UTF-8 byte length of key. */
  keyBytes = 0;
  /** put: the value is source[valueStart, valueEnd). */
  source: Uint8Array = EMPTY;
  valueStart = 0;
  valueEnd = 0;
  /** ttlMs of a put or cas, else undefined. */
  ttlMs: number | undefined = undefined;
  /** put: session client id, 0 = no session. */
  client = 0;
  /** put: session seq (when client > 0). */
  seq = 0;
  /** put: session firstIncomplete, -1 = absent. */
  firstIncomplete = -1;
  /**
   * The decoded command, for every type but a put the fast parse took (then
   * null, and the put's fields above hold it). The fast parse accepts every
   * valid put; a non-null put here would just take the general apply path.
   */
  command: Command | null = null;

  /**
   * Decodes one entry payload. Throws CommandCodecError (as decodeCommand) on
   * malformed input; after a throw the fields are unspecified (do not apply).
   */
  decode(bytes: Uint8Array): void {
    if (!this.decodePut(bytes)) {
      const cmd = decodeCommand(bytes);
      this.source = EMPTY;
      this.command = cmd;
      this.type = cmd.type;
      this.ts = cmd.ts;
      this.ttlMs = cmd.type === 'cas' || cmd.type === 'put' ? cmd.ttlMs : undefined;
    }
  }

  /** The decoded command as a Command object (allocates for a put; the value is a copy). */
  toCommand(): Command {
    if (this.type !== 'put' || this.command !== null) return this.command as Command;
    const value = this.source.slice(this.valueStart, this.valueEnd);
    const session: SessionRef | undefined =
      this.client === 0
        ? undefined
        : this.firstIncomplete < 0
          ? { client: this.client, seq: this.seq }
          : { client: this.client, seq: this.seq, firstIncomplete: this.firstIncomplete };
    let cmd: Command = { type: 'put', ts: this.ts, key: this.key, value };
    if (this.ttlMs !== undefined) cmd = { ...cmd, ttlMs: this.ttlMs };
    if (session !== undefined) cmd = { ...cmd, session };
    return cmd;
  }

  /** Drops the reference to the last entry's bytes. */
  release(): void {
    this.source = EMPTY;
    this.command = null;
  }

  /** The put fast parse: true when `bytes` is a well-formed put (fields set), false for anything else. */
  private decodePut(bytes: Uint8Array): boolean {
    const len = bytes.length;
    if (len < HEADER_BYTES + 2 || bytes[0] !== VERSION || bytes[1] !== OP_PUT) return false;
    const flags = bytes[2] as number;
    if ((flags & ~PUT_FLAGS) !== 0) return false;
    for (let i = 0; i < 8; i++) f64Bytes[i] = bytes[3 + i] as number;
    const ts = f64[0] as number;
    if (!Number.isSafeInteger(ts) || ts < 0) return false;
    let pos = HEADER_BYTES;
    let client = 0;
    let seq = 0;
    let firstIncomplete = -1;
    if ((flags & FLAG_SESSION) !== 0) {
      client = readVaruint(bytes, pos);
      if (client < 1) return false;
      seq = readVaruint(bytes, varEnd);
      if (seq < 0) return false;
      pos = varEnd;
      if ((flags & FLAG_FIRST_INCOMPLETE) !== 0) {
        firstIncomplete = readVaruint(bytes, pos);
        if (firstIncomplete < 0) return false;
        pos = varEnd;
      }
    } else if ((flags & FLAG_FIRST_INCOMPLETE) !== 0) return false;
    const keyLen = readVaruint(bytes, pos);
    if (keyLen < 0 || varEnd + keyLen > len) return false;
    const keyStart = varEnd;
    const key = tryDecodeUtf8(bytes, keyStart, keyStart + keyLen);
    if (key === null) return false;
    const valueLen = readVaruint(bytes, keyStart + keyLen);
    if (valueLen < 0 || varEnd + valueLen > len) return false;
    const valueStart = varEnd;
    pos = valueStart + valueLen;
    let ttlMs: number | undefined;
    if ((flags & FLAG_TTL) !== 0) {
      const ttl = readVaruint(bytes, pos);
      if (ttl < 1) return false;
      ttlMs = ttl;
      pos = varEnd;
    }
    if (pos !== len) return false;
    this.type = 'put';
    this.ts = ts;
    this.key = key;
    this.keyBytes = keyLen;
    this.source = bytes;
    this.valueStart = valueStart;
    this.valueEnd = valueStart + valueLen;
    this.ttlMs = ttlMs;
    this.client = client;
    this.seq = seq;
    this.firstIncomplete = firstIncomplete;
    this.command = null;
    return true;
  }
}
