/** Client sessions: at-most-once writes through (client, seq), one session per shard group. */
import type { SessionField } from './protocol.js';

/**
 * One registered session (of one shard group): numbers writes 1, 2, 3, … and
 * tracks the lowest seq without an outcome (sent as firstIncomplete so the
 * server can forget older results).
 */
export class ClientSession {
  private nextSeq = 1;
  private firstIncomplete = 1;
  private readonly doneAbove = new Set<number>();

  constructor(readonly client: string) {}

  begin(): SessionField {
    return { client: this.client, seq: this.nextSeq++, firstIncomplete: this.firstIncomplete };
  }

  /** The lowest seq without an outcome yet. */
  get lowestIncomplete(): number {
    return this.firstIncomplete;
  }

  /** Marks a seq as finished (answered or given up). */
  complete(seq: number): void {
    if (seq < this.firstIncomplete) return;
    if (seq !== this.firstIncomplete) {
      this.doneAbove.add(seq);
      return;
    }
    this.firstIncomplete++;
    while (this.doneAbove.delete(this.firstIncomplete)) this.firstIncomplete++;
  }
}
