/**
 * Low-level binary writing and reading shared by the command codec and the
 * snapshot format: little-endian float64, unsigned varints up to 2^53 - 1, and
 * strict UTF-8 (lone surrogates are refused, so every key round-trips exactly).
 */

/** Thrown when bytes cannot be decoded. Carries a stable code for callers. */
export class DecodeError extends Error {
  readonly code = 'DECODE_ERROR' as const;
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** UTF-8 byte length of `s`, or -1 when `s` holds a lone surrogate (not encodable exactly). */
export function strictUtf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdfff) {
      if (c > 0xdbff || i + 1 >= s.length) return -1;
      const d = s.charCodeAt(i + 1);
      if (d < 0xdc00 || d > 0xdfff) return -1;
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

/** A growable byte buffer. `finish()` returns a copy of what was written. */
export class ByteWriter {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initialSize = 64) {
    this.buf = new Uint8Array(initialSize);
  }

  get length(): number {
    return this.pos;
  }

  reset(): void {
    this.pos = 0;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const buf = new Uint8Array(size);
    buf.set(this.buf.subarray(0, this.pos));
    this.buf = buf;
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.pos++] = v;
  }

  f64(v: number): void {
    this.reserve(8);
    f64[0] = v;
    this.buf.set(f64Bytes, this.pos);
    this.pos += 8;
  }

  /** Unsigned integer 0..2^53-1 in 7-bit groups, low first. */
  varuint(v: number): void {
    this.reserve(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Length-prefixed bytes. */
  bytes(bytes: Uint8Array): void {
    this.varuint(bytes.length);
    this.raw(bytes);
  }

  /** Length-prefixed strict UTF-8. Throws RangeError on a lone surrogate. */
  string(s: string): void {
    const len = strictUtf8Length(s);
    if (len < 0) throw new RangeError('string holds a lone surrogate and cannot be encoded as UTF-8');
    this.varuint(len);
    this.reserve(len);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) buf[p++] = c;
      else if (c < 0x800) {
        buf[p++] = 0xc0 | (c >> 6);
        buf[p++] = 0x80 | (c & 0x3f);
      } else if (c >= 0xd800 && c <= 0xdbff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
        buf[p++] = 0xf0 | (c >> 18);
        buf[p++] = 0x80 | ((c >> 12) & 0x3f);
        buf[p++] = 0x80 | ((c >> 6) & 0x3f);
        buf[p++] = 0x80 | (c & 0x3f);
      } else {
        buf[p++] = 0xe0 | (c >> 12);
        buf[p++] = 0x80 | ((c >> 6) & 0x3f);
        buf[p++] = 0x80 | (c & 0x3f);
      }
    }
    this.pos = p;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /** What was written, without copying; valid until the next write or reset. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

type Latin1Slice = (this: Uint8Array, start: number, end: number) => string;
/**
 * Node's Buffer#latin1Slice (what buf.toString('latin1') calls): one native
 * call that makes a flat one-byte string, for any Uint8Array. Not in the
 * typings, so looked up defensively (absent outside Node: TextDecoder).
 */
const latin1Slice: Latin1Slice | undefined = (() => {
  const proto: unknown = typeof Buffer === 'function' ? Buffer.prototype : undefined;
  const f = (proto as { latin1Slice?: unknown } | undefined)?.latin1Slice;
  if (typeof f !== 'function') return undefined;
  try {
    return (f as Latin1Slice).call(new Uint8Array([0x6f, 0x6b]), 0, 2) === 'ok' ? (f as Latin1Slice) : undefined;
  } catch {
    return undefined;
  }
})();

/**
 * Strict UTF-8 of bytes[start, end), or null when it is not well-formed.
 * ASCII (the usual key) is one scan and one native call: a flat string, no
 * per-character concatenation (which builds cons strings a Map must flatten).
 */
export function tryDecodeUtf8(bytes: Uint8Array, start: number, end: number): string | null {
  let ascii = true;
  for (let i = start; i < end; i++) {
    if ((bytes[i] as number) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii && latin1Slice !== undefined) return latin1Slice.call(bytes, start, end);
  try {
    return utf8Decoder.decode(bytes.subarray(start, end));
  } catch {
    return null;
  }
}

/** Decodes strict UTF-8. Throws DecodeError. */
export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  const s = tryDecodeUtf8(bytes, start, end);
  if (s === null) throw new DecodeError('invalid UTF-8 in string');
  return s;
}

/** Reads what ByteWriter wrote from one buffer. Every read is bounds-checked. */
export class ByteReader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) throw new DecodeError(`truncated input: missing ${what}`);
  }

  u8(what = 'byte'): number {
    this.need(1, what);
    return this.buf[this.pos++] as number;
  }

  f64(what = 'float64'): number {
    this.need(8, what);
    for (let i = 0; i < 8; i++) f64Bytes[i] = this.buf[this.pos + i] as number;
    this.pos += 8;
    return f64[0] as number;
  }

  /** `what` + `suffix` names the field in errors (joined only on error: no string per read). */
  varuint(what = 'varint', suffix = ''): number {
    const buf = this.buf;
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= buf.length) throw new DecodeError(`truncated input: missing ${what}${suffix}`);
      const b = buf[this.pos++] as number;
      value += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (!Number.isSafeInteger(value)) throw new DecodeError(`${what}${suffix} out of range`);
        if (i > 0 && b === 0) throw new DecodeError(`${what}${suffix} is not minimally encoded`);
        return value;
      }
      mul *= 0x80;
    }
    throw new DecodeError(`${what}${suffix} too long`);
  }

  bytes(what = 'bytes'): Uint8Array {
    const len = this.varuint(what, ' length');
    this.need(len, what);
    const out = this.buf.slice(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  string(what = 'string'): string {
    const len = this.varuint(what, ' length');
    this.need(len, what);
    const s = decodeUtf8(this.buf, this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  end(): void {
    if (this.pos !== this.buf.length) throw new DecodeError(`${this.buf.length - this.pos} trailing bytes`);
  }
}
