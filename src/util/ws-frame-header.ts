/**
 * RFC 6455 §5.2 headers of final (unfragmented) WebSocket frames, written by
 * whoever puts whole frames on a socket itself: the client API (text frames,
 * src/protocol/frames.ts) and the node transport (binary frames,
 * src/transport/ws-frame.ts). The bytes are exactly what ws's sender writes:
 * FIN + opcode, the mask bit, the 7, 7+16 or 7+64-bit length, and — for a
 * masked (client) frame — a four-byte mask key, all zeros (ws's `generateMask`
 * in our clients), so the payload goes unmasked. A server must not mask.
 */

import type { Socket } from 'node:net';

/**
 * ws's TCP socket (the internal field `_socket`), when it looks like one; else
 * undefined (then frame through ws.send). Writing whole frames to it is safe
 * because ws writes its own frames (pong, close) whole too.
 */
export function wsSocketOf(ws: object | undefined): Socket | undefined {
  const s = (ws as { _socket?: Socket | null } | undefined)?._socket;
  return s !== undefined && s !== null && typeof s.write === 'function' ? s : undefined;
}

/** The longest header: 2 + 8 (64-bit length) + 4 (mask key). */
export const WS_MAX_HEADER_BYTES = 14;

export const WS_TEXT = 0x1;
export const WS_BINARY = 0x2;

const FIN = 0x80;
const MASK_BIT = 0x80;
const TWO_32 = 0x1_0000_0000;

/** Header bytes of a frame with a `len`-byte payload (mask key included when `masked`). */
export function wsHeaderBytes(len: number, masked: boolean): number {
  return (len < 126 ? 2 : len < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Writes the header of a final frame of `opcode` (WS_TEXT, WS_BINARY) with a
 * `len`-byte payload at `off`; returns the payload's offset.
 */
export function writeWsHeader(buf: Uint8Array, off: number, len: number, masked: boolean, opcode: number): number {
  let p = off;
  const mask = masked ? MASK_BIT : 0;
  buf[p++] = FIN | opcode;
  if (len < 126) {
    buf[p++] = mask | len;
  } else if (len < 65536) {
    buf[p++] = mask | 126;
    buf[p++] = len >>> 8;
    buf[p++] = len & 0xff;
  } else {
    buf[p++] = mask | 127;
    const hi = Math.floor(len / TWO_32);
    const lo = len >>> 0;
    buf[p++] = (hi >>> 24) & 0xff;
    buf[p++] = (hi >>> 16) & 0xff;
    buf[p++] = (hi >>> 8) & 0xff;
    buf[p++] = hi & 0xff;
    buf[p++] = lo >>> 24;
    buf[p++] = (lo >>> 16) & 0xff;
    buf[p++] = (lo >>> 8) & 0xff;
    buf[p++] = lo & 0xff;
  }
  if (masked) {
    buf[p++] = 0;
    buf[p++] = 0;
    buf[p++] = 0;
    buf[p++] = 0;
  }
  return p;
}
