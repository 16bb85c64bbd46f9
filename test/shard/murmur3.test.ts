import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { murmur3Bytes, murmur3String } from '../../src/shard/index.js';

const utf8 = new TextEncoder();
const bytesOf = (...b: number[]): Uint8Array => Uint8Array.from(b);

// Each value was checked against the reference C implementation (SMHasher
// MurmurHash3_x86_32, compiled with gcc); most also appear in published vector lists.
const byteVectors: Array<[string, Uint8Array, number, number]> = [
  ['empty, seed 0', bytesOf(), 0, 0x00000000],
  ['empty, seed 1', bytesOf(), 1, 0x514e28b7],
  ['empty, seed 0xffffffff', bytesOf(), 0xffffffff, 0x81f16f39],
  ['ff ff ff ff', bytesOf(0xff, 0xff, 0xff, 0xff), 0, 0x76293b50],
  ['21 43 65 87', bytesOf(0x21, 0x43, 0x65, 0x87), 0, 0xf55b516b],
  ['21 43 65 87, seed 0x5082edee', bytesOf(0x21, 0x43, 0x65, 0x87), 0x5082edee, 0x2362f9de],
  ['21 43 65', bytesOf(0x21, 0x43, 0x65), 0, 0x7e4a8634],
  ['21 43', bytesOf(0x21, 0x43), 0, 0xa0f7b07a],
  ['21', bytesOf(0x21), 0, 0x72661cf4],
  ['00 00 00 00', bytesOf(0, 0, 0, 0), 0, 0x2362f9de],
  ['00 00 00', bytesOf(0, 0, 0), 0, 0x85f0b427],
  ['00 00', bytesOf(0, 0), 0, 0x30f4c306],
  ['00', bytesOf(0), 0, 0x514e28b7],
];

const stringVectors: Array<[string, number, number]> = [
  ['', 0, 0x00000000],
  ['', 1, 0x514e28b7],
  ['Hello, world!', 0x9747b28c, 0x24884cba],
  ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
  ['aaaa', 0x9747b28c, 0x5a97808a],
  ['aaa', 0x9747b28c, 0x283e0130],
  ['aa', 0x9747b28c, 0x5d211726],
  ['a', 0x9747b28c, 0x7fa09ea6],
  ['abcd', 0x9747b28c, 0xf0478627],
  ['abc', 0x9747b28c, 0xc84a62dd],
  ['ab', 0x9747b28c, 0x74875592],
  ['Hello, world!', 0, 0xc0363e43],
  ['The quick brown fox jumps over the lazy dog', 0, 0x2e4ff723],
  ['hello', 0, 0x248bfa47],
  ['\u03c0', 0, 0xf1954df6], // π = cf 80
  ['\u4f60\u597d\u{1f600}', 42, 0xc0ebadf0], // 2 × 3-byte + one 4-byte (surrogate pair)
];

describe('murmur3 x86_32', () => {
  it.each(byteVectors)('bytes: %s', (_name, bytes, seed, expected) => {
    expect(murmur3Bytes(bytes, seed)).toBe(expected);
  });

  it.each(stringVectors)('string %j, seed %i', (text, seed, expected) => {
    expect(murmur3String(text, seed)).toBe(expected);
    expect(murmur3Bytes(utf8.encode(text), seed)).toBe(expected);
  });

  it('passes the SMHasher verification value 0xB0F57EE3', () => {
    // Hash keys {0}, {0,1}, ..., {0..254} with seed 256 - length, then hash the
    // 256 little-endian results with seed 0.
    const key = new Uint8Array(256);
    const hashes = new Uint8Array(1024);
    const view = new DataView(hashes.buffer);
    for (let i = 0; i < 256; i++) {
      key[i] = i;
      view.setUint32(i * 4, murmur3Bytes(key.subarray(0, i), 256 - i), true);
    }
    expect(murmur3Bytes(hashes, 0)).toBe(0xb0f57ee3);
  });

  it('hashes a sub-slice like a copy of it', () => {
    const buf = utf8.encode('xxHello, world!yy');
    expect(murmur3Bytes(buf, 0x9747b28c, 2, buf.length - 2)).toBe(0x24884cba);
  });

  it('returns unsigned 32-bit integers', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat({ max: 0xffffffff }), (b, seed) => {
        const h = murmur3Bytes(b, seed);
        return Number.isInteger(h) && h >= 0 && h <= 0xffffffff;
      }),
      { seed: 101, numRuns: 300 },
    );
  });

  it('string fast path equals the bytes path for arbitrary unicode strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.nat({ max: 0xffffffff }), (s, seed) => {
        return murmur3String(s, seed) === murmur3Bytes(utf8.encode(s), seed);
      }),
      { seed: 102, numRuns: 1000 },
    );
  });

  it('string path equals the bytes path for long non-ASCII strings (scratch buffer growth)', () => {
    for (const len of [10, 100, 1000, 5000, 20000]) {
      const s = 'ab\u00e9\u20ac\u{1f600}x'.repeat(len);
      expect(murmur3String(s, 3)).toBe(murmur3Bytes(utf8.encode(s), 3));
      const t = '\u{1f600}'.repeat(len) + '\ud800';
      expect(murmur3String(t, 3)).toBe(murmur3Bytes(utf8.encode(t), 3));
    }
  });

  it('string fast path equals the bytes path for any UTF-16 code units, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.nat({ max: 0xffffffff }), (s, seed) => {
        return murmur3String(s, seed) === murmur3Bytes(utf8.encode(s), seed);
      }),
      { seed: 103, numRuns: 1000 },
    );
    // Explicit mixes of ASCII runs (fast block path) with multi-byte characters at every offset.
    const unit = fc.constantFrom('a', 'bc', 'def', 'ghij', '\u00e9', '\u20ac', '\u{1f600}', '\ud800', '\udfff', '\u0000', '\u007f', '\u0080', '\u07ff', '\u0800', '\uffff');
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 30 }), (parts) => {
        const s = parts.join('');
        return murmur3String(s, 7) === murmur3Bytes(utf8.encode(s), 7);
      }),
      { seed: 104, numRuns: 1000 },
    );
  });
});
