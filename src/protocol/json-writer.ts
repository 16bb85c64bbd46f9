/**
 * Appends JSON straight to a reusable byte buffer: for plain data exactly the
 * UTF-8 bytes of JSON.stringify(value), without the intermediate string.
 *
 * JSON.stringify of a request frame returns a cons string, which the socket
 * write then has to flatten (a second copy) and measure; a frame written here
 * costs no allocation once the buffer has grown. Plain objects (prototype
 * Object.prototype or null, no toJSON), strings, numbers, booleans and null
 * are written here; anything else (arrays, other objects) goes through
 * JSON.stringify, so the output is always what JSON.stringify gives, and it
 * throws what JSON.stringify throws (a BigInt, a cycle). (One difference no
 * frame meets: a nested object with toJSON is handed "" as its key.)
 */

/** Strings made only of these characters are written as they are: printable ASCII but `"` and `\`. */
const NEEDS_CARE = /[^\x20\x21\x23-\x5b\x5d-\x7f]/;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Strings up to this length are copied by a JS loop; longer ones by one native write. */
const SHORT = 48;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const INITIAL = 4096;
/** Beyond this the buffer is dropped after a reset (one huge frame should not pin its memory). */
const KEEP_MAX = 1 << 20;

export class JsonWriter {
  buf: Buffer;
  /** Bytes written so far. */
  len = 0;
  private depth = 0;

  /** `initial`: the buffer's first size; `keepMax`: beyond this size reset() drops the buffer for a new one of `initial` bytes. */
  constructor(
    private readonly initial = INITIAL,
    private readonly keepMax = KEEP_MAX,
  ) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.length) return;
    let size = Math.max(this.buf.length * 2, 64);
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** Empties the buffer (and lets go of an outsized one). */
  reset(): void {
    this.len = 0;
    this.depth = 0;
    if (this.buf.length > this.keepMax) this.buf = Buffer.allocUnsafe(this.initial);
  }

  /** Appends the JSON of `v`, which must not be undefined, a function or a symbol (JSON.stringify gives no text for those). */
  value(v: unknown): void {
    this.depth = 0; // (a write that threw may have left it raised)
    this.any(v);
  }

  private any(v: unknown): void {
    switch (typeof v) {
      case 'string':
        this.string(v);
        return;
      case 'number':
        this.number(v);
        return;
      case 'boolean':
        this.ascii(v ? 'true' : 'false');
        return;
      case 'object':
        if (v === null) this.ascii('null');
        else if (isPlainObject(v) && this.depth < 64) this.object(v);
        else this.raw(v);
        return;
      default:
        this.raw(v);
    }
  }

  private object(o: Record<string, unknown>): void {
    this.depth++;
    this.reserve(1);
    this.buf[this.len++] = LBRACE;
    let first = true;
    for (const k in o) {
      if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
      const v = o[k];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue; // left out, as JSON.stringify does
      if (!first) {
        this.reserve(1);
        this.buf[this.len++] = COMMA;
      }
      first = false;
      this.string(k);
      this.reserve(1);
      this.buf[this.len++] = COLON;
      this.any(v);
    }
    this.reserve(1);
    this.buf[this.len++] = RBRACE;
    this.depth--;
  }

  private string(s: string): void {
    const n = s.length;
    if (n <= SHORT) {
      // Short strings (keys, ops, ids): check and copy in one loop (a native write per string costs more).
      this.reserve(n + 2);
      const buf = this.buf;
      let at = this.len;
      buf[at++] = QUOTE;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c < 0x20 || c > 0x7f || c === QUOTE || c === BACKSLASH) {
          this.utf8(JSON.stringify(s)); // nothing was committed: len is unchanged
          return;
        }
        buf[at++] = c;
      }
      buf[at++] = QUOTE;
      this.len = at;
      return;
    }
    if (NEEDS_CARE.test(s)) {
      this.utf8(JSON.stringify(s));
      return;
    }
    this.reserve(s.length + 2);
    this.buf[this.len++] = QUOTE;
    this.len += this.buf.write(s, this.len, 'latin1');
    this.buf[this.len++] = QUOTE;
  }

  private number(n: number): void {
    if (!Number.isInteger(n) || n > 0x7fffffff || n < -0x7fffffff) {
      this.ascii(JSON.stringify(n)); // fractions, exponents, big integers; NaN and ±Infinity give null
      return;
    }
    this.reserve(11);
    let x = n | 0; // (-0 → 0, which JSON.stringify also writes as 0)
    if (x < 0) {
      this.buf[this.len++] = 0x2d; // '-'
      x = -x;
    }
    let digits = 1;
    for (let y = x; y >= 10; y = (y / 10) | 0) digits++;
    let at = this.len + digits;
    this.len = at;
    do {
      this.buf[--at] = 0x30 + (x % 10);
      x = (x / 10) | 0;
    } while (x > 0);
  }

  /** Anything this writer does not take apart: JSON.stringify's text (undefined would give none: written as null, as in an array). */
  private raw(v: unknown): void {
    const text = JSON.stringify(v) as string | undefined;
    this.utf8(text ?? 'null');
  }

  /** `s` is ASCII (literals, number text): copied by a JS loop (a native write costs more for a few bytes). */
  private ascii(s: string): void {
    const n = s.length;
    this.reserve(n);
    const buf = this.buf;
    let at = this.len;
    for (let i = 0; i < n; i++) buf[at++] = s.charCodeAt(i);
    this.len = at;
  }

  private utf8(s: string): void {
    this.reserve(s.length * 3);
    this.len += this.buf.write(s, this.len, 'utf8');
  }
}

function isPlainObject(v: object): v is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(v);
  return (proto === Object.prototype || proto === null) && typeof (v as { toJSON?: unknown }).toJSON !== 'function';
}
