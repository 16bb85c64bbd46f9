/**
 * One WebSocket to one node, with pipelining: requests carry ids, responses
 * are matched by id in any order. Attempt deadlines are enforced by one sweep
 * timer per connection (no timer per request). The connection never retries:
 * a failure rejects with ConnectionFailure and the client decides.
 */
import WebSocket from 'ws';
import { ConnectionFailure, RaftcacheError } from './errors.js';
import { Outbox } from './outbox.js';
import { decodeFrame, isPush } from './protocol.js';
import type { PushFrame, RequestFrame, ResponseFrame } from './protocol.js';

export interface ConnectionOptions {
  readonly token?: string;
  /** Sent in `hello` as `client`. */
  readonly clientName: string;
  readonly connectTimeoutMs: number;
  /** Granularity of attempt deadlines. */
  readonly sweepMs: number;
  readonly maxPayload?: number;
  /** Called with the `mapVersion` a node reports in its `hello` answer. */
  readonly onMapVersion?: (version: number) => void;
  /** Called with every push frame (`{event, …}`, no id) a node sends, e.g. map pushes after `watch`. */
  readonly onPush?: (url: string, push: PushFrame) => void;
  /** Called when an open socket is lost (not on close()): subscriptions made on it are gone. */
  readonly onDrop?: (url: string) => void;
}

/**
 * Who waits for one request's answer. The connection calls exactly one of
 * onReply / onFailure, never from inside dispatch(). The client's operations
 * implement it themselves, so a request costs no promise of its own.
 */
export interface ReplyHandler {
  /** The attempt's deadline (Date.now() scale): past it the sweep fails it with kind 'timeout'. */
  readonly attemptDeadline: number;
  /** The response frame, ok or not. */
  onReply(frame: ResponseFrame): void;
  onFailure(e: ConnectionFailure): void;
}

/** request()'s handler: settles a promise. */
class PromiseReply implements ReplyHandler {
  constructor(
    readonly attemptDeadline: number,
    private readonly resolve: (frame: ResponseFrame) => void,
    private readonly reject: (e: Error) => void,
  ) {}

  onReply(frame: ResponseFrame): void {
    this.resolve(frame);
  }

  onFailure(e: ConnectionFailure): void {
    this.reject(e);
  }
}

type State = 'idle' | 'connecting' | 'open' | 'closed';

export class NodeConnection {
  /** Node id learned from `hello` ("n1"), if any. */
  node: string | undefined;
  private ws: WebSocket | undefined;
  private state: State = 'idle';
  private opening: Promise<void> | undefined;
  private readonly pending = new Map<number, ReplyHandler>();
  private nextId = 1;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepNow = 0;
  private readonly outbox = new Outbox();
  private openWaiter: { resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;

  constructor(
    readonly url: string,
    private readonly options: ConnectionOptions,
  ) {}

  get inFlight(): number {
    return this.pending.size;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /**
   * Sends `frame` (its `id` is overwritten) and resolves with the response
   * frame, ok or not. Rejects with ConnectionFailure when the socket cannot be
   * opened, is lost, or `deadline` (Date.now() scale) passes.
   */
  request(frame: RequestFrame, deadline: number): Promise<ResponseFrame> {
    if (this.state === 'open') return this.send(frame, deadline);
    return this.ensureOpen(deadline).then(() => this.send(frame, deadline));
  }

  /**
   * Sends `frame` (its `id` is overwritten) on the open socket and registers
   * `handler` for the answer; false (nothing sent) when the socket is not open.
   * Throws only what the socket's send throws.
   */
  dispatch(frame: RequestFrame, handler: ReplyHandler): boolean {
    const ws = this.ws;
    if (this.state !== 'open' || ws === undefined) return false;
    this.pending.set(this.write(ws, frame), handler);
    return true;
  }

  /** Opens the socket if needed (and says hello). */
  ensureOpen(deadline: number = Date.now() + this.options.connectTimeoutMs): Promise<void> {
    if (this.state === 'open') return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(new ConnectionFailure('connection closed', false, 'closed'));
    if (this.opening === undefined) {
      this.opening = this.open(Math.min(deadline, Date.now() + this.options.connectTimeoutMs)).finally(() => {
        this.opening = undefined;
      });
    }
    return this.opening;
  }

  /** Closes for good: pending requests reject with ConnectionFailure('closed'). */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const ws = this.ws;
    this.ws = undefined;
    this.outbox.clear();
    this.stopSweep();
    this.settleOpen(new ConnectionFailure('connection closed', false, 'closed'));
    this.failAll('connection closed', 'closed');
    if (ws !== undefined) {
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
    }
  }

  /** `handshake`: the hello frame, sent while the connection is still opening. */
  private send(frame: RequestFrame, deadline: number, handshake = false): Promise<ResponseFrame> {
    const ws = this.ws;
    if ((this.state !== 'open' && !handshake) || ws === undefined) {
      return Promise.reject(new ConnectionFailure('not connected', false, 'lost'));
    }
    const id = this.write(ws, frame);
    return new Promise<ResponseFrame>((resolve, reject) => {
      this.pending.set(id, new PromiseReply(deadline, resolve, reject));
    });
  }

  /** Numbers `frame`, queues it (see Outbox: one socket write per turn of the event loop) and returns its id. */
  private write(ws: WebSocket, frame: RequestFrame): number {
    const id = this.nextId++;
    if (this.nextId > 0x3fffffff) this.nextId = 1;
    frame.id = id;
    this.outbox.push(ws, frame);
    return id;
  }

  private open(deadline: number): Promise<void> {
    this.state = 'connecting';
    const headers: Record<string, string> = {};
    if (this.options.token !== undefined) headers['authorization'] = `Bearer ${this.options.token}`;
    const ws = new WebSocket(this.url, {
      headers,
      perMessageDeflate: false,
      // An all-zero mask lets ws skip masking (a copy and a random fill per
      // frame). Masking guards browser-side proxies; it buys nothing here.
      generateMask: zeroMask,
      handshakeTimeout: Math.max(1, deadline - Date.now()),
      ...(this.options.maxPayload !== undefined ? { maxPayload: this.options.maxPayload } : {}),
    });
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.onMessage(data);
    });
    ws.on('close', (code, reason) => this.onLost(`socket closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`));
    ws.on('error', (err) => this.onLost(`socket error: ${err.message}`));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.onLost('connect timeout'), Math.max(1, deadline - Date.now()));
      this.openWaiter = { resolve, reject, timer };
      ws.once('open', () => {
        // Requests wait until hello is answered, so none races an UNAUTHORIZED.
        this.startSweep();
        const hello: RequestFrame = { id: 0, op: 'hello', client: this.options.clientName, version: 1 };
        if (this.options.token !== undefined) hello['token'] = this.options.token;
        this.send(hello, deadline, true).then(
          (res) => {
            if (res.ok || (res.error?.code !== 'UNAUTHORIZED' && this.options.token === undefined)) {
              // (a server without `hello` still serves requests)
              if (typeof res['node'] === 'string') this.node = res['node'];
              this.state = 'open';
              this.settleOpen(undefined);
              const v = res['mapVersion'];
              if (typeof v === 'number' && this.options.onMapVersion !== undefined) this.options.onMapVersion(v);
            } else {
              const e = res.error;
              this.settleOpen(new RaftcacheError({ code: e?.code ?? 'UNAUTHORIZED', message: e?.message ?? 'hello refused', definite: true }));
              this.dropSocket('hello refused');
            }
          },
          () => {}, // the socket was lost: dropSocket settled the open already
        );
      });
    });
  }

  private settleOpen(error: Error | undefined): void {
    const w = this.openWaiter;
    if (w === undefined) return;
    this.openWaiter = undefined;
    clearTimeout(w.timer);
    if (error === undefined) w.resolve();
    else w.reject(error);
  }

  private onMessage(data: WebSocket.RawData): void {
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data).toString('utf8');
    const frame = decodeFrame(text);
    if (frame === null) return;
    if (isPush(frame)) {
      this.options.onPush?.(this.url, frame);
      return;
    }
    if (frame.id === null) return; // a BAD_REQUEST for a frame we did not send, or garbage
    const p = this.pending.get(frame.id);
    if (p === undefined) return; // late answer to an attempt that timed out
    this.pending.delete(frame.id);
    p.onReply(frame);
  }

  private onLost(reason: string): void {
    if (this.state === 'closed') return;
    this.dropSocket(reason);
  }

  /** Drops the socket but stays usable: the next request reconnects. */
  private dropSocket(reason: string): void {
    const ws = this.ws;
    const wasOpen = this.state === 'open';
    this.ws = undefined;
    if (this.state !== 'closed') this.state = 'idle';
    this.outbox.clear();
    this.stopSweep();
    if (ws !== undefined) {
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
    }
    this.settleOpen(new ConnectionFailure(`cannot connect to ${this.url}: ${reason}`, false, 'connect'));
    this.failAll(reason, 'lost');
    if (wasOpen) this.options.onDrop?.(this.url);
  }

  private failAll(reason: string, kind: 'lost' | 'closed'): void {
    if (this.pending.size === 0) return;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.onFailure(new ConnectionFailure(`${this.url}: ${reason}`, true, kind));
  }

  private startSweep(): void {
    if (this.sweepTimer !== undefined) return;
    this.sweepTimer = setInterval(() => this.sweep(), this.options.sweepMs);
    this.sweepTimer.unref();
  }

  private stopSweep(): void {
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  private sweep(): void {
    if (this.pending.size === 0) return;
    this.sweepNow = Date.now();
    this.pending.forEach(this.expire); // (for…of would allocate an entry per request)
  }

  /** Fails one pending request whose attempt deadline passed (deleting while in forEach is fine for a Map). */
  private readonly expire = (p: ReplyHandler, id: number): void => {
    if (p.attemptDeadline > this.sweepNow) return;
    this.pending.delete(id);
    p.onFailure(new ConnectionFailure(`${this.url}: no response in time`, true, 'timeout'));
  };
}

function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

