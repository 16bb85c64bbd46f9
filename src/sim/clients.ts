/**
 * Client processes of the simulation: they put, cas and read a few keys
 * through whichever node they believe is leader (reads also on followers, by
 * ReadIndex), and record a jepsen-lite history with time = simulated tick.
 *
 * A write is `ok` when its entry is applied on the node that proposed it
 * (same index AND term), `fail` when that node applies a different term at the
 * index or refuses the proposal, `info` on timeout or crash (the process id is
 * then retired). A read is `ok` when its ReadState is served, `fail` otherwise.
 */
import type { HistoryEvent, OpFunction, OpValue } from '../../jepsen-lite/history.js';
import type { Entry, NodeId, ProposeResult, ReadIndexResult, ReadState, Snapshot } from '../raft/types.js';
import { NONE } from '../raft/types.js';
import type { Rng } from '../util/rng.js';
import { type ApplyOutcome, encodeCommand, type KvCommand } from './kv.js';
import { SimViolation } from './invariants.js';
import type { SimNode } from './sim-node.js';

export interface ClientOptions {
  readonly clients: number;
  readonly keys: readonly string[];
  /** Ticks before a pending operation times out. */
  readonly opTimeout: number;
  /** Max ticks a client waits between two operations. */
  readonly thinkMax: number;
  readonly readFraction: number;
  readonly casFraction: number;
  /** Idle windows: no operation starts during the last `length` ticks of every `period` (so groups can quiesce). */
  readonly idle?: { readonly period: number; readonly length: number };
}

/** Deliberate client-side bugs, for tests that prove the harness can fail. */
export interface ClientMutations {
  /** Serve reads from the local state machine at once, without ReadIndex. */
  readonly staleReads?: boolean;
  /** Acknowledge a put as soon as the proposal is accepted, before commit. */
  readonly earlyAck?: boolean;
}

/** What clients need from the cluster (null: the node is down). */
export interface ClientCluster {
  readonly nodeIds: readonly NodeId[];
  node(id: NodeId): SimNode;
  propose(id: NodeId, data: Uint8Array): ProposeResult | null;
  readIndex(id: NodeId, context: string): ReadIndexResult | null;
}

interface Slot {
  process: number;
  busy: boolean;
  nextAt: number;
  leaderGuess: NodeId;
  /** Last value this client saw per key (a plausible cas `expected`). */
  readonly seen: Map<string, string | null>;
}

interface PendingOp {
  readonly slot: Slot;
  readonly process: number;
  readonly f: OpFunction;
  readonly key: string;
  readonly value: OpValue;
  readonly deadline: number;
  readonly node: NodeId;
  readonly incarnation: number;
  /** Writes: where the proposal landed. */
  readonly index: number;
  readonly term: number;
  readonly id: number;
}

export class ClientWorkload {
  readonly history: HistoryEvent[] = [];
  private readonly slots: Slot[] = [];
  private nextProcess = 0;
  private nextOpId = 1;
  /** Pending writes by node, then by log index. */
  private readonly writes = new Map<NodeId, Map<number, PendingOp>>();
  /** Pending reads by context. */
  private readonly reads = new Map<string, PendingOp>();
  private readonly pending = new Set<PendingOp>();
  private now = 0;
  stats = { ok: 0, fail: 0, info: 0 };

  constructor(
    private readonly rng: Rng,
    private readonly options: ClientOptions,
    private readonly mutations: ClientMutations = {},
  ) {
    for (let i = 0; i < options.clients; i++) {
      this.slots.push({ process: this.nextProcess++, busy: false, nextAt: rng.int(options.thinkMax + 1), leaderGuess: NONE, seen: new Map() });
    }
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  private emit(process: number, type: HistoryEvent['type'], f: OpFunction, key: string, value: OpValue): void {
    this.history.push({ process, type, f, key, value, time: this.now });
  }

  private finish(op: PendingOp, type: 'ok' | 'fail' | 'info', value: OpValue): void {
    this.pending.delete(op);
    this.emit(op.process, type, op.f, op.key, value);
    this.stats[type]++;
    const slot = op.slot;
    slot.busy = false;
    slot.nextAt = this.now + this.rng.int(this.options.thinkMax + 1);
    if (type === 'info') slot.process = this.nextProcess++;
  }

  /** Lets idle clients start operations and times out stale ones. */
  step(now: number, cluster: ClientCluster): void {
    this.now = now;
    for (const op of this.pending) {
      if (op.deadline > now) continue;
      if (op.f === 'get') {
        this.reads.delete(String(op.id));
        this.finish(op, 'fail', null);
      } else {
        this.writes.get(op.node)?.delete(op.index);
        this.finish(op, 'info', op.value);
      }
    }
    if (this.idleAt(now)) return;
    for (const slot of this.slots) {
      if (slot.busy || slot.nextAt > now) continue;
      this.startOp(slot, cluster);
    }
  }

  /** Inside an idle window (no new operations)? */
  idleAt(now: number): boolean {
    const idle = this.options.idle;
    return idle !== undefined && now % idle.period >= idle.period - idle.length;
  }

  private pickNode(cluster: ClientCluster): NodeId {
    return cluster.nodeIds[this.rng.int(cluster.nodeIds.length)]!;
  }

  private startOp(slot: Slot, cluster: ClientCluster): void {
    const o = this.options;
    const key = o.keys[this.rng.int(o.keys.length)]!;
    const id = this.nextOpId++;
    const r = this.rng.float();
    if (slot.leaderGuess === NONE) slot.leaderGuess = this.pickNode(cluster);
    if (r < o.readFraction) {
      const target = this.rng.int(2) === 0 ? slot.leaderGuess : this.pickNode(cluster);
      this.startRead(slot, cluster, target, key, id);
      return;
    }
    let cmd: KvCommand;
    let f: OpFunction;
    let value: OpValue;
    const fresh = `v${id}`;
    if (r < o.readFraction + o.casFraction) {
      const expected = slot.seen.get(key) ?? null;
      cmd = { op: 'cas', id, key, expected, value: fresh };
      f = 'cas';
      value = [expected, fresh];
    } else {
      cmd = { op: 'put', id, key, value: fresh };
      f = 'put';
      value = fresh;
    }
    const target = slot.leaderGuess;
    slot.busy = true;
    this.emit(slot.process, 'invoke', f, key, value);
    const res = cluster.propose(target, encodeCommand(cmd));
    const base = { slot, process: slot.process, f, key, value, deadline: this.now + o.opTimeout, node: target, id };
    if (res === null || !res.ok) {
      slot.leaderGuess = res !== null && res.leader !== NONE && res.leader !== target ? res.leader : this.pickNode(cluster);
      const op: PendingOp = { ...base, incarnation: 0, index: 0, term: 0 };
      this.pending.add(op);
      this.finish(op, 'fail', value);
      return;
    }
    const op: PendingOp = { ...base, incarnation: cluster.node(target).incarnation, index: res.index, term: res.term };
    this.pending.add(op);
    if (this.mutations.earlyAck === true && f === 'put') {
      this.finish(op, 'ok', value);
      return;
    }
    let byIndex = this.writes.get(target);
    if (byIndex === undefined) {
      byIndex = new Map();
      this.writes.set(target, byIndex);
    }
    // An older proposal at this index was truncated here; it may still commit elsewhere.
    const displaced = byIndex.get(res.index);
    if (displaced !== undefined) this.finish(displaced, 'info', displaced.value);
    byIndex.set(res.index, op);
  }

  private startRead(slot: Slot, cluster: ClientCluster, target: NodeId, key: string, id: number): void {
    slot.busy = true;
    this.emit(slot.process, 'invoke', 'get', key, null);
    const node = cluster.node(target);
    const op: PendingOp = {
      slot, process: slot.process, f: 'get', key, value: null, deadline: this.now + this.options.opTimeout,
      node: target, incarnation: node.incarnation, index: 0, term: 0, id,
    };
    this.pending.add(op);
    if (this.mutations.staleReads === true && node.alive) {
      const v = node.kv.get(key);
      slot.seen.set(key, v);
      this.finish(op, 'ok', v);
      return;
    }
    const res = cluster.readIndex(target, String(id));
    if (res === null || !res.ok) {
      slot.leaderGuess = res !== null && res.leader !== NONE ? res.leader : this.pickNode(cluster);
      this.finish(op, 'fail', null);
      return;
    }
    this.reads.set(String(id), op);
  }

  onApplied(node: SimNode, e: Entry, outcome: ApplyOutcome | null): void {
    const byIndex = this.writes.get(node.id);
    if (byIndex === undefined) return;
    const op = byIndex.get(e.index);
    if (op === undefined) return;
    byIndex.delete(e.index);
    if (e.term !== op.term) {
      // Another entry is committed at our index: ours can never commit.
      this.finish(op, 'fail', op.value);
      return;
    }
    if (outcome === null || outcome.id !== op.id) {
      throw new SimViolation('entry-identity', `n${node.id} applied (${e.index}, term ${e.term}) but it is not the proposed operation ${op.id}`);
    }
    if (op.f === 'cas' && !outcome.swapped) {
      this.finish(op, 'fail', op.value);
      return;
    }
    op.slot.seen.set(op.key, op.f === 'cas' ? (op.value as readonly [string | null, string | null])[1] : (op.value as string));
    this.finish(op, 'ok', op.value);
  }

  /** A snapshot skipped entries: writes pending at those indexes have an unknown outcome. */
  onSnapshotRestored(node: SimNode, snap: Snapshot): void {
    const byIndex = this.writes.get(node.id);
    if (byIndex === undefined) return;
    for (const [index, op] of byIndex) {
      if (index > snap.metadata.index) continue;
      byIndex.delete(index);
      this.finish(op, 'info', op.value);
    }
  }

  onReadState(node: SimNode, rs: ReadState): void {
    const op = this.reads.get(rs.context);
    if (op === undefined || op.node !== node.id) return;
    this.reads.delete(rs.context);
    const v = node.kv.get(op.key);
    op.slot.seen.set(op.key, v);
    this.finish(op, 'ok', v);
  }

  /** The node lost its volatile state: writes there have an unknown outcome, reads failed. */
  onCrash(node: SimNode): void {
    const byIndex = this.writes.get(node.id);
    if (byIndex !== undefined) {
      for (const op of byIndex.values()) this.finish(op, 'info', op.value);
      byIndex.clear();
    }
    for (const [ctx, op] of this.reads) {
      if (op.node !== node.id) continue;
      this.reads.delete(ctx);
      this.finish(op, 'fail', null);
    }
  }

  /** Ends the run: whatever is still pending is unknown (writes) or failed (reads). */
  close(now: number): void {
    this.now = now;
    for (const op of [...this.pending]) this.finish(op, op.f === 'get' ? 'fail' : 'info', op.f === 'get' ? null : op.value);
    this.writes.clear();
    this.reads.clear();
  }
}
