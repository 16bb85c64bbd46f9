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
import WebSocket from 'ws';
import { JsonWriter, appendJsonFrame, socketOf, writeStaged } from '../protocol/index.js';

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
    appendJsonFrame(this.staged, frame, true); // masked, all-zero key
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
    // Closing or closed: nothing goes out (as with ws.send); the socket's loss fails the requests.
    const socket = ws.readyState === WebSocket.OPEN ? socketOf(ws) : undefined;
    if (socket === undefined) w.reset();
    else writeStaged(socket, w);
  }
}
