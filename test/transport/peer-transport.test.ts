import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Message } from '../../src/raft/types.js';
import { PEER_PATH, encodeBatch } from '../../src/transport/index.js';
import { decodeHello, dialerMac, encodeAuth, newNonce } from '../../src/transport/handshake.js';
import { FakeAcceptor, Node, SECRET, app, heartbeat, liveHandles, peerTable, waitFor } from './helpers.js';

const open: Array<{ close(): Promise<void> }> = [];

function track<T extends { close(): Promise<void> }>(x: T): T {
  open.push(x);
  return x;
}

function node(id: number, opts: ConstructorParameters<typeof Node>[1] = {}): Node {
  const n = new Node(id, opts);
  track(n.transport);
  return n;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((x) => x.close()));
});

/** Starts the nodes, gives each the full table, waits until every pair is connected. */
async function cluster(...nodes: Node[]): Promise<void> {
  for (const n of nodes) await n.start();
  const table = peerTable(nodes);
  for (const n of nodes) n.transport.setPeers(table);
  await waitFor(
    () => nodes.every((a) => nodes.every((b) => a === b || a.transport.isConnected(b.id))),
    'all pairs connected',
  );
}

describe('PeerTransport', () => {
  it('three nodes exchange messages both ways over exactly one connection per pair', async () => {
    const nodes = [node(1), node(2), node(3)];
    await cluster(...nodes);
    for (const a of nodes) {
      for (const b of nodes) if (a !== b) expect(a.transport.send(b.id, 10 * a.id + b.id, heartbeat(a.id, b.id, `${a.id}>${b.id}`))).toBe(true);
    }
    await waitFor(() => nodes.every((n) => n.received.length === 2), 'two messages at every node');
    for (const b of nodes) {
      for (const a of nodes) {
        if (a === b) continue;
        expect(b.received.filter((r) => r.from === a.id)).toEqual([
          { from: a.id, groupId: 10 * a.id + b.id, msg: heartbeat(a.id, b.id, `${a.id}>${b.id}`) },
        ]);
      }
      const m = b.transport.metrics();
      expect(m.openSockets).toBe(2); // one socket per peer, dialled or accepted
      for (const a of nodes) {
        if (a === b) continue;
        expect(m.peers[String(a.id)]).toMatchObject({ connected: true, connections: 1, reconnects: 0, framesSent: 1, messagesSent: 1, framesReceived: 1, messagesReceived: 1, messagesDropped: 0 });
        // Only the lower id dials.
        expect(m.peers[String(a.id)]!.dialAttempts).toBe(b.id < a.id ? 1 : 0);
      }
      expect(m.authFailures).toBe(0);
    }
  });

  it('refuses messages an authenticated peer sends in the name of another node', async () => {
    const [a, b] = [node(1), node(2)];
    await cluster(a, b);
    a.transport.send(2, 1, heartbeat(3, 2, 'forged from'));
    a.transport.send(2, 1, heartbeat(1, 3, 'forged to'));
    a.transport.send(2, 1, heartbeat(1, 2, 'fine'));
    await waitFor(() => b.transport.metrics().peers['1']!.framesReceived === 1, 'the frame');
    expect(b.received.map((r) => r.msg)).toEqual([heartbeat(1, 2, 'fine')]);
    expect(b.transport.metrics().peers['1']!.messagesRejected).toBe(2);
  });

  it('survives a throwing handler and counts it', async () => {
    const [a, b] = [node(1), node(2)];
    await cluster(a, b);
    b.transport.onBatch(() => {
      throw new Error('handler bug');
    });
    a.transport.send(2, 1, heartbeat(1, 2, 'first'));
    await waitFor(() => b.received.length === 1, 'first message');
    a.transport.send(2, 1, heartbeat(1, 2, 'second'));
    await waitFor(() => b.received.length === 2, 'second message');
    expect(b.transport.metrics().handlerErrors).toBe(2);
    expect(b.events.filter((e) => e.kind === 'handler-error')).toHaveLength(2);
    expect(b.transport.isConnected(1)).toBe(true);
  });

  it('validates the peer table before changing anything', async () => {
    const a = node(1);
    await a.start();
    a.transport.setPeers(new Map([[2, { host: '127.0.0.1', port: 1 }]]));
    expect(() => a.transport.setPeers(new Map([[0, { host: '127.0.0.1', port: 1 }]]))).toThrow(RangeError);
    expect(() => a.transport.setPeers(new Map([[3, { host: '127.0.0.1', port: 0 }]]))).toThrow(RangeError);
    expect(Object.keys(a.transport.metrics().peers)).toEqual(['2']);
  });

  it('coalesces all sends to a peer in one event-loop turn into one frame', async () => {
    const [a, b] = [node(1), node(2)];
    await cluster(a, b);
    const sent: Message[] = [];
    for (let i = 0; i < 200; i++) {
      const msg = i % 2 === 0 ? app(1, 2, i, 100) : heartbeat(1, 2, `c${i}`, i);
      sent.push(msg);
      expect(a.transport.send(2, i % 7, msg)).toBe(true);
    }
    await waitFor(() => b.received.length === 200, '200 messages');
    expect(b.batches).toHaveLength(1);
    expect(b.batches[0]!.batch.messages).toEqual(sent);
    expect(b.batches[0]!.batch.groupIds).toEqual(sent.map((_, i) => i % 7));
    expect(b.transport.metrics().peers['1']).toMatchObject({ framesReceived: 1, messagesReceived: 200 });
    expect(a.transport.metrics().peers['2']).toMatchObject({ framesSent: 1, messagesSent: 200 });

    // The next turn is the next frame; the reply direction coalesces the same way.
    for (let i = 0; i < 3; i++) a.transport.send(2, 0, heartbeat(1, 2, `late${i}`));
    for (let i = 0; i < 5; i++) b.transport.send(1, 0, heartbeat(2, 1, `back${i}`));
    await waitFor(() => b.received.length === 203 && a.received.length === 5, 'second turn');
    expect(b.batches).toHaveLength(2);
    expect(a.batches).toHaveLength(1);
  });

  it('splits a turn across frames at maxFrameBytes and drops a message too large alone', async () => {
    const maxFrameBytes = 4096;
    const [a, b] = [node(1, { maxFrameBytes }), node(2, { maxFrameBytes })];
    await cluster(a, b);
    const sent: Message[] = [];
    for (let i = 0; i < 100; i++) {
      sent.push(app(1, 2, i, 300));
      expect(a.transport.send(2, 5, sent[i]!)).toBe(true);
    }
    expect(a.transport.send(2, 5, app(1, 2, 999, 5000))).toBe(false);
    await waitFor(() => b.received.length === 100, '100 messages');
    expect(b.received.map((r) => r.msg)).toEqual(sent);
    const ma = a.transport.metrics().peers['2']!;
    expect(ma.droppedTooLarge).toBe(1);
    expect(ma.framesSent).toBeGreaterThan(1);
    expect(ma.bytesSent).toBeLessThanOrEqual(ma.framesSent * maxFrameBytes);
    // Each frame holds as many messages as fit: 300-byte entries → 11 per 4 KiB frame.
    expect(ma.framesSent).toBe(Math.ceil(100 / Math.floor((maxFrameBytes - 5) / (21 + 24 + 4 + 21 + 300))));
    expect(b.transport.metrics().peers['1']!.framesReceived).toBe(ma.framesSent);
  });

  it('refuses a node with the wrong secret; nothing from it is delivered', async () => {
    const good = node(2);
    const intruder = node(1, { secret: 'not-the-cluster-secret-at-all!!' });
    await good.start();
    await intruder.start();
    good.transport.setPeers(peerTable([good, intruder]));
    intruder.transport.setPeers(peerTable([good, intruder]));
    await waitFor(() => good.authFailures().length >= 2, 'two refused attempts');
    expect(intruder.transport.send(2, 1, heartbeat(1, 2, 'let me in'))).toBe(false);
    expect(intruder.transport.metrics().peers['2']!.dialAttempts).toBeGreaterThanOrEqual(2);
    expect(good.transport.isConnected(1)).toBe(false);
    expect(intruder.transport.isConnected(2)).toBe(false);
    expect(good.received).toEqual([]);
    expect(good.transport.metrics().authFailures).toBe(good.authFailures().length);
    expect(good.authFailures()[0]).toMatchObject({ kind: 'auth-failed', reason: expect.stringContaining('cluster secret') });
  });

  it('refuses a stranger that skips the handshake, and a node id not in the table', async () => {
    const good = node(2);
    await good.start();
    good.transport.setPeers(new Map([[1, { host: '127.0.0.1', port: 1 }]]));
    const url = `ws://127.0.0.1:${good.address.port}${PEER_PATH}`;

    // 1. Sends a batch right away, as if authenticated.
    const s1 = new WebSocket(url);
    s1.on('error', () => {});
    let closeCode = 0;
    s1.on('close', (code) => (closeCode = code));
    s1.on('open', () => s1.send(encodeBatch({ groupIds: [1], messages: [heartbeat(1, 2, 'inject')] })));
    await waitFor(() => closeCode !== 0, 'stranger closed');
    expect(closeCode).toBe(4001);

    // 2. Knows the secret but claims an id the acceptor does not know.
    const s2 = new WebSocket(url);
    s2.on('error', () => {});
    let closed2 = false;
    s2.on('close', () => (closed2 = true));
    s2.on('message', (data) => {
      const hello = decodeHello(new Uint8Array(data as Buffer));
      const nonce = newNonce();
      const mac = dialerMac(Buffer.from(SECRET), 1_000, 2, hello.acceptorNonce, nonce);
      // Not in the table, and not lower than 2 either: refused.
      s2.send(encodeAuth({ dialerId: 1_000, acceptorId: 2, dialerNonce: nonce, dialerMac: mac }));
      s2.send(encodeBatch({ groupIds: [1], messages: [heartbeat(1_000, 2, 'inject')] }));
    });
    await waitFor(() => closed2, 'unknown node closed');

    expect(good.received).toEqual([]);
    expect(good.authFailures()).toHaveLength(2);
    expect(good.transport.metrics().authFailures).toBe(2);
  });

  it('the dialer refuses an acceptor that cannot prove the secret', async () => {
    const fake = track(new FakeAcceptor(2, 'a-wrong-secret-of-enough-length', (ws) => {
      ws.send(encodeBatch({ groupIds: [1], messages: [heartbeat(2, 1, 'inject')] }));
    }));
    const fakeAddress = await fake.start();
    const dialer = node(1);
    await dialer.start();
    dialer.transport.setPeers(new Map([[2, fakeAddress]]));
    await waitFor(() => dialer.authFailures().length >= 2, 'two refusals');
    expect(dialer.received).toEqual([]);
    expect(dialer.transport.isConnected(2)).toBe(false);
    expect(dialer.transport.send(2, 1, heartbeat(1, 2, 'x'))).toBe(false);
    expect(fake.received).toEqual([]);
  });

  it('refuses an acceptor that answers with another node id', async () => {
    const fake = track(new FakeAcceptor(3, SECRET));
    const fakeAddress = await fake.start();
    const dialer = node(1);
    await dialer.start();
    dialer.transport.setPeers(new Map([[2, fakeAddress]]));
    await waitFor(() => dialer.authFailures().length >= 1, 'refusal');
    expect(dialer.authFailures()[0]).toMatchObject({ reason: expect.stringContaining('node 3 answered') });
    expect(dialer.transport.isConnected(2)).toBe(false);
  });

  it('counts and skips frames that fail to decode from an authenticated peer', async () => {
    const fake = track(new FakeAcceptor(2, SECRET, (ws) => {
      ws.send(Uint8Array.of(1, 1, 0, 0, 0, 9)); // truncated
      ws.send('text is not a frame');
      ws.send(encodeBatch({ groupIds: [4], messages: [heartbeat(2, 1, 'ok')] }));
    }));
    const fakeAddress = await fake.start();
    const dialer = node(1);
    await dialer.start();
    dialer.transport.setPeers(new Map([[2, fakeAddress]]));
    await waitFor(() => dialer.received.length === 1, 'the valid frame');
    expect(dialer.received).toEqual([{ from: 2, groupId: 4, msg: heartbeat(2, 1, 'ok') }]);
    expect(dialer.transport.metrics().frameErrors).toBe(2);
    expect(dialer.events.filter((e) => e.kind === 'frame-error')).toHaveLength(2);
    expect(dialer.transport.isConnected(2)).toBe(true);
  });

  it('drops and counts messages to a peer that is backpressured', async () => {
    let paused = false;
    const fake = track(new FakeAcceptor(2, SECRET, (ws) => {
      ws.pause(); // stop reading: the dialer's socket fills up
      paused = true;
    }));
    const fakeAddress = await fake.start();
    const maxBufferedBytes = 1 << 20;
    const dialer = node(1, { maxBufferedBytes });
    await dialer.start();
    dialer.transport.setPeers(new Map([[2, fakeAddress]]));
    await waitFor(() => dialer.transport.isConnected(2) && paused, 'connected');
    const big = app(1, 2, 1, 256 << 10);
    let refused = false;
    for (let turn = 0; turn < 1000 && !refused; turn++) {
      for (let i = 0; i < 4 && !refused; i++) refused = !dialer.transport.send(2, 1, big);
      await new Promise((r) => setImmediate(r));
    }
    expect(refused).toBe(true);
    const m = dialer.transport.metrics().peers['2']!;
    expect(m.droppedBackpressure).toBeGreaterThanOrEqual(1);
    expect(m.messagesDropped).toBe(m.droppedBackpressure);
  });

  it('drops a connection whose peer stops answering pings, then redials', async () => {
    let accepted = 0;
    const fake = track(new FakeAcceptor(2, SECRET, (ws) => {
      accepted++;
      if (accepted === 1) ws.pause(); // the first connection goes silent: no pongs
    }));
    const fakeAddress = await fake.start();
    const dialer = node(1, { pingIntervalMs: 50 });
    await dialer.start();
    dialer.transport.setPeers(new Map([[2, fakeAddress]]));
    await waitFor(() => accepted >= 2 && dialer.transport.isConnected(2), 'a second connection');
    // (A badly stalled event loop could make a healthy connection look silent too: hence "at least".)
    expect(dialer.events.filter((e) => e.kind === 'peer-unresponsive').length).toBeGreaterThanOrEqual(1);
    expect(dialer.transport.metrics().peers['2']!.reconnects).toBeGreaterThanOrEqual(1);
  });

  it('reconnects to a peer that closes and comes back on the same port, in either role', async () => {
    const [n1, n2, n3] = [node(1), node(2), node(3)];
    await cluster(n1, n2, n3);
    const table = peerTable([n1, n2, n3]);

    // The acceptor side (3) goes away: sends to it are dropped and counted.
    await n3.transport.close();
    await waitFor(() => !n1.transport.isConnected(3) && !n2.transport.isConnected(3), 'both see 3 gone');
    expect(n1.transport.send(3, 1, heartbeat(1, 3, 'lost'))).toBe(false);
    expect(n1.transport.metrics().peers['3']!.droppedNotConnected).toBe(1);

    const n3b = node(3, { port: n3.address.port });
    await n3b.start();
    expect(n3b.address.port).toBe(n3.address.port);
    n3b.transport.setPeers(table);
    await waitFor(() => n3b.transport.isConnected(1) && n3b.transport.isConnected(2), '3 back');
    n1.transport.send(3, 1, heartbeat(1, 3, 'again'));
    n3b.transport.send(2, 1, heartbeat(3, 2, 'hello 2'));
    await waitFor(() => n3b.received.length === 1 && n2.received.length === 1, 'messages after reconnect');
    expect(n3b.received[0]!.msg).toEqual(heartbeat(1, 3, 'again'));
    expect(n1.transport.metrics().peers['3']).toMatchObject({ connections: 2, reconnects: 1 });

    // The dialer side (1) goes away and comes back.
    await n1.transport.close();
    await waitFor(() => !n2.transport.isConnected(1) && !n3b.transport.isConnected(1), 'both see 1 gone');
    const n1b = node(1, { port: n1.address.port });
    await n1b.start();
    n1b.transport.setPeers(table);
    await waitFor(() => n2.transport.isConnected(1) && n3b.transport.isConnected(1), '1 back');
    n2.transport.send(1, 9, heartbeat(2, 1, 'to new 1'));
    await waitFor(() => n1b.received.length === 1, 'message to the new 1');
    expect(n2.transport.metrics().peers['1']).toMatchObject({ connections: 2, reconnects: 1 });
    expect(n2.transport.metrics().openSockets).toBe(2);
  });

  it('follows peer table changes at run time', async () => {
    const [n1, n2] = [node(1), node(2)];
    await cluster(n1, n2);
    n1.transport.setPeers(new Map());
    expect(n1.transport.send(2, 1, heartbeat(1, 2, 'x'))).toBe(false);
    expect(n1.transport.metrics().droppedUnknownPeer).toBe(1);
    await waitFor(() => !n2.transport.isConnected(1), '2 sees 1 leave');

    // 2 moves to a new address.
    await n2.transport.close();
    const n2b = node(2);
    await n2b.start();
    n2b.transport.setPeers(peerTable([n1, n2b]));
    n1.transport.setPeers(new Map([[2, { host: '127.0.0.1', port: n2.address.port }]]));
    n1.transport.setPeers(peerTable([n1, n2b]));
    await waitFor(() => n1.transport.isConnected(2), 'connected at the new address');
    n1.transport.send(2, 1, heartbeat(1, 2, 'moved'));
    await waitFor(() => n2b.received.length === 1, 'message at the new address');
  });

  it('close() cancels every timer and socket', async () => {
    // Sockets of earlier tests may still be closing: start from a quiet process
    // (polling a few times also lets the test runner's own timers settle).
    let polls = 0;
    await waitFor(() => ++polls > 3 && liveHandles().length === 0, 'no handles left by earlier tests');
    const before = liveHandles();
    // Long backoff: a redial timer left behind would keep the process alive for a minute.
    const opts = { pingIntervalMs: 20, reconnectBaseMs: 60_000, reconnectMaxMs: 60_000 };
    const nodes = [node(1, opts), node(2, opts), node(3, opts)];
    await cluster(...nodes);
    // A peer that is down (nothing listens on port 1) leaves a pending redial timer behind.
    nodes[0]!.transport.setPeers(new Map([...peerTable(nodes), [9, { host: '127.0.0.1', port: 1 }]]));
    await waitFor(() => nodes[0]!.events.some((e) => e.kind === 'dial-failed' && e.peer === 9), 'dial to 9 failed');
    for (const n of nodes) for (const m of nodes) if (n !== m) n.transport.send(m.id, 1, heartbeat(n.id, m.id, 'bye'));
    await Promise.all(nodes.map((n) => n.transport.close()));
    expect(before).toEqual([]);
    // close() while start() is still binding must not leave the server open.
    const late = node(4);
    const starting = late.start();
    await late.transport.close();
    await starting;
    await waitFor(() => liveHandles().length === 0, 'no timers, sockets or servers left').catch((e: Error) => {
      throw new Error(`${e.message}; left: ${liveHandles().join()}`);
    });
  });
});
