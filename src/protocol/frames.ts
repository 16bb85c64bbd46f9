/**
 * WebSocket text frames (RFC 6455 §5.2) written straight into a JsonWriter's
 * buffer, for both directions: the client's request frames (masked, with the
 * all-zero mask key ws's client uses, so the payload is not changed) and the
 * server's response frames (not masked). The bytes are exactly what ws's
 * sender writes for `ws.send(JSON.stringify(value))`: FIN + text opcode, the
 * mask bit, the 7/16/64-bit length, the mask key if masked, then the UTF-8
 * payload.
 */
import { WS_MAX_HEADER_BYTES, WS_TEXT, writeWsHeader, wsHeaderBytes, wsSocketOf } from '../util/ws-frame-header.js';
import type { JsonWriter } from './json-writer.js';

/** The longest header: 2 bytes, a 64-bit length, a mask key. */
export const MAX_FRAME_HEADER = WS_MAX_HEADER_BYTES;

/** Header bytes of a frame with a `len`-byte payload (mask key included when `masked`). */
export const frameHeaderSize = wsHeaderBytes;

/**
 * Writes the header of a final text frame with a `len`-byte payload at `off`
 * (with an all-zero mask key when `masked`); returns the payload's offset.
 */
export function writeFrameHeader(buf: Buffer, off: number, len: number, masked: boolean): number {
  return writeWsHeader(buf, off, len, masked, WS_TEXT);
}

/**
 * Appends one text frame whose payload is the JSON of `value` to `w`. On a
 * throw (what JSON.stringify throws: a BigInt, a cycle) nothing is appended.
 */
export function appendJsonFrame(w: JsonWriter, value: unknown, masked: boolean): void {
  const start = w.len;
  // Room for the header of a short payload (most frames); a longer one's payload moves up after.
  const guess = frameHeaderSize(0, masked);
  w.reserve(guess);
  w.len += guess;
  try {
    w.value(value);
  } catch (e) {
    w.len = start;
    throw e;
  }
  const payload = w.len - start - guess;
  const header = frameHeaderSize(payload, masked);
  if (header > guess) {
    w.reserve(header - guess);
    w.buf.copyWithin(start + header, start + guess, w.len);
  }
  writeFrameHeader(w.buf, start, payload, masked);
  w.len = start + header + payload;
}

/** ws's TCP socket (the internal field `_socket`), when it looks like one; else undefined (then use ws.send). */
export const socketOf = wsSocketOf;

/** What writeStaged needs of a socket (a net.Socket, or the Duplex of an HTTP upgrade). */
export interface FrameSink {
  readonly destroyed: boolean;
  readonly writable: boolean;
  write(chunk: Buffer): boolean;
}

/**
 * Writes `w`'s bytes (whole frames) to `socket` in one write, in a buffer of
 * their own (the socket holds on to it until written), and empties `w`.
 * Nothing is written to a destroyed or ended socket.
 */
export function writeStaged(socket: FrameSink, w: JsonWriter): void {
  try {
    if (w.len === 0 || socket.destroyed || !socket.writable) return;
    const out = Buffer.allocUnsafe(w.len);
    w.buf.copy(out, 0, 0, w.len);
    socket.write(out);
  } finally {
    w.reset();
  }
}
