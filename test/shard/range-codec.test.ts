import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  RING_SIZE,
  RangeTableError,
  computeRangeTable,
  decodeRangeTableBinary,
  decodeRangeTableJson,
  encodeRangeTableBinary,
  encodeRangeTableJson,
  rangeTableFromJson,
  rangeTableToJson,
  validateRangeTable,
} from '../../src/shard/index.js';
import type { RangeTable } from '../../src/shard/index.js';
import { rangeTableArb, ringArb } from './arbitraries.js';

const valid: RangeTable = {
  version: 3,
  ranges: [
    { start: 0, end: 100, shard: 1 },
    { start: 100, end: 2000, shard: 2 },
    { start: 2000, end: RING_SIZE, shard: 1 },
  ],
};

function withRanges(ranges: Array<{ start: number; end: number; shard: number }>, version = 1): RangeTable {
  return { version, ranges };
}

describe('range table serialization', () => {
  it('round-trips through JSON and binary (any valid table)', () => {
    fc.assert(
      fc.property(rangeTableArb, (table) => {
        expect(decodeRangeTableJson(encodeRangeTableJson(table))).toEqual(table);
        expect(rangeTableFromJson(rangeTableToJson(table))).toEqual(table);
        expect(decodeRangeTableBinary(encodeRangeTableBinary(table))).toEqual(table);
      }),
      { seed: 401, numRuns: 300 },
    );
  });

  it('round-trips tables computed from rings', () => {
    fc.assert(
      fc.property(ringArb, fc.maxSafeNat(), (ring, version) => {
        const table = computeRangeTable(ring, { version });
        expect(decodeRangeTableJson(encodeRangeTableJson(table))).toEqual(table);
        const bin = encodeRangeTableBinary(table);
        expect(bin.length).toBe(20 + 8 * table.ranges.length);
        expect(decodeRangeTableBinary(bin)).toEqual(table);
      }),
      { seed: 402, numRuns: 100 },
    );
  });

  it('decodes binary from a subarray with an offset', () => {
    const bin = encodeRangeTableBinary(valid);
    const padded = new Uint8Array(bin.length + 5);
    padded.set(bin, 3);
    expect(decodeRangeTableBinary(padded.subarray(3, 3 + bin.length))).toEqual(valid);
  });

  it('rejects malformed tables with clear errors', () => {
    const cases: Array<[RangeTable, RegExp]> = [
      [withRanges([]), /at least one range/],
      [withRanges([{ start: 1, end: RING_SIZE, shard: 1 }]), /gap \[0, 1\)/],
      [withRanges([{ start: 0, end: 10, shard: 1 }, { start: 12, end: RING_SIZE, shard: 2 }]), /gap \[10, 12\)/],
      [withRanges([{ start: 0, end: 10, shard: 1 }, { start: 8, end: RING_SIZE, shard: 2 }]), /overlaps/],
      [withRanges([{ start: 0, end: 10, shard: 1 }, { start: 10, end: 20, shard: 2 }]), /\[20, 2\^32\) is not covered/],
      [withRanges([{ start: 0, end: 10, shard: 1 }, { start: 10, end: 10, shard: 2 }, { start: 10, end: RING_SIZE, shard: 2 }]), /empty/],
      [withRanges([{ start: 0, end: RING_SIZE + 1, shard: 1 }]), /end must be/],
      [withRanges([{ start: 0, end: RING_SIZE, shard: -1 }]), /shard must be/],
      [withRanges([{ start: 0, end: RING_SIZE, shard: 1.5 }]), /shard must be/],
      [withRanges([{ start: 0.5, end: RING_SIZE, shard: 1 }]), /start must be/],
      [withRanges([{ start: 0, end: RING_SIZE, shard: 1 }], -1), /version/],
      [withRanges([{ start: 0, end: RING_SIZE, shard: 1 }], 2 ** 53), /version/],
    ];
    for (const [table, message] of cases) {
      expect(() => validateRangeTable(table)).toThrow(message);
      expect(() => decodeRangeTableJson(JSON.stringify(table))).toThrow(RangeTableError);
      expect(() => encodeRangeTableBinary(table)).toThrow(RangeTableError);
    }
  });

  it('rejects malformed JSON', () => {
    expect(() => decodeRangeTableJson('{')).toThrow(/does not parse/);
    expect(() => decodeRangeTableJson('[]')).toThrow(/must be an object/);
    expect(() => decodeRangeTableJson('{"version":"1","ranges":[]}')).toThrow(/version/);
    expect(() => decodeRangeTableJson('{"version":1}')).toThrow(/ranges/);
    expect(() => decodeRangeTableJson('{"version":1,"ranges":[[0,4294967296,1]]}')).toThrow(/range 0: must be an object/);
    expect(() => decodeRangeTableJson('{"version":1,"ranges":[{"start":0,"end":"4294967296","shard":1}]}')).toThrow(/must be numbers/);
    expect(decodeRangeTableJson('{"version":1,"ranges":[{"start":0,"end":4294967296,"shard":1}]}')).toEqual(
      withRanges([{ start: 0, end: RING_SIZE, shard: 1 }]),
    );
  });

  it('rejects malformed binary', () => {
    const bin = encodeRangeTableBinary(valid);
    const edit = (at: number, value: number): Uint8Array => {
      const copy = bin.slice();
      copy[at] = value;
      return copy;
    };
    const u32At = (at: number, value: number): Uint8Array => {
      const copy = bin.slice();
      new DataView(copy.buffer).setUint32(at, value);
      return copy;
    };
    expect(() => decodeRangeTableBinary(bin.subarray(0, 10))).toThrow(/too short/);
    expect(() => decodeRangeTableBinary(bin.subarray(0, bin.length - 1))).toThrow(/need \d+ bytes/);
    expect(() => decodeRangeTableBinary(Uint8Array.from([...bin, 0]))).toThrow(/need \d+ bytes/);
    expect(() => decodeRangeTableBinary(edit(0, 0x58))).toThrow(/magic/);
    expect(() => decodeRangeTableBinary(edit(4, 2))).toThrow(/format/);
    expect(() => decodeRangeTableBinary(edit(6, 1))).toThrow(/reserved/);
    expect(() => decodeRangeTableBinary(u32At(8, 0x200000))).toThrow(/version/);
    expect(() => decodeRangeTableBinary(u32At(16, 0))).toThrow(/need \d+ bytes/);
    expect(() => decodeRangeTableBinary(u32At(20, 5))).toThrow(/must start at 0/);
    // Second start (at 28) moved past the third (at 36): unsorted / overlapping.
    expect(() => decodeRangeTableBinary(u32At(28, 3000))).toThrow(/not after/);
    expect(() => decodeRangeTableBinary(u32At(28, 0))).toThrow(/not after/);
    // Empty table: header with count 0.
    const empty = bin.slice(0, 20);
    new DataView(empty.buffer).setUint32(16, 0);
    expect(() => decodeRangeTableBinary(empty)).toThrow(/at least one range/);
  });

  it('rejects every truncation of a valid binary table', () => {
    fc.assert(
      fc.property(rangeTableArb, fc.nat(), (table, cut) => {
        const bin = encodeRangeTableBinary(table);
        const len = cut % bin.length;
        expect(() => decodeRangeTableBinary(bin.subarray(0, len))).toThrow(RangeTableError);
      }),
      { seed: 403, numRuns: 200 },
    );
  });
});
