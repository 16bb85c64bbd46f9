/**
 * Typed client errors. `definite: true` means the operation was certainly not
 * applied; `false` means it may have been (a write that timed out, a socket
 * that closed after the request was sent).
 */
import type { ProtocolErrorCode } from '../protocol/index.js';

/**
 * Codes of the protocol plus `REJECTED` (the meta group refused an operator
 * command: definite, never retried; `hints.reason` is its code, e.g.
 * "NODE_EXISTS") and the client's own: `CLOSED` (close() was called) and
 * `BAD_MAP` (the server's shard map is malformed; `message` names the field).
 */
export type KnownErrorCode = ProtocolErrorCode | 'REJECTED' | 'CLOSED' | 'BAD_MAP';

/** A server may add codes; they arrive as plain strings. */
export type ErrorCode = KnownErrorCode | (string & {});

export interface RaftcacheErrorInit {
  readonly code: ErrorCode;
  readonly message: string;
  readonly definite: boolean;
  /** The node that answered, when one did ("n2"). */
  readonly node?: string;
  /** Extra fields the server sent with the error (hints such as `leader`, `limit`). */
  readonly hints?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
}

export class RaftcacheError extends Error {
  readonly code: ErrorCode;
  readonly definite: boolean;
  readonly node: string | undefined;
  readonly hints: Readonly<Record<string, unknown>>;

  constructor(init: RaftcacheErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'RaftcacheError';
    this.code = init.code;
    this.definite = init.definite;
    this.node = init.node;
    this.hints = init.hints ?? {};
  }
}

export function isRaftcacheError(e: unknown): e is RaftcacheError {
  return e instanceof RaftcacheError;
}

/**
 * A connection-level failure of one attempt (not shown to users: the client
 * retries or turns it into a RaftcacheError). `sent` says whether the request
 * frame may have reached the server.
 */
export class ConnectionFailure extends Error {
  constructor(
    message: string,
    readonly sent: boolean,
    readonly kind: 'connect' | 'lost' | 'timeout' | 'closed',
  ) {
    super(message);
    this.name = 'ConnectionFailure';
  }
}
