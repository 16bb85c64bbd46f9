/**
 * src/shard: where a key lives.
 *
 * - murmur3 x86_32 over a key's UTF-8 bytes places keys on a 32-bit ring (`hashKey`).
 * - `HashRing`: immutable; shards own ranges through virtual nodes placed at
 *   hash("shard:<id>#<v>"); lookup = hash + binary search (no allocation).
 * - `RangeTable`: the ring as a plain, versioned table of [start, end) → shard
 *   covering [0, 2^32) (JSON and binary codecs, validated on decode), computed by
 *   `computeRangeTable` (optionally with bounded loads); `RangeIndex` compiles
 *   one for fast routing.
 * - `diffRangeTables` / `ringMoves`: which ranges change owner between two
 *   tables or rings (drives rebalancing).
 */
export { murmur3Bytes, murmur3String } from './murmur3.js';
export { RING_HASH_SEED, RING_SIZE, hashKey, hashKeyBytes, vnodeLabel } from './hash.js';
export { HashRing, DEFAULT_VNODES, MAX_VNODES } from './ring.js';
export type { ShardSpec, RingOptions } from './ring.js';
export {
  RangeTableError,
  validateRangeTable,
  rangeIndexOf,
  lookupRangeHash,
  lookupRange,
  mergeAdjacentRanges,
  spanByShard,
} from './range-table.js';
export type { RangeTable, ShardRange } from './range-table.js';
export {
  rangeTableToJson,
  rangeTableFromJson,
  encodeRangeTableJson,
  decodeRangeTableJson,
  encodeRangeTableBinary,
  decodeRangeTableBinary,
} from './range-codec.js';
export type { RangeTableJson } from './range-codec.js';
export { computeRangeTable } from './assign.js';
export type { RangeTableOptions } from './assign.js';
export { diffRangeTables, ringMoves, movedSpan } from './moves.js';
export type { RangeMove } from './moves.js';
export { RangeIndex } from './range-index.js';
