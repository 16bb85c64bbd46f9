/**
 * MurmurHash3 x86_32 (Austin Appleby, SMHasher `MurmurHash3_x86_32`): a fast,
 * stable, non-cryptographic 32-bit hash. Keys are hashed over their UTF-8 bytes.
 *
 * Two entry points give identical results for the same text:
 * - `murmur3Bytes` hashes a byte slice;
 * - `murmur3String` hashes a JS string's UTF-8 encoding without materialising
 *   a new buffer, encoding exactly as `TextEncoder` does: lone surrogates
 *   become U+FFFD (EF BF BD).
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
 * Results leave the hashing loops through this typed-array slot rather than as
 * return values: V8 boxes (allocates) a 32-bit number returned from a call it
 * does not inline, while the small wrappers below always inline.
 */
const resultSlot = new Uint32Array(1);

/**
 * MurmurHash3 x86_32 of `bytes[start, end)` with `seed`; returns an unsigned 32-bit integer.
 */
export function murmur3Bytes(bytes: Uint8Array, seed = 0, start = 0, end = bytes.length): number {
  hashBytesToSlot(bytes, seed, start, end);
  return resultSlot[0]!;
}

function hashBytesToSlot(bytes: Uint8Array, seed: number, start: number, end: number): void {
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
  resultSlot[0] = finish(h, length);
}

/**
 * MurmurHash3 x86_32 of the UTF-8 encoding of `text` with `seed`, without
 * allocating: ASCII text is hashed straight from its char codes; other text is
 * encoded into a reused scratch buffer first. Equal to
 * `murmur3Bytes(new TextEncoder().encode(text), seed)`.
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
    if ((a | b | c | d) >= 0x80) {
      hashUtf8ToSlot(text, seed);
      return resultSlot[0]!;
    }
    h = mixBlock(h, a | (b << 8) | (c << 16) | (d << 24));
  }
  const tail = n - i;
  if (tail > 0) {
    const a = text.charCodeAt(i);
    const b = tail > 1 ? text.charCodeAt(i + 1) : 0;
    const c = tail > 2 ? text.charCodeAt(i + 2) : 0;
    if ((a | b | c) >= 0x80) {
      hashUtf8ToSlot(text, seed);
      return resultSlot[0]!;
    }
    h = mixTail(h, a | (b << 8) | (c << 16));
  }
  return finish(h, n);
}

/** General path: encode into the scratch buffer, then hash the bytes (result in `resultSlot`). */
function hashUtf8ToSlot(text: string, seed: number): void {
  const length = encodeUtf8ToScratch(text); // may replace `scratch`, so read it after
  hashBytesToSlot(scratch, seed, 0, length);
}

// Scratch buffer of the general (non-ASCII) path; grows, never shrinks.
let scratch = new Uint8Array(256);

/**
 * Writes the UTF-8 encoding of `text` into `scratch` (grown to fit) and
 * returns the byte count. Lone surrogates become U+FFFD, as with TextEncoder.
 */
function encodeUtf8ToScratch(text: string): number {
  const n = text.length;
  if (scratch.length < 3 * n) scratch = new Uint8Array(Math.max(3 * n, 2 * scratch.length));
  const out = scratch;
  let at = 0;
  let i = 0;
  while (i < n) {
    let cp = text.charCodeAt(i++);
    if (cp < 0x80) {
      out[at++] = cp;
    } else if (cp < 0x800) {
      out[at++] = 0xc0 | (cp >>> 6);
      out[at++] = 0x80 | (cp & 0x3f);
    } else {
      if (cp >= 0xd800 && cp <= 0xdfff) {
        const next = i < n ? text.charCodeAt(i) : 0;
        if (cp <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          i++;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00);
          out[at++] = 0xf0 | (cp >>> 18);
          out[at++] = 0x80 | ((cp >>> 12) & 0x3f);
          out[at++] = 0x80 | ((cp >>> 6) & 0x3f);
          out[at++] = 0x80 | (cp & 0x3f);
          continue;
        }
        cp = 0xfffd; // lone surrogate: replaced, as TextEncoder does
      }
      out[at++] = 0xe0 | (cp >>> 12);
      out[at++] = 0x80 | ((cp >>> 6) & 0x3f);
      out[at++] = 0x80 | (cp & 0x3f);
    }
  }
  return at;
}
