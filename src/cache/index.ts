/** The cache state machine: public surface. */
export { CacheStateMachine, ENTRY_OVERHEAD_BYTES } from './state-machine.js';
export type { CacheStats } from './state-machine.js';
export {
  encodeCommand,
  decodeCommand,
  validateCommand,
  CommandCodecError,
  COMMAND_CODEC_VERSION,
  putString,
  textValue,
  valueText,
} from './command.js';
export { CommandDecoder } from './command-decoder.js';
export { SnapshotError, SNAPSHOT_VERSION, DEFAULT_SNAPSHOT_CHUNK_SIZE } from './snapshot.js';
export { LruCache, LruStore, utf8Length } from './lru.js';
export type { LruCacheOptions } from './lru.js';
export { ExpiryHeap } from './expiry-heap.js';
export { SessionTable } from './sessions.js';
export type { SessionState, SessionLimits } from './sessions.js';
export { CacheConfigError, resolveCacheConfig } from './types.js';
export { RingRangeSet, validateRingRanges } from './ring-ranges.js';
export type {
  CacheConfig,
  ResolvedCacheConfig,
  Command,
  CommandType,
  CommandResult,
  ErrorCode,
  SessionRef,
  PutCommand,
  DeleteCommand,
  CasCommand,
  IncrCommand,
  TouchCommand,
  ClockCommand,
  RegisterCommand,
  SplitCommand,
  RingRange,
} from './types.js';
