/**
 * The client protocol's shared vocabulary (docs/protocol.md), imported by both
 * sides: the server (src/api) and the client (src/client).
 */

/** Error codes of protocol v1, including the compatible extensions. */
export type ProtocolErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'TOO_LARGE'
  | 'NOT_LEADER'
  | 'WRONG_SHARD'
  | 'OVERLOADED'
  | 'UNAVAILABLE'
  | 'TIMEOUT'
  | 'SESSION_EXPIRED'
  | 'INTERNAL'
  // extensions (definite: the state did not change)
  | 'NOT_INTEGER'
  | 'OUT_OF_RANGE';

export { JsonWriter } from './json-writer.js';
export { MAX_FRAME_HEADER, appendJsonFrame, frameHeaderSize, socketOf, writeFrameHeader, writeStaged } from './frames.js';
export type { FrameSink } from './frames.js';
