/**
 * The meta group's replica on this node (Raft group 0): the shard map and the
 * node registry (src/meta's MetaStateMachine) replicated like any shard.
 * Commands are proposed by the meta leader's node (operator commands, joins,
 * heartbeats, leader reports, move steps) and answered once applied. Reads of
 * the map are local: routing tolerates a stale map (WRONG_SHARD sends clients
 * to a newer one), and placement decisions are taken on the leader only.
 */
import { performance } from 'node:perf_hooks';
import { MetaStateMachine, encodeMetaCommand } from '../meta/index.js';
import type { MetaCommand, MetaResult, MetaState } from '../meta/index.js';
import { RawNode } from '../raft/index.js';
import type { Entry, Message, NodeId, RaftConfig, Ready, Role } from '../raft/index.js';
import type { GroupStorage } from '../storage/index.js';
import { NodeError } from './errors.js';
import { GroupDriver } from './group-driver.js';
import type { Logger } from './logger.js';

/** The meta log is snapshotted (and compacted) every this many applied entries. */
const META_SNAPSHOT_ENTRIES = 1000;

interface PendingCommand {
  readonly term: number;
  readonly deadline: number;
  readonly resolve: (r: MetaResult) => void;
  readonly reject: (e: NodeError) => void;
}

export interface MetaReplicaOptions {
  readonly raft: Omit<RaftConfig, 'applied'>;
  readonly storage: GroupStorage;
  /** The state at log index 0: the bootstrap map every founding node derives alike (null for a node that joined). */
  readonly bootstrap: MetaState | null;
  readonly logger: Logger;
  readonly send: (to: NodeId, groupId: number, m: Message) => void;
  /** Called after applying entries or a snapshot that changed the map version. */
  readonly onMapChanged: (state: MetaState) => void;
  /** Called when this replica's role or known leader changes. */
  readonly onRoleChanged: (role: Role, leader: NodeId) => void;
}

export class MetaReplica extends GroupDriver {
  readonly raw: RawNode;
  sm: MetaStateMachine;
  private readonly opts: MetaReplicaOptions;
  private readonly pending = new Map<number, PendingCommand>();

  constructor(groupId: number, opts: MetaReplicaOptions) {
    super(groupId, opts.storage, opts.send);
    this.opts = opts;
    const snap = opts.storage.snapshot();
    if (snap.metadata.index > 0 && snap.data.length > 0) {
      this.sm = MetaStateMachine.restore(snap.data);
      this.applied = snap.metadata.index;
    } else {
      this.sm = opts.bootstrap !== null ? MetaStateMachine.fromState(opts.bootstrap) : new MetaStateMachine();
      this.applied = snap.metadata.index;
    }
    this.raw = new RawNode({ ...opts.raft, applied: this.applied }, opts.storage);
  }

  get state(): MetaState {
    return this.sm.state();
  }

  /** Proposes a meta command (leader only); resolves with its result once applied. */
  propose(cmd: MetaCommand, timeoutMs: number): Promise<MetaResult> {
    return new Promise<MetaResult>((resolve, reject) => {
      const r = this.raw.propose(encodeMetaCommand(cmd));
      if (!r.ok) {
        reject(new NodeError(r.reason === 'OVERLOADED' ? 'OVERLOADED' : 'NOT_LEADER', `meta group: ${r.reason}`, true, r.leader));
        return;
      }
      // A command proposed at this index in an earlier term left the log; another leader may still commit it.
      this.pending.get(r.index)?.reject(new NodeError('UNAVAILABLE', 'outcome unknown: the entry was replaced in this replica\'s log', false));
      this.pending.set(r.index, { term: r.term, deadline: performance.now() + timeoutMs, resolve, reject });
    });
  }

  tick(): void {
    if (!this.raw.isQuiesced()) this.raw.tick();
    this.serveSnapshotWanted();
    if (this.pending.size === 0) return;
    const now = performance.now();
    for (const [index, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(index);
      p.reject(new NodeError('TIMEOUT', `meta command at log index ${index}: no outcome within the timeout`, false));
    }
  }

  issueReads(): void {
    // The map is read locally (see the header).
  }

  applyReady(rd: Ready): void {
    if (rd.softState && (rd.softState.role !== this.role || rd.softState.leader !== this.leader)) {
      this.role = rd.softState.role;
      this.leader = rd.softState.leader;
      this.opts.onRoleChanged(this.role, this.leader);
    }
    const before = this.sm.mapVersion;
    if (rd.snapshot) {
      const snap = rd.snapshot;
      this.sm = snap.data.length > 0 ? MetaStateMachine.restore(snap.data) : new MetaStateMachine();
      this.applied = snap.metadata.index;
      for (const [i, p] of this.pending) {
        if (i > snap.metadata.index) continue;
        this.pending.delete(i);
        p.reject(new NodeError('UNAVAILABLE', 'meta command outcome unknown: the log was replaced by a snapshot', false));
      }
      this.opts.logger.info({ group: this.groupId, index: snap.metadata.index, version: this.sm.mapVersion }, 'installed meta snapshot');
    }
    if (rd.committedEntries.length > 0) this.applyEntries(rd.committedEntries);
    if (this.sm.mapVersion !== before || rd.snapshot) this.opts.onMapChanged(this.sm.state());
  }

  private applyEntries(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.index <= this.applied) continue;
      this.applied = e.index;
      let result: MetaResult | null = null;
      if (e.type === 'normal' && e.data.length > 0) result = this.sm.applyEntry(e.data);
      const p = this.pending.get(e.index);
      if (p === undefined) continue;
      this.pending.delete(e.index);
      if (p.term !== e.term || result === null) p.reject(new NodeError('NOT_LEADER', 'meta leadership changed: the command was not applied', true));
      else p.resolve(result);
    }
    if (this.applied - this.storage.snapshot().metadata.index >= META_SNAPSHOT_ENTRIES) {
      const prev = this.takeSnapshot();
      if (prev > 0 && prev >= this.storage.firstIndex()) void this.storage.compact(prev);
    }
  }

  protected snapshotData(): Uint8Array {
    return this.sm.snapshot();
  }

  failAll(err: NodeError): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
