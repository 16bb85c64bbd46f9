/** Key and value checks and conversions between wire strings and stored bytes. */
import { Buffer } from 'node:buffer';

export type Encoding = 'utf8' | 'base64';

const SURROGATE = /[\uD800-\uDFFF]/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** True when `s` has no lone surrogate (so it has an exact UTF-8 form). */
export function isWellFormed(s: string): boolean {
  if (!SURROGATE.test(s)) return true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

/** A failed check: BAD_REQUEST (message) or TOO_LARGE (message + limit). */
export type Problem = { readonly kind: 'bad'; readonly message: string } | { readonly kind: 'large'; readonly message: string; readonly limit: number };

/** Why `key` (at field `field`) is not acceptable, or null. */
export function keyProblem(key: string, field: string, maxKeyBytes: number): Problem | null {
  if (!isWellFormed(key)) return { kind: 'bad', message: `${field}: not well-formed UTF-16 (lone surrogate)` };
  // Fast path: a string of n UTF-16 units has at most 3n UTF-8 bytes.
  if (key.length * 3 <= maxKeyBytes) return null;
  const n = Buffer.byteLength(key, 'utf8');
  return n > maxKeyBytes ? { kind: 'large', message: `${field}: key of ${n} bytes exceeds the limit of ${maxKeyBytes}`, limit: maxKeyBytes } : null;
}

/** Decodes a wire value into bytes, or says why it cannot. */
export function valueBytes(value: string, field: string, encoding: Encoding, maxValueBytes: number): Uint8Array | Problem {
  let bytes: Buffer;
  if (encoding === 'base64') {
    if (!BASE64.test(value)) return { kind: 'bad', message: `${field}: not valid base64` };
    bytes = Buffer.from(value, 'base64');
  } else {
    if (!isWellFormed(value)) return { kind: 'bad', message: `${field}: not well-formed UTF-16 (lone surrogate); use encoding base64 for binary` };
    bytes = Buffer.from(value, 'utf8');
  }
  if (bytes.length > maxValueBytes) {
    return { kind: 'large', message: `${field}: value of ${bytes.length} bytes exceeds the limit of ${maxValueBytes}`, limit: maxValueBytes };
  }
  return bytes;
}

export function isProblem(v: Uint8Array | Problem): v is Problem {
  return !(v instanceof Uint8Array);
}

/** Stored bytes → wire string (UTF-8 text, or base64). */
export function wireValue(v: Uint8Array | null | undefined, encoding: Encoding): string | null {
  if (v === null || v === undefined) return null;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString(encoding);
}
