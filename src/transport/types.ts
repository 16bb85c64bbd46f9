/** Public vocabulary of the transport: options, metrics, events, wire constants. */
import type { NodeId } from '../raft/types.js';
import type { Rng } from '../util/rng.js';

/** The HTTP path of the node-to-node WebSocket endpoint. */
export const PEER_PATH = '/raftcache/peer/1';

/** Close code sent to a socket that failed authentication. */
export const CLOSE_UNAUTHORIZED = 4001;
/** Close code sent when a newer connection from the same peer replaces this one. */
export const CLOSE_REPLACED = 4002;
/** Close code sent when the peer left the table or the transport closes. */
export const CLOSE_GOING_AWAY = 1001;

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export type TransportEvent =
  | { readonly kind: 'connected'; readonly peer: NodeId; readonly role: 'dialer' | 'acceptor' }
  | { readonly kind: 'disconnected'; readonly peer: NodeId; readonly code: number }
  | { readonly kind: 'auth-failed'; readonly remote: string; readonly peer: NodeId | null; readonly reason: string }
  | { readonly kind: 'dial-failed'; readonly peer: NodeId; readonly reason: string }
  | { readonly kind: 'frame-error'; readonly peer: NodeId; readonly reason: string }
  | { readonly kind: 'peer-unresponsive'; readonly peer: NodeId }
  | { readonly kind: 'handler-error'; readonly peer: NodeId; readonly error: unknown }
  /** In-order bytes of an incoming snapshot grew (one event per accepted chunk). */
  | { readonly kind: 'snapshot-progress'; readonly peer: NodeId; readonly groupId: number; readonly received: number; readonly total: number }
  | { readonly kind: 'snapshot-rejected'; readonly peer: NodeId; readonly groupId: number; readonly reason: string }
  /** Transfers dropped for making no progress within `snapshotStallMs`. */
  | { readonly kind: 'snapshot-abandoned'; readonly peer: NodeId; readonly outgoing: number; readonly incoming: number };

export type TransportLogger = (event: TransportEvent) => void;

export interface PeerTransportOptions {
  /** This node's id: a positive u32. */
  readonly nodeId: NodeId;
  /** Listen address; port 0 picks a free port (read it back from `start()`). */
  readonly host: string;
  readonly port: number;
  /** The shared cluster secret (at least 16 bytes; use 32 random bytes). Never sent. */
  readonly secret: string | Uint8Array;
  /** Jitter for reconnect backoff. */
  readonly rng: Rng;
  /** Largest frame sent or accepted (the server's and client's maxPayload). Default 16 MiB. */
  readonly maxFrameBytes?: number;
  /** Drop messages to a peer whose socket buffers more than this. Default 8 MiB. */
  readonly maxBufferedBytes?: number;
  /** A connection not authenticated within this is closed. Default 5000 ms. */
  readonly handshakeTimeoutMs?: number;
  /** Reconnect backoff: first delay and cap. Defaults 100 ms and 5000 ms. */
  readonly reconnectBaseMs?: number;
  readonly reconnectMaxMs?: number;
  /** WebSocket ping period; a peer silent for two periods is disconnected. 0 disables. Default 5000 ms. */
  readonly pingIntervalMs?: number;
  /** Snapshots with more data bytes than this go in chunks of this size (capped below maxFrameBytes). Default 1 MiB. */
  readonly snapshotChunkBytes?: number;
  /** Un-acked chunks in flight per transfer. Default 4. */
  readonly snapshotWindow?: number;
  /** A transfer (either direction) without progress for this long is dropped. Default 10000 ms. */
  readonly snapshotStallMs?: number;
  /** Incoming snapshots larger than this are refused. Default 1 GiB. */
  readonly maxSnapshotBytes?: number;
  /** Receives connection events; default: auth, frame and handler errors to console.warn. */
  readonly logger?: TransportLogger;
}

export interface PeerMetrics {
  connected: boolean;
  framesSent: number;
  messagesSent: number;
  bytesSent: number;
  framesReceived: number;
  messagesReceived: number;
  bytesReceived: number;
  /** All messages to this peer dropped by `send` (the three reasons below). */
  messagesDropped: number;
  droppedNotConnected: number;
  droppedBackpressure: number;
  droppedTooLarge: number;
  /** Received messages refused because `from`/`to` did not match the connection. */
  messagesRejected: number;
  /** Authenticated connections established, and how many of them replaced a lost one. */
  connections: number;
  reconnects: number;
  dialAttempts: number;
  /** Chunked snapshot transfers to this peer: started, fully acked, abandoned; chunk frames and data bytes sent. */
  snapshotsStarted: number;
  snapshotsSent: number;
  snapshotsAbandoned: number;
  snapshotChunksSent: number;
  snapshotBytesSent: number;
  /** From this peer: snapshots delivered whole, chunk frames received, chunks refused. */
  snapshotsReceived: number;
  snapshotChunksReceived: number;
  snapshotChunksRejected: number;
}

export interface TransportMetrics {
  nodeId: NodeId;
  /** Sockets open now, authenticated or in handshake. */
  openSockets: number;
  authFailures: number;
  frameErrors: number;
  handlerErrors: number;
  /** Messages passed to `send` for a node not in the peer table, or after `close()`. */
  droppedUnknownPeer: number;
  peers: Record<string, PeerMetrics>;
}

export function newPeerMetrics(): PeerMetrics {
  return {
    connected: false,
    framesSent: 0,
    messagesSent: 0,
    bytesSent: 0,
    framesReceived: 0,
    messagesReceived: 0,
    bytesReceived: 0,
    messagesDropped: 0,
    droppedNotConnected: 0,
    droppedBackpressure: 0,
    droppedTooLarge: 0,
    messagesRejected: 0,
    connections: 0,
    reconnects: 0,
    dialAttempts: 0,
    snapshotsStarted: 0,
    snapshotsSent: 0,
    snapshotsAbandoned: 0,
    snapshotChunksSent: 0,
    snapshotBytesSent: 0,
    snapshotsReceived: 0,
    snapshotChunksReceived: 0,
    snapshotChunksRejected: 0,
  };
}
