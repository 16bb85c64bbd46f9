import { RING_SIZE } from './hash.js';
import { RangeTableError, validateRangeTable } from './range-table.js';
import type { RangeTable, ShardRange } from './range-table.js';

/** JSON form (protocol and humans): `{ version, ranges: [{ start, end, shard }] }`. */
export interface RangeTableJson {
  version: number;
  ranges: Array<{ start: number; end: number; shard: number }>;
}

export function rangeTableToJson(table: RangeTable): RangeTableJson {
  return {
    version: table.version,
    ranges: table.ranges.map((r) => ({ start: r.start, end: r.end, shard: r.shard })),
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads a parsed JSON value; throws RangeTableError unless it is a valid table. */
export function rangeTableFromJson(value: unknown): RangeTable {
  if (!isRecord(value)) throw new RangeTableError('range table JSON must be an object');
  const { version, ranges } = value;
  if (typeof version !== 'number') throw new RangeTableError('range table JSON: "version" must be a number');
  if (!Array.isArray(ranges)) throw new RangeTableError('range table JSON: "ranges" must be an array');
  const out: ShardRange[] = [];
  for (let i = 0; i < ranges.length; i++) {
    const r: unknown = ranges[i];
    if (!isRecord(r)) throw new RangeTableError(`range ${i}: must be an object { start, end, shard }`);
    const { start, end, shard } = r;
    if (typeof start !== 'number' || typeof end !== 'number' || typeof shard !== 'number') {
      throw new RangeTableError(`range ${i}: start, end and shard must be numbers`);
    }
    out.push({ start, end, shard });
  }
  const table: RangeTable = { version, ranges: out };
  validateRangeTable(table);
  return table;
}

export function encodeRangeTableJson(table: RangeTable): string {
  return JSON.stringify(rangeTableToJson(table));
}

export function decodeRangeTableJson(text: string): RangeTable {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new RangeTableError(`range table JSON does not parse: ${(e as Error).message}`);
  }
  return rangeTableFromJson(value);
}

/*
 * Binary form, all integers big-endian:
 *   0  4  magic "RCRT"
 *   4  1  format (1)
 *   5  3  reserved, zero
 *   8  8  version (u32 high, u32 low; a safe integer)
 *  16  4  range count n ≥ 1
 *  20  8n n × (start u32, shard u32); each range ends where the next starts, the last at 2^32
 */
const MAGIC = 0x52435254; // "RCRT"
const FORMAT = 1;
const HEADER_BYTES = 20;
const RANGE_BYTES = 8;

export function encodeRangeTableBinary(table: RangeTable): Uint8Array {
  validateRangeTable(table);
  const n = table.ranges.length;
  const out = new Uint8Array(HEADER_BYTES + RANGE_BYTES * n);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC);
  view.setUint8(4, FORMAT);
  view.setUint32(8, Math.floor(table.version / RING_SIZE));
  view.setUint32(12, table.version % RING_SIZE);
  view.setUint32(16, n);
  let at = HEADER_BYTES;
  for (const r of table.ranges) {
    view.setUint32(at, r.start);
    view.setUint32(at + 4, r.shard);
    at += RANGE_BYTES;
  }
  return out;
}

export function decodeRangeTableBinary(bytes: Uint8Array): RangeTable {
  if (bytes.length < HEADER_BYTES) {
    throw new RangeTableError(`binary range table too short: ${bytes.length} bytes, header needs ${HEADER_BYTES}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== MAGIC) throw new RangeTableError('binary range table: bad magic (expected "RCRT")');
  const format = view.getUint8(4);
  if (format !== FORMAT) throw new RangeTableError(`binary range table: unknown format ${format} (expected ${FORMAT})`);
  if (view.getUint8(5) !== 0 || view.getUint16(6) !== 0) {
    throw new RangeTableError('binary range table: reserved header bytes must be zero');
  }
  const versionHigh = view.getUint32(8);
  if (versionHigh > 0x1fffff) throw new RangeTableError('binary range table: version exceeds 2^53 - 1');
  const version = versionHigh * RING_SIZE + view.getUint32(12);
  const n = view.getUint32(16);
  const expectedLength = HEADER_BYTES + RANGE_BYTES * n;
  if (bytes.length !== expectedLength) {
    throw new RangeTableError(
      `binary range table: ${n} ranges need ${expectedLength} bytes, got ${bytes.length}`,
    );
  }
  if (n === 0) throw new RangeTableError('a range table needs at least one range');
  const ranges: ShardRange[] = [];
  let at = HEADER_BYTES;
  for (let i = 0; i < n; i++) {
    const start = view.getUint32(at);
    const shard = view.getUint32(at + 4);
    const end = i + 1 < n ? view.getUint32(at + RANGE_BYTES) : RING_SIZE;
    if (i === 0 && start !== 0) throw new RangeTableError(`range 0: must start at 0, starts at ${start}`);
    if (start >= end) {
      throw new RangeTableError(`range ${i + 1}: start ${end} is not after the previous start ${start} (unsorted or overlapping)`);
    }
    ranges.push({ start, end, shard });
    at += RANGE_BYTES;
  }
  const table: RangeTable = { version, ranges };
  validateRangeTable(table);
  return table;
}
