/**
 * RFC 6455 headers of final binary frames, written by the transport itself so
 * that a whole frame (header and payload) leaves in one socket write straight
 * from the encoder's buffer, instead of through ws.send() (which costs an
 * options object, a header buffer and a corked two-buffer write per frame).
 *
 * The bytes are exactly what ws sends for the same payload: FIN + binary
 * opcode, then the length (7, 7+16 or 7+64 bits); a dialer (client) frame
 * also has the mask bit and a four-byte mask key, which is all zeros (the
 * dialer's `generateMask`), so the payload goes unmasked. A server must not
 * mask, so the acceptor's frames have neither.
 */

import { WS_BINARY, WS_MAX_HEADER_BYTES, writeWsHeader, wsHeaderBytes } from '../util/ws-frame-header.js';

export { WS_MAX_HEADER_BYTES, wsHeaderBytes };

/**
 * Writes the header of a final binary frame with a `len`-byte payload so that
 * it ends at `end` (where the payload starts), and returns where it starts.
 * `masked`: mask bit set and an all-zero mask key (client frames).
 */
export function writeWsHeaderBefore(buf: Uint8Array, end: number, len: number, masked: boolean): number {
  const start = end - wsHeaderBytes(len, masked);
  writeWsHeader(buf, start, len, masked, WS_BINARY);
  return start;
}
