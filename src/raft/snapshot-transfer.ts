/**
 * Chunked, flow-controlled, resumable InstallSnapshot — outside the core.
 *
 * The core sends and receives whole snapshots (`MsgSnap`): the leader puts only
 * that follower in 'snapshot' state (every other follower keeps replicating) and
 * re-probes if no answer came within an election timeout. Moving the bytes is
 * the transport's job, with these two pure state machines:
 *
 *  - `SnapshotSender` (leader side, one per follower): cuts the snapshot data into
 *    chunks of `chunkSize` bytes and releases at most `window` un-acked chunks
 *    (flow control). `ack(offset)` moves the acked point; `resume()` after a
 *    timeout or reconnect re-sends from the acked point, not from zero. A newer
 *    snapshot for the same follower replaces the transfer.
 *  - `SnapshotReceiver` (follower side, one per leader): keeps the bytes received
 *    in order for one snapshot (index, term), acks the contiguous prefix (so
 *    duplicates and reordering are harmless), and yields the whole `MsgSnap` for
 *    `RawNode.step` once complete. A partial transfer survives a dropped
 *    connection: the sender resumes at the receiver's acked offset.
 *
 * Chunk metadata repeats the snapshot's index/term so a chunk of an older
 * snapshot is recognized and dropped.
 */
import type { MsgSnap, NodeId, SnapshotMetadata } from './types.js';

export interface SnapChunk {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly metadata: SnapshotMetadata;
  /** Total bytes of the snapshot data. */
  readonly total: number;
  readonly offset: number;
  readonly data: Uint8Array;
}

export interface SnapChunkAck {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly index: number;
  readonly snapTerm: number;
  /** Bytes received in order so far: the sender resumes here. */
  readonly offset: number;
}

export class SnapshotSender {
  /** Bytes acknowledged by the receiver. */
  acked = 0;
  /** Bytes released for sending (≥ acked). */
  sent = 0;
  private emptySent = false;
  private emptyAcked = false;

  constructor(
    readonly msg: MsgSnap,
    readonly chunkSize: number,
    readonly window: number,
  ) {
    if (chunkSize < 1 || window < 1) throw new Error('snapshot sender: chunkSize and window must be ≥ 1');
  }

  get total(): number {
    return this.msg.snapshot.data.byteLength;
  }

  /** All bytes acknowledged (for an empty snapshot: its one chunk sent and acked). */
  done(): boolean {
    return this.total === 0 ? this.emptyAcked : this.acked >= this.total;
  }

  /** The chunks that may go now (within the window of un-acked chunks). */
  next(): SnapChunk[] {
    const out: SnapChunk[] = [];
    const limit = this.acked + this.window * this.chunkSize;
    if (this.total === 0) {
      // An empty snapshot still needs one (empty) chunk.
      if (!this.emptySent) out.push(this.chunk(0, 0));
      this.emptySent = true;
      return out;
    }
    while (this.sent < this.total && this.sent < limit) {
      const end = Math.min(this.total, this.sent + this.chunkSize);
      out.push(this.chunk(this.sent, end));
      this.sent = end;
    }
    return out;
  }

  /** An acknowledgement from the receiver; stale or foreign acks are ignored. */
  ack(a: SnapChunkAck): void {
    const m = this.msg.snapshot.metadata;
    if (a.index !== m.index || a.snapTerm !== m.term || a.from !== this.msg.to) return;
    if (this.total === 0) this.emptyAcked = this.emptySent;
    if (a.offset > this.acked) this.acked = Math.min(a.offset, this.total);
    if (this.sent < this.acked) this.sent = this.acked;
  }

  /** After a timeout or a reconnect: send again from the acknowledged point. */
  resume(): void {
    this.sent = this.acked;
    if (!this.emptyAcked) this.emptySent = false;
  }

  private chunk(lo: number, hi: number): SnapChunk {
    const m = this.msg;
    return {
      from: m.from,
      to: m.to,
      term: m.term,
      metadata: m.snapshot.metadata,
      total: this.total,
      offset: lo,
      data: m.snapshot.data.subarray(lo, hi),
    };
  }
}

export class SnapshotReceiver {
  private meta: SnapshotMetadata | null = null;
  private buf: Uint8Array = new Uint8Array(0);
  private received = 0;
  private leader: NodeId = 0;
  private term = 0;

  /**
   * Takes one chunk. Returns the ack to send back and, once the snapshot is
   * complete, the whole message for `RawNode.step`.
   */
  receive(c: SnapChunk): { readonly ack: SnapChunkAck; readonly complete: MsgSnap | null } {
    const m = c.metadata;
    const current = this.meta;
    const same = current !== null && current.index === m.index && current.term === m.term && this.buf.byteLength === c.total;
    if (!same) {
      if (current !== null && (m.index < current.index || (m.index === current.index && m.term < current.term))) {
        // A chunk of an older snapshot: ignore, ack it as unknown progress (0).
        return { ack: { from: c.to, to: c.from, index: m.index, snapTerm: m.term, offset: 0 }, complete: null };
      }
      this.meta = m;
      this.buf = new Uint8Array(c.total);
      this.received = 0;
    }
    this.leader = c.from;
    this.term = Math.max(this.term, c.term);
    if (c.offset === this.received && c.offset + c.data.byteLength <= c.total) {
      this.buf.set(c.data, c.offset);
      this.received += c.data.byteLength;
    }
    const ack: SnapChunkAck = { from: c.to, to: c.from, index: m.index, snapTerm: m.term, offset: this.received };
    if (this.received < c.total) return { ack, complete: null };
    const complete: MsgSnap = {
      type: 'snap',
      from: this.leader,
      to: c.to,
      term: this.term,
      snapshot: { metadata: m, data: this.buf },
    };
    this.meta = null;
    this.buf = new Uint8Array(0);
    this.received = 0;
    return { ack, complete };
  }

  /** Bytes of the snapshot in progress received so far (0 if none). */
  progress(): number {
    return this.received;
  }
}
