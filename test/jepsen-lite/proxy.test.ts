/**
 * The fault proxy with real sockets on 127.0.0.1: forwarding, a full cut
 * (live connections killed, new ones black-holed), one-way cuts, heal.
 * Waits are bounded polls on observable state, never fixed sleeps.
 */
import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../jepsen-lite/proxy.js';
import { ProxiedNetwork } from '../../jepsen-lite/network.js';

async function until(what: string, probe: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A server that records what it receives and can talk back on each connection. */
class Upstream {
  readonly server: Server;
  readonly sockets: Socket[] = [];
  received = '';
  port = 0;

  constructor() {
    this.server = createServer((s) => {
      this.sockets.push(s);
      s.on('data', (d: Buffer) => {
        this.received += d.toString();
      });
      s.on('error', () => {});
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

interface Client {
  readonly socket: Socket;
  received: string;
  closed: boolean;
}

async function connect(port: number): Promise<Client> {
  const socket = createConnection({ host: '127.0.0.1', port });
  const c: Client = { socket, received: '', closed: false };
  socket.on('data', (d: Buffer) => {
    c.received += d.toString();
  });
  socket.on('close', () => {
    c.closed = true;
  });
  socket.on('error', () => {});
  await new Promise<void>((r) => socket.once('connect', () => r()));
  return c;
}

describe('FaultProxy', () => {
  let upstream: Upstream;
  let proxy: FaultProxy;
  const clients: Client[] = [];
  const open = async (): Promise<Client> => {
    const c = await connect(proxy.port);
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    upstream = new Upstream();
    await upstream.start();
    proxy = new FaultProxy({ host: '127.0.0.1', port: upstream.port });
    await proxy.start();
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy();
    await proxy.close();
    await upstream.close();
  });

  it('forwards both directions while open', async () => {
    const c = await open();
    c.socket.write('ping');
    await until('upstream got ping', () => upstream.received === 'ping');
    upstream.sockets[0]?.write('pong');
    await until('client got pong', () => c.received === 'pong');
    expect(proxy.mode).toBe('open');
  });

  it('a cut kills live connections and black-holes new ones until heal', async () => {
    const c = await open();
    c.socket.write('a');
    await until('upstream got a', () => upstream.received === 'a');
    proxy.cut();
    await until('client closed', () => c.closed);
    expect(proxy.connections).toBe(0);

    const held = await open();
    held.socket.write('lost');
    await until('bytes dropped', () => proxy.stats.droppedBytes >= 4);
    expect(upstream.sockets.length).toBe(1); // no new upstream connection while cut
    expect(upstream.received).toBe('a');
    expect(held.closed).toBe(false);

    proxy.heal();
    await until('black-holed connection closed at heal', () => held.closed);
    const fresh = await open();
    fresh.socket.write('b');
    await until('upstream got b', () => upstream.received === 'ab');
  });

  it('cutting forward drops dialer → acceptor bytes only; heal kills the damaged connection', async () => {
    const c = await open();
    await until('upstream accepted', () => upstream.sockets.length === 1);
    proxy.cutOne('forward');
    c.socket.write('dropped');
    await until('bytes dropped', () => proxy.stats.droppedBytes >= 7);
    upstream.sockets[0]?.write('back');
    await until('backward still flows', () => c.received === 'back');
    expect(upstream.received).toBe('');
    expect(c.closed).toBe(false);

    proxy.heal();
    await until('damaged connection closed', () => c.closed);
    const fresh = await open();
    fresh.socket.write('ok');
    await until('new connection forwards', () => upstream.received === 'ok');
  });

  it('cutting backward drops acceptor → dialer bytes only', async () => {
    const c = await open();
    await until('upstream accepted', () => upstream.sockets.length === 1);
    proxy.cutOne('backward');
    c.socket.write('fwd');
    await until('forward still flows', () => upstream.received === 'fwd');
    upstream.sockets[0]?.write('nope');
    await until('bytes dropped', () => proxy.stats.droppedBytes >= 4);
    expect(c.received).toBe('');
    proxy.cutOne('forward'); // both one-way cuts = a full cut
    expect(proxy.mode).toBe('cut');
    await until('connection killed', () => c.closed);
  });
});

describe('ProxiedNetwork', () => {
  it('routes each lower id to the higher id through the pair proxy', async () => {
    const nodes = [
      { id: 1, clientPort: 1001, peerPort: 1101 },
      { id: 2, clientPort: 1002, peerPort: 1102 },
      { id: 3, clientPort: 1003, peerPort: 1103 },
    ];
    const net = await ProxiedNetwork.start(nodes);
    try {
      const p12 = net.proxy(1, 2).port;
      const p13 = net.proxy(1, 3).port;
      const p23 = net.proxy(2, 3).port;
      expect(new Set([p12, p13, p23]).size).toBe(3);
      expect(net.proxy(2, 1).target.port).toBe(1102);
      expect(net.proxy(1, 3).target.port).toBe(1103);
      expect(net.membersFor(1)).toBe(`1=127.0.0.1:1001/1101,2=127.0.0.1:1002/${p12},3=127.0.0.1:1003/${p13}`);
      expect(net.membersFor(2)).toBe(`1=127.0.0.1:1001/1101,2=127.0.0.1:1002/1102,3=127.0.0.1:1003/${p23}`);
      expect(net.membersFor(3)).toBe('1=127.0.0.1:1001/1101,2=127.0.0.1:1002/1102,3=127.0.0.1:1003/1103');

      net.partition([[1, 3]]);
      expect(net.faultyLinks()).toEqual(['1-3:cut']);
      net.cutOneWay(3, 2); // 3 → 2 is the acceptor → dialer direction of link 2-3
      expect(net.proxy(2, 3).mode).toBe('cut-backward');
      net.partition([[1, 2]]);
      expect(net.faultyLinks()).toEqual(['1-2:cut']);
      net.healAll();
      expect(net.faultyLinks()).toEqual([]);

      // Directed cuts: both directions of a pair = a full cut, one = a one-way cut.
      net.applyCuts([
        [1, 2],
        [2, 1],
        [3, 1],
        [2, 3],
      ]);
      expect(net.faultyLinks()).toEqual(['1-2:cut', '1-3:cut-backward', '2-3:cut-forward']);
      net.applyCuts([[3, 1]]);
      expect(net.faultyLinks()).toEqual(['1-3:cut-backward']);
      net.applyCuts([[1, 3]]);
      expect(net.faultyLinks()).toEqual(['1-3:cut-forward']);
      net.applyCuts([]);
      expect(net.faultyLinks()).toEqual([]);
    } finally {
      await net.close();
    }
  });
});
