/**
 * The leader's ReadIndex queue, batched in rounds. A round records the commit
 * index when it starts and is confirmed when a (joint) quorum of voters answers a
 * heartbeat carrying the round's context. Reads that arrive while a round is
 * in flight wait and all join the next round, so one heartbeat round serves
 * every read queued behind it.
 */
import type { NodeId } from './types.js';
import { jointVoteResult } from './quorum.js';
import type { JointConfig } from './quorum.js';

export interface ReadRequest {
  readonly context: string;
  /** The requesting node: the leader itself for local reads, or a follower. */
  readonly from: NodeId;
}

export interface ReadRound {
  /** The round's id, carried by its heartbeats. */
  readonly context: string;
  readonly index: number;
  readonly requests: readonly ReadRequest[];
}

interface OpenRound extends ReadRound {
  readonly acks: Map<NodeId, boolean>;
}

export class ReadOnly {
  private round: OpenRound | null = null;
  private waiting: ReadRequest[] = [];
  /**
   * Round ids are generated here, not taken from the requests: a late answer to
   * an earlier round must never count for a later one, even if callers reuse
   * contexts. Never reset, so unique for this node's lifetime (answers from
   * other terms are dropped by the term check).
   */
  private nextRoundId = 1;

  /**
   * Queues a read. Returns a round to start now (broadcast its context), or
   * null when the read waits for the round in flight to finish.
   */
  add(req: ReadRequest, commit: number, self: NodeId): ReadRound | null {
    this.waiting.push(req);
    if (this.round) return null;
    return this.startNext(commit, self);
  }

  /** Starts a round for every waiting read, if any and none is in flight. */
  startNext(commit: number, self: NodeId): ReadRound | null {
    if (this.round || this.waiting.length === 0) return null;
    const requests = this.waiting;
    this.waiting = [];
    const acks = new Map<NodeId, boolean>();
    acks.set(self, true);
    this.round = { context: `read-${this.nextRoundId++}`, index: commit, requests, acks };
    return this.round;
  }

  /** Context of the round in flight ('' if none): leader heartbeats carry it, so a lost round is retried. */
  pendingContext(): string {
    return this.round ? this.round.context : '';
  }

  /** A heartbeat answer. Returns the round it confirmed, if it did. */
  recvAck(from: NodeId, context: string, voters: JointConfig): ReadRound | null {
    const r = this.round;
    if (!r || r.context !== context) return null;
    r.acks.set(from, true);
    if (jointVoteResult(voters, r.acks) !== 'won') return null;
    this.round = null;
    return r;
  }

  pendingCount(): number {
    return this.waiting.length + (this.round ? this.round.requests.length : 0);
  }

  reset(): void {
    this.round = null;
    this.waiting = [];
  }
}
