import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import type { Message, NodeId } from '../../src/raft/types.js';
import { acceptorMac, decodeAuth, encodeHello, encodeWelcome, newNonce } from '../../src/transport/handshake.js';
import { SeededRng } from '../../src/util/rng.js';
import { PEER_PATH, PeerTransport } from '../../src/transport/index.js';
import type { Batch, PeerAddress, PeerTransportOptions, TransportEvent } from '../../src/transport/index.js';

export const SECRET = 'test-cluster-secret-0123456789abcdef';

/** Polls `cond` every few ms; throws after `timeoutMs` (a bound, not a timing assertion). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A transport on 127.0.0.1 that records what it receives and logs. */
export class Node {
  readonly transport: PeerTransport;
  readonly received: Array<{ from: NodeId; groupId: number; msg: Message }> = [];
  readonly batches: Array<{ from: NodeId; batch: Batch }> = [];
  readonly events: TransportEvent[] = [];
  address: PeerAddress = { host: '127.0.0.1', port: 0 };

  constructor(
    readonly id: NodeId,
    opts: Partial<PeerTransportOptions> = {},
  ) {
    this.transport = new PeerTransport({
      nodeId: id,
      host: '127.0.0.1',
      port: 0,
      secret: SECRET,
      rng: new SeededRng(id),
      reconnectBaseMs: 10,
      reconnectMaxMs: 80,
      handshakeTimeoutMs: 2000,
      pingIntervalMs: 0,
      logger: (e) => this.events.push(e),
      ...opts,
    });
    this.transport.onMessage((groupId, msg, from) => this.received.push({ from, groupId, msg }));
    this.transport.onBatch((from, batch) => this.batches.push({ from, batch }));
  }

  async start(): Promise<PeerAddress> {
    this.address = await this.transport.start();
    return this.address;
  }

  receivedFrom(from: NodeId): Message[] {
    return this.received.filter((r) => r.from === from).map((r) => r.msg);
  }

  authFailures(): TransportEvent[] {
    return this.events.filter((e) => e.kind === 'auth-failed');
  }
}

export function peerTable(nodes: readonly Node[]): Map<NodeId, PeerAddress> {
  return new Map(nodes.map((n) => [n.id, n.address]));
}

export function heartbeat(from: NodeId, to: NodeId, context: string, commit = 1): Message {
  return { type: 'heartbeat', from, to, term: 3, commit, context };
}

export function app(from: NodeId, to: NodeId, index: number, entryBytes: number): Message {
  const data = new Uint8Array(entryBytes).fill(index & 0xff);
  return {
    type: 'app',
    from,
    to,
    term: 2,
    index,
    logTerm: 2,
    commit: index,
    entries: [{ term: 2, index: index + 1, type: 'normal', data }],
  };
}

/** Handles that keep the process alive. */
export function liveHandles(): string[] {
  const kinds = new Set(['TCPServerWrap', 'TCPSocketWrap', 'Timeout', 'Immediate']);
  return process
    .getActiveResourcesInfo()
    .filter((k) => kinds.has(k))
    .sort();
}

/**
 * A hand-written acceptor speaking the handshake with a given secret (right or wrong),
 * to test the dialer's side and to inject frames after authentication.
 */
export class FakeAcceptor {
  readonly sockets: WebSocket[] = [];
  readonly received: Uint8Array[] = [];
  port = 0;
  private readonly wss: WebSocketServer;

  constructor(
    readonly id: NodeId,
    secret: string,
    onOpen: (ws: WebSocket) => void = () => {},
  ) {
    const key = Buffer.from(secret, 'utf8');
    this.wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: PEER_PATH, perMessageDeflate: false });
    this.wss.on('connection', (ws) => {
      this.sockets.push(ws);
      const nonce = newNonce();
      let authenticated = false;
      ws.on('message', (data: RawData) => {
        const bytes = new Uint8Array(data as Buffer);
        if (authenticated) {
          this.received.push(bytes);
          return;
        }
        const auth = decodeAuth(bytes);
        ws.send(encodeWelcome(acceptorMac(key, this.id, auth.dialerId, auth.dialerNonce, nonce)));
        authenticated = true;
        onOpen(ws);
      });
      ws.on('error', () => {});
      ws.send(encodeHello({ acceptorId: this.id, acceptorNonce: nonce }));
    });
  }

  async start(): Promise<PeerAddress> {
    await new Promise<void>((resolve) => {
      if (this.wss.address() !== null) resolve();
      else this.wss.once('listening', () => resolve());
    });
    const addr = this.wss.address();
    if (addr === null || typeof addr === 'string') throw new Error('no address');
    this.port = addr.port;
    return { host: '127.0.0.1', port: addr.port };
  }

  close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}
