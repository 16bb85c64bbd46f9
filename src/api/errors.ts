/** Protocol errors (PROTOCOL.md "Errors") and the mapping from node and cache failures. */
import type { CommandResult } from '../cache/index.js';
import { NodeError, nodeName } from '../node/index.js';
import type { CacheNode } from '../node/index.js';
import type { ProtocolErrorCode } from '../protocol/index.js';

/**
 * `REJECTED` (definite): the meta group refused an operator command; `reason`
 * is the state machine's code ("NODE_EXISTS"), `message` its full text.
 * (To be folded into ProtocolErrorCode in src/protocol.)
 */
export type ErrorCode = ProtocolErrorCode | 'REJECTED';

export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly definite: boolean;
  readonly [hint: string]: unknown;
}

export function wireError(code: ErrorCode, message: string, definite: boolean, hints?: Record<string, unknown>): WireError {
  return hints === undefined ? { code, message, definite } : { code, message, definite, ...hints };
}

export const badRequest = (message: string): WireError => wireError('BAD_REQUEST', message, true);
export const tooLarge = (message: string, limit: number): WireError => wireError('TOO_LARGE', message, true, { limit });

/** NOT_LEADER with the leader's name and URL when known. */
export function notLeader(node: CacheNode | null, leader: number, message = 'this node is not the leader'): WireError {
  const known = leader !== 0;
  return wireError('NOT_LEADER', message, true, {
    leader: known ? nodeName(leader) : null,
    leaderUrl: known && node !== null ? node.urlOf(leader) : null,
  });
}

/** REJECTED with the refusal's code as `reason` when the message is "CODE: text" (else reason null). */
export function rejected(message: string): WireError {
  const m = /^([A-Z][A-Z0-9_]*):/.exec(message);
  return wireError('REJECTED', message, true, { reason: m === null ? null : (m[1] as string) });
}

/** Maps anything thrown by the node onto a protocol error. */
export function fromThrown(node: CacheNode | null, e: unknown): WireError {
  if (e instanceof NodeError) {
    switch (e.code) {
      case 'NOT_LEADER':
        return notLeader(node, e.leader, e.message);
      case 'OVERLOADED':
        return wireError('OVERLOADED', e.message, true);
      case 'UNAVAILABLE':
        return wireError('UNAVAILABLE', e.message, e.definite);
      case 'TIMEOUT':
        return wireError('TIMEOUT', e.message, false);
      case 'WRONG_SHARD':
        return wireError('WRONG_SHARD', e.message, true, { mapVersion: node === null ? 0 : node.layout.version });
      case 'BAD_REQUEST':
        return badRequest(e.message);
      case 'CLOSED':
        return wireError('UNAVAILABLE', e.message, e.definite);
      case 'REJECTED':
        return rejected(e.message);
    }
  }
  return wireError('INTERNAL', e instanceof Error ? e.message : String(e), false);
}

/**
 * Maps a cache command's failure result onto a protocol error. `mapVersion`:
 * the node's map version, the hint of WRONG_SHARD (a key split off to another shard).
 */
export function fromResult(r: Extract<CommandResult, { ok: false }>, maxBytes: number, mapVersion = 0): WireError {
  switch (r.code) {
    case 'TOO_LARGE':
      return tooLarge(r.message, maxBytes);
    case 'NOT_INTEGER':
      return wireError('NOT_INTEGER', r.message, true);
    case 'OUT_OF_RANGE':
      return wireError('OUT_OF_RANGE', r.message, true);
    case 'SESSION_EXPIRED':
      return wireError('SESSION_EXPIRED', r.message, true);
    case 'STALE_SEQUENCE':
      // The seq is older than what the session remembers: it may have been applied before.
      return wireError('SESSION_EXPIRED', `${r.message} (stale sequence number: may have been applied)`, false);
    case 'INVALID_COMMAND':
      return wireError('INTERNAL', r.message, false);
    case 'WRONG_SHARD':
      // Refused on apply: the key's range was split off; nothing changed, not even the session.
      return wireError('WRONG_SHARD', r.message, true, { mapVersion });
  }
}
