/**
 * What the leader knows about one follower's log, and how it sends to it.
 *
 *   probe      — the leader does not know where the follower's log matches; it sends
 *                one append at a time and waits for the answer (or a heartbeat response).
 *   replicate  — the follower is matching; the leader pipelines appends optimistically
 *                (next advances on send), bounded by the in-flight window.
 *   snapshot   — the follower needs a snapshot; nothing else is sent until it is answered.
 *
 *   probe ──ack──▶ replicate ──reject──▶ probe;  any ──entries compacted──▶ snapshot ──ack ≥ snapshot──▶ replicate
 */
import { Inflights } from './inflights.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known to match the leader's log. */
  match = 0;
  /** Next index to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an append is outstanding, wait for its answer before sending more. */
  probeSent = false;
  /** In snapshot state: the index of the snapshot sent. */
  pendingSnapshot = 0;
  /** In snapshot state: leader ticks since the snapshot was sent. */
  snapshotTicks = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(
    next: number,
    maxInflightMsgs: number,
    maxInflightBytes: number,
    public isLearner: boolean,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** Paused: the leader must not send appends now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  /** Bookkeeping after sending an append of `count` entries (`bytes` of data) ending at `lastIndex`. */
  sentEntries(lastIndex: number, count: number, bytes: number): void {
    switch (this.state) {
      case 'replicate':
        if (count > 0) {
          this.next = lastIndex + 1;
          this.inflights.add(lastIndex, bytes);
        }
        return;
      case 'probe':
        this.probeSent = true;
        return;
      case 'snapshot':
        throw new Error('progress: sending entries in snapshot state');
    }
  }

  /** An acknowledgement up to `index`. Returns false if it was stale (told nothing new). */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * A rejection of the append at `rejected`, with the follower's hint that its
   * log may match up to `matchHint`. Returns false if the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }
}
