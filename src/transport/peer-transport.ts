/**
 * Node-to-node transport: one authenticated WebSocket per pair of nodes,
 * carrying batches of (groupId, Message) in binary frames (codec.ts).
 *
 * - The lower node id dials, the higher accepts; messages flow both ways on
 *   the one connection. A node only talks to peers in its table (`setPeers`).
 * - Mutual HMAC-SHA256 challenge–response on connect (handshake.ts); nothing
 *   is delivered from a socket before it is authenticated.
 * - `send` encodes straight into the peer's pending frame; all messages to a
 *   peer in one event-loop turn leave as one frame (flushed by setImmediate),
 *   written with its WebSocket header in one socket write from the encoder's
 *   buffer (no copy, no ws.send(); see writeFrame).
 * - Memory is bounded: a message to a peer that is not connected, or whose
 *   socket already buffers more than `maxBufferedBytes`, is dropped and
 *   counted (Raft retransmits). Frames never exceed `maxFrameBytes`.
 * - The dialer reconnects with capped exponential backoff and seeded jitter.
 * - A `snap` message larger than one chunk does not go in a batch: it is sent
 *   as chunk frames with at most a window of un-acked chunks per transfer
 *   (snapshot-streams.ts), interleaved with batches; the receiver acks,
 *   assembles, and delivers one ordinary `snap` message. A transfer survives
 *   a reconnect (resumes at the acked offset) and is dropped after
 *   `snapshotStallMs` without progress.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import type { SnapChunk } from '../raft/snapshot-transfer.js';
import type { Message, MsgSnap, NodeId } from '../raft/types.js';
import type { Rng } from '../util/rng.js';
import { wsSocketOf } from '../util/ws-frame-header.js';
import { backoffDelay } from './backoff.js';
import { PeerSnapshots } from './snapshot-streams.js';
import { FrameEncoder, FrameError, decodePeerFrame, encodeSnapAck, encodeSnapChunk } from './codec.js';
import type { SnapAckFrame, SnapChunkFrame } from './codec.js';
import type { Batch } from './codec.js';
import {
  acceptorMac,
  decodeAuth,
  decodeHello,
  decodeWelcome,
  dialerMac,
  encodeAuth,
  encodeHello,
  encodeWelcome,
  macEquals,
  newNonce,
} from './handshake.js';
import { CLOSE_GOING_AWAY, CLOSE_REPLACED, CLOSE_UNAUTHORIZED, PEER_PATH, newPeerMetrics } from './types.js';
import type { PeerAddress, PeerMetrics, PeerTransportOptions, TransportLogger, TransportMetrics } from './types.js';

type LinkState = 'handshake' | 'open' | 'refused' | 'closed';

/**
 * The dialer's frames carry an all-zero mask, which `ws` skips on both sides
 * (no XOR pass over every payload byte). RFC 6455 masking protects caching
 * intermediaries from scripts in browsers; peer links are node-to-node and
 * HMAC-authenticated, so it buys nothing there.
 */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/** One WebSocket, from connect to close. */
interface Link {
  readonly ws: WebSocket;
  readonly role: 'dialer' | 'acceptor';
  readonly remote: string;
  /** Dialer: the peer it dials. Acceptor: the peer once authenticated. */
  peer: PeerState | null;
  state: LinkState;
  readonly selfNonce: Uint8Array;
  peerNonce: Uint8Array | null;
  timer: NodeJS.Timeout | null;
  alive: boolean;
}

interface PeerState {
  readonly id: NodeId;
  address: PeerAddress;
  /** The authenticated connection, if any. */
  link: Link | null;
  /** Dialer side: the connection being set up. */
  dialing: Link | null;
  retryTimer: NodeJS.Timeout | null;
  attempt: number;
  readonly encoder: FrameEncoder;
  dirty: boolean;
  readonly metrics: PeerMetrics;
  readonly snapshots: PeerSnapshots;
}

const MIN_SECRET_BYTES = 16;
/** A pending-frame buffer that grew past this is released after its flush. */
const ENCODER_SHRINK_ABOVE = 1 << 20;
const ENCODER_INITIAL = 16 << 10;
/** A frame queued behind others keeps the encoder's buffer only if it fills at least 1/this of it (else: a copy). */
const DETACH_MIN_FILL = 4;
/** Room left in a frame for a chunk's header and conf lists. */
const CHUNK_FRAME_SLACK = 64 << 10;

function defaultLogger(nodeId: NodeId): TransportLogger {
  return (e) => {
    if (e.kind === 'auth-failed' || e.kind === 'frame-error' || e.kind === 'handler-error') {
      console.warn(`[transport n${nodeId}]`, e);
    }
  };
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}


function copyOf(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(bytes.length);
  out.set(bytes);
  return out;
}

function urlOf(a: PeerAddress): string {
  const host = a.host.includes(':') ? `[${a.host}]` : a.host;
  return `ws://${host}:${a.port}${PEER_PATH}`;
}

export class PeerTransport {
  readonly nodeId: NodeId;
  private readonly secret: Uint8Array;
  private readonly rng: Rng;
  private readonly maxFrameBytes: number;
  private readonly maxBufferedBytes: number;
  private readonly handshakeTimeoutMs: number;
  private readonly reconnectBaseMs: number;
  private readonly reconnectMaxMs: number;
  private readonly pingIntervalMs: number;
  private readonly log: TransportLogger;
  private readonly listenHost: string;
  private readonly listenPort: number;
  private readonly snapshotChunkBytes: number;
  private readonly snapshotWindow: number;
  private readonly snapshotStallMs: number;
  private readonly maxSnapshotBytes: number;
  private snapshotTimer: NodeJS.Timeout | null = null;

  private readonly peers = new Map<NodeId, PeerState>();
  private readonly links = new Set<Link>();
  private readonly dirtyPeers: PeerState[] = [];
  private flushHandle: NodeJS.Immediate | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private http: Server | null = null;
  private wss: WebSocketServer | null = null;
  private started = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  private boundAddress: PeerAddress | null = null;

  private messageHandler: ((groupId: number, msg: Message, from: NodeId) => void) | null = null;
  private batchHandler: ((from: NodeId, batch: Batch) => void) | null = null;

  private authFailures = 0;
  private frameErrors = 0;
  private handlerErrors = 0;
  private droppedUnknownPeer = 0;

  constructor(opts: PeerTransportOptions) {
    if (!Number.isInteger(opts.nodeId) || opts.nodeId <= 0 || opts.nodeId > 0xffffffff) {
      throw new RangeError(`nodeId must be a positive u32, got ${opts.nodeId}`);
    }
    this.nodeId = opts.nodeId;
    this.secret = typeof opts.secret === 'string' ? Buffer.from(opts.secret, 'utf8') : Buffer.from(opts.secret);
    if (this.secret.length < MIN_SECRET_BYTES) throw new RangeError(`the cluster secret needs at least ${MIN_SECRET_BYTES} bytes`);
    this.rng = opts.rng;
    this.maxFrameBytes = opts.maxFrameBytes ?? 16 << 20;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 8 << 20;
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? 5000;
    this.reconnectBaseMs = opts.reconnectBaseMs ?? 100;
    this.reconnectMaxMs = opts.reconnectMaxMs ?? 5000;
    this.pingIntervalMs = opts.pingIntervalMs ?? 5000;
    this.log = opts.logger ?? defaultLogger(opts.nodeId);
    this.listenHost = opts.host;
    this.listenPort = opts.port;
    const chunkCap = Math.max(1, this.maxFrameBytes - CHUNK_FRAME_SLACK);
    this.snapshotChunkBytes = Math.min(opts.snapshotChunkBytes ?? 1 << 20, chunkCap);
    this.snapshotWindow = opts.snapshotWindow ?? 4;
    this.snapshotStallMs = opts.snapshotStallMs ?? 10_000;
    this.maxSnapshotBytes = opts.maxSnapshotBytes ?? 1 << 30;
    if (!Number.isInteger(this.snapshotChunkBytes) || this.snapshotChunkBytes < 1) throw new RangeError('snapshotChunkBytes must be ≥ 1');
    if (!Number.isInteger(this.snapshotWindow) || this.snapshotWindow < 1) throw new RangeError('snapshotWindow must be ≥ 1');
    if (!(this.snapshotStallMs > 0)) throw new RangeError('snapshotStallMs must be > 0');
  }

  /** Listens, then dials the peers it is responsible for. Resolves with the bound address. */
  async start(): Promise<PeerAddress> {
    if (this.closed) throw new Error('transport is closed');
    if (this.started) throw new Error('transport already started');
    this.started = true;
    const http = createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket upgrade required\n');
    });
    this.http = http;
    const wss = new WebSocketServer({
      server: http,
      path: PEER_PATH,
      perMessageDeflate: false,
      maxPayload: this.maxFrameBytes,
      clientTracking: false,
    });
    this.wss = wss;
    wss.on('connection', (ws: WebSocket, req: IncomingMessage) => this.accept(ws, req));
    wss.on('error', () => {
      /* errors of the underlying server surface through listen() below */
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      http.once('error', onError);
      http.listen(this.listenPort, this.listenHost, () => {
        http.off('error', onError);
        resolve();
      });
    });
    const addr = http.address();
    if (addr === null || typeof addr === 'string') throw new Error('unexpected server address');
    this.boundAddress = { host: this.listenHost, port: addr.port };
    if (this.closed) {
      // close() ran while we were binding: it could not close a server that was not listening yet.
      http.close();
      return this.boundAddress;
    }
    if (this.pingIntervalMs > 0) this.pingTimer = setInterval(() => this.pingAll(), this.pingIntervalMs);
    const sweepMs = Math.max(5, Math.min(1000, Math.floor(this.snapshotStallMs / 4)));
    this.snapshotTimer = setInterval(() => this.sweepSnapshots(), sweepMs);
    for (const peer of this.peers.values()) this.dial(peer);
    return this.boundAddress;
  }

  /** The address the server listens on (after `start()`). */
  get address(): PeerAddress | null {
    return this.boundAddress;
  }

  /**
   * Replaces the peer table. Peers that left are disconnected; peers whose
   * address changed are redialled; new higher-id peers are dialled. An entry
   * for this node itself is ignored.
   */
  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>): void {
    if (this.closed) return;
    for (const [id, address] of peers) {
      if (!Number.isInteger(id) || id <= 0 || id > 0xffffffff) throw new RangeError(`peer id must be a positive u32, got ${id}`);
      if (!Number.isInteger(address.port) || address.port <= 0 || address.port > 0xffff) {
        throw new RangeError(`peer ${id}: port must be in 1..65535, got ${address.port}`);
      }
    }
    for (const [id, peer] of this.peers) if (!peers.has(id)) this.removePeer(peer);
    for (const [id, address] of peers) {
      if (id === this.nodeId) continue;
      const existing = this.peers.get(id);
      if (existing === undefined) {
        const peer: PeerState = {
          id,
          address: { host: address.host, port: address.port },
          link: null,
          dialing: null,
          retryTimer: null,
          attempt: 0,
          encoder: new FrameEncoder(ENCODER_INITIAL),
          dirty: false,
          metrics: newPeerMetrics(),
          snapshots: new PeerSnapshots(this.snapshotChunkBytes, this.snapshotWindow, this.maxSnapshotBytes),
        };
        this.peers.set(id, peer);
        this.dial(peer);
      } else if (existing.address.host !== address.host || existing.address.port !== address.port) {
        existing.address = { host: address.host, port: address.port };
        if (this.dials(existing)) {
          this.dropLinks(existing, CLOSE_GOING_AWAY);
          existing.attempt = 0;
          this.dial(existing);
        }
      }
    }
  }

  /** Handler for each received message. Replaces any previous one. */
  onMessage(handler: (groupId: number, msg: Message, from: NodeId) => void): void {
    this.messageHandler = handler;
  }

  /** Handler for each received frame's batch (the hot path: one call per frame). Replaces any previous one. */
  onBatch(handler: (from: NodeId, batch: Batch) => void): void {
    this.batchHandler = handler;
  }

  /**
   * Queues `msg` of Raft group `groupId` for node `to`; it leaves with every
   * other message to `to` of this event-loop turn in one frame. Returns false
   * (and counts the drop) when the peer is unknown, not connected,
   * backpressured, or the message alone exceeds `maxFrameBytes`. Throws
   * RangeError for a message that cannot be encoded (a bug in the caller).
   */
  send(to: NodeId, groupId: number, msg: Message): boolean {
    const peer = this.peers.get(to);
    if (peer === undefined || this.closed) {
      this.droppedUnknownPeer++;
      return false;
    }
    const m = peer.metrics;
    const link = peer.link;
    if (link === null || link.ws.readyState !== WebSocket.OPEN) {
      m.droppedNotConnected++;
      m.messagesDropped++;
      return false;
    }
    if (msg.type === 'snap' && msg.snapshot.data.byteLength > this.snapshotChunkBytes) {
      this.startSnapshot(peer, groupId, msg);
      return true;
    }
    if (link.ws.bufferedAmount > this.maxBufferedBytes) {
      m.droppedBackpressure++;
      m.messagesDropped++;
      return false;
    }
    const enc = peer.encoder;
    let size = enc.add(groupId, msg);
    if (enc.byteLength > this.maxFrameBytes) {
      // Would overflow the frame: send what is pending, start a new frame with this message.
      enc.removeLast(size);
      if (enc.count > 0) {
        this.flushPeer(peer);
        size = enc.add(groupId, msg);
      }
      if (enc.byteLength > this.maxFrameBytes) {
        enc.removeLast(size);
        m.droppedTooLarge++;
        m.messagesDropped++;
        return false;
      }
    }
    if (!peer.dirty) {
      peer.dirty = true;
      this.dirtyPeers.push(peer);
    }
    if (this.flushHandle === null) this.flushHandle = setImmediate(() => this.flush());
    return true;
  }

  /**
   * Closes the connection to `peer` if there is one (the dialer redials with
   * backoff). Snapshot transfers survive and resume from the acked offset.
   */
  dropConnection(peer: NodeId): boolean {
    const p = this.peers.get(peer);
    const link = p?.link ?? null;
    if (p === undefined || link === null || this.closed) return false;
    p.link = null;
    p.metrics.connected = false;
    this.log({ kind: 'disconnected', peer: p.id, code: CLOSE_GOING_AWAY });
    this.closeLink(link, CLOSE_GOING_AWAY);
    if (this.dials(p)) this.scheduleRedial(p);
    return true;
  }

  isConnected(peer: NodeId): boolean {
    return this.peers.get(peer)?.link?.state === 'open';
  }

  connectedPeers(): NodeId[] {
    const out: NodeId[] = [];
    for (const p of this.peers.values()) if (p.link?.state === 'open') out.push(p.id);
    return out;
  }

  /** A snapshot of the counters, as a plain object. */
  metrics(): TransportMetrics {
    const peers: Record<string, PeerMetrics> = {};
    for (const p of this.peers.values()) peers[String(p.id)] = { ...p.metrics };
    return {
      nodeId: this.nodeId,
      openSockets: this.links.size,
      authFailures: this.authFailures,
      frameErrors: this.frameErrors,
      handlerErrors: this.handlerErrors,
      droppedUnknownPeer: this.droppedUnknownPeer,
      peers,
    };
  }

  /** Stops listening, closes every socket, cancels every timer. Pending messages are dropped. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closed = true;
    if (this.flushHandle !== null) clearImmediate(this.flushHandle);
    this.flushHandle = null;
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    if (this.snapshotTimer !== null) clearInterval(this.snapshotTimer);
    this.snapshotTimer = null;
    for (const peer of this.peers.values()) {
      peer.snapshots.clear();
      if (peer.retryTimer !== null) clearTimeout(peer.retryTimer);
      peer.retryTimer = null;
      peer.metrics.connected = false;
    }
    for (const link of this.links) this.terminate(link);
    const http = this.http;
    const wss = this.wss;
    this.closing = new Promise<void>((resolve) => {
      if (http === null || wss === null) return resolve();
      wss.close();
      if (!http.listening) return resolve();
      http.close(() => resolve());
      http.closeAllConnections();
    });
    return this.closing;
  }

  // ---- connection set-up ----

  /** The lower id dials. */
  private dials(peer: PeerState): boolean {
    return this.nodeId < peer.id;
  }

  private dial(peer: PeerState): void {
    if (!this.started || this.closed || !this.dials(peer)) return;
    if (peer.link !== null || peer.dialing !== null || peer.retryTimer !== null) return;
    peer.metrics.dialAttempts++;
    const url = urlOf(peer.address);
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      maxPayload: this.maxFrameBytes,
      handshakeTimeout: this.handshakeTimeoutMs,
      followRedirects: false,
      generateMask: zeroMask,
    });
    const link = this.newLink(ws, 'dialer', `${peer.address.host}:${peer.address.port}`);
    link.peer = peer;
    peer.dialing = link;
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    if (this.closed) {
      ws.terminate();
      return;
    }
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    const link = this.newLink(ws, 'acceptor', remote);
    ws.send(encodeHello({ acceptorId: this.nodeId, acceptorNonce: link.selfNonce }));
  }

  private newLink(ws: WebSocket, role: 'dialer' | 'acceptor', remote: string): Link {
    const link: Link = {
      ws,
      role,
      remote,
      peer: null,
      state: 'handshake',
      selfNonce: newNonce(),
      peerNonce: null,
      timer: null,
      alive: true,
    };
    this.links.add(link);
    // Refused or stuck sockets are cut when this fires (it is cleared once authenticated).
    link.timer = setTimeout(() => {
      link.timer = null;
      if (link.state !== 'open') this.terminate(link);
    }, this.handshakeTimeoutMs);
    ws.on('message', (data: RawData, isBinary: boolean) => this.onLinkMessage(link, data, isBinary));
    ws.on('close', (code: number) => this.onLinkClose(link, code));
    ws.on('error', (err: Error) => {
      if (role === 'dialer' && link.peer !== null && link.state === 'handshake') {
        this.log({ kind: 'dial-failed', peer: link.peer.id, reason: err.message });
      }
    });
    ws.on('pong', () => {
      link.alive = true;
    });
    return link;
  }

  private onLinkMessage(link: Link, data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    if (link.state === 'open') {
      link.alive = true;
      this.receiveFrame(link, toBytes(data), isBinary);
      return;
    }
    if (link.state !== 'handshake') return;
    try {
      if (!isBinary) throw new FrameError('text frame during handshake');
      this.handshakeStep(link, toBytes(data));
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      this.refuse(link, e.message);
    }
  }

  private handshakeStep(link: Link, bytes: Uint8Array): void {
    if (link.role === 'dialer') {
      const peer = link.peer!;
      if (link.peerNonce === null) {
        const hello = decodeHello(bytes);
        if (hello.acceptorId !== peer.id) {
          this.refuse(link, `node ${hello.acceptorId} answered at the address of node ${peer.id}`);
          return;
        }
        link.peerNonce = hello.acceptorNonce;
        const proof = dialerMac(this.secret, this.nodeId, peer.id, hello.acceptorNonce, link.selfNonce);
        link.ws.send(
          encodeAuth({ dialerId: this.nodeId, acceptorId: peer.id, dialerNonce: link.selfNonce, dialerMac: proof }),
        );
        return;
      }
      const theirs = decodeWelcome(bytes);
      const expected = acceptorMac(this.secret, peer.id, this.nodeId, link.selfNonce, link.peerNonce);
      if (!macEquals(theirs, expected)) {
        this.refuse(link, 'the acceptor failed to prove the cluster secret');
        return;
      }
      this.establish(link, peer);
      return;
    }
    const auth = decodeAuth(bytes);
    const peer = this.peers.get(auth.dialerId);
    const expected = dialerMac(this.secret, auth.dialerId, this.nodeId, link.selfNonce, auth.dialerNonce);
    if (!macEquals(auth.dialerMac, expected)) {
      this.refuse(link, `the dialer (claims node ${auth.dialerId}) failed to prove the cluster secret`);
    } else if (auth.acceptorId !== this.nodeId) {
      this.refuse(link, `node ${auth.dialerId} wanted node ${auth.acceptorId}`);
    } else if (auth.dialerId >= this.nodeId) {
      this.refuse(link, `node ${auth.dialerId} must not dial node ${this.nodeId} (the lower id dials)`);
    } else if (peer === undefined) {
      this.refuse(link, `node ${auth.dialerId} is not in the peer table`);
    } else {
      const proof = acceptorMac(this.secret, this.nodeId, auth.dialerId, auth.dialerNonce, link.selfNonce);
      link.ws.send(encodeWelcome(proof));
      this.establish(link, peer);
    }
  }

  private refuse(link: Link, reason: string): void {
    this.authFailures++;
    link.state = 'refused';
    this.log({ kind: 'auth-failed', remote: link.remote, peer: link.peer?.id ?? null, reason });
    // The handshake timer still runs and terminates the socket if the close handshake stalls.
    link.ws.close(CLOSE_UNAUTHORIZED, 'unauthorized');
  }

  private establish(link: Link, peer: PeerState): void {
    if (link.timer !== null) clearTimeout(link.timer);
    link.timer = null;
    link.state = 'open';
    link.peer = peer;
    link.alive = true;
    if (peer.dialing === link) peer.dialing = null;
    const old = peer.link;
    peer.link = link;
    if (old !== null) this.closeLink(old, CLOSE_REPLACED);
    peer.attempt = 0;
    const m = peer.metrics;
    if (m.connections > 0) m.reconnects++;
    m.connections++;
    m.connected = true;
    this.log({ kind: 'connected', peer: peer.id, role: link.role });
    // Transfers cut by the lost connection go on from what the receiver acknowledged.
    peer.snapshots.resumeAll();
    this.pumpSnapshots(peer);
  }

  private onLinkClose(link: Link, code: number): void {
    if (link.timer !== null) clearTimeout(link.timer);
    link.timer = null;
    link.state = 'closed';
    this.links.delete(link);
    const peer = link.peer;
    if (peer === null || this.peers.get(peer.id) !== peer) return;
    let current = false;
    if (peer.link === link) {
      peer.link = null;
      peer.metrics.connected = false;
      current = true;
      this.log({ kind: 'disconnected', peer: peer.id, code });
    }
    if (peer.dialing === link) {
      peer.dialing = null;
      current = true;
    }
    if (current && !this.closed && this.dials(peer)) this.scheduleRedial(peer);
  }

  private scheduleRedial(peer: PeerState): void {
    if (peer.retryTimer !== null) return;
    const delay = backoffDelay(peer.attempt, { baseMs: this.reconnectBaseMs, maxMs: this.reconnectMaxMs }, this.rng);
    peer.attempt++;
    peer.retryTimer = setTimeout(() => {
      peer.retryTimer = null;
      if (this.peers.get(peer.id) === peer) this.dial(peer);
    }, delay);
  }

  private removePeer(peer: PeerState): void {
    this.peers.delete(peer.id);
    peer.snapshots.clear();
    if (peer.retryTimer !== null) clearTimeout(peer.retryTimer);
    peer.retryTimer = null;
    this.dropLinks(peer, CLOSE_GOING_AWAY);
  }

  /** Detaches and closes the peer's connections (no redial: the caller decides). */
  private dropLinks(peer: PeerState, code: number): void {
    if (peer.retryTimer !== null) clearTimeout(peer.retryTimer);
    peer.retryTimer = null;
    const { link, dialing } = peer;
    peer.link = null;
    peer.dialing = null;
    peer.metrics.connected = false;
    if (link !== null) this.closeLink(link, code);
    if (dialing !== null) this.terminate(dialing);
  }

  /** Polite close; the link's timer (re-armed here) cuts it if the peer does not answer. */
  private closeLink(link: Link, code: number): void {
    link.state = 'closed';
    if (link.timer !== null) clearTimeout(link.timer);
    link.timer = setTimeout(() => {
      link.timer = null;
      this.terminate(link);
    }, this.handshakeTimeoutMs);
    link.ws.close(code);
  }

  private terminate(link: Link): void {
    if (link.timer !== null) clearTimeout(link.timer);
    link.timer = null;
    link.ws.terminate();
  }

  private pingAll(): void {
    for (const peer of this.peers.values()) {
      const link = peer.link;
      if (link === null || link.ws.readyState !== WebSocket.OPEN) continue;
      if (!link.alive) {
        this.log({ kind: 'peer-unresponsive', peer: peer.id });
        this.terminate(link);
        continue;
      }
      link.alive = false;
      link.ws.ping();
    }
  }

  // ---- data path ----

  private flush(): void {
    this.flushHandle = null;
    const dirty = this.dirtyPeers;
    for (let i = 0; i < dirty.length; i++) {
      const peer = dirty[i]!;
      peer.dirty = false;
      this.flushPeer(peer);
    }
    dirty.length = 0;
  }

  private flushPeer(peer: PeerState): void {
    const enc = peer.encoder;
    const n = enc.count;
    if (n === 0) return;
    const link = peer.link;
    const m = peer.metrics;
    if (link === null || link.ws.readyState !== WebSocket.OPEN) {
      enc.finish();
      m.droppedNotConnected += n;
      m.messagesDropped += n;
    } else if (this.writeFrame(link, enc)) {
      m.framesSent++;
      m.messagesSent += n;
      m.bytesSent += enc.byteLength;
    } else {
      m.droppedNotConnected += n;
      m.messagesDropped += n;
    }
    if (enc.capacity > ENCODER_SHRINK_ABOVE) enc.shrink(ENCODER_INITIAL);
    if (peer.snapshots.outgoingCount > 0) this.pumpSnapshots(peer);
  }

  /**
   * Sends the encoder's frame as one WebSocket message; false when the socket
   * cannot take it (closing). The usual way: the frame behind its header,
   * straight from the encoder's buffer in one socket write (ws-frame.ts), so
   * no copy and no ws.send() costs. Frames only go out while ws is OPEN, and
   * ws writes its own frames (pings, pongs, close) whole and synchronously
   * too (no compression, no blobs: its sender never queues), so frames never
   * interleave. Without access to ws's socket (an internal field): a copy
   * through ws.send().
   *
   * The socket may keep what it is given until the peer reads it: then the
   * encoder lets that buffer go (`detach`). So that a backed-up socket does
   * not hold a whole encoder buffer per small frame, a frame that will queue
   * behind others goes as a copy unless it fills a good part of its buffer.
   */
  private writeFrame(link: Link, enc: FrameEncoder): boolean {
    const socket = wsSocketOf(link.ws);
    if (socket === undefined) {
      // ws may hold the buffer until the socket drains, so it gets its own copy.
      link.ws.send(copyOf(enc.finish()), { binary: true });
      return true;
    }
    const framed = enc.finishFramed(link.role === 'dialer');
    if (socket.destroyed || !socket.writable) return false;
    if (socket.writableLength === 0) {
      socket.write(framed);
      // Usually the kernel took it all at once and the buffer is free again.
      if (socket.writableLength !== 0) enc.detach();
    } else if (framed.length * DETACH_MIN_FILL >= enc.capacity) {
      socket.write(framed);
      enc.detach();
    } else {
      socket.write(copyOf(framed));
    }
    return true;
  }

  // ---- chunked snapshots ----

  private startSnapshot(peer: PeerState, groupId: number, msg: MsgSnap): void {
    peer.snapshots.start(groupId, msg, Date.now());
    peer.metrics.snapshotsStarted++;
    peer.metrics.messagesSent++;
    this.pumpSnapshots(peer);
  }

  /** Sends every chunk the transfers' windows allow, unless the socket is backed up. */
  private pumpSnapshots(peer: PeerState): void {
    const link = peer.link;
    if (link === null || link.state !== 'open' || link.ws.readyState !== WebSocket.OPEN) return;
    if (link.ws.bufferedAmount > this.maxBufferedBytes) return;
    const m = peer.metrics;
    peer.snapshots.pump((groupId: number, chunk: SnapChunk) => {
      link.ws.send(encodeSnapChunk(groupId, chunk), { binary: true });
      m.snapshotChunksSent++;
      m.snapshotBytesSent += chunk.data.byteLength;
    });
  }

  private sweepSnapshots(): void {
    const now = Date.now();
    for (const peer of this.peers.values()) {
      const s = peer.snapshots;
      if (s.outgoingCount === 0 && s.incomingCount === 0) continue;
      const dropped = s.sweep(now, this.snapshotStallMs);
      if (dropped.outgoing > 0 || dropped.incoming > 0) {
        peer.metrics.snapshotsAbandoned += dropped.outgoing;
        this.log({ kind: 'snapshot-abandoned', peer: peer.id, outgoing: dropped.outgoing, incoming: dropped.incoming });
      }
      // Backpressure may have held chunks back: try again.
      if (s.outgoingCount > 0) this.pumpSnapshots(peer);
    }
  }

  private receiveSnapAck(peer: PeerState, f: SnapAckFrame): void {
    if (f.ack.from !== peer.id || f.ack.to !== this.nodeId) {
      peer.metrics.messagesRejected++;
      return;
    }
    if (peer.snapshots.onAck(f.groupId, f.ack, Date.now())) peer.metrics.snapshotsSent++;
    this.pumpSnapshots(peer);
  }

  private receiveSnapChunk(peer: PeerState, link: Link, f: SnapChunkFrame): void {
    const m = peer.metrics;
    const c = f.chunk;
    if (c.from !== peer.id || c.to !== this.nodeId) {
      m.messagesRejected++;
      return;
    }
    m.snapshotChunksReceived++;
    const r = peer.snapshots.onChunk(f.groupId, c, Date.now());
    if (r.kind === 'rejected') {
      m.snapshotChunksRejected++;
      this.log({ kind: 'snapshot-rejected', peer: peer.id, groupId: f.groupId, reason: r.reason });
      return;
    }
    if (link.ws.readyState === WebSocket.OPEN) link.ws.send(encodeSnapAck(f.groupId, r.ack), { binary: true });
    this.log({ kind: 'snapshot-progress', peer: peer.id, groupId: f.groupId, received: r.received, total: c.total });
    if (r.complete === null) return;
    m.snapshotsReceived++;
    m.messagesReceived++;
    this.deliver(peer, { groupIds: [f.groupId], messages: [r.complete] });
  }

  private receiveFrame(link: Link, bytes: Uint8Array, isBinary: boolean): void {
    const peer = link.peer;
    if (peer === null || peer.link !== link || this.closed) return;
    let batch: Batch;
    try {
      if (!isBinary) throw new FrameError('text frame');
      const frame = decodePeerFrame(bytes);
      if (frame.kind === 'snap-chunk') {
        peer.metrics.bytesReceived += bytes.length;
        this.receiveSnapChunk(peer, link, frame);
        return;
      }
      if (frame.kind === 'snap-ack') {
        this.receiveSnapAck(peer, frame);
        return;
      }
      batch = frame.batch;
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      this.frameErrors++;
      this.log({ kind: 'frame-error', peer: peer.id, reason: e.message });
      return;
    }
    const m = peer.metrics;
    m.framesReceived++;
    m.bytesReceived += bytes.length;
    batch = this.onlyFromPeer(peer, batch);
    const n = batch.messages.length;
    m.messagesReceived += n;
    if (n === 0) return;
    this.deliver(peer, batch);
  }

  private deliver(peer: PeerState, batch: Batch): void {
    const n = batch.messages.length;
    if (this.batchHandler !== null) {
      try {
        this.batchHandler(peer.id, batch);
      } catch (error) {
        this.handlerError(peer, error);
      }
    }
    const handler = this.messageHandler;
    if (handler !== null) {
      for (let i = 0; i < n; i++) {
        try {
          handler(batch.groupIds[i]!, batch.messages[i]!, peer.id);
        } catch (error) {
          this.handlerError(peer, error);
        }
      }
    }
  }

  /** An authenticated peer may only speak for itself, to us. */
  private onlyFromPeer(peer: PeerState, batch: Batch): Batch {
    const { groupIds, messages } = batch;
    let ok = true;
    for (const msg of messages) {
      if (msg.from !== peer.id || msg.to !== this.nodeId) {
        ok = false;
        break;
      }
    }
    if (ok) return batch;
    const g: number[] = [];
    const ms: Message[] = [];
    for (let i = 0; i < messages.length; i++) {
      const msg = messages[i]!;
      if (msg.from === peer.id && msg.to === this.nodeId) {
        g.push(groupIds[i]!);
        ms.push(msg);
      } else peer.metrics.messagesRejected++;
    }
    return { groupIds: g, messages: ms };
  }

  private handlerError(peer: PeerState, error: unknown): void {
    this.handlerErrors++;
    this.log({ kind: 'handler-error', peer: peer.id, error });
  }
}
