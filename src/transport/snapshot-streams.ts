/**
 * The snapshot transfers of one peer connection, both directions, keyed by
 * Raft group: at most one outgoing (`SnapshotSender`) and one incoming
 * (`SnapshotReceiver`) transfer per (peer, group). No sockets here: the
 * transport feeds frames in and sends what comes out. Time is passed in (ms).
 */
import { SnapshotReceiver, SnapshotSender } from '../raft/snapshot-transfer.js';
import type { SnapChunk, SnapChunkAck } from '../raft/snapshot-transfer.js';
import type { MsgSnap } from '../raft/types.js';

interface Outgoing {
  readonly sender: SnapshotSender;
  /** When the acked offset last moved (or the transfer started). */
  progressAt: number;
}

interface Incoming {
  readonly receiver: SnapshotReceiver;
  /** When the last in-order bytes arrived (or the transfer started). */
  progressAt: number;
}

export type ChunkResult =
  | { readonly kind: 'rejected'; readonly reason: string }
  | { readonly kind: 'accepted'; readonly ack: SnapChunkAck; readonly complete: MsgSnap | null; readonly received: number };

export class PeerSnapshots {
  private readonly outgoing = new Map<number, Outgoing>();
  private readonly incoming = new Map<number, Incoming>();
  /** The last snapshot delivered per group: its late tail chunks are acked as complete, not restarted. */
  private readonly delivered = new Map<number, { readonly index: number; readonly term: number; readonly total: number }>();

  constructor(
    readonly chunkBytes: number,
    readonly window: number,
    readonly maxIncomingBytes: number,
  ) {}

  get outgoingCount(): number {
    return this.outgoing.size;
  }

  get incomingCount(): number {
    return this.incoming.size;
  }

  /** Starts sending `msg` to the peer; replaces any transfer of the group in progress. */
  start(groupId: number, msg: MsgSnap, now: number): void {
    this.outgoing.set(groupId, { sender: new SnapshotSender(msg, this.chunkBytes, this.window), progressAt: now });
  }

  /** Bytes acked of the group's outgoing transfer (undefined if none). */
  ackedBytes(groupId: number): number | undefined {
    return this.outgoing.get(groupId)?.sender.acked;
  }

  /** Hands every chunk that may go now (within each transfer's window) to `emit`. */
  pump(emit: (groupId: number, chunk: SnapChunk) => void): void {
    for (const [groupId, o] of this.outgoing) {
      for (const c of o.sender.next()) emit(groupId, c);
    }
  }

  /** An ack from the peer. Returns true when it completed the group's transfer. */
  onAck(groupId: number, ack: SnapChunkAck, now: number): boolean {
    const o = this.outgoing.get(groupId);
    if (o === undefined) return false;
    const before = o.sender.acked;
    o.sender.ack(ack);
    if (o.sender.acked > before) o.progressAt = now;
    if (!o.sender.done()) return false;
    this.outgoing.delete(groupId);
    return true;
  }

  /** After a reconnect: every outgoing transfer goes on from its acked offset. */
  resumeAll(): void {
    for (const o of this.outgoing.values()) o.sender.resume();
  }

  /** A chunk from the peer. Bounded memory: one transfer per group, totals above the maximum refused. */
  onChunk(groupId: number, chunk: SnapChunk, now: number): ChunkResult {
    if (chunk.total > this.maxIncomingBytes) {
      return { kind: 'rejected', reason: `snapshot of ${chunk.total} bytes exceeds the maximum ${this.maxIncomingBytes}` };
    }
    const m = chunk.metadata;
    const last = this.delivered.get(groupId);
    if (last !== undefined && last.index === m.index && last.term === m.term && last.total === chunk.total) {
      // A late or resent tail chunk of the snapshot just delivered: ack it whole. A chunk at offset 0 is
      // the leader sending it again (it may not have heard the answer): take it as a new transfer.
      if (chunk.offset > 0) {
        const ack: SnapChunkAck = { from: chunk.to, to: chunk.from, index: m.index, snapTerm: m.term, offset: chunk.total };
        return { kind: 'accepted', ack, complete: null, received: chunk.total };
      }
      this.delivered.delete(groupId);
    }
    let i = this.incoming.get(groupId);
    if (i === undefined) {
      i = { receiver: new SnapshotReceiver(), progressAt: now };
      this.incoming.set(groupId, i);
    }
    const before = i.receiver.progress();
    const { ack, complete } = i.receiver.receive(chunk);
    const received = complete !== null ? chunk.total : i.receiver.progress();
    if (complete !== null) {
      this.incoming.delete(groupId);
      this.delivered.set(groupId, { index: m.index, term: m.term, total: chunk.total });
    } else if (received !== before) i.progressAt = now;
    return { kind: 'accepted', ack, complete, received };
  }

  /** Drops transfers without progress for `stallMs`; returns how many of each direction. */
  sweep(now: number, stallMs: number): { readonly outgoing: number; readonly incoming: number } {
    let out = 0;
    let inc = 0;
    for (const [g, o] of this.outgoing) {
      if (now - o.progressAt >= stallMs) {
        this.outgoing.delete(g);
        out++;
      }
    }
    for (const [g, i] of this.incoming) {
      if (now - i.progressAt >= stallMs) {
        this.incoming.delete(g);
        inc++;
      }
    }
    return { outgoing: out, incoming: inc };
  }

  /** Forgets everything (the peer left the table). */
  clear(): void {
    this.outgoing.clear();
    this.incoming.clear();
    this.delivered.clear();
  }
}
