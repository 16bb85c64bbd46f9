/**
 * The client API server: one HTTP server on the client port serving
 *   - the WebSocket protocol at /v1 (PROTOCOL.md),
 *   - GET /health (200 + status JSON when running, 503 while starting or failed),
 *   - GET /metrics (Prometheus text format).
 * A socket that sent `watch` also gets `{event: "map", version}` pushes
 * (no `id`) whenever the node adopts a newer shard map.
 * Bad input gets an error frame and never disturbs other requests or sockets.
 *
 * Response frames are not sent through ws.send: the frames of one event-loop
 * turn (a Ready applies hundreds of writes at once) are encoded straight to
 * bytes (JsonWriter: the UTF-8 of JSON.stringify) behind their WebSocket
 * headers in the socket's staging buffer, and written at the turn's end
 * (setImmediate) in one socket write: no string, no ws options object, no
 * header buffer, no cork and no write request per response. The bytes are
 * what ws.send would have written (unmasked server frames). ws's own frames
 * (pong, close) go to the socket directly as whole frames, so frames never
 * interleave; before the server closes a socket it writes what is staged, so
 * the responses of the turn still precede its close frame, as with ws.send.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import { MetricsText, nodeName } from '../node/index.js';
import type { CacheNode, Logger } from '../node/index.js';
import { JsonWriter, appendJsonFrame, socketOf, writeStaged } from '../protocol/index.js';
import { badRequest, wireError } from './errors.js';
import { isOp, parseRequest } from './schema.js';
import type { RequestOf } from './schema.js';
import { parsePutBytes } from './put-bytes.js';
import { dispatch, errorResponse, MAP_VERSION, PROTOCOL_VERSION, statusFields } from './requests.js';
import type { Limits, NodeRequest, ReplyTo, Response } from './requests.js';

export const CLIENT_PATH = '/v1';
/** WebSocket close codes. */
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_TRY_AGAIN = 1013;
/** Unread response bytes a client socket may hold before it is closed (1013), by default. */
const MAX_BUFFERED_BYTES = 64 << 20;
/** A socket's staging buffer: its first size, and the size beyond which it is dropped after a flush. */
const STAGE_INITIAL = 4096;
const STAGE_KEEP_MAX = 256 << 10;

export interface ApiServerOptions {
  readonly host: string;
  /** 0 picks a free port (read it back from `address`). */
  readonly port: number;
  readonly maxFrameBytes: number;
  readonly limits: Limits;
  /** When set, clients must authenticate (hello frame or Authorization: Bearer). */
  readonly token?: string | undefined;
  readonly logger: Logger;
  /** Unread response bytes a client socket may hold before it is closed with 1013 (default 64 MiB). */
  readonly maxBufferedBytes?: number | undefined;
}

/**
 * One client socket. It is also where `dispatch` sends the socket's responses
 * (ReplyTo), so that a request needs no callback of its own.
 */
class ClientState implements ReplyTo {
  /** The response frames of this turn, not yet written; null when ws's socket is not reachable (then ws.send). */
  readonly staged: JsonWriter | null;
  /** Set while the socket waits for the end-of-turn flush (it is in the server's list). */
  queued = false;
  /** Fallback (no staging): set while `socket` is corked (until setImmediate). */
  corked = false;
  /** Set while the socket watches the map (`watch`): cancels the node subscription. */
  unwatch: (() => void) | null = null;
  /** The highest map version this socket was told (watch answer or push). */
  toldVersion = 0;

  constructor(
    readonly ws: WebSocket,
    /** The TCP socket under the WebSocket: corked for the rest of a turn once a response is sent. */
    readonly socket: Duplex,
    public authed: boolean,
    private readonly deliver: (state: ClientState, r: Response) => void,
  ) {
    // Stage only when ws writes to this very socket (an internal field: else ws.send frames each response).
    this.staged = socketOf(ws) === socket ? new JsonWriter(STAGE_INITIAL, STAGE_KEEP_MAX) : null;
  }

  reply(r: Response): void {
    this.deliver(this, r);
  }
}

/** The push frame of `watch`: no `id` (it answers no request), `event` says what it is. */
export interface MapEvent {
  readonly event: 'map';
  readonly version: number;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

function uncork(state: ClientState): void {
  state.corked = false;
  state.socket.uncork();
}

export class ApiServer {
  private readonly opts: ApiServerOptions;
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly clients = new Map<WebSocket, ClientState>();
  private readonly tokenDigest: Buffer | null;
  private readonly maxBufferedBytes: number;
  private node: CacheNode | null = null;
  private boundPort = 0;
  private closed = false;
  private connectionsTotal = 0;
  private readonly requestsByOp = new Map<string, number>();
  private readonly errorsByCode = new Map<string, number>();
  private watching = 0;
  private mapPushes = 0;
  /** Sockets with staged frames, written at the end of the turn. */
  private readonly toFlush: ClientState[] = [];
  private flushQueued = false;
  private readonly flushTurn = (): void => {
    this.flushQueued = false;
    const list = this.toFlush;
    // (a flush never stages more, so the list does not grow while it is walked)
    for (let i = 0; i < list.length; i++) this.flush(list[i] as ClientState);
    list.length = 0;
  };

  private constructor(opts: ApiServerOptions) {
    this.opts = opts;
    this.tokenDigest = opts.token === undefined ? null : digest(opts.token);
    this.maxBufferedBytes = opts.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
    this.http = createServer((req, res) => {
      try {
        this.onHttp(req, res);
      } catch (e) {
        // A bug in a handler answers 500; it must never take the node down.
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`internal error: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes, perMessageDeflate: false, clientTracking: false });
    this.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  /** Starts listening. The node can be attached later (until then /health answers 503). */
  static async listen(opts: ApiServerOptions): Promise<ApiServer> {
    const s = new ApiServer(opts);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      s.http.once('error', onError);
      s.http.listen(opts.port, opts.host, () => {
        s.http.off('error', onError);
        resolve();
      });
    });
    const addr = s.http.address();
    if (addr === null || typeof addr === 'string') throw new Error('unexpected server address');
    s.boundPort = addr.port;
    return s;
  }

  attach(node: CacheNode): void {
    this.node = node;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Sockets subscribed to map pushes (`watch`). */
  get watchers(): number {
    return this.watching;
  }

  get url(): string {
    const h = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `ws://${h}:${this.boundPort}${CLIENT_PATH}`;
  }

  // ---------------------------------------------------------------- HTTP

  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    const node = this.node;
    if (path === '/health') {
      if (node === null || !node.healthy) {
        res.writeHead(503, { 'content-type': 'application/json' }).end(`${JSON.stringify({ status: node === null ? 'starting' : 'failed' })}\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify({ status: 'ok', ...statusFields(node) })}\n`);
      return;
    }
    if (path === '/metrics') {
      const out = node === null ? new MetricsText() : node.metricsText();
      this.renderMetrics(out);
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(out.toString());
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /v1 (WebSocket), /health, /metrics\n');
  }

  private renderMetrics(out: MetricsText): void {
    out.sample('raftcache_api_connections', 'gauge', 'Open client WebSocket connections.', this.clients.size);
    out.sample('raftcache_api_connections_total', 'counter', 'Client WebSocket connections accepted.', this.connectionsTotal);
    out.sample('raftcache_api_watchers', 'gauge', 'Client sockets subscribed to shard map pushes (watch).', this.watching);
    out.sample('raftcache_api_map_pushes_total', 'counter', 'Shard map version pushes sent to watching sockets.', this.mapPushes);
    for (const [op, n] of this.requestsByOp) out.sample('raftcache_api_requests_total', 'counter', 'Client requests by op.', n, `op="${op}"`);
    for (const [code, n] of this.errorsByCode) out.sample('raftcache_api_errors_total', 'counter', 'Error responses by code.', n, `code="${code}"`);
  }

  // ---------------------------------------------------------------- WebSocket

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== CLIENT_PATH || this.closed) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req, socket));
  }

  private onConnection(ws: WebSocket, req: IncomingMessage, socket: Duplex): void {
    this.connectionsTotal++;
    const state = new ClientState(ws, socket, this.tokenDigest === null || this.headerTokenOk(req), this.deliver);
    this.clients.set(ws, state);
    ws.on('message', (data: RawData, isBinary: boolean) => this.onFrame(ws, state, data, isBinary));
    ws.on('error', (err: Error) => {
      // e.g. a frame over maxPayload: ws closes the socket with 1009 itself.
      this.opts.logger.debug({ err: err.message }, 'client socket error');
    });
    ws.on('close', () => {
      this.clients.delete(ws);
      this.unwatch(state);
      state.staged?.reset();
    });
  }

  private headerTokenOk(req: IncomingMessage): boolean {
    const h = req.headers.authorization;
    if (typeof h !== 'string' || !h.startsWith('Bearer ')) return false;
    return this.tokenOk(h.slice(7));
  }

  private tokenOk(token: unknown): boolean {
    if (this.tokenDigest === null) return true;
    if (typeof token !== 'string') return false;
    return timingSafeEqual(digest(token), this.tokenDigest);
  }

  /** Sends one response frame (at the end of the turn, with the socket's other frames of this turn). */
  private send(ws: WebSocket, state: ClientState, r: Response): void {
    if (!r.ok) this.errorsByCode.set(r.error.code, (this.errorsByCode.get(r.error.code) ?? 0) + 1);
    this.sendFrame(ws, state, r);
  }

  /** A response from `dispatch` (ClientState.reply): may run in the node's apply loop, so it never throws. */
  private readonly deliver = (state: ClientState, r: Response): void => {
    try {
      this.send(state.ws, state, r);
    } catch (e) {
      this.opts.logger.error({ err: e instanceof Error ? (e.stack ?? e.message) : String(e) }, 'sending a response failed');
    }
  };

  private sendFrame(ws: WebSocket, state: ClientState, r: Response | MapEvent): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    const staged = state.staged;
    if (ws.bufferedAmount + (staged === null ? 0 : staged.len) > this.maxBufferedBytes) {
      // The client does not read its responses: drop it rather than buffer without bound.
      this.closeSocket(state, CLOSE_TRY_AGAIN, 'too many unread responses');
      return;
    }
    if (staged !== null) {
      appendJsonFrame(staged, r, false); // server frames are not masked
      if (!state.queued) {
        state.queued = true;
        this.toFlush.push(state);
        if (!this.flushQueued) {
          this.flushQueued = true;
          setImmediate(this.flushTurn);
        }
      }
      return;
    }
    if (!state.corked) {
      state.corked = true;
      state.socket.cork();
      setImmediate(uncork, state);
    }
    ws.send(JSON.stringify(r));
  }

  /** Writes the socket's staged frames in one write (nothing once ws is closing or closed). Never throws. */
  private flush(state: ClientState): void {
    state.queued = false;
    const staged = state.staged;
    if (staged === null || staged.len === 0) return;
    if (state.ws.readyState !== WebSocket.OPEN) {
      staged.reset();
      return;
    }
    try {
      writeStaged(state.socket, staged);
    } catch (e) {
      this.opts.logger.error({ err: e instanceof Error ? (e.stack ?? e.message) : String(e) }, 'writing responses failed');
    }
  }

  /** Closes the socket after the frames staged for it (they precede the close frame, as with ws.send). */
  private closeSocket(state: ClientState, code: number, reason: string): void {
    this.flush(state);
    state.ws.close(code, reason);
  }

  private onFrame(ws: WebSocket, state: ClientState, data: RawData, isBinary: boolean): void {
    // The hot path: a put of an authenticated socket read straight from its bytes (put-bytes.ts; else null).
    if (!isBinary && state.authed && Buffer.isBuffer(data)) {
      const put = parsePutBytes(data);
      if (put !== null) {
        this.count('put');
        this.execute(ws, state, put);
        return;
      }
    }
    if (isBinary) {
      this.send(ws, state, errorResponse(null, badRequest('frame: binary frames are not accepted; send JSON text')));
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(rawText(data));
    } catch (e) {
      this.send(ws, state, errorResponse(null, badRequest(`frame: invalid JSON (${e instanceof Error ? e.message : String(e)})`)));
      return;
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
      this.send(ws, state, errorResponse(null, badRequest('frame: must be a JSON object')));
      return;
    }
    const f = frame as Record<string, unknown>;
    const rawId = f['id'];
    if (typeof rawId !== 'number' || !Number.isSafeInteger(rawId) || rawId < 0) {
      this.send(ws, state, errorResponse(null, badRequest('id: must be a non-negative integer')));
      return;
    }
    const id = rawId;
    const op = f['op'];
    if (!isOp(op)) {
      this.count(typeof op === 'string' ? 'unknown' : 'missing');
      const msg = op === undefined ? 'op: missing' : `op: unknown op ${JSON.stringify(op)}`;
      this.send(ws, state, errorResponse(id, badRequest(msg)));
      return;
    }
    this.count(op);
    const parsed = parseRequest(op, frame);
    if (!state.authed) {
      const ok = parsed.ok && parsed.req.op === 'hello' && this.tokenOk(parsed.req.token);
      if (!ok) {
        this.send(ws, state, errorResponse(id, wireError('UNAUTHORIZED', 'a hello frame with the cluster token must come first', true)));
        this.closeSocket(state, CLOSE_POLICY, 'unauthorized');
        return;
      }
      state.authed = true;
    }
    if (!parsed.ok) {
      this.send(ws, state, errorResponse(id, badRequest(parsed.message)));
      return;
    }
    const req = parsed.req;
    if (req.op === 'hello') {
      const node = this.node;
      if (!this.tokenOk(req.token)) {
        this.send(ws, state, errorResponse(id, wireError('UNAUTHORIZED', 'wrong token', true)));
        this.closeSocket(state, CLOSE_POLICY, 'unauthorized');
        return;
      }
      this.send(ws, state, {
        id,
        ok: true,
        node: node === null ? null : nodeName(node.id),
        version: PROTOCOL_VERSION,
        mapVersion: node === null ? MAP_VERSION : node.layout.version,
      });
      return;
    }
    this.execute(ws, state, req);
  }

  /** Runs a valid request of an authenticated socket (all but hello). */
  private execute(ws: WebSocket, state: ClientState, req: NodeRequest | RequestOf<'watch'>): void {
    const id = req.id;
    const node = this.node;
    if (node === null) {
      this.send(ws, state, errorResponse(id, wireError('UNAVAILABLE', 'node is starting', true)));
      return;
    }
    if (req.op === 'watch') {
      this.send(ws, state, this.watch(ws, state, node, id));
      return;
    }
    try {
      // The response reaches the socket through state.reply, now or when the node answers.
      dispatch(node, req, this.opts.limits, state);
    } catch (e) {
      // A throw out of dispatch means it did not reply (a bug): answer for it.
      this.opts.logger.error({ err: e instanceof Error ? (e.stack ?? e.message) : String(e), op: req.op }, 'request failed');
      this.send(ws, state, errorResponse(id, wireError('INTERNAL', e instanceof Error ? e.message : String(e), false)));
    }
  }

  /**
   * Subscribes the socket to map pushes (once; a repeated watch only answers).
   * Subscribing before reading the version leaves no gap: a change in between
   * is pushed, or is already in the answer (then its push is skipped).
   */
  private watch(ws: WebSocket, state: ClientState, node: CacheNode, id: number): Response {
    if (state.unwatch === null) {
      state.unwatch = node.onMapChange((version) => this.pushMap(ws, state, version));
      this.watching++;
    }
    state.toldVersion = Math.max(state.toldVersion, node.mapVersion);
    return { id, ok: true, version: state.toldVersion };
  }

  /** Called by the node when it adopts a newer map: must not throw. */
  private pushMap(ws: WebSocket, state: ClientState, version: number): void {
    if (version <= state.toldVersion || state.unwatch === null) return;
    state.toldVersion = version;
    this.mapPushes++;
    try {
      this.sendFrame(ws, state, { event: 'map', version });
    } catch (e) {
      this.opts.logger.debug({ err: e instanceof Error ? e.message : String(e) }, 'map push failed');
    }
  }

  private unwatch(state: ClientState): void {
    const cancel = state.unwatch;
    if (cancel === null) return;
    state.unwatch = null;
    this.watching--;
    cancel();
  }

  private count(op: string): void {
    this.requestsByOp.set(op, (this.requestsByOp.get(op) ?? 0) + 1);
  }

  /** Closes every client socket (1001) and stops listening. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const state of this.clients.values()) {
      this.unwatch(state); // the node may outlive the server: drop its listeners now
      this.closeSocket(state, CLOSE_GOING_AWAY, 'server shutting down');
    }
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
      setTimeout(() => {
        for (const ws of this.clients.keys()) ws.terminate();
      }, 200).unref();
    });
  }
}
