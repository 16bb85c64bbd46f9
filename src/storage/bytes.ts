/** Big-endian integer helpers over plain Uint8Arrays (no DataView allocation per call). */

const TWO_32 = 0x1_0000_0000;

export function writeU32(b: Uint8Array, off: number, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new RangeError(`not a u32: ${n}`);
  b[off] = n >>> 24;
  b[off + 1] = (n >>> 16) & 0xff;
  b[off + 2] = (n >>> 8) & 0xff;
  b[off + 3] = n & 0xff;
}

/** Writes a safe non-negative integer as u64 (numbers above 2^53 are refused). */
export function writeU64(b: Uint8Array, off: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a safe u64: ${n}`);
  const hi = Math.floor(n / TWO_32);
  writeU32(b, off, hi);
  writeU32(b, off + 4, n >>> 0);
}

export function readU32(b: Uint8Array, off: number): number {
  if (off + 4 > b.length) throw new RangeError(`read past end (${off}+4 > ${b.length})`);
  return ((b[off] ?? 0) * 0x100_0000 + (((b[off + 1] ?? 0) << 16) | ((b[off + 2] ?? 0) << 8) | (b[off + 3] ?? 0))) >>> 0;
}

export function readU64(b: Uint8Array, off: number): number {
  const n = readU32(b, off) * TWO_32 + readU32(b, off + 4);
  if (!Number.isSafeInteger(n)) throw new RangeError(`u64 above 2^53 at offset ${off}`);
  return n;
}
