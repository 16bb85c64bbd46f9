/** Errors the node hands to its callers (the API maps them onto protocol errors). */
import type { NodeId } from '../raft/index.js';

export type NodeErrorCode =
  /** This replica cannot take the write; `leader` is the known leader or 0. Definite. */
  | 'NOT_LEADER'
  /** The pending queue or the leader's uncommitted-bytes budget is full. Definite. */
  | 'OVERLOADED'
  /** No leader / no quorum / the outcome was lost with a snapshot; `definite` says which. */
  | 'UNAVAILABLE'
  /** No outcome within the request timeout. Not definite. */
  | 'TIMEOUT'
  /** The command could not be encoded (a field the API should have refused). Definite. */
  | 'BAD_REQUEST'
  /** The node is shutting down. Not definite. */
  | 'CLOSED'
  /** This node holds no replica of the key's shard (or the keys span shards). Definite. */
  | 'WRONG_SHARD'
  /** The meta group refused an admin command; the message starts with its code (e.g. "NODE_EXISTS: …"). Definite. */
  | 'REJECTED';

export class NodeError extends Error {
  constructor(
    readonly code: NodeErrorCode,
    message: string,
    /** True when the operation was certainly not applied. */
    readonly definite: boolean,
    /** For NOT_LEADER: the known leader, or 0 (NONE). */
    readonly leader: NodeId = 0,
  ) {
    super(message);
    this.name = 'NodeError';
  }
}
