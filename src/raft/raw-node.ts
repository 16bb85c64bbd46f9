/**
 * RawNode: the synchronous driver API around `Raft` (etcd's rawnode.go).
 * The driver loops: `if (hasReady()) { rd = ready(); persist rd.hardState,
 * rd.entries, rd.snapshot; send rd.messages; apply rd.committedEntries; serve
 * rd.readStates; advance(); }`. Exactly one Ready may be outstanding.
 */
import { Raft } from './raft.js';
import type { QuiesceBlocker } from './quiesce.js';
import type {
  ConfChange,
  ConfState,
  HardState,
  NodeId,
  ProposeResult,
  RaftConfig,
  RaftNodeApi,
  ReadIndexResult,
  Ready,
  Message,
  SoftState,
  Status,
  Storage,
} from './types.js';

interface Outstanding {
  readonly lastEntry: { readonly index: number; readonly term: number } | null;
  readonly snapshotIndex: number;
  readonly appliedTo: number;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export class RawNode implements RaftNodeApi {
  readonly id: NodeId;
  private readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private outstanding: Outstanding | null = null;

  constructor(config: RaftConfig, storage: Storage) {
    this.raft = new Raft(config, storage);
    this.id = this.raft.id;
    this.prevSoft = this.raft.softState();
    this.prevHard = storage.initialState().hardState;
  }

  tick(): void {
    this.raft.tick();
  }

  step(m: Message): void {
    this.raft.step(m);
  }

  campaign(): void {
    this.raft.hup('campaign');
  }

  propose(data: Uint8Array): ProposeResult {
    return this.raft.propose(data);
  }

  readIndex(context: string): ReadIndexResult {
    return this.raft.readIndex(context);
  }

  transferLeadership(to: NodeId): void {
    this.raft.transferLeadership(to);
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    return this.raft.proposeConfChange(cc);
  }

  /** Wakes a quiesced replica (a leader heartbeats again; a follower restarts its election timer and asks its leader to heartbeat). */
  unquiesce(): void {
    this.raft.unquiesce();
  }

  /** Follower: forget the leader (its node is suspected dead); wakes it if quiesced. */
  forgetLeader(): void {
    this.raft.forgetLeader();
  }

  /** The node's liveness signal: the node of peer `id` is down (or up again). A quiesced group may then leave a member there behind. */
  markPeerDown(id: NodeId, down: boolean): void {
    this.raft.markPeerDown(id, down);
  }

  /**
   * True once since a blank member (one added without any membership: it
   * must start from a snapshot) asked this leader for a snapshot while storage
   * held none. The driver should then create one (`createSnapshot`); the core
   * sends it at the member's next probe.
   */
  takeSnapshotWanted(): boolean {
    const w = this.raft.snapshotWanted;
    this.raft.snapshotWanted = false;
    return w;
  }

  /** A tick does nothing now: the driver may skip ticking this replica (re-check after every step, request or wake). */
  isQuiesced(): boolean {
    return this.raft.tickIsNoop();
  }

  /** Leader: why it does not quiesce now, or null (for metrics and tests; 'disabled' without config.quiesce). */
  quiesceBlocker(): QuiesceBlocker | null {
    return this.raft.quiesceBlocker();
  }

  /** The membership in use (as of the entries handed out so far): pass it to `createSnapshot` after `advance()`. */
  confState(): ConfState {
    return this.raft.confState();
  }

  hasReady(): boolean {
    const r = this.raft;
    if (r.needBroadcast && r.role === 'leader') return true;
    if (r.msgs.length > 0) return true;
    if (r.lead !== this.prevSoft.leader || r.role !== this.prevSoft.role) return true;
    const hs = this.prevHard;
    if (r.term !== hs.term || r.vote !== hs.vote || r.log.committed !== hs.commit) return true;
    if (r.log.unstableEntries().length > 0 || r.log.unstableSnapshot() !== null) return true;
    if (r.log.hasNextCommittedEntries()) return true;
    return r.hasReadStates(r.log.applying);
  }

  ready(): Ready {
    if (this.outstanding) throw new Error('raft: ready() called again before advance()');
    const r = this.raft;
    // Committed entries are taken first: their conf changes take effect now (the
    // core applies them as it hands them out), which may make a removed leader step
    // down or a leader append its leave-joint entry, both reflected in this Ready.
    const committedEntries = r.log.nextCommittedEntries(Number.POSITIVE_INFINITY);
    let confState: ConfState | null = r.applyCommittedConf(committedEntries);
    if (r.restoredConf) {
      r.restoredConf = false;
      confState = r.confState();
    }
    r.log.acceptApplying(lastIndexOf(committedEntries, r.log.applying));
    r.maybeAutoLeave();
    r.flush();
    const ss = r.softState();
    const softState = ss.leader !== this.prevSoft.leader || ss.role !== this.prevSoft.role ? ss : null;
    const hs = r.hardState();
    const hardState = sameHardState(hs, this.prevHard) ? null : hs;
    const entries = r.log.unstableEntries().slice();
    const snapshot = r.log.unstableSnapshot();
    let appliedTo = r.log.applying;
    if (snapshot) appliedTo = Math.max(appliedTo, snapshot.metadata.index);
    const lastCommitted = committedEntries[committedEntries.length - 1];
    if (lastCommitted) appliedTo = Math.max(appliedTo, lastCommitted.index);
    const readStates = r.takeReadStates(appliedTo);
    const messages = r.msgs;
    r.msgs = [];
    const mustSync =
      entries.length > 0 ||
      snapshot !== null ||
      (hardState !== null && (hardState.term !== this.prevHard.term || hardState.vote !== this.prevHard.vote));

    const lastEntry = entries[entries.length - 1];
    this.outstanding = {
      lastEntry: lastEntry ? { index: lastEntry.index, term: lastEntry.term } : null,
      snapshotIndex: snapshot ? snapshot.metadata.index : 0,
      appliedTo,
    };
    r.log.acceptApplying(appliedTo);
    r.reduceUncommittedSize(committedEntries);
    this.prevSoft = ss;
    if (hardState) this.prevHard = hardState;
    const rd: Ready = { softState, hardState, entries, snapshot, messages, committedEntries, readStates, mustSync };
    return confState ? { ...rd, confState } : rd;
  }

  advance(): void {
    const o = this.outstanding;
    if (!o) return;
    this.outstanding = null;
    const log = this.raft.log;
    if (o.snapshotIndex > 0) log.stableSnapTo(o.snapshotIndex);
    if (o.lastEntry) log.stableTo(o.lastEntry.index, o.lastEntry.term);
    log.appliedTo(o.appliedTo);
    this.raft.onPersisted();
  }

  status(): Status {
    const r = this.raft;
    return {
      id: r.id,
      role: r.role,
      term: r.term,
      vote: r.vote,
      leader: r.lead,
      commit: r.log.committed,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      progress: r.role === 'leader' ? r.progressStatus() : undefined,
      leadTransferee: r.leadTransferee,
      pendingReads: r.pendingReadCount(),
      uncommittedBytes: r.uncommittedSize,
      conf: r.confState(),
      quiesced: r.quiescence.quiesced,
    };
  }
}

function lastIndexOf(ents: readonly { readonly index: number }[], dflt: number): number {
  const last = ents[ents.length - 1];
  return last ? Math.max(last.index, dflt) : dflt;
}
