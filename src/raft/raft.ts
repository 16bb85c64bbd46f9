/**
 * The Raft state machine (one replica of one group). Pure and deterministic:
 * it reacts to `step(message)`, `tick()` and the local requests, and queues
 * outgoing messages; `RawNode` turns its state into `Ready` batches.
 *
 * Roles: follower ─timeout─▶ pre-candidate ─pre-votes won─▶ candidate ─votes won─▶ leader.
 * Any message with a higher term (except pre-vote traffic) turns us into a follower
 * of that term. Pre-votes are sent at term+1 without changing our term.
 *
 * Decisions:
 *  - No forwarding: a proposal to a non-leader fails fast with NOT_LEADER and the
 *    known leader; the layer above retries there.
 *  - Persist before send: messages are only handed out in a Ready together with
 *    (or after) the hard state and entries they depend on.
 *  - The leader's own match index moves only when the driver reports its entries
 *    persisted (advance()), so the leader never counts an unpersisted copy.
 *  - Commit by counting only for entries of the current term (Figure 8); a new
 *    leader appends an empty no-op entry.
 *  - Leader stickiness: with CheckQuorum or PreVote, a (pre-)vote request with a
 *    higher term is ignored while we heard from a leader within the (minimum)
 *    election timeout, unless it comes from a leadership transfer.
 *  - ReadIndex: the leader queues reads until it has committed an entry of its term,
 *    then confirms leadership with one heartbeat round per batch of reads (reads
 *    arriving during a round join the next). A confirmed read is released (in
 *    Ready.readStates) once applied ≥ its index, counting the committed entries of
 *    the same Ready. Followers ask the leader (MsgReadIndex) and release the same way.
 *    A leader that steps down drops its unconfirmed reads (callers time out and retry).
 *  - Proposals are appended at once but broadcast when the Ready is built, so all
 *    proposals between two Readies go out batched (up to maxSizePerMsg per append).
 *  - Snapshots: a follower whose next entries are compacted gets the storage snapshot;
 *    the progress waits in 'snapshot' state until the follower acks it, or re-probes
 *    after an election timeout (the snapshot may have been lost).
 *  - Leader stickiness ignores (does not answer) the (pre-)vote requests, as etcd does.
 *  - Membership: joint consensus (confchange.ts). A conf entry takes effect when the
 *    core hands it out in Ready.committedEntries (applyCommittedConf); every quorum
 *    (commit, votes, ReadIndex, CheckQuorum) is the joint one. One change at a time;
 *    the leader leaves a joint config itself; a leader outside C_new takes no
 *    proposals and hands leadership to a voter of C_new once C_new is in effect.
 *  - Quiescence (opt-in, quiesce.ts): an idle leader sends one acked round of quiesce
 *    heartbeats and stops heartbeating; quiesced followers stop their election timers.
 *    Only timers change; activity wakes the group, the driver's liveness signal wakes
 *    followers of a dead leader (forgetLeader / unquiesce).
 */
import { CompactedError, NONE } from './types.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  MsgApp,
  MsgAppResp,
  MsgHeartbeat,
  MsgHeartbeatResp,
  MsgSnap,
  MsgVote,
  NodeId,
  ProgressStatus,
  ProposeResult,
  RaftConfig,
  ReadIndexResult,
  ReadState,
  Role,
  Snapshot,
  SoftState,
  Storage,
} from './types.js';
import { RaftLog, entriesBytes } from './log.js';
import { Progress } from './progress.js';
import { jointCommittedIndex, jointVoteResult } from './quorum.js';
import type { JointConfig, VoteResult } from './quorum.js';
import {
  applyConfChange,
  decodeConfChange,
  encodeConfChange,
  isVoter,
  replayConfChanges,
  sameConf,
  validateConfChange,
  LEAVE_JOINT,
} from './confchange.js';
import { ReadOnly } from './read-only.js';
import type { ReadRequest } from './read-only.js';
import { Quiescence, WAKE_CONTEXT, isQuiesceContext, leaderQuiesceBlocker, quiesceContext } from './quiesce.js';
import type { QuiesceBlocker } from './quiesce.js';

type CampaignKind = 'pre-election' | 'election' | 'transfer';

const EMPTY = new Uint8Array(0);

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: Role = 'follower';
  readonly log: RaftLog;

  /** Voters (C_new during a joint change). */
  voters: NodeId[] = [];
  /** C_old during a joint change, else empty. */
  votersOutgoing: NodeId[] = [];
  learners: NodeId[] = [];
  /** Joint configuration to be left automatically by the leader. */
  autoLeave = false;
  /** Leader: index of the last conf entry it appended (or its last index when elected); no new change until applied past it. */
  pendingConfIndex = 0;
  readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();

  /** Index of the last conf entry (or snapshot) whose membership is in effect. */
  private confIndex = 0;
  /** A snapshot installed since the last Ready changed the membership (Ready.confState). */
  restoredConf = false;
  /** Outgoing messages, handed out by the next Ready. */
  msgs: Message[] = [];
  /** Confirmed reads waiting until applied reaches their index. */
  confirmedReads: ReadState[] = [];

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  leadTransferee: NodeId = NONE;
  /**
   * Not a voter ourselves, we refused a member's (pre-)vote only because its log
   * is behind ours: at our next election timeout we campaign once to hand over
   * again (see handOverAgain).
   */
  private handOverWanted = false;
  /** Leader: reads received before it committed an entry of its term. */
  private pendingReadRequests: ReadRequest[] = [];
  private readonly readOnly = new ReadOnly();
  /** Leader: bytes of entry data appended but not yet committed. */
  uncommittedSize = 0;
  /** Leader: appends/commit must be broadcast when the next Ready is built. */
  needBroadcast = false;
  /** A blank member asked for a snapshot and storage has none: the driver should create one (RawNode.takeSnapshotWanted). */
  snapshotWanted = false;

  private readonly cfg: RaftConfig;
  /** Idle-group quiescence (quiesce.ts); inert unless `cfg.quiesce`. */
  readonly quiescence: Quiescence;
  private readonly commitScratch: number[] = [];
  private readonly matchOf = (id: NodeId): number => this.progress.get(id)?.match ?? 0;

  constructor(cfg: RaftConfig, storage: Storage) {
    if (cfg.id === NONE) throw new Error('raft: id must not be NONE (0)');
    if (cfg.heartbeatTick <= 0 || cfg.electionTick <= cfg.heartbeatTick) {
      throw new Error('raft: need 0 < heartbeatTick < electionTick');
    }
    this.cfg = cfg;
    this.id = cfg.id;
    this.quiescence = new Quiescence(cfg.quiesce === true);
    this.log = new RaftLog(storage, cfg.applied ?? 0);
    const { hardState, conf } = storage.initialState();
    const snapIndex = storage.firstIndex() - 1;
    if (hardState.commit > this.log.lastIndex()) {
      throw new Error(`raft: hard state commit ${hardState.commit} beyond last index ${this.log.lastIndex()}`);
    }
    this.log.committed = Math.max(hardState.commit, snapIndex);
    if (this.log.applied > this.log.committed) {
      // Applied entries are committed, even if the hard state's commit lags.
      if (this.log.applied > this.log.lastIndex()) throw new Error('raft: applied beyond the last index');
      this.log.committed = this.log.applied;
    }
    // `conf` is the membership as of the snapshot. The conf entries up to the
    // persisted commit index are replayed now, so the membership never goes back
    // across a restart (it was in effect before the crash: a conf entry is only
    // handed out in a Ready whose hard state already covers it). They are not
    // applied again when handed out once more in Ready.committedEntries.
    // (The log may keep entries behind the snapshot: replay from the snapshot's index.)
    let start = conf;
    const confBase = Math.max(snapIndex, storage.snapshot().metadata.index);
    this.confIndex = confBase;
    if (this.log.committed > confBase) {
      const ents = this.log.slice(confBase + 1, this.log.committed + 1, Number.POSITIVE_INFINITY);
      const confs = ents.filter((e) => e.type === 'conf');
      start = replayConfChanges(conf, confs.map((e) => e.data));
      const last = confs[confs.length - 1];
      if (last) this.confIndex = last.index;
    }
    this.applyConf(start);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.becomeFollower(this.term, NONE);
  }

  // ---------------------------------------------------------------- state

  softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private promotable(): boolean {
    return this.voters.includes(this.id) || this.votersOutgoing.includes(this.id);
  }

  /** The membership in use. */
  confState(): ConfState {
    const c: ConfState = { voters: [...this.voters], learners: [...this.learners] };
    if (this.votersOutgoing.length === 0) return c;
    return { ...c, votersOutgoing: [...this.votersOutgoing], autoLeave: this.autoLeave };
  }

  jointConfig(): JointConfig {
    return { incoming: this.voters, outgoing: this.votersOutgoing };
  }

  /** Every voter of either half (each once). */
  private allVoters(): NodeId[] {
    if (this.votersOutgoing.length === 0) return this.voters;
    const out = [...this.voters];
    for (const id of this.votersOutgoing) if (!out.includes(id)) out.push(id);
    return out;
  }

  private isMember(id: NodeId): boolean {
    return this.progress.has(id);
  }

  private applyConf(conf: ConfState): void {
    this.voters = [...conf.voters];
    this.votersOutgoing = [...(conf.votersOutgoing ?? [])];
    this.learners = [...conf.learners];
    this.autoLeave = this.votersOutgoing.length > 0 && (conf.autoLeave ?? false);
    const members = new Set<NodeId>([...this.voters, ...this.votersOutgoing, ...this.learners]);
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    const next = this.log.lastIndex() + 1;
    for (const id of members) {
      const pr = this.progress.get(id);
      if (pr) {
        pr.isLearner = !isVoter(conf, id);
        continue;
      }
      const fresh = this.newProgress(id, next);
      if (id === this.id) fresh.match = this.log.persistedLastIndex();
      fresh.recentActive = true; // a new member gets a grace period (and may be sent a snapshot at once)
      this.progress.set(id, fresh);
    }
  }

  private newProgress(id: NodeId, next: number): Progress {
    return new Progress(next, this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes, !this.voters.includes(id) && !this.votersOutgoing.includes(id));
  }

  private electionTimeout(): number {
    return this.cfg.electionTick;
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.cfg.electionTick + this.cfg.rng.int(this.cfg.electionTick);
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NONE;
    this.votes.clear();
    const next = this.log.lastIndex() + 1;
    for (const id of this.progress.keys()) {
      const fresh = this.newProgress(id, next);
      if (id === this.id) fresh.match = this.log.persistedLastIndex();
      this.progress.set(id, fresh);
    }
    this.readOnly.reset();
    this.pendingReadRequests = [];
    this.uncommittedSize = 0;
    this.needBroadcast = false;
    this.quiescence.reset();
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  private becomePreCandidate(): void {
    if (this.role === 'leader') throw new Error('raft: leader cannot become pre-candidate');
    // Neither term nor vote change: a pre-vote leaves no trace in the hard state.
    this.votes.clear();
    this.lead = NONE;
    this.role = 'pre-candidate';
    this.quiescence.reset();
  }

  private becomeCandidate(): void {
    if (this.role === 'leader') throw new Error('raft: leader cannot become candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    if (this.role === 'follower') throw new Error('raft: follower cannot become leader');
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    const self = this.progress.get(this.id);
    if (self) {
      self.becomeReplicate();
      self.match = this.log.persistedLastIndex();
      self.next = this.log.lastIndex() + 1;
      self.recentActive = true;
    }
    // No membership change until everything in our log, our no-op included, is
    // applied: a conf entry of an earlier term may be in it, and an entry of our
    // term must commit first (the known fix for single-server changes; with joint
    // consensus it keeps one change at a time).
    // The no-op: commits the new term (and so everything before it). Exempt from the cap.
    this.pendingConfIndex = this.appendEntries([{ term: this.term, index: 0, type: 'normal', data: EMPTY }]);
  }

  // ---------------------------------------------------------------- ticks

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else if (!this.quiescence.quiesced) this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed < this.randomizedElectionTimeout) return;
    if (this.promotable()) {
      this.electionElapsed = 0;
      this.hup('election-timeout');
    } else if (this.handOverWanted) {
      this.electionElapsed = 0;
      this.handOverAgain();
    }
  }

  /**
   * A node removed from the voters (it handed over when it left, handOverIfRemoved)
   * may still hold the longest log: a new leader's first entries reach followers
   * before its own disk has them, so if it crashes then, it comes back without
   * them — and, when it had not learned yet that the configuration without us was
   * committed, in the joint configuration, needing our vote, which our longer log
   * refuses, while we, no voter, never campaign: the group stalls for good
   * (simulation seed 101381). So, having refused a member for that reason, we
   * campaign once, as the removed leader we were: a majority of each voter set
   * elects us as it would anyone (we count no vote of our own), we replicate our
   * log, and hand over again. It changes who may campaign, not how votes are won.
   */
  private handOverAgain(): void {
    this.handOverWanted = false;
    if (this.role === 'leader' || this.hasUnappliedConf()) return;
    this.campaign(this.cfg.preVote ? 'pre-election' : 'election');
  }

  private tickHeartbeat(): void {
    if (this.quiescence.quiesced) {
      this.tickQuiesced();
      return;
    }
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout()) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, NONE);
        return;
      }
      if (this.leadTransferee !== NONE) this.leadTransferee = NONE; // transfer took too long: abort
      this.handOverIfRemoved();
    }
    for (const pr of this.progress.values()) if (pr.state === 'snapshot') pr.snapshotTicks++;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      if (!this.maybeQuiesce()) this.bcastHeartbeat(this.readOnly.pendingContext());
    }
  }

  /** CheckQuorum: did a majority talk to us since the last check? Resets the marks. */
  private quorumActive(): boolean {
    const active = new Map<NodeId, boolean>();
    for (const id of this.allVoters()) {
      const pr = this.progress.get(id);
      if (id === this.id || pr?.recentActive) active.set(id, true);
    }
    for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
    return jointVoteResult(this.jointConfig(), active) === 'won';
  }

  // ---------------------------------------------------------------- quiescence (quiesce.ts)

  /** Why this leader may not quiesce now (null: it may). */
  quiesceBlocker(): QuiesceBlocker | null {
    return leaderQuiesceBlocker(
      {
        isLeader: this.role === 'leader',
        committedCurrentTerm: this.committedCurrentTerm(),
        lastIndex: this.log.lastIndex(),
        committed: this.log.committed,
        applying: this.log.applying,
        pendingReads: this.pendingReadCount(),
        transferring: this.leadTransferee !== NONE,
        joint: this.votersOutgoing.length > 0,
        isVoter: this.voters.includes(this.id),
        members: this.progress,
        config: this.jointConfig(),
        self: this.id,
      },
      this.quiescence,
    );
  }

  /** Leader, at a heartbeat: quiesce if idle (sends the quiesce heartbeats instead). */
  private maybeQuiesce(): boolean {
    if (!this.quiescence.enabled || this.quiesceBlocker() !== null) return false;
    this.quiescence.startRound();
    this.sendQuiesceHeartbeats();
    return true;
  }

  /** Quiesced leader: no CheckQuorum, no election clock; quiesce heartbeats only to members that did not ack. */
  private tickQuiesced(): void {
    for (const pr of this.progress.values()) if (pr.state === 'snapshot') pr.snapshotTicks++; // a lost snapshot is still retried
    this.heartbeatElapsed++;
    if (this.heartbeatElapsed < this.cfg.heartbeatTick) return;
    this.heartbeatElapsed = 0;
    this.sendQuiesceHeartbeats();
  }

  private sendQuiesceHeartbeats(): void {
    const q = this.quiescence;
    const context = quiesceContext(q.round);
    const commit = this.log.committed;
    for (const [id, pr] of this.progress) {
      if (id === this.id || q.acked.has(id)) continue;
      // A lagging member (its node was reported down) is not told to quiesce: a plain
      // heartbeat, so that when it is back its answer makes us catch it up.
      if (pr.match < commit) this.send({ type: 'heartbeat', from: this.id, to: id, term: this.term, commit: pr.match, context: '' });
      else this.send({ type: 'heartbeat', from: this.id, to: id, term: this.term, commit, context });
    }
  }

  /** Follower, on a quiesce heartbeat (after the ordinary handling): quiesce if our log ends at its commit index. */
  private maybeQuiesceFollower(m: MsgHeartbeat): boolean {
    if (!this.quiescence.enabled || this.role !== 'follower' || this.lead !== m.from) return false;
    const commit = this.log.committed;
    if (commit !== m.commit || this.log.lastIndex() !== commit) return false;
    this.quiescence.quiesced = true;
    return true;
  }

  /** A message reached a quiesced replica (before the term rules): wake it if it shows activity. */
  private wakeOnMessage(m: Message): void {
    if (m.term < this.term) return; // stale: answered with our term and dropped
    if (this.role === 'leader') {
      // Someone campaigns (it does not hear us) or wants a read: heartbeat again.
      // (Wake requests and acks are handled in stepLeader; a higher term deposes us.)
      if (m.type === 'vote' || m.type === 'pre-vote' || m.type === 'read-index') this.wake(false);
      return;
    }
    if (m.type === 'vote' || m.type === 'pre-vote') {
      this.wake(true); // a campaign: tell our leader, and let the lease rule decide
      return;
    }
    if (m.term > this.term) return; // a new term: becomeFollower wakes us
    if (m.from !== this.lead) {
      this.wake(true);
      return;
    }
    if (!this.carriesNews(m)) return;
    // Entries beyond our log: the leader is awake, and cannot quiesce again before
    // we ack them (it needs every match at its last index), so no need to wake it.
    const last = m.type === 'app' ? m.entries[m.entries.length - 1] : undefined;
    this.wake(last === undefined || last.index <= this.log.lastIndex());
  }

  /** From our leader: does the message show it is active (not a late or repeated heartbeat)? */
  private carriesNews(m: Message): boolean {
    switch (m.type) {
      case 'heartbeat':
        if (isQuiesceContext(m.context)) return false;
        return m.context !== '' || m.commit > this.log.committed;
      case 'app':
        return m.entries.length > 0 || m.commit > this.log.committed;
      default:
        return true;
    }
  }

  /**
   * Leaves quiescence. A follower restarts its randomized election timer (its
   * lease on the leader lasts one election timeout from now) and, with
   * `tellLeader`, asks its leader to heartbeat again. A leader restarts its
   * CheckQuorum interval counting every member as active (nobody could be heard
   * during the quiet) and must hear from a quorum before it quiesces again.
   */
  private wake(tellLeader: boolean): void {
    if (!this.quiescence.quiesced) return;
    this.electionElapsed = 0;
    if (this.role === 'leader') {
      this.quiescence.wakeLeader();
      this.heartbeatElapsed = 0;
      for (const pr of this.progress.values()) pr.recentActive = true;
      return;
    }
    this.quiescence.quiesced = false;
    this.resetRandomizedElectionTimeout();
    if (tellLeader && this.lead !== NONE) {
      this.send({ type: 'heartbeat-resp', from: this.id, to: this.lead, term: this.term, context: WAKE_CONTEXT });
    }
  }

  /** Quiesced leader after an ack: wake if the group is no longer idle (e.g. an append was rejected). */
  private wakeIfNoLongerIdle(): void {
    if (this.quiescence.quiesced && this.role === 'leader' && this.quiesceBlocker() !== null) this.wake(false);
  }

  /** Quiet: a tick does nothing now (a quiesced follower, or a quiesced leader all of whose members acked). */
  tickIsNoop(): boolean {
    const q = this.quiescence;
    if (!q.quiesced) return false;
    if (this.role !== 'leader') return true;
    for (const id of this.progress.keys()) if (id !== this.id && !q.acked.has(id)) return false;
    return true;
  }

  /**
   * The driver's liveness signal about a peer node: while `down`, a member there
   * may lag behind and the group still quiesce. Reported up again, a lagging
   * member wakes a quiesced leader (which then catches it up).
   */
  markPeerDown(id: NodeId, down: boolean): void {
    if (down) this.quiescence.down.add(id);
    else if (this.quiescence.down.delete(id)) this.wakeIfNoLongerIdle();
  }

  /** The driver's wake-up (e.g. a peer node came back, or went silent): leader heartbeats again, follower restarts its timer. */
  unquiesce(): void {
    this.wake(true);
  }

  /**
   * Follower: forget the leader (etcd's ForgetLeader), waking if quiesced. Call it
   * when the leader's node is suspected dead: a leaderless follower grants
   * (pre-)votes at once (no lease) and campaigns after its randomized timeout;
   * it follows the leader again as soon as it hears from it.
   */
  forgetLeader(): void {
    if (this.role !== 'follower') return;
    this.wake(false);
    this.lead = NONE;
  }

  // ---------------------------------------------------------------- elections

  /** Start an election (pre-vote first when enabled, unless a transfer asked for it). */
  hup(reason: 'election-timeout' | 'campaign' | 'transfer'): void {
    if (this.role === 'leader') return;
    if (this.quiescence.quiesced) this.wake(true);
    if (!this.promotable()) return;
    // A committed membership change not yet in effect: campaigning under the old
    // membership could win with the wrong quorum (etcd refuses the same way).
    if (this.hasUnappliedConf()) return;
    if (reason === 'transfer') this.campaign('transfer');
    else if (this.cfg.preVote) this.campaign('pre-election');
    else this.campaign('election');
  }

  private campaign(kind: CampaignKind): void {
    let voteType: 'vote' | 'pre-vote';
    let term: number;
    if (kind === 'pre-election') {
      this.becomePreCandidate();
      voteType = 'pre-vote';
      term = this.term + 1; // the term we would campaign in; ours does not change
    } else {
      this.becomeCandidate();
      voteType = 'vote';
      term = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      // Single voter: won at once.
      if (kind === 'pre-election') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const id of this.allVoters()) {
      if (id === this.id) continue;
      this.send({ type: voteType, from: this.id, to: id, term, index, logTerm, transfer: kind === 'transfer' });
    }
  }

  private poll(id: NodeId, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return jointVoteResult(this.jointConfig(), this.votes);
  }

  // ---------------------------------------------------------------- step

  step(m: Message): void {
    if (m.to !== this.id || m.from === this.id) return;
    if (this.progress.size > 0 && !this.isMember(m.from) && this.ignoreNonMember(m)) {
      // Not answered, but with no leader we still move to its term: a node that stays
      // behind campaigns in terms whose votes are already cast (found by the fuzz test).
      if (m.type === 'vote' && m.term > this.term && this.lead === NONE && this.role !== 'leader') this.becomeFollower(m.term, NONE);
      return;
    }
    if (this.quiescence.quiesced) this.wakeOnMessage(m);
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'pre-vote') {
        const inLease =
          (this.cfg.checkQuorum || this.cfg.preVote) &&
          this.lead !== NONE &&
          this.electionElapsed < this.electionTimeout();
        if (inLease && !m.transfer) return; // leader stickiness: we have a live leader
      }
      if (m.type === 'pre-vote') {
        // Never change our term in response to a pre-vote.
      } else if (m.type === 'pre-vote-resp' && !m.reject) {
        // A granted pre-vote carries the term we would campaign in; the poll decides.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if (m.type === 'heartbeat' || m.type === 'app') {
        // A stale leader (or a node back from a partition): tell it our term so it
        // steps down; otherwise it could keep its followers from electing anyone.
        // Always (not only with CheckQuorum/PreVote as in etcd): after membership
        // changes our vote requests may never reach that leader, so this answer is
        // the only way it learns of our term (found by the membership fuzz test).
        this.send({ type: 'app-resp', from: this.id, to: m.from, term: this.term, index: 0, reject: false, rejectHint: 0, logTerm: 0 });
      } else if (m.type === 'pre-vote' || m.type === 'vote') {
        // Reject with our term so a candidate at a stale term catches up (as in the
        // paper; etcd answers only pre-votes). After membership changes a node with a
        // stale configuration may keep raising its term without ever asking the
        // candidates that need its vote: this answer is how they learn its term.
        const type = m.type === 'vote' ? 'vote-resp' : 'pre-vote-resp';
        this.send({ type, from: this.id, to: m.from, term: this.term, reject: true });
      }
      return;
    }

    if (m.type === 'vote' || m.type === 'pre-vote') {
      this.handleVote(m);
      return;
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        return;
      case 'candidate':
      case 'pre-candidate':
        this.stepCandidate(m);
        return;
      case 'follower':
        this.stepFollower(m);
        return;
    }
  }

  /**
   * A node outside our configuration (e.g. removed, and not aware of it) must not
   * disrupt us: its (pre-)vote requests are ignored unless its log is at least as
   * up to date as ours (then it may be a member of a configuration we have not
   * applied yet, and ignoring it could block every election), and so is any other
   * message of a higher term except a leader's (a new leader may likewise be in a
   * configuration we have not applied yet).
   */
  private ignoreNonMember(m: Message): boolean {
    if (m.type === 'vote' || m.type === 'pre-vote') return !this.log.isUpToDate(m.index, m.logTerm);
    if (m.term > this.term) return !(m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap');
    return false;
  }

  private handleVote(m: MsgVote): void {
    const respType = m.type === 'vote' ? 'vote-resp' : 'pre-vote-resp';
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === 'pre-vote' && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // The granted answer carries the candidate's term. A real vote is recorded
      // now; the hard state with it leaves in the same Ready as this answer.
      this.send({ type: respType, from: this.id, to: m.from, term: m.term, reject: false });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, from: this.id, to: m.from, term: this.term, reject: true });
      if (!this.promotable() && this.isMember(m.from) && !this.log.isUpToDate(m.index, m.logTerm)) this.handOverWanted = true;
      if (m.type === 'vote' && this.role === 'candidate' && m.term === this.term && this.log.isUpToDate(m.index, m.logTerm)) {
        // We would have voted for it but voted for ourselves. Give it the next try:
        // restart our election timer. Otherwise a candidate that cannot win (a stale
        // configuration, a log behind) and whose vote requests never reach this
        // candidate can keep raising the term just before it retries, every time
        // (seed 10452, membership + compaction, PreVote off). Timers only: safe.
        this.electionElapsed = 0;
        this.resetRandomizedElectionTimeout();
      }
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'app-resp':
        this.quiescence.hearFrom(m.from);
        this.handleAppendResponse(m);
        this.wakeIfNoLongerIdle();
        return;
      case 'heartbeat-resp':
        if (m.context === WAKE_CONTEXT) this.wake(false);
        this.quiescence.hearFrom(m.from);
        if (isQuiesceContext(m.context)) this.quiescence.ack(m.from, m.context);
        this.handleHeartbeatResponse(m);
        this.wakeIfNoLongerIdle();
        return;
      case 'read-index':
        if (!this.progress.has(m.from)) return;
        this.handleReadRequest({ context: m.context, from: m.from });
        return;
      case 'vote':
      case 'pre-vote':
      case 'vote-resp':
      case 'pre-vote-resp':
      case 'app':
      case 'heartbeat':
      case 'snap':
      case 'read-index-resp':
      case 'timeout-now':
        return; // nothing for a leader to do (an 'app' at our own term cannot come from another leader)
    }
  }

  private stepCandidate(m: Message): void {
    const myRespType = this.role === 'pre-candidate' ? 'pre-vote-resp' : 'vote-resp';
    switch (m.type) {
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'vote-resp':
      case 'pre-vote-resp': {
        if (m.type !== myRespType) return;
        const result = this.poll(m.from, !m.reject);
        if (result === 'won') {
          if (this.role === 'pre-candidate') this.campaign('election');
          else {
            this.becomeLeader();
            this.needBroadcast = true;
          }
        } else if (result === 'lost') {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      case 'vote':
      case 'pre-vote':
      case 'app-resp':
      case 'heartbeat-resp':
      case 'read-index':
      case 'read-index-resp':
      case 'timeout-now':
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'timeout-now':
        this.hup('transfer');
        return;
      case 'read-index-resp':
        this.confirmedReads.push({ index: m.index, context: m.context });
        return;
      case 'read-index': // no forwarding between followers
      case 'vote':
      case 'pre-vote':
      case 'vote-resp':
      case 'pre-vote-resp':
      case 'app-resp':
      case 'heartbeat-resp':
        return;
    }
  }

  // ---------------------------------------------------------------- follower side of replication

  private handleAppend(m: MsgApp): void {
    if (m.index < this.log.committed) {
      this.sendAppResp(m.from, this.log.committed);
      return;
    }
    if (m.index === 0 && m.entries.length > 0 && this.progress.size === 0) {
      // A blank node (no membership at all) cannot rebuild the membership from the
      // log alone (the bootstrap membership is not in it): it waits for a snapshot.
      // Reject "index 0", which a normal log always matches: the leader sends one.
      this.send({ type: 'app-resp', from: this.id, to: m.from, term: this.term, index: 0, reject: true, rejectHint: 0, logTerm: 0 });
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== null) {
      this.sendAppResp(m.from, lastNew);
      return;
    }
    // Reject with a hint: the last index at which our log could match, given the
    // leader's term at m.index (fast backtracking).
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({
      type: 'app-resp',
      from: this.id,
      to: m.from,
      term: this.term,
      index: m.index,
      reject: true,
      rejectHint: hint.index,
      logTerm: hint.term,
    });
  }

  private sendAppResp(to: NodeId, index: number): void {
    this.send({ type: 'app-resp', from: this.id, to, term: this.term, index, reject: false, rejectHint: 0, logTerm: 0 });
  }

  private handleHeartbeat(m: MsgHeartbeat): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    let context = m.context;
    if (isQuiesceContext(context) && !this.maybeQuiesceFollower(m)) context = ''; // not quiet: an ordinary answer
    this.send({ type: 'heartbeat-resp', from: this.id, to: m.from, term: this.term, context });
  }

  private handleSnapshot(m: MsgSnap): void {
    const s = m.snapshot;
    if (this.restore(s)) this.sendAppResp(m.from, this.log.lastIndex());
    else this.sendAppResp(m.from, this.log.committed);
  }

  /** Installs a snapshot unless our log already has it (then only fast-forward commit). */
  private restore(s: Snapshot): boolean {
    const { index, term } = s.metadata;
    if (index <= this.log.committed) return false;
    if (this.role !== 'follower') return false;
    if (this.log.matchTerm(index, term)) {
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(s);
    this.applyConf(s.metadata.conf);
    this.confIndex = index;
    this.restoredConf = true;
    return true;
  }

  // ---------------------------------------------------------------- leader side of replication

  private handleAppendResponse(m: MsgAppResp): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (m.reject) {
      if (m.index === 0) {
        // A blank node asks for a snapshot (see handleAppend); without one yet, ask the
        // driver for one (snapshotWanted) and retry on the next heartbeat.
        if (pr.state !== 'snapshot' && this.log.snapshot().metadata.index > 0) this.sendSnapshot(m.from, pr);
        else {
          pr.probeSent = true;
          if (pr.state !== 'snapshot') this.snapshotWanted = true;
        }
        return;
      }
      let nextProbe = m.rejectHint;
      if (m.logTerm > 0) nextProbe = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppendLoop(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) {
      if (wasPaused && !pr.isPaused()) this.sendAppendLoop(m.from);
      return;
    }
    switch (pr.state) {
      case 'probe':
        pr.becomeReplicate();
        break;
      case 'snapshot':
        if (pr.match >= pr.pendingSnapshot) {
          pr.becomeProbe();
          pr.becomeReplicate();
        }
        break;
      case 'replicate':
        pr.inflights.freeLE(m.index);
        break;
    }
    if (this.maybeCommit()) this.afterCommit();
    this.sendAppendLoop(m.from, false);
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private handleHeartbeatResponse(m: MsgHeartbeatResp): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    pr.probeSent = false;
    // A snapshot unanswered for an election timeout may be lost: probe again (which resends it if still needed).
    if (pr.state === 'snapshot' && pr.snapshotTicks >= this.electionTimeout()) pr.becomeProbe();
    // A full window may hold lost appends: let one more through; a gap makes the
    // follower reject it, and the leader falls back to probing.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppendLoop(m.from);
    if (m.context !== '') {
      const round = this.readOnly.recvAck(m.from, m.context, this.jointConfig());
      if (round) this.finishReadRound(round.requests, round.index);
    }
  }

  /** Leader: advance commit to what a majority of voters (by persisted match) holds, if of this term. */
  private maybeCommit(): boolean {
    const mci = jointCommittedIndex(this.jointConfig(), this.matchOf, this.commitScratch);
    return this.log.maybeCommit(mci, this.term);
  }

  private afterCommit(): void {
    this.needBroadcast = true; // tell followers the new commit index
    if (this.pendingReadRequests.length > 0 && this.committedCurrentTerm()) {
      const reqs = this.pendingReadRequests;
      this.pendingReadRequests = [];
      for (const r of reqs) this.handleReadRequest(r);
    }
  }

  private committedCurrentTerm(): boolean {
    return this.log.zeroTermOnError(this.log.committed) === this.term;
  }

  /** Sends appends to `to` while it is not paused and there is something to send (pipelining). */
  private sendAppendLoop(to: NodeId, sendIfEmpty = true): void {
    let first = sendIfEmpty;
    while (this.maybeSendAppend(to, first)) first = false;
  }

  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    if (to === this.id) return false;
    const pr = this.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    let maxBytes = this.cfg.maxSizePerMsg;
    if (pr.state === 'replicate' && this.cfg.maxInflightBytes > 0) {
      // Keep the bytes in flight within the window (at least one entry always goes).
      maxBytes = Math.min(maxBytes, Math.max(0, this.cfg.maxInflightBytes - pr.inflights.totalBytes));
    }
    let prevTerm: number;
    let ents: Entry[];
    try {
      prevTerm = this.log.term(prevIndex);
      ents = this.log.entriesFrom(pr.next, maxBytes === 0 ? 1 : maxBytes);
    } catch (err) {
      if (err instanceof CompactedError) return this.sendSnapshot(to, pr);
      throw err;
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    const last = ents[ents.length - 1];
    this.send({
      type: 'app',
      from: this.id,
      to,
      term: this.term,
      index: prevIndex,
      logTerm: prevTerm,
      entries: ents,
      commit: this.log.committed,
    });
    pr.sentEntries(last ? last.index : prevIndex, ents.length, entriesBytes(ents));
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    const snapshot = this.log.snapshot();
    if (snapshot.metadata.index === 0) throw new Error('raft: need a snapshot but storage has none');
    this.send({ type: 'snap', from: this.id, to, term: this.term, snapshot });
    pr.becomeSnapshot(snapshot.metadata.index);
    return true;
  }

  /** Sends pending appends (and the commit index) to every follower. */
  bcastAppend(): void {
    for (const id of this.progress.keys()) {
      if (id !== this.id) this.sendAppendLoop(id);
    }
  }

  private bcastHeartbeat(context: string): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      // Never tell a follower to commit beyond what it is known to hold.
      const commit = Math.min(pr.match, this.log.committed);
      this.send({ type: 'heartbeat', from: this.id, to: id, term: this.term, commit, context });
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'timeout-now', from: this.id, to, term: this.term });
  }

  /** Builds the broadcast deferred by proposals and commits (called when a Ready is built). */
  flush(): void {
    if (!this.needBroadcast) return;
    this.needBroadcast = false;
    if (this.role === 'leader') this.bcastAppend();
  }

  /** The driver persisted everything up to the last Ready (called from advance()). */
  onPersisted(): void {
    if (this.role !== 'leader') return;
    const self = this.progress.get(this.id);
    if (!self) return;
    if (self.maybeUpdate(this.log.persistedLastIndex()) && this.maybeCommit()) this.afterCommit();
  }

  // ---------------------------------------------------------------- local requests

  propose(data: Uint8Array): ProposeResult {
    if (this.quiescence.quiesced && this.role !== 'leader') this.wake(true);
    if (this.role !== 'leader') return { ok: false, reason: 'NOT_LEADER', leader: this.lead };
    if (this.leadTransferee !== NONE) return { ok: false, reason: 'DROPPED', leader: this.lead };
    if (!this.progress.has(this.id)) return { ok: false, reason: 'DROPPED', leader: this.lead };
    if (this.leaving()) return { ok: false, reason: 'DROPPED', leader: this.lead };
    const size = data.byteLength;
    const cap = this.cfg.maxUncommittedBytes;
    if (cap > 0 && this.uncommittedSize > 0 && size > 0 && this.uncommittedSize + size > cap) {
      return { ok: false, reason: 'OVERLOADED', leader: this.lead };
    }
    const e = this.appendEntries([{ term: this.term, index: 0, type: 'normal', data }]);
    this.uncommittedSize += size;
    this.needBroadcast = true;
    return { ok: true, index: e, term: this.term };
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    if (this.role !== 'leader') return { ok: false, reason: 'NOT_LEADER', leader: this.lead };
    if (this.leadTransferee !== NONE) return { ok: false, reason: 'DROPPED', leader: this.lead };
    if (!this.progress.has(this.id)) return { ok: false, reason: 'DROPPED', leader: this.lead };
    if (this.leaving()) return { ok: false, reason: 'DROPPED', leader: this.lead };
    if (this.pendingConfIndex > this.log.applying) return { ok: false, reason: 'CONF_CHANGE_PENDING', leader: this.lead };
    if (this.votersOutgoing.length > 0) {
      // Only the leader's own leave-joint entry may follow an enter-joint one.
      return { ok: false, reason: 'CONF_CHANGE_PENDING', leader: this.lead };
    }
    if (validateConfChange(this.confState(), cc) !== null) return { ok: false, reason: 'INVALID_CONF_CHANGE', leader: this.lead };
    return this.appendConfChange(cc);
  }

  /**
   * A leader outside C_new (it is removing itself) takes no new proposals: its log
   * then ends with its no-op or the leave-joint entry, which every voter of C_new
   * that could lead after it holds, so its vote (still needed by voters that do
   * not know C_new is committed) never blocks them, even after a crash.
   */
  private leaving(): boolean {
    return !this.voters.includes(this.id);
  }

  private appendConfChange(cc: ConfChange): ProposeResult {
    const data = encodeConfChange(cc);
    const index = this.appendEntries([{ term: this.term, index: 0, type: 'conf', data }]);
    this.uncommittedSize += data.byteLength;
    this.pendingConfIndex = index;
    return { ok: true, index, term: this.term };
  }

  /**
   * Applies the conf entries among `ents` (committed entries being handed out
   * for applying, in order). Returns the new membership if it changed. A leader
   * that is no longer a voter tells the others the commit index and steps down.
   */
  applyCommittedConf(ents: readonly Entry[]): ConfState | null {
    let changed = false;
    for (const e of ents) {
      if (e.type !== 'conf' || e.index <= this.confIndex) continue;
      this.confIndex = e.index;
      let cc: ConfChange;
      try {
        cc = decodeConfChange(e.data);
      } catch {
        continue; // malformed: a no-op on every replica
      }
      const before = this.confState();
      const after = applyConfChange(before, cc);
      if (sameConf(before, after)) continue;
      this.applyConf(after);
      changed = true;
    }
    if (!changed) return null;
    if (this.role === 'leader') {
      // New members: start replicating to them; the commit index may move under the new quorum.
      if (this.maybeCommit()) this.afterCommit();
      this.needBroadcast = true;
      // Removed: hand over to a voter of C_new (see handOverIfRemoved).
      this.handOverIfRemoved();
    }
    return this.confState();
  }

  /**
   * A leader that is no longer a voter (it removed itself) keeps leading — without
   * counting itself — only until a voter of C_new, caught up to its whole log, has
   * taken over through a leadership transfer; it steps down when it sees that
   * leader's higher term. Stepping down at once instead can deadlock: if no voter
   * of C_new learned that C_new is committed, they still need the old leader's
   * vote (joint quorum), which its longer log may refuse. Retried every election
   * timeout (a transfer that does not finish is aborted).
   */
  private handOverIfRemoved(): void {
    if (this.role !== 'leader' || this.promotable() || this.leadTransferee !== NONE) return;
    let best: NodeId = NONE;
    let bestMatch = -1;
    for (const id of this.voters) {
      const pr = this.progress.get(id);
      if (pr && pr.match > bestMatch) {
        best = id;
        bestMatch = pr.match;
      }
    }
    if (best !== NONE) this.transferLeadership(best);
  }

  /** A committed conf entry not yet handed out (hence not yet in effect)? */
  private hasUnappliedConf(): boolean {
    const lo = Math.max(this.log.applying, this.confIndex) + 1;
    const hi = this.log.committed;
    if (lo > hi) return false;
    try {
      return this.log.slice(lo, hi + 1, Number.POSITIVE_INFINITY).some((e) => e.type === 'conf');
    } catch (err) {
      if (err instanceof CompactedError) return false;
      throw err;
    }
  }

  /** Leader: propose leaving the joint configuration once its entry is applied. */
  maybeAutoLeave(): void {
    if (this.role !== 'leader' || !this.autoLeave || this.votersOutgoing.length === 0) return;
    if (this.pendingConfIndex > this.log.applying) return;
    if (this.leadTransferee !== NONE) return;
    this.appendConfChange(LEAVE_JOINT);
  }

  /** Leader: appends entries (terms and indexes assigned here). Returns the last index. */
  private appendEntries(ents: Entry[]): number {
    if (this.quiescence.quiesced) this.wake(false);
    let li = this.log.lastIndex();
    const stamped = ents.map((e) => ({ term: this.term, index: ++li, type: e.type, data: e.data }));
    const last = this.log.append(stamped);
    const self = this.progress.get(this.id);
    if (self) self.next = last + 1; // match moves when persisted
    this.needBroadcast = true;
    return last;
  }

  /** Leader: entries handed out for applying are committed; they no longer count against the cap. */
  reduceUncommittedSize(ents: readonly Entry[]): void {
    if (this.role !== 'leader') return;
    const s = entriesBytes(ents);
    this.uncommittedSize = s > this.uncommittedSize ? 0 : this.uncommittedSize - s;
  }

  readIndex(context: string): ReadIndexResult {
    if (this.role === 'leader') {
      this.handleReadRequest({ context, from: this.id });
      return { ok: true };
    }
    if (this.quiescence.quiesced) this.wake(true);
    if (this.lead === NONE) return { ok: false, reason: 'NO_LEADER', leader: NONE };
    this.send({ type: 'read-index', from: this.id, to: this.lead, term: this.term, context });
    return { ok: true };
  }

  private handleReadRequest(req: ReadRequest): void {
    if (this.quiescence.quiesced) this.wake(false);
    if (!this.committedCurrentTerm()) {
      // Our commit index may lag what earlier leaders committed: wait for our no-op.
      this.pendingReadRequests.push(req);
      return;
    }
    if (this.votersOutgoing.length === 0 && this.voters.length === 1 && this.voters[0] === this.id) {
      this.answerRead(req, this.log.committed);
      return;
    }
    const round = this.readOnly.add(req, this.log.committed, this.id);
    if (round) this.bcastHeartbeat(round.context);
  }

  private finishReadRound(requests: readonly ReadRequest[], index: number): void {
    for (const r of requests) this.answerRead(r, index);
    const next = this.readOnly.startNext(this.log.committed, this.id);
    if (next) this.bcastHeartbeat(next.context);
  }

  private answerRead(req: ReadRequest, index: number): void {
    if (req.from === this.id) this.confirmedReads.push({ index, context: req.context });
    else this.send({ type: 'read-index-resp', from: this.id, to: req.from, term: this.term, context: req.context, index });
  }

  /** Takes the confirmed reads whose index is ≤ `applied`. */
  takeReadStates(applied: number): ReadState[] {
    if (this.confirmedReads.length === 0) return [];
    const out: ReadState[] = [];
    const keep: ReadState[] = [];
    for (const rs of this.confirmedReads) (rs.index <= applied ? out : keep).push(rs);
    this.confirmedReads = keep;
    return out;
  }

  hasReadStates(applied: number): boolean {
    for (const rs of this.confirmedReads) if (rs.index <= applied) return true;
    return false;
  }

  transferLeadership(to: NodeId): void {
    if (this.role !== 'leader') return;
    if (this.quiescence.quiesced) this.wake(false);
    const pr = this.progress.get(to);
    if (!pr || pr.isLearner) return;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === to) return;
      this.leadTransferee = NONE;
    }
    if (to === this.id) return;
    this.leadTransferee = to;
    this.electionElapsed = 0; // the transfer must finish within an election timeout
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppendLoop(to);
  }

  progressStatus(): Map<NodeId, ProgressStatus> {
    const out = new Map<NodeId, ProgressStatus>();
    for (const [id, pr] of this.progress) {
      out.set(id, {
        match: pr.match,
        next: pr.next,
        state: pr.state,
        inflightMsgs: pr.inflights.length,
        inflightBytes: pr.inflights.totalBytes,
        recentActive: pr.recentActive,
      });
    }
    return out;
  }

  pendingReadCount(): number {
    return this.readOnly.pendingCount() + this.pendingReadRequests.length;
  }

  private send(m: Message): void {
    this.msgs.push(m);
  }
}
