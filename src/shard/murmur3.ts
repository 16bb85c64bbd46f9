/**
 * MurmurHash3 x86_32 (Austin Appleby, SMHasher `MurmurHash3_x86_32`): a fast,
 * stable, non-cryptographic 32-bit hash. Keys are hashed over their UTF-8 bytes.
 *
 * Two entry points give identical results for the same text:
 * - `murmur3Bytes` hashes a byte slice;
 * - `murmur3String` encodes a JS string to UTF-8 on the fly (no allocation),
 *   exactly as `TextEncoder` would: lone surrogates become U+FFFD (EF BF BD).
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Mixes one 4-byte little-endian block `k` into the running hash `h`. */
function mixBlock(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Mixes the 1..3 trailing bytes (already packed little-endian in `k`). */
function mixTail(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  return h ^ k;
}

/** The final avalanche (`fmix32`), with the length folded in first. */
function finish(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * MurmurHash3 x86_32 of `bytes[start, end)` with `seed`; returns an unsigned 32-bit integer.
 */
export function murmur3Bytes(bytes: Uint8Array, seed = 0, start = 0, end = bytes.length): number {
  let h = seed | 0;
  const length = end - start;
  const blockEnd = start + (length & ~3);
  let i = start;
  for (; i < blockEnd; i += 4) {
    const k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    h = mixBlock(h, k);
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = bytes[i]!;
    if (tail > 1) k |= bytes[i + 1]! << 8;
    if (tail > 2) k |= bytes[i + 2]! << 16;
    h = mixTail(h, k);
  }
  return finish(h, length);
}

/**
 * MurmurHash3 x86_32 of the UTF-8 encoding of `text` with `seed`, without
 * materialising the bytes. Equal to `murmur3Bytes(new TextEncoder().encode(text), seed)`.
 */
export function murmur3String(text: string, seed = 0): number {
  // Fast path, in local variables: while the text is ASCII, four characters are one block.
  let h = seed | 0;
  const n = text.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const a = text.charCodeAt(i);
    const b = text.charCodeAt(i + 1);
    const c = text.charCodeAt(i + 2);
    const d = text.charCodeAt(i + 3);
    if ((a | b | c | d) >= 0x80) return murmur3StringFrom(text, i, h);
    h = mixBlock(h, a | (b << 8) | (c << 16) | (d << 24));
  }
  const tail = n - i;
  if (tail > 0) {
    const a = text.charCodeAt(i);
    const b = tail > 1 ? text.charCodeAt(i + 1) : 0;
    const c = tail > 2 ? text.charCodeAt(i + 2) : 0;
    if ((a | b | c) >= 0x80) return murmur3StringFrom(text, i, h);
    h = mixTail(h, a | (b << 8) | (c << 16));
  }
  return finish(h, n);
}

/**
 * General path: continues hashing `text` from character `from` (a block
 * boundary: `from` ASCII bytes already mixed into `hash`), encoding UTF-8 on
 * the fly. All state is in local variables: module-level state would box
 * 32-bit values as heap numbers, i.e. allocate.
 */
function murmur3StringFrom(text: string, from: number, hash: number): number {
  const n = text.length;
  let h = hash;
  let block = 0; // bytes not yet mixed, packed little-endian
  let fill = 0; // how many (0..3)
  let byteLength = from;
  let i = from;
  while (i < n) {
    let cp = text.charCodeAt(i++);
    // The UTF-8 encoding of cp, packed little-endian into `enc`, `len` bytes.
    let enc: number;
    let len: number;
    if (cp < 0x80) {
      enc = cp;
      len = 1;
    } else if (cp < 0x800) {
      enc = (0xc0 | (cp >>> 6)) | ((0x80 | (cp & 0x3f)) << 8);
      len = 2;
    } else {
      if (cp >= 0xd800 && cp <= 0xdfff) {
        const next = i < n ? text.charCodeAt(i) : 0;
        if (cp <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          i++;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00);
        } else {
          cp = 0xfffd; // lone surrogate: replaced, as TextEncoder does
        }
      }
      if (cp < 0x10000) {
        enc = (0xe0 | (cp >>> 12)) | ((0x80 | ((cp >>> 6) & 0x3f)) << 8) | ((0x80 | (cp & 0x3f)) << 16);
        len = 3;
      } else {
        enc =
          (0xf0 | (cp >>> 18)) |
          ((0x80 | ((cp >>> 12) & 0x3f)) << 8) |
          ((0x80 | ((cp >>> 6) & 0x3f)) << 16) |
          ((0x80 | (cp & 0x3f)) << 24);
        len = 4;
      }
    }
    byteLength += len;
    for (let j = 0; j < len; j++) {
      block |= (enc & 0xff) << (fill << 3);
      enc >>>= 8;
      if (++fill === 4) {
        h = mixBlock(h, block);
        block = 0;
        fill = 0;
      }
    }
  }
  if (fill > 0) h = mixTail(h, block);
  return finish(h, byteLength);
}
