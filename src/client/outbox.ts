/**
 * The request frames one connection sends during one turn of the event loop,
 * encoded at once (JsonWriter: the UTF-8 of JSON.stringify, without the
 * string) behind their WebSocket headers in one reused buffer, and written at
 * the turn's end (setImmediate: after the socket reads of that turn were
 * handled) in one socket write.
 *
 * ws's own send() costs, per message, an options object, a header buffer and
 * two socket writes (with their write requests); the requests made while the
 * client handles one batch of answers (from every node's socket) share all of
 * that here. The bytes are exactly what ws would send
 * with the connection's all-zero mask: FIN + text opcode, the mask bit, the
 * length, four zero mask bytes, then the unmasked UTF-8 payload. Frames only
 * go out while the socket is OPEN (ws's own frames, such as pongs, go directly
 * to the socket, so frames never interleave within a frame). Without access to
 * ws's socket (an internal field) it falls back to ws.send().
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { JsonWriter } from './json-writer.js';

export class Outbox {
  /** The frames queued for `ws`, header and payload each, back to back. */
  private readonly staged = new JsonWriter();
  private ws: WebSocket | undefined;
  private queued = false;
  private readonly flushLater = (): void => {
    this.queued = false;
    this.flush();
  };

  /** Encodes `frame` now (later changes to it do not matter) and queues it to go out on `ws` at the end of this turn. */
  push(ws: WebSocket, frame: object): void {
    if (this.ws !== ws) {
      this.flush();
      this.ws = ws;
    }
    if (socketOf(ws) === undefined) {
      ws.send(JSON.stringify(frame)); // (no access to the socket: ws frames it)
      return;
    }
    const w = this.staged;
    const start = w.len;
    w.reserve(MAX_HEADER);
    w.len += MAX_HEADER; // room for the longest header; the payload moves back if it needs less
    try {
      w.value(frame);
    } catch (e) {
      w.len = start;
      throw e;
    }
    const payload = w.len - start - MAX_HEADER;
    const header = headerSize(payload);
    if (header < MAX_HEADER) w.buf.copyWithin(start + header, start + MAX_HEADER, w.len);
    writeHeader(w.buf, start, payload);
    w.len = start + header + payload;
    if (!this.queued) {
      this.queued = true;
      setImmediate(this.flushLater);
    }
  }

  /** Drops what is queued (its socket is gone; the connection fails those requests). */
  clear(): void {
    this.staged.reset();
    this.ws = undefined;
  }

  /** Writes what is queued now. */
  flush(): void {
    const w = this.staged;
    const ws = this.ws;
    if (w.len === 0 || ws === undefined) return;
    try {
      // Closing or closed: nothing goes out (as with ws.send); the socket's loss fails the requests.
      if (ws.readyState !== WebSocket.OPEN) return;
      const socket = socketOf(ws);
      if (socket === undefined || socket.destroyed || !socket.writable) return;
      const out = Buffer.allocUnsafe(w.len);
      w.buf.copy(out, 0, 0, w.len);
      socket.write(out);
    } finally {
      w.reset();
    }
  }
}

const MAX_HEADER = 14;

/** Header bytes of a masked frame with a `len`-byte payload (mask key included). */
export function headerSize(len: number): number {
  return (len < 126 ? 2 : len < 65536 ? 4 : 10) + 4;
}

/** Writes the header of a final, masked text frame (all-zero mask key) at `off`; returns the payload's offset. */
export function writeHeader(buf: Buffer, off: number, len: number): number {
  buf[off++] = 0x81; // FIN, text
  if (len < 126) {
    buf[off++] = 0x80 | len;
  } else if (len < 65536) {
    buf[off++] = 0x80 | 126;
    buf[off++] = len >>> 8;
    buf[off++] = len & 0xff;
  } else {
    buf[off++] = 0x80 | 127;
    buf.writeUInt32BE(Math.floor(len / 0x100000000), off);
    buf.writeUInt32BE(len >>> 0, off + 4);
    off += 8;
  }
  buf[off++] = 0;
  buf[off++] = 0;
  buf[off++] = 0;
  buf[off++] = 0;
  return off;
}

/** ws's socket (an internal field), when it looks like one. */
export function socketOf(ws: WebSocket | undefined): Socket | undefined {
  const s = (ws as unknown as { _socket?: Socket } | undefined)?._socket;
  return s !== undefined && s !== null && typeof s.write === 'function' ? s : undefined;
}
