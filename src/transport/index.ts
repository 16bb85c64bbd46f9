/**
 * Node-to-node transport: binary batch frames of (groupId, Message) over one
 * authenticated WebSocket per node pair. Wire format: docs/protocol.md.
 */
export { FRAME_HEADER_BYTES, FRAME_VERSION, FrameEncoder, FrameError, MESSAGE_TAGS, decodeBatch, encodeBatch } from './codec.js';
export type { Batch } from './codec.js';
export {
  SNAP_ACK_FRAME,
  SNAP_ACK_FRAME_BYTES,
  SNAP_CHUNK_FRAME,
  decodePeerFrame,
  encodeSnapAck,
  encodeSnapChunk,
  snapChunkFrameBytes,
} from './codec.js';
export type { PeerFrame, SnapAckFrame, SnapChunkFrame } from './codec.js';
export { PeerSnapshots } from './snapshot-streams.js';
export type { ChunkResult } from './snapshot-streams.js';
export { backoffDelay } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { PeerTransport } from './peer-transport.js';
export { CLOSE_GOING_AWAY, CLOSE_REPLACED, CLOSE_UNAUTHORIZED, PEER_PATH } from './types.js';
export type {
  PeerAddress,
  PeerMetrics,
  PeerTransportOptions,
  TransportEvent,
  TransportLogger,
  TransportMetrics,
} from './types.js';
