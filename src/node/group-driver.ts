/**
 * What every replica on a node shares, whatever its state machine (the cache
 * of a data shard, or the shard map of the meta group): the Raft core and its
 * storage, the persist/send half of the Ready loop, and membership changes
 * asked for by the meta leader. Subclasses apply entries and serve requests.
 */
import { NONE, sendsBeforePersist } from '../raft/index.js';
import type { ConfChange, ConfState, HardState, Message, NodeId, RawNode, Ready, Role } from '../raft/index.js';
import { isJoint } from '../raft/index.js';
import type { GroupStorage } from '../storage/index.js';
import type { NodeError } from './errors.js';


/** A membership step the meta leader asks a shard's leader for (see node.ts, the executor). */
export type ConfRequestOp = 'add-learner' | 'add-voter' | 'remove' | 'transfer';

/** What a replica says about its group's membership and leadership (the executor's view of a shard). */
export interface ConfReport {
  readonly group: number;
  readonly leader: NodeId;
  readonly term: number;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly joint: boolean;
  /** Client operations per second this leader served lately (writes proposed + reads served here); 0 for the meta group. */
  readonly opsPerSec: number;
}

export abstract class GroupDriver {
  readonly groupId: number;
  readonly storage: GroupStorage;
  abstract readonly raw: RawNode;
  /** Last applied log index (entries without a command count too). */
  applied = 0;
  role: Role = 'follower';
  leader: NodeId = NONE;

  /** Term and vote last handed to storage: messages of a Ready that changes neither may leave early. */
  protected persistedTerm = -1;
  protected persistedVote = -1;
  /** Latest hard state that changed only the commit index and is not yet handed to storage. */
  private deferredHardState: HardState | null = null;
  private readonly sendFn: (to: NodeId, groupId: number, m: Message) => void;

  protected constructor(groupId: number, storage: GroupStorage, send: (to: NodeId, groupId: number, m: Message) => void) {
    this.groupId = groupId;
    this.storage = storage;
    this.sendFn = send;
    const hs = storage.initialState().hardState;
    this.persistedTerm = hs.term;
    this.persistedVote = hs.vote;
  }

  /** One tick of this group (the core's clock and the subclass's timers). */
  abstract tick(): void;
  /** Turns queued reads into a ReadIndex request (once per node turn). */
  abstract issueReads(): void;
  /** Step 3 of the Ready: apply committed entries, install a snapshot, serve reads. */
  abstract applyReady(rd: Ready): void;
  /** Fails every waiting request (shutdown, storage failure, replica removed). */
  abstract failAll(err: NodeError): void;
  /** The state machine's image at `applied` (for a snapshot). */
  protected abstract snapshotData(): Uint8Array;

  /**
   * Step 1 of the Ready: hand hard state, entries and snapshot to storage
   * (durable at the next flush).
   */
  persist(rd: Ready): void {
    if (rd.snapshot) void this.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) void this.storage.append(rd.entries);
    if (rd.hardState !== null && !rd.mustSync) {
      // Only the commit index moved: the core does not require it synced, and
      // handing it to storage now would start a synced batch of its own (one
      // extra fsync per write). It rides with the next synced batch, or the
      // next tick (decision 4 in README.md).
      this.deferredHardState = rd.hardState;
      return;
    }
    const hs = rd.hardState ?? (rd.mustSync ? this.deferredHardState : null);
    this.deferredHardState = null;
    if (hs !== null) void this.storage.setHardState(hs);
  }

  /**
   * Hands a deferred commit-only hard state to storage (its own batch). Called
   * on every tick and before close, so the persisted commit index lags by at
   * most one tick when no synced Ready comes along.
   */
  persistDeferredHardState(): void {
    const hs = this.deferredHardState;
    if (hs === null) return;
    this.deferredHardState = null;
    void this.storage.setHardState(hs);
  }

  /**
   * Before the flush: messages that depend on nothing being persisted leave at
   * once (heartbeats, ReadIndex traffic, the leader's appends and vote requests;
   * of a Ready that changes term or vote, only vote requests: sendsBeforePersist
   * in src/raft); everything else (append answers, vote answers, snapshots) is
   * returned, to be sent (`sendHeld`) once every write handed to storage so far
   * is durable — not only this Ready's: an answer may acknowledge entries of an
   * earlier Ready still being written.
   */
  sendEarly(rd: Ready): Message[] | null {
    const hs = rd.hardState;
    const termStable = hs === null || (hs.term === this.persistedTerm && hs.vote === this.persistedVote);
    if (hs !== null) {
      this.persistedTerm = hs.term;
      this.persistedVote = hs.vote;
    }
    let held: Message[] | null = null;
    for (const m of rd.messages) {
      if (sendsBeforePersist(m.type, termStable)) this.sendFn(m.to, this.groupId, m);
      else (held ??= []).push(m);
    }
    return held;
  }

  /** After the flush: send what `sendEarly` held. */
  sendHeld(held: readonly Message[]): void {
    for (const m of held) this.sendFn(m.to, this.groupId, m);
  }

  /** Records a snapshot of the state machine at `applied` (with the membership as of it). */
  protected takeSnapshot(): number {
    const prev = this.storage.snapshot().metadata.index;
    if (this.applied <= prev) return prev;
    this.storage.createSnapshot(this.applied, this.snapshotData(), this.raw.confState());
    return prev;
  }

  /** The group's membership and leadership as this replica sees it. */
  confReport(): ConfReport {
    const s = this.raw.status();
    const conf: ConfState = this.raw.confState();
    return {
      group: this.groupId,
      leader: s.leader,
      term: s.term,
      voters: [...conf.voters].sort((a, b) => a - b),
      learners: [...conf.learners].sort((a, b) => a - b),
      joint: isJoint(conf),
      opsPerSec: this.opsPerSec,
    };
  }

  /** Recent load (see ConfReport.opsPerSec), sampled by the node. */
  opsPerSec = 0;
  private loadSample: { ops: number; at: number } | null = null;

  /** Client operations so far (the load measure); the meta group has none. */
  protected clientOps(): number {
    return 0;
  }

  /** Updates opsPerSec from the operations since the previous sample (`now` in ms). */
  sampleLoad(now: number): void {
    const ops = this.clientOps();
    const prev = this.loadSample;
    this.loadSample = { ops, at: now };
    if (prev !== null && now > prev.at) this.opsPerSec = Math.round(((ops - prev.ops) * 1000) / (now - prev.at));
  }

  /**
   * Leader only: one membership step asked for by the meta leader; idempotent
   * (a step already in effect does nothing), so the executor simply repeats
   * its request until the report shows it done.
   *
   * - add-learner: first make sure a snapshot exists: the new member starts
   *   blank and must catch up from a snapshot (which carries the membership:
   *   replaying the log from index 1 would not, as the initial membership of
   *   a bootstrapped group is not in its log; the core makes a blank member
   *   ask for one). A leader elected later creates one when its core asks
   *   (`serveSnapshotWanted`, every tick).
   * - add-voter: only once the learner has caught up with the commit index.
   * - remove: of ourselves, hand leadership to another caught-up voter first.
   * - transfer: leadership to `node` once it is caught up.
   */
  changeMembership(op: ConfRequestOp, node: NodeId): void {
    const s = this.raw.status();
    if (s.role !== 'leader') return;
    const conf = this.raw.confState();
    if (isJoint(conf)) return; // the core leaves the joint config on its own
    const isLearner = conf.learners.includes(node);
    const isVoterNow = conf.voters.includes(node);
    const caughtUp = (id: NodeId): boolean => {
      const pr = s.progress?.get(id);
      return pr !== undefined && pr.state === 'replicate' && pr.match >= s.commit;
    };
    let cc: ConfChange | null = null;
    switch (op) {
      case 'add-learner':
        if (isLearner || isVoterNow) return;
        if (!this.ensureSnapshot()) return;
        cc = { changes: [{ op: 'add-learner', node }] };
        break;
      case 'add-voter':
        if (isVoterNow) return;
        if (!isLearner || !caughtUp(node)) return;
        cc = { changes: [{ op: 'add-voter', node }] };
        break;
      case 'remove':
        if (!isLearner && !isVoterNow) return;
        if (node === this.raw.status().id) {
          const to = conf.voters.find((v) => v !== node && caughtUp(v));
          if (to !== undefined && (s.leadTransferee ?? NONE) === NONE) this.raw.transferLeadership(to);
          return;
        }
        cc = { changes: [{ op: 'remove', node }] };
        break;
      case 'transfer':
        if (node === s.id || !isVoterNow || (s.leadTransferee ?? NONE) !== NONE || !caughtUp(node)) return;
        this.raw.transferLeadership(node);
        return;
    }
    this.raw.proposeConfChange(cc);
  }

  /**
   * A snapshot a blank member can start from exists (one is taken at `applied`
   * if storage has none). The log is not compacted: other followers keep
   * catching up from it.
   */
  private ensureSnapshot(): boolean {
    if (this.storage.snapshot().metadata.index > 0) return true;
    if (this.applied === 0) return false;
    this.takeSnapshot();
    return true;
  }

  /** Leader, every tick: the core asked for a snapshot for a blank member (see RawNode.takeSnapshotWanted). */
  serveSnapshotWanted(): void {
    if (this.raw.takeSnapshotWanted()) this.ensureSnapshot();
  }
}
