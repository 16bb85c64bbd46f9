/**
 * RawNode: the synchronous driver API around `Raft` (etcd's rawnode.go).
 * The driver loops: `if (hasReady()) { rd = ready(); persist rd.hardState,
 * rd.entries, rd.snapshot; send rd.messages; apply rd.committedEntries; serve
 * rd.readStates; advance(); }`.
 *
 * Several Readies may be outstanding (etcd's async storage writes; decision 27):
 * a driver may call `ready()` again while earlier Readies are being written,
 * and `advance()` acknowledges the oldest one, so it is called once per Ready,
 * in order, after that Ready's write is durable. Each Ready hands out only
 * entries no earlier Ready handed out (after a truncation, the replacements).
 * `hasReady()` stays false while an outstanding Ready carries a snapshot or a
 * term/vote change, and while a snapshot waits with anything outstanding: those
 * are rare, and serialising them keeps every message of a new term behind the
 * term's durable record. A later Ready's committed entries may include entries
 * of an earlier Ready not yet durable here: committed means durable on a quorum.
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

/**
 * Message types a driver may send before its Ready's write is durable, when
 * that Ready changes neither term nor vote: they claim nothing about the
 * sender's disk. Heartbeats and ReadIndex traffic say nothing about the log;
 * a leader's `app` is safe because the core counts the leader's own copy only
 * once `advance()` reports it persisted (decision 3); vote and pre-vote
 * requests ask, they promise nothing. Everything else (append answers, vote
 * answers, snapshots) waits until every write handed out before it is
 * durable. The node and the simulation's async disk both follow this rule.
 */
export const SEND_BEFORE_PERSIST: ReadonlySet<Message['type']> = new Set<Message['type']>([
  'heartbeat',
  'heartbeat-resp',
  'read-index',
  'read-index-resp',
  'app',
  'vote',
  'pre-vote',
]);

/**
 * Of SEND_BEFORE_PERSIST, the types that may leave at once even when their
 * Ready changes term or vote: a candidate's vote requests (etcd raft sends
 * them before its own term and vote are durable, too). They claim nothing: the
 * candidate counts its own vote, but a Ready with a term/vote change is a
 * barrier, so nothing it does as leader leaves before that vote is durable; if
 * it crashes first, it restarts at the old term and any vote it casts then in
 * the new term is its first there. Holding them cost every election round a
 * disk write, and without PreVote the collisions that invites stalled
 * elections in the simulation (seeds 100803, 101468 of the async disk).
 */
export const SEND_BEFORE_PERSIST_ANY_TERM: ReadonlySet<Message['type']> = new Set<Message['type']>(['vote', 'pre-vote']);

/**
 * Whether a message of `type` may leave before the write of its Ready (and
 * every earlier one) is durable; `termStable`: the Ready changes neither term
 * nor vote.
 */
export function sendsBeforePersist(type: Message['type'], termStable: boolean): boolean {
  return termStable ? SEND_BEFORE_PERSIST.has(type) : SEND_BEFORE_PERSIST_ANY_TERM.has(type);
}

interface Outstanding {
  readonly lastEntry: { readonly index: number; readonly term: number } | null;
  readonly snapshotIndex: number;
  readonly appliedTo: number;
  /** Carries a snapshot or a term/vote change: no further Ready until it is advanced. */
  readonly barrier: boolean;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export class RawNode implements RaftNodeApi {
  readonly id: NodeId;
  private readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  /** Readies handed out and not yet advanced, oldest first. */
  private readonly outstanding: Outstanding[] = [];
  /** How many of `outstanding` are barriers (see Outstanding.barrier). */
  private barriers = 0;

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

  /** Readies handed out and not yet advanced. */
  get outstandingReadies(): number {
    return this.outstanding.length;
  }

  hasReady(): boolean {
    const r = this.raft;
    if (this.barriers > 0) return false;
    if (this.outstanding.length > 0 && r.log.snapshotToHandOut() !== null) return false;
    if (r.needBroadcast && r.role === 'leader') return true;
    if (r.msgs.length > 0) return true;
    if (r.lead !== this.prevSoft.leader || r.role !== this.prevSoft.role) return true;
    const hs = this.prevHard;
    if (r.term !== hs.term || r.vote !== hs.vote || r.log.committed !== hs.commit) return true;
    if (r.log.hasEntriesToHandOut() || r.log.snapshotToHandOut() !== null) return true;
    if (r.log.hasNextCommittedEntries()) return true;
    return r.hasReadStates(r.log.applying);
  }

  ready(): Ready {
    const r = this.raft;
    if (this.barriers > 0) throw new Error('raft: ready() called before advance() of a Ready with a snapshot or a term/vote change');
    if (this.outstanding.length > 0 && r.log.snapshotToHandOut() !== null) throw new Error('raft: ready() with a snapshot pending called before advance()');
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
    const entries = r.log.entriesToHandOut();
    const snapshot = r.log.snapshotToHandOut();
    r.log.acceptInProgress();
    let appliedTo = r.log.applying;
    if (snapshot) appliedTo = Math.max(appliedTo, snapshot.metadata.index);
    const lastCommitted = committedEntries[committedEntries.length - 1];
    if (lastCommitted) appliedTo = Math.max(appliedTo, lastCommitted.index);
    const readStates = r.takeReadStates(appliedTo);
    const messages = r.msgs;
    r.msgs = [];
    const termOrVote = hardState !== null && (hardState.term !== this.prevHard.term || hardState.vote !== this.prevHard.vote);
    const mustSync = entries.length > 0 || snapshot !== null || termOrVote;

    const lastEntry = entries[entries.length - 1];
    const barrier = snapshot !== null || termOrVote;
    this.outstanding.push({
      lastEntry: lastEntry ? { index: lastEntry.index, term: lastEntry.term } : null,
      snapshotIndex: snapshot ? snapshot.metadata.index : 0,
      appliedTo,
      barrier,
    });
    if (barrier) this.barriers++;
    r.log.acceptApplying(appliedTo);
    r.reduceUncommittedSize(committedEntries);
    this.prevSoft = ss;
    if (hardState) this.prevHard = hardState;
    const rd: Ready = { softState, hardState, entries, snapshot, messages, committedEntries, readStates, mustSync };
    return confState ? { ...rd, confState } : rd;
  }

  /** Acknowledges the oldest outstanding Ready: its write is durable (and its entries applied). */
  advance(): void {
    const o = this.outstanding.shift();
    if (!o) return;
    if (o.barrier) this.barriers--;
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
