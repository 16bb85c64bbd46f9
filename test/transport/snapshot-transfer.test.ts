import { afterEach, describe, expect, it } from 'vitest';
import type { Message, MsgSnap, NodeId } from '../../src/raft/types.js';
import { encodeBatch, encodeSnapChunk } from '../../src/transport/index.js';
import type { PeerTransportOptions, TransportEvent } from '../../src/transport/index.js';
import { FakeAcceptor, Node, SECRET, heartbeat, peerTable, waitFor } from './helpers.js';

const MiB = 1 << 20;
const open: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((x) => x.close()));
});

/** A node whose logger also calls `hook` (synchronously, inside the transport). */
function node(id: NodeId, opts: Partial<PeerTransportOptions> = {}, hook: (e: TransportEvent) => void = () => {}): Node {
  const events: TransportEvent[] = [];
  const n: Node = new Node(id, {
    ...opts,
    logger: (e) => {
      events.push(e);
      hook(e);
    },
  });
  Object.defineProperty(n, 'events', { value: events });
  open.push(n.transport);
  return n;
}

async function cluster(...nodes: Node[]): Promise<void> {
  for (const n of nodes) await n.start();
  const table = peerTable(nodes);
  for (const n of nodes) n.transport.setPeers(table);
  await waitFor(
    () => nodes.every((a) => nodes.every((b) => a === b || a.transport.isConnected(b.id))),
    'all pairs connected',
  );
}

/** Deterministic, position-dependent bytes (so a misplaced chunk shows). */
function image(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function snap(from: NodeId, to: NodeId, index: number, data: Uint8Array): MsgSnap {
  return { type: 'snap', from, to, term: 4, snapshot: { metadata: { index, term: 3, conf: { voters: [1, 2, 3], learners: [] } }, data } };
}

function snapsOf(n: Node): MsgSnap[] {
  return n.received.map((r) => r.msg).filter((m): m is MsgSnap => m.type === 'snap');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

describe('chunked snapshot transfer', () => {
  it('delivers a 40 MiB snapshot (over maxFrameBytes) as one snap message while heartbeats keep flowing', async () => {
    const a = node(1);
    const b = node(2);
    const c = node(3);
    await cluster(a, b, c);
    const data = image(40 * MiB, 7);
    const msg = snap(1, 2, 500, data);
    expect(a.transport.send(2, 9, msg)).toBe(true);
    // Heartbeats to the same peer and to another one, sent while the transfer runs.
    let sent = 0;
    while (snapsOf(b).length === 0) {
      expect(a.transport.send(2, 1, heartbeat(1, 2, `hb${sent}`))).toBe(true);
      expect(a.transport.send(3, 1, heartbeat(1, 3, `hb${sent}`))).toBe(true);
      sent++;
      if (sent > 20_000) throw new Error('snapshot did not arrive');
      await new Promise((r) => setTimeout(r, 1));
    }
    await waitFor(() => b.received.length === sent + 1 && c.received.length === sent, 'every heartbeat');
    const got = snapsOf(b);
    expect(got).toHaveLength(1);
    const s = got[0]!;
    expect(b.received.find((r) => r.msg === s)?.groupId).toBe(9);
    expect({ ...s, snapshot: { ...s.snapshot, data: null } }).toEqual({ ...msg, snapshot: { ...msg.snapshot, data: null } });
    expect(sameBytes(s.snapshot.data, data)).toBe(true);
    // The heartbeat sent in the same turn as the snapshot is queued behind at most one window of chunks.
    const snapAt = b.received.findIndex((r) => r.msg.type === 'snap');
    expect(snapAt).toBeGreaterThan(0);
    expect(b.received.slice(0, snapAt).every((r) => r.msg.type === 'heartbeat')).toBe(true);
    const ma = a.transport.metrics().peers['2']!;
    expect(ma.snapshotsStarted).toBe(1);
    expect(ma.snapshotsSent).toBe(1);
    expect(ma.snapshotChunksSent).toBe(40);
    expect(ma.snapshotBytesSent).toBe(40 * MiB);
    expect(ma.droppedTooLarge).toBe(0);
    expect(b.transport.metrics().peers['1']!.snapshotsReceived).toBe(1);
  }, 20_000);

  it('keeps a snapshot of at most one chunk in the ordinary batch', async () => {
    const a = node(1, { snapshotChunkBytes: 4096 });
    const b = node(2);
    await cluster(a, b);
    const msg = snap(1, 2, 5, image(4096, 3));
    expect(a.transport.send(2, 2, msg)).toBe(true);
    await waitFor(() => b.received.length === 1, 'the snapshot');
    expect(b.batches).toHaveLength(1);
    expect(sameBytes(snapsOf(b)[0]!.snapshot.data, msg.snapshot.data)).toBe(true);
    expect(a.transport.metrics().peers['2']!.snapshotsStarted).toBe(0);
  });

  it('resumes from the acknowledged offset after the connection drops mid-transfer', async () => {
    const progress: number[] = [];
    let dropped = false;
    const total = 16 * MiB;
    const b: Node = node(2, {}, (e) => {
      if (e.kind !== 'snapshot-progress') return;
      progress.push(e.received);
      if (!dropped && e.received >= 6 * MiB) {
        dropped = true;
        expect(b.transport.dropConnection(1)).toBe(true);
      }
    });
    const a = node(1, { snapshotChunkBytes: MiB, snapshotWindow: 4 });
    await cluster(a, b);
    const data = image(total, 11);
    a.transport.send(2, 3, snap(1, 2, 77, data));
    await waitFor(() => snapsOf(b).length === 1, 'the snapshot', 10_000);
    expect(dropped).toBe(true);
    expect(sameBytes(snapsOf(b)[0]!.snapshot.data, data)).toBe(true);
    const ma = a.transport.metrics().peers['2']!;
    expect(ma.reconnects).toBe(1);
    // Never restarted from zero: in-order bytes only grew.
    for (let i = 1; i < progress.length; i++) expect(progress[i]!).toBeGreaterThanOrEqual(progress[i - 1]!);
    // Re-sent: at most the window in flight at the drop, far less than the whole.
    const resent = ma.snapshotBytesSent - total;
    expect(resent).toBeGreaterThanOrEqual(0);
    expect(resent).toBeLessThanOrEqual(4 * MiB);
    expect(ma.snapshotsSent).toBe(1);
    expect(snapsOf(b)).toHaveLength(1);
  }, 15_000);

  it('lets a newer snapshot replace an older transfer in progress', async () => {
    const older = image(8 * MiB, 21);
    const newer = image(6 * MiB, 22);
    let replaced = false;
    let a: Node | null = null;
    const b = node(2, {}, (e) => {
      if (e.kind === 'snapshot-progress' && !replaced && e.received >= 2 * MiB) {
        replaced = true;
        a!.transport.send(2, 3, snap(1, 2, 200, newer));
      }
    });
    a = node(1, { snapshotChunkBytes: MiB, snapshotWindow: 2 });
    await cluster(a, b);
    a.transport.send(2, 3, snap(1, 2, 100, older));
    await waitFor(() => snapsOf(b).length === 1, 'a snapshot', 10_000);
    // Give stray chunks of the older transfer time to arrive; it must never complete.
    b.transport.send(1, 3, heartbeat(2, 1, 'sync'));
    await waitFor(() => a!.received.length === 1, 'a round trip');
    const got = snapsOf(b);
    expect(got).toHaveLength(1);
    expect(got[0]!.snapshot.metadata.index).toBe(200);
    expect(sameBytes(got[0]!.snapshot.data, newer)).toBe(true);
    const ma = a.transport.metrics().peers['2']!;
    expect(ma.snapshotsStarted).toBe(2);
    expect(ma.snapshotsSent).toBe(1);
  }, 15_000);

  it('refuses a snapshot above maxSnapshotBytes; the sender abandons the stalled transfer', async () => {
    const a = node(1, { snapshotChunkBytes: 64 << 10, snapshotStallMs: 100 });
    const b = node(2, { maxSnapshotBytes: MiB });
    await cluster(a, b);
    a.transport.send(2, 3, snap(1, 2, 9, image(2 * MiB, 5)));
    await waitFor(() => a.events.some((e) => e.kind === 'snapshot-abandoned'), 'the sender gives up');
    expect(snapsOf(b)).toHaveLength(0);
    const mb = b.transport.metrics().peers['1']!;
    expect(mb.snapshotChunksRejected).toBe(mb.snapshotChunksReceived);
    expect(mb.snapshotChunksRejected).toBeGreaterThan(0);
    expect(b.events.some((e) => e.kind === 'snapshot-rejected')).toBe(true);
    expect(a.transport.metrics().peers['2']!.snapshotsAbandoned).toBe(1);
    // The connection still carries ordinary traffic.
    a.transport.send(2, 3, heartbeat(1, 2, 'still here'));
    await waitFor(() => b.received.length === 1, 'the heartbeat');
  });

  it('counts garbage chunk frames from a peer as frame errors and delivers nothing from them', async () => {
    const good = encodeSnapChunk(4, {
      from: 2,
      to: 1,
      term: 1,
      metadata: { index: 3, term: 1, conf: { voters: [1, 2], learners: [] } },
      total: 100,
      offset: 0,
      data: new Uint8Array(10),
    });
    const fake = new FakeAcceptor(2, SECRET, (ws) => {
      ws.send(good.subarray(0, good.length - 1)); // truncated
      ws.send(Uint8Array.of(2, 0, 0)); // a kind byte and junk
      ws.send(Uint8Array.of(3, 1, 2, 3)); // a truncated ack
      ws.send(encodeBatch({ groupIds: [4], messages: [heartbeat(2, 1, 'ok') as Message] }));
    });
    open.push(fake);
    const fakeAddress = await fake.start();
    const dialer = node(1);
    await dialer.start();
    dialer.transport.setPeers(new Map([[2, fakeAddress]]));
    await waitFor(() => dialer.received.length === 1, 'the valid frame');
    expect(dialer.received).toEqual([{ from: 2, groupId: 4, msg: heartbeat(2, 1, 'ok') }]);
    expect(dialer.transport.metrics().frameErrors).toBe(3);
    expect(dialer.events.filter((e) => e.kind === 'frame-error')).toHaveLength(3);
    expect(dialer.transport.metrics().peers['2']!.snapshotChunksReceived).toBe(0);
  });
});
