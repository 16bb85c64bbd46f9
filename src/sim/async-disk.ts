/**
 * The "async disk" driver mode of a simulated node (etcd raft's async storage
 * writes): the node keeps taking Readies while the writes of earlier ones are
 * in flight. Each Ready's write becomes durable after a seeded latency, in
 * order; `advance()` follows durability, one call per Ready, oldest first.
 *
 * Messages follow the core's rule (src/raft, sendsBeforePersist): the types
 * that claim nothing about our own disk leave at once (of a Ready that changes
 * term or vote, only vote requests); every other message waits until the write
 * of its Ready, and of all Readies before it, is durable.
 */
import type { Entry, HardState, Message, NodeId, Role, Snapshot } from '../raft/types.js';
import type { Rng } from '../util/rng.js';


export interface DiskLatency {
  /** Ticks a write takes to become durable: uniform in [min, max]. */
  readonly min: number;
  readonly max: number;
}

export interface AsyncDiskOptions {
  /** Nodes whose driver writes asynchronously (default: every node). */
  readonly nodes?: readonly NodeId[];
  readonly latency?: DiskLatency;
  /** Per-node latencies that override `latency` (e.g. one slow disk). */
  readonly latencyOf?: Readonly<Record<NodeId, DiskLatency>>;
  /** Readies outstanding (taken, not yet advanced) at most per node. */
  readonly maxOutstanding?: number;
}

export const DEFAULT_DISK_LATENCY: DiskLatency = { min: 0, max: 4 };
/** Readies outstanding per node by default (the core hands out several: raw-node.ts, decision 27). */
export const DEFAULT_MAX_OUTSTANDING = 8;

/** A taken Ready whose write is not durable yet. */
export interface PendingWrite {
  /** The tick at which the write is durable (never before an earlier write's). */
  readonly durableAt: number;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
  /** Whether this Ready changed term or vote. */
  readonly termChange: boolean;
  /** The node's role when the Ready was taken. */
  readonly role: Role;
  /** Messages that wait for this write (and every earlier one). */
  readonly held: readonly Message[];
}

/** What the async drivers did in a run (so tests can check the mode was exercised). */
export interface AsyncDiskStats {
  /** Readies taken while another was outstanding. */
  readiesOverlapped: number;
  /** Most Readies outstanding at once on one node. */
  maxOutstanding: number;
  /** Messages sent before their Ready was durable, and messages held until it was. */
  earlyMessages: number;
  heldMessages: number;
  /** Readies whose entries replaced entries handed out earlier and not yet durable (a conflict while writes were in flight). */
  replacedInFlight: number;
  /** Writes in flight (and messages held) lost to crashes. */
  writesLost: number;
  messagesLost: number;
}

export function emptyAsyncDiskStats(): AsyncDiskStats {
  return { readiesOverlapped: 0, maxOutstanding: 0, earlyMessages: 0, heldMessages: 0, replacedInFlight: 0, writesLost: 0, messagesLost: 0 };
}

/** One node's queue of in-flight writes. */
export class AsyncDisk {
  private readonly queue: PendingWrite[] = [];
  private lastDurableAt = 0;
  /** The hard state of the last Ready taken (what term/vote changes compare with). */
  handedHard: HardState = { term: 0, vote: 0, commit: 0 };
  readonly maxOutstanding: number;
  private readonly latency: DiskLatency;

  constructor(
    private readonly rng: Rng,
    private readonly clock: () => number,
    options: AsyncDiskOptions,
    /** Shared by the nodes of a run. */
    readonly stats: AsyncDiskStats = emptyAsyncDiskStats(),
  ) {
    this.latency = options.latency ?? DEFAULT_DISK_LATENCY;
    this.maxOutstanding = Math.max(1, options.maxOutstanding ?? DEFAULT_MAX_OUTSTANDING);
    if (this.latency.min < 0 || this.latency.max < this.latency.min) {
      throw new Error(`async disk: bad latency range ${this.latency.min}..${this.latency.max}`);
    }
  }

  get outstanding(): number {
    return this.queue.length;
  }

  /** Whether a taken Ready that changes term or vote is not durable yet. */
  termChangePending(): boolean {
    for (const w of this.queue) if (w.termChange) return true;
    return false;
  }

  /** The term at `index` among the writes in flight (the latest one holding it), or null. */
  pendingTerm(index: number): number | null {
    for (let k = this.queue.length - 1; k >= 0; k--) {
      const w = this.queue[k]!;
      const first = w.entries[0];
      if (first !== undefined && index >= first.index && index < first.index + w.entries.length) return w.entries[index - first.index]!.term;
      if (w.snapshot !== null && index <= w.snapshot.metadata.index) return index === w.snapshot.metadata.index ? w.snapshot.metadata.term : null;
    }
    return null;
  }

  /** Whether a snapshot is among the writes in flight. */
  snapshotPending(): boolean {
    for (const w of this.queue) if (w.snapshot !== null) return true;
    return false;
  }

  /**
   * Queues the write of a Ready. One that persists nothing is durable as soon
   * as everything before it is; the others take a seeded latency, in order.
   */
  push(w: Omit<PendingWrite, 'durableAt'>): void {
    const now = this.clock();
    const persists = w.snapshot !== null || w.entries.length > 0 || w.hardState !== null;
    const { min, max } = this.latency;
    const own = persists ? now + min + this.rng.int(max - min + 1) : now;
    const durableAt = Math.max(own, this.lastDurableAt);
    this.lastDurableAt = durableAt;
    const st = this.stats;
    if (this.queue.length > 0) st.readiesOverlapped++;
    this.queue.push({ ...w, durableAt });
    if (this.queue.length > st.maxOutstanding) st.maxOutstanding = this.queue.length;
    st.heldMessages += w.held.length;
  }

  /** The oldest write if it is durable by now (it stays queued until `shift`). */
  due(): PendingWrite | null {
    const head = this.queue[0];
    return head !== undefined && head.durableAt <= this.clock() ? head : null;
  }

  shift(): void {
    this.queue.shift();
  }

  /** A crash: in-flight writes and the messages they held are lost. */
  clear(): void {
    for (const w of this.queue) {
      this.stats.writesLost++;
      this.stats.messagesLost += w.held.length;
    }
    this.queue.length = 0;
    this.lastDurableAt = 0;
  }
}
