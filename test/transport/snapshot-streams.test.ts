import { describe, expect, it } from 'vitest';
import type { SnapChunk } from '../../src/raft/snapshot-transfer.js';
import type { MsgSnap } from '../../src/raft/types.js';
import { PeerSnapshots } from '../../src/transport/index.js';

function snap(index: number, bytes: number): MsgSnap {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (i * 7 + index) & 0xff;
  return { type: 'snap', from: 1, to: 2, term: 3, snapshot: { metadata: { index, term: 2, conf: { voters: [1, 2], learners: [] } }, data } };
}

/** Runs sender → receiver until done, delivering chunks in order; returns the delivered messages. */
function drain(tx: PeerSnapshots, rx: PeerSnapshots, group: number, now = 0): MsgSnap[] {
  const out: MsgSnap[] = [];
  for (let round = 0; round < 1000; round++) {
    const chunks: SnapChunk[] = [];
    tx.pump((g, c) => g === group && chunks.push(c));
    if (chunks.length === 0) return out;
    for (const c of chunks) {
      const r = rx.onChunk(group, c, now);
      if (r.kind !== 'accepted') throw new Error(r.reason);
      if (r.complete !== null) out.push(r.complete);
      tx.onAck(group, r.ack, now);
    }
  }
  throw new Error('no end');
}

describe('PeerSnapshots', () => {
  it('moves a snapshot in windowed chunks and delivers it once', () => {
    const tx = new PeerSnapshots(10, 3, 1000);
    const rx = new PeerSnapshots(10, 3, 1000);
    const msg = snap(5, 95);
    tx.start(7, msg, 0);
    const first: SnapChunk[] = [];
    tx.pump((_g, c) => first.push(c));
    expect(first.map((c) => c.offset)).toEqual([0, 10, 20]); // one window
    tx.pump(() => {
      throw new Error('window exceeded');
    });
    for (const c of first) {
      const r = rx.onChunk(7, c, 0);
      if (r.kind !== 'accepted') throw new Error('rejected');
      tx.onAck(7, r.ack, 0);
    }
    const got = drain(tx, rx, 7);
    expect(got).toHaveLength(1);
    expect(Array.from(got[0]!.snapshot.data)).toEqual(Array.from(msg.snapshot.data));
    expect(tx.outgoingCount).toBe(0);
    expect(rx.incomingCount).toBe(0);
  });

  it('acks a late tail chunk of the delivered snapshot as complete, and delivers a resend from offset 0 again', () => {
    const tx = new PeerSnapshots(10, 2, 1000);
    const rx = new PeerSnapshots(10, 2, 1000);
    const msg = snap(5, 30);
    tx.start(1, msg, 0);
    expect(drain(tx, rx, 1)).toHaveLength(1);
    const tail: SnapChunk = { from: 1, to: 2, term: 3, metadata: msg.snapshot.metadata, total: 30, offset: 20, data: msg.snapshot.data.subarray(20) };
    const r = rx.onChunk(1, tail, 0);
    expect(r.kind === 'accepted' && r.ack.offset === 30 && r.complete === null).toBe(true);
    expect(rx.incomingCount).toBe(0);
    tx.start(1, msg, 0);
    expect(drain(tx, rx, 1)).toHaveLength(1);
  });

  it('refuses a total above the maximum and abandons transfers without progress', () => {
    const tx = new PeerSnapshots(10, 2, 1000);
    const rx = new PeerSnapshots(10, 2, 25);
    tx.start(1, snap(5, 30), 0);
    const chunks: SnapChunk[] = [];
    tx.pump((_g, c) => chunks.push(c));
    expect(rx.onChunk(1, chunks[0]!, 0).kind).toBe('rejected');
    expect(rx.incomingCount).toBe(0);
    expect(tx.sweep(99, 100)).toEqual({ outgoing: 0, incoming: 0 });
    expect(tx.sweep(100, 100)).toEqual({ outgoing: 1, incoming: 0 });
    const rx2 = new PeerSnapshots(10, 2, 1000);
    expect(rx2.onChunk(1, chunks[0]!, 50).kind).toBe('accepted');
    expect(rx2.sweep(149, 100)).toEqual({ outgoing: 0, incoming: 0 });
    expect(rx2.sweep(150, 100)).toEqual({ outgoing: 0, incoming: 1 });
  });

  it('resumes from the acked offset: only the unacked window is sent again', () => {
    const tx = new PeerSnapshots(10, 2, 1000);
    const rx = new PeerSnapshots(10, 2, 1000);
    const msg = snap(9, 60);
    tx.start(1, msg, 0);
    const lost: SnapChunk[] = [];
    tx.pump((_g, c) => lost.push(c));
    const r = rx.onChunk(1, lost[0]!, 0); // the second chunk and the ack are lost with the connection
    expect(r.kind).toBe('accepted');
    tx.resumeAll();
    let resent = 0;
    const got: MsgSnap[] = [];
    for (let round = 0; round < 100 && got.length === 0; round++) {
      const cs: SnapChunk[] = [];
      tx.pump((_g, c) => cs.push(c));
      for (const c of cs) {
        resent += c.data.byteLength;
        const x = rx.onChunk(1, c, 0);
        if (x.kind !== 'accepted') throw new Error('rejected');
        if (x.complete !== null) got.push(x.complete);
        tx.onAck(1, x.ack, 0);
      }
    }
    expect(got).toHaveLength(1);
    expect(Array.from(got[0]!.snapshot.data)).toEqual(Array.from(msg.snapshot.data));
    expect(resent).toBe(60); // from offset 0 again: nothing was acked before the drop
  });
});
