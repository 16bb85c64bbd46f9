/**
 * InstallSnapshot on the follower (behind / matching / ahead of its log), the
 * leader's flow control around it, chunked resumable transfer, the compaction
 * policy, and restart from a snapshot plus the log after it.
 */
import { describe, expect, it } from 'vitest';
import {
  MemoryStorage,
  RawNode,
  SnapshotReceiver,
  SnapshotSender,
  compactionPoint,
  shouldCompact,
} from '../../src/raft/index.js';
import type { Entry, Message, MsgSnap, Ready, Snapshot } from '../../src/raft/index.js';
import { SeededRng } from '../../src/util/rng.js';
import { Network, bytes, text } from './network.js';

const conf = { voters: [1, 2, 3], learners: [] };

function entry(index: number, term: number, data = `k${index}=${index}`): Entry {
  return { index, term, type: 'normal', data: bytes(data) };
}

/** Follower 1 with entries 1..5 of term 1, commit 3 (all persisted). */
function follower(): { node: RawNode; storage: MemoryStorage } {
  const storage = new MemoryStorage(conf);
  storage.append([1, 2, 3, 4, 5].map((i) => entry(i, 1)));
  storage.setHardState({ term: 1, vote: 2, commit: 3 });
  const node = new RawNode(
    {
      id: 1,
      electionTick: 10,
      heartbeatTick: 1,
      rng: new SeededRng(1),
      preVote: false,
      checkQuorum: false,
      maxSizePerMsg: 1 << 20,
      maxInflightMsgs: 16,
      maxInflightBytes: 0,
      maxUncommittedBytes: 0,
      applied: 3,
    },
    storage,
  );
  return { node, storage };
}

function snapMsg(index: number, term: number, msgTerm = 1): MsgSnap {
  const snapshot: Snapshot = { metadata: { index, term, conf }, data: bytes(`state@${index}`) };
  return { type: 'snap', from: 2, to: 1, term: msgTerm, snapshot };
}

function drain(node: RawNode): Ready[] {
  const out: Ready[] = [];
  while (node.hasReady()) {
    out.push(node.ready());
    node.advance();
  }
  return out;
}

function acks(rds: Ready[]): Message[] {
  return rds.flatMap((r) => r.messages).filter((m) => m.type === 'app-resp');
}

describe('a snapshot behind, matching or ahead of the follower log', () => {
  it('older than the commit index: ignored and acked with the commit index', () => {
    const { node } = follower();
    node.step(snapMsg(2, 1));
    const rds = drain(node);
    expect(rds.some((r) => r.snapshot !== null)).toBe(false);
    expect(acks(rds)).toMatchObject([{ index: 3, reject: false }]);
    expect(node.status().lastIndex).toBe(5);
  });

  it('matching an entry of the log: commit moves there, the suffix after it is kept', () => {
    const { node } = follower();
    node.step(snapMsg(4, 1));
    const rds = drain(node);
    expect(rds.some((r) => r.snapshot !== null)).toBe(false);
    expect(acks(rds)).toMatchObject([{ index: 4, reject: false }]);
    expect(node.status().commit).toBe(4);
    expect(node.status().lastIndex).toBe(5); // entry 5 kept
    expect(rds.flatMap((r) => r.committedEntries).map((e) => e.index)).toEqual([4]);
  });

  it('ahead of the log (or conflicting with it): replaces the log', () => {
    const { node, storage } = follower();
    node.step(snapMsg(8, 2, 2));
    const rd = node.ready();
    expect(rd.snapshot?.metadata.index).toBe(8);
    expect(rd.confState).toEqual(conf);
    storage.applySnapshot(rd.snapshot as Snapshot);
    node.advance();
    const rest = drain(node);
    expect([...rd.messages, ...rest.flatMap((r) => r.messages)].filter((m) => m.type === 'app-resp')).toMatchObject([
      { index: 8, reject: false },
    ]);
    expect(node.status()).toMatchObject({ commit: 8, applied: 8, lastIndex: 8 });
    expect(storage.firstIndex()).toBe(9);
  });

  it('same index, other term: not a match, so the snapshot replaces the log', () => {
    const { node } = follower();
    node.step(snapMsg(5, 2, 2));
    const rd = node.ready();
    expect(rd.snapshot?.metadata).toMatchObject({ index: 5, term: 2 });
  });
});

describe('leader side', () => {
  it('a follower receiving a snapshot does not hold up the others', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 10; i++) net.raw(1).propose(bytes(`a${i}=${i}`));
    net.stabilize();
    net.compact(1);
    net.heal();
    net.tickAll(1);
    // 3 is now being sent the snapshot; hold its traffic and keep writing.
    net.isolate(3);
    for (let i = 0; i < 5; i++) net.raw(1).propose(bytes(`b${i}=${i}`));
    net.stabilize();
    expect(net.get(2).kv.get('b4')).toBe('4');
    expect(net.status(1).progress?.get(2)?.state).toBe('replicate');
    net.heal();
    net.tickAll(25);
    expect(net.get(3).kv.get('b4')).toBe('4');
    expect(net.get(3).kv.get('a9')).toBe('9');
  });

  it('a lost snapshot is sent again', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 5; i++) net.raw(1).propose(bytes(`a${i}=${i}`));
    net.stabilize();
    net.compact(1);
    net.heal();
    net.tick(1);
    let lost = 0;
    for (let i = 0; i < 50; i++) {
      net.processAll();
      const before = net.queue.length;
      net.queue = net.queue.filter((m) => m.type !== 'snap'); // the snapshot is lost
      lost += before - net.queue.length;
      net.deliver();
    }
    expect(lost).toBe(1);
    expect(net.status(1).progress?.get(3)?.state).toBe('snapshot');
    net.tickAll(25); // re-probed after an election timeout, sent again
    expect(net.get(3).kv.get('a4')).toBe('4');
    expect(net.delivered.get('snap')).toBeGreaterThanOrEqual(1);
  });
});

describe('chunked, resumable snapshot transfer (transport helpers)', () => {
  const data = new Uint8Array(10_000).map((_, i) => (i * 31) & 0xff);
  const msg: MsgSnap = {
    type: 'snap',
    from: 1,
    to: 2,
    term: 3,
    snapshot: { metadata: { index: 50, term: 3, conf }, data },
  };

  it('delivers the snapshot through a lossy, reordering link, resuming from the acked offset', () => {
    const rng = new SeededRng(7);
    const sender = new SnapshotSender(msg, 512, 4);
    const receiver = new SnapshotReceiver();
    let complete: MsgSnap | null = null;
    let chunksSent = 0;
    for (let round = 0; round < 500 && !sender.done(); round++) {
      const chunks = sender.next();
      chunksSent += chunks.length;
      // Resumable: nothing already acknowledged is sent again.
      for (const c of chunks) expect(c.offset).toBeGreaterThanOrEqual(sender.acked);
      expect(chunks.length).toBeLessThanOrEqual(4); // the window
      if (chunks.length === 0) {
        sender.resume(); // timeout: nothing acked lately
        continue;
      }
      // reorder a little, drop ~30%, duplicate some
      const delivered = chunks.filter(() => rng.int(10) >= 3);
      if (delivered.length > 1 && rng.int(2) === 0) delivered.reverse();
      if (delivered[0] && rng.int(4) === 0) delivered.push(delivered[0]);
      for (const c of delivered) {
        const r = receiver.receive(c);
        if (rng.int(10) >= 2) sender.ack(r.ack); // acks get lost too
        if (r.complete) complete = r.complete;
      }
    }
    expect(sender.done()).toBe(true);
    expect(complete).not.toBeNull();
    expect(complete?.snapshot.data).toEqual(data);
    expect(complete?.snapshot.metadata).toEqual(msg.snapshot.metadata);
    expect(complete).toMatchObject({ from: 1, to: 2, term: 3, type: 'snap' });
    expect(chunksSent).toBeLessThan(20 * 8);
  });

  it('a chunk of an older snapshot does not disturb a newer transfer; an empty snapshot is one chunk', () => {
    const receiver = new SnapshotReceiver();
    const newer = new SnapshotSender({ ...msg, snapshot: { ...msg.snapshot, metadata: { ...msg.snapshot.metadata, index: 60 } } }, 4096, 1);
    const older = new SnapshotSender(msg, 4096, 1);
    const first = newer.next()[0];
    if (!first) throw new Error('no chunk');
    expect(receiver.receive(first).ack.offset).toBe(4096);
    const stale = older.next()[0];
    if (!stale) throw new Error('no chunk');
    expect(receiver.receive(stale).ack.offset).toBe(0);
    expect(receiver.progress()).toBe(4096);

    const empty = new SnapshotSender({ ...msg, snapshot: { ...msg.snapshot, data: new Uint8Array(0) } }, 100, 2);
    const chunks = empty.next();
    expect(chunks).toHaveLength(1);
    const r = new SnapshotReceiver().receive(chunks[0] as (typeof chunks)[number]);
    expect(r.complete?.snapshot.data.byteLength).toBe(0);
    empty.ack(r.ack);
    expect(empty.done()).toBe(true);
  });

  it('the reassembled message installs on a follower', () => {
    const { node } = follower();
    const sender = new SnapshotSender({ ...msg, from: 2, to: 1, term: 3 }, 1000, 3);
    const receiver = new SnapshotReceiver();
    let complete: MsgSnap | null = null;
    while (!sender.done()) {
      for (const c of sender.next()) {
        const r = receiver.receive(c);
        sender.ack(r.ack);
        complete = r.complete ?? complete;
      }
    }
    if (!complete) throw new Error('incomplete');
    node.step(complete);
    expect(node.ready().snapshot?.metadata.index).toBe(50);
  });
});

describe('compaction policy', () => {
  const policy = { maxEntries: 100, maxBytes: 1000, keepEntries: 10 };
  it('triggers on entry count or on bytes, never with nothing new applied', () => {
    expect(shouldCompact(policy, { applied: 150, snapshotIndex: 100, firstIndex: 91, bytesSinceSnapshot: 10 })).toBe(false);
    expect(shouldCompact(policy, { applied: 200, snapshotIndex: 100, firstIndex: 91, bytesSinceSnapshot: 10 })).toBe(true);
    expect(shouldCompact(policy, { applied: 120, snapshotIndex: 100, firstIndex: 91, bytesSinceSnapshot: 1000 })).toBe(true);
    expect(shouldCompact(policy, { applied: 100, snapshotIndex: 100, firstIndex: 91, bytesSinceSnapshot: 5000 })).toBe(false);
    expect(shouldCompact({ maxEntries: 0, maxBytes: 0, keepEntries: 0 }, { applied: 1e6, snapshotIndex: 0, firstIndex: 1, bytesSinceSnapshot: 1e9 })).toBe(false);
  });
  it('snapshots at the applied index and keeps some entries behind it', () => {
    expect(compactionPoint(policy, { applied: 250, snapshotIndex: 100, firstIndex: 91, bytesSinceSnapshot: 0 })).toEqual({
      snapshotIndex: 250,
      compactIndex: 240,
    });
    expect(compactionPoint({ ...policy, keepEntries: 1000 }, { applied: 250, snapshotIndex: 100, firstIndex: 91, bytesSinceSnapshot: 0 })).toEqual({
      snapshotIndex: 250,
      compactIndex: 90,
    });
  });
});

describe('restart from the latest snapshot plus the log after it', () => {
  it('applied state after restart equals the state before the crash', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    for (let i = 0; i < 10; i++) net.raw(1).propose(bytes(`a${i}=${i}`));
    net.stabilize();
    net.compact(2);
    for (let i = 0; i < 5; i++) net.raw(1).propose(bytes(`b${i}=${i}`));
    net.stabilize();
    const before = new Map(net.get(2).kv);
    const applied = net.get(2).lastApplied;
    net.crash(2);
    net.restart(2);
    expect(net.get(2).storage.firstIndex()).toBe(12);
    net.processAll(); // re-applies the committed log after the snapshot
    expect(net.get(2).lastApplied).toBe(applied);
    expect(new Map(net.get(2).kv)).toEqual(before);
    expect(text(net.get(2).storage.snapshot().data)).toContain('a9');
  });
});
