/**
 * The vocabulary of the cache state machine: commands (Raft log payloads),
 * their results, and the configuration.
 */

/** Exactly-once identity of a client write (Raft dissertation §6.3). */
export interface SessionRef {
  /** The client id handed out by a `register` command (its log index). */
  readonly client: number;
  /** The client's sequence number for this write. */
  readonly seq: number;
  /** Lowest seq the client has not yet seen a response for; results below it may be dropped. */
  readonly firstIncomplete?: number;
}

interface CommandBase {
  /** The leader's timestamp (ms) for this log entry. */
  readonly ts: number;
}

export interface PutCommand extends CommandBase {
  readonly type: 'put';
  readonly key: string;
  readonly value: Uint8Array;
  /** Positive integer; absent = no expiry (an overwrite without ttl clears a previous ttl). */
  readonly ttlMs?: number;
  readonly session?: SessionRef;
}

export interface DeleteCommand extends CommandBase {
  readonly type: 'delete';
  readonly key: string;
  readonly session?: SessionRef;
}

export interface CasCommand extends CommandBase {
  readonly type: 'cas';
  readonly key: string;
  /** null = the key must be absent. */
  readonly expected: Uint8Array | null;
  /** null = delete the key. */
  readonly next: Uint8Array | null;
  readonly ttlMs?: number;
  readonly session?: SessionRef;
}

export interface IncrCommand extends CommandBase {
  readonly type: 'incr';
  readonly key: string;
  /** Safe integer (may be negative). */
  readonly by: number;
  readonly session?: SessionRef;
}

export interface TouchCommand extends CommandBase {
  readonly type: 'touch';
  /** Moved to most recently used in this order (absent or expired keys are skipped). */
  readonly keys: readonly string[];
}

export interface ClockCommand extends CommandBase {
  readonly type: 'clock';
}

export interface RegisterCommand extends CommandBase {
  readonly type: 'register';
}

/** Ring positions [start, end) of the u32 ring (hashKey of src/shard); end may be 2^32. */
export interface RingRange {
  readonly start: number;
  readonly end: number;
}

/**
 * Splits the shard: live keys whose ring position lies in `ranges` leave this
 * state machine for a new one (see CacheStateMachine.takeSplit), and from then
 * on writes to them are refused with WRONG_SHARD. Ranges: non-empty, sorted,
 * non-overlapping.
 */
export interface SplitCommand extends CommandBase {
  readonly type: 'split';
  readonly ranges: readonly RingRange[];
  /** The Raft group that takes the split-off keys (the node creates it; the state machine ignores it). */
  readonly group?: number;
}

export type Command =
  | PutCommand
  | DeleteCommand
  | CasCommand
  | IncrCommand
  | TouchCommand
  | ClockCommand
  | RegisterCommand
  | SplitCommand;

export type CommandType = Command['type'];

export type ErrorCode =
  /** The entry alone is larger than maxBytes; nothing changed. */
  | 'TOO_LARGE'
  /** incr on a value that is not decimal ASCII of a safe integer. */
  | 'NOT_INTEGER'
  /** incr result beyond ±Number.MAX_SAFE_INTEGER. */
  | 'OUT_OF_RANGE'
  /** Unknown or expired client id. */
  | 'SESSION_EXPIRED'
  /** seq below the session's retained window: it may have been applied; not re-applied. */
  | 'STALE_SEQUENCE'
  /** Malformed command (bad bytes, bad field values). */
  | 'INVALID_COMMAND'
  /** The key's ring position was split off to another shard; nothing changed (not even the session). */
  | 'WRONG_SHARD';

export type CommandResult =
  | { readonly ok: true; readonly kind: 'done' }
  | { readonly ok: true; readonly kind: 'deleted'; readonly existed: boolean }
  | { readonly ok: true; readonly kind: 'cas'; readonly swapped: boolean }
  | { readonly ok: true; readonly kind: 'incr'; readonly value: number }
  | { readonly ok: true; readonly kind: 'registered'; readonly clientId: number }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

export interface CacheConfig {
  /** Upper bound on the number of entries. */
  readonly maxEntries: number;
  /** Upper bound on the sum of entry sizes (see ENTRY_OVERHEAD_BYTES). */
  readonly maxBytes: number;
  /** Remembered results per client session (default 64). */
  readonly maxResultsPerSession?: number;
  /** A session expires after this much log time without activity (default 1 hour). */
  readonly sessionTtlMs?: number;
  /** Upper bound on live sessions (default 10 000). */
  readonly maxSessions?: number;
}

export interface ResolvedCacheConfig {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly maxResultsPerSession: number;
  readonly sessionTtlMs: number;
  readonly maxSessions: number;
}

/** Thrown for an invalid CacheConfig. */
export class CacheConfigError extends Error {
  readonly code = 'INVALID_CONFIG' as const;
  constructor(message: string) {
    super(message);
    this.name = 'CacheConfigError';
  }
}

function positiveInteger(config: CacheConfig, name: keyof CacheConfig, fallback?: number): number {
  const v: unknown = config[name] ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw new CacheConfigError(`CacheConfig.${name} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

export function resolveCacheConfig(config: CacheConfig): ResolvedCacheConfig {
  if (typeof config !== 'object' || config === null) throw new CacheConfigError('CacheConfig must be an object');
  return {
    maxEntries: positiveInteger(config, 'maxEntries'),
    maxBytes: positiveInteger(config, 'maxBytes'),
    maxResultsPerSession: positiveInteger(config, 'maxResultsPerSession', 64),
    sessionTtlMs: positiveInteger(config, 'sessionTtlMs', 3_600_000),
    maxSessions: positiveInteger(config, 'maxSessions', 10_000),
  };
}
