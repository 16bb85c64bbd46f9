/**
 * The simulated network: messages travel for whole ticks; faults are drop,
 * duplication, extra delay (hence reordering) and blocked directed links
 * (partitions). Every random choice comes from the injected Rng.
 */
import type { Message, NodeId } from '../raft/types.js';
import type { Rng } from '../util/rng.js';

/** Random message faults, all off when the network is healthy. */
export interface LinkFaults {
  /** Probability that a message is lost. */
  readonly dropRate: number;
  /** Probability that a message is delivered twice. */
  readonly dupRate: number;
  /** Each delivery takes 1 + uniform[0, maxExtraDelay] ticks. */
  readonly maxExtraDelay: number;
  /** Probability that a message is held back for up to LONG_DELAY ticks (a very stale delivery). */
  readonly longDelayRate: number;
}

export const HEALTHY_LINKS: LinkFaults = { dropRate: 0, dupRate: 0, maxExtraDelay: 0, longDelayRate: 0 };

/** The longest a held-back message waits. */
export const LONG_DELAY = 200;

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  blocked: number;
}

export class SimNetwork {
  private readonly buckets = new Map<number, Message[]>();
  /** blockedLinks[from * stride + to]: messages from → to are lost. */
  private readonly blockedLinks: Uint8Array;
  private readonly stride: number;
  private faults: LinkFaults = HEALTHY_LINKS;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, blocked: 0 };

  constructor(
    private readonly rng: Rng,
    maxNodeId: NodeId,
  ) {
    this.stride = maxNodeId + 1;
    this.blockedLinks = new Uint8Array(this.stride * this.stride);
  }

  setFaults(faults: LinkFaults): void {
    this.faults = faults;
  }

  get linkFaults(): LinkFaults {
    return this.faults;
  }

  /** Blocks (or unblocks) the directed link from → to. */
  setBlocked(from: NodeId, to: NodeId, blocked: boolean): void {
    this.blockedLinks[from * this.stride + to] = blocked ? 1 : 0;
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blockedLinks[from * this.stride + to] === 1;
  }

  clearPartitions(): void {
    this.blockedLinks.fill(0);
  }

  hasPartition(): boolean {
    return this.blockedLinks.some((b) => b === 1);
  }

  send(m: Message, now: number): void {
    this.stats.sent++;
    if (this.isBlocked(m.from, m.to)) {
      this.stats.blocked++;
      return;
    }
    const f = this.faults;
    if (f.dropRate > 0 && this.rng.float() < f.dropRate) {
      this.stats.dropped++;
      return;
    }
    this.enqueue(m, now);
    if (f.dupRate > 0 && this.rng.float() < f.dupRate) {
      this.stats.duplicated++;
      this.enqueue(m, now);
    }
  }

  private enqueue(m: Message, now: number): void {
    const f = this.faults;
    let extra = f.maxExtraDelay > 0 ? this.rng.int(f.maxExtraDelay + 1) : 0;
    if (f.longDelayRate > 0 && this.rng.float() < f.longDelayRate) extra += this.rng.int(LONG_DELAY);
    const at = now + 1 + extra;
    let bucket = this.buckets.get(at);
    if (bucket === undefined) {
      bucket = [];
      this.buckets.set(at, bucket);
    }
    bucket.push(m);
  }

  /**
   * The messages due at `now`, in random order, minus those whose link is
   * blocked by now (a partition also cuts what is already on the wire).
   */
  takeDue(now: number): Message[] {
    const bucket = this.buckets.get(now);
    if (bucket === undefined) return [];
    this.buckets.delete(now);
    for (let i = bucket.length - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      const t = bucket[i]!;
      bucket[i] = bucket[j]!;
      bucket[j] = t;
    }
    let w = 0;
    for (const m of bucket) {
      if (this.isBlocked(m.from, m.to)) {
        this.stats.blocked++;
        continue;
      }
      bucket[w++] = m;
    }
    bucket.length = w;
    this.stats.delivered += w;
    return bucket;
  }

  inFlight(): number {
    let n = 0;
    for (const b of this.buckets.values()) n += b.length;
    return n;
  }
}
