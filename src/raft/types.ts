/**
 * The public vocabulary of the Raft core: entries, messages, the Ready batch,
 * the Storage interface and the node API. Pure data: nothing here does I/O.
 *
 * Node ids are positive integers (cheap in binary frames); a group id lives one
 * layer up, in the node that hosts many groups.
 */
import type { Rng } from '../util/rng.js';

export type NodeId = number;

/** No node: used for "no vote" and "no known leader". */
export const NONE: NodeId = 0;

export type EntryType = 'normal' | 'conf';

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** Opaque to the core. An empty payload of type 'normal' is the leader's no-op. */
  readonly data: Uint8Array;
}

/** What must be on disk before any message that depends on it leaves. */
export interface HardState {
  readonly term: number;
  /** The node voted for in `term`, or NONE. */
  readonly vote: NodeId;
  readonly commit: number;
}

/**
 * Cluster membership (voters count in quorums, learners only receive the log).
 * During a joint change (C_old,new) `voters` is C_new and `votersOutgoing` is
 * C_old: every quorum then needs a majority of both.
 */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** C_old while in a joint configuration; absent or empty otherwise. */
  readonly votersOutgoing?: readonly NodeId[];
  /** In a joint configuration: the leader leaves it (proposes C_new) on its own once applied. */
  readonly autoLeave?: boolean;
}

/** One membership operation. Promote a learner with 'add-voter'; demoting a voter is not supported. */
export type ConfChangeOp = 'add-voter' | 'add-learner' | 'remove';

export interface ConfChangeItem {
  readonly op: ConfChangeOp;
  readonly node: NodeId;
}

/**
 * A membership change, carried by an entry of type 'conf' (encoded by
 * confchange.ts). Changes that touch voters enter a joint configuration and the
 * leader leaves it automatically; an empty list is the "leave joint" entry.
 */
export interface ConfChange {
  readonly changes: readonly ConfChangeItem[];
}

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  /** The state machine's image at `metadata.index`; opaque to the core. */
  readonly data: Uint8Array;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** RequestVote, real or pre-vote. `index`/`logTerm` describe the candidate's last entry. */
export interface MsgVote extends Envelope {
  readonly type: 'vote' | 'pre-vote';
  readonly index: number;
  readonly logTerm: number;
  /** Set when a leader transfer told the candidate to campaign now; lets it past leader stickiness. */
  readonly transfer: boolean;
}

export interface MsgVoteResp extends Envelope {
  readonly type: 'vote-resp' | 'pre-vote-resp';
  readonly reject: boolean;
}

/** AppendEntries. `index`/`logTerm` name the entry just before `entries`. */
export interface MsgApp extends Envelope {
  readonly type: 'app';
  readonly index: number;
  readonly logTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

export interface MsgAppResp extends Envelope {
  readonly type: 'app-resp';
  /** On success: the last index now known to match the leader. On reject: the rejected `index`. */
  readonly index: number;
  readonly reject: boolean;
  /** On reject: a hint (index, term) for fast backtracking: the follower's best guess at a match. */
  readonly rejectHint: number;
  readonly logTerm: number;
}

export interface MsgHeartbeat extends Envelope {
  readonly type: 'heartbeat';
  readonly commit: number;
  /** ReadIndex round this heartbeat confirms, or '' for none. */
  readonly context: string;
}

export interface MsgHeartbeatResp extends Envelope {
  readonly type: 'heartbeat-resp';
  readonly context: string;
}

/** Follower → leader: please give me a read index for `context`. */
export interface MsgReadIndex extends Envelope {
  readonly type: 'read-index';
  readonly context: string;
}

export interface MsgReadIndexResp extends Envelope {
  readonly type: 'read-index-resp';
  readonly context: string;
  readonly index: number;
}

/** Leader → transfer target: campaign now, ignoring the election timeout. */
export interface MsgTimeoutNow extends Envelope {
  readonly type: 'timeout-now';
}

/** InstallSnapshot (chunked transfer is the transport's business; the core sees it whole). */
export interface MsgSnap extends Envelope {
  readonly type: 'snap';
  readonly snapshot: Snapshot;
}

export type Message =
  | MsgVote
  | MsgVoteResp
  | MsgApp
  | MsgAppResp
  | MsgHeartbeat
  | MsgHeartbeatResp
  | MsgReadIndex
  | MsgReadIndexResp
  | MsgTimeoutNow
  | MsgSnap;

export type MessageType = Message['type'];

/** A ReadIndex request that is confirmed and applied locally: serve the read for `context` now. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/** Volatile state, reported when it changes. */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: Role;
}

/**
 * One batch of work for the driver. The driver must, in order:
 *  1. persist `hardState` (if set) and append `entries` to stable storage
 *     (and install `snapshot` if set), synced when `mustSync`;
 *  2. send `messages`;
 *  3. apply `committedEntries` to the state machine, then serve `readStates`
 *     (each is safe to serve once the committed entries of the same Ready
 *     have been applied);
 *  4. call `advance()`.
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  readonly mustSync: boolean;
  /**
   * Set when the membership changed in this Ready (a conf entry among
   * `committedEntries`, or `snapshot`): the membership after applying them. The
   * core has already switched to it; the driver needs it for `createSnapshot`.
   */
  readonly confState?: ConfState;
}

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | {
      readonly ok: false;
      /**
       * NOT_LEADER: `leader` is the known leader or NONE. DROPPED: e.g. a transfer is in progress. OVERLOADED: the uncommitted-bytes cap is reached.
       * CONF_CHANGE_PENDING (proposeConfChange only): a previous change is not applied yet (or the joint config not left).
       * INVALID_CONF_CHANGE (proposeConfChange only): the change makes no sense for the current membership.
       */
      readonly reason: 'NOT_LEADER' | 'DROPPED' | 'OVERLOADED' | 'CONF_CHANGE_PENDING' | 'INVALID_CONF_CHANGE';
      readonly leader: NodeId;
    };

export type ReadIndexResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'NO_LEADER'; readonly leader: NodeId };

export interface Status {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId;
  readonly leader: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  /** Leader only: what it knows about each member (added by the core; optional). */
  readonly progress?: ReadonlyMap<NodeId, ProgressStatus> | undefined;
  /** Leader: the target of a leadership transfer in progress, or NONE. */
  readonly leadTransferee?: NodeId;
  /** Leader: ReadIndex requests not yet confirmed. */
  readonly pendingReads?: number;
  /** Leader: bytes of entry data appended but not yet committed. */
  readonly uncommittedBytes?: number;
  /** The membership the core uses now (as of the entries handed out for applying). */
  readonly conf?: ConfState;
  /** Quiesced: no heartbeats (leader) or a stopped election timer (follower). */
  readonly quiesced?: boolean;
}

/** The leader's view of one member's log (flow control state). */
export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  readonly inflightMsgs: number;
  readonly inflightBytes: number;
  readonly recentActive: boolean;
}

/** Storage errors the core understands. */
export class CompactedError extends Error {
  constructor(index: number) {
    super(`index ${index} is compacted`);
    this.name = 'CompactedError';
  }
}
export class UnavailableError extends Error {
  constructor(index: number) {
    super(`index ${index} is not available`);
    this.name = 'UnavailableError';
  }
}

/**
 * The stable log as the core reads it. The driver writes to it (append,
 * hard state, snapshot) while handling a Ready; the core only reads.
 */
export interface Storage {
  initialState(): { hardState: HardState; conf: ConfState };
  /** Entries in [lo, hi), at most about `maxBytes` of data (always at least one). Throws CompactedError / UnavailableError. */
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  /** Term of entry `index`; for `firstIndex() - 1` the snapshot's term. Throws CompactedError / UnavailableError. */
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

export interface RaftConfig {
  readonly id: NodeId;
  /** Ticks without hearing a leader before a follower campaigns; the actual timeout is randomized in [electionTick, 2*electionTick). */
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly rng: Rng;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Max bytes of entry data in one AppendEntries. */
  readonly maxSizePerMsg: number;
  /** Max AppendEntries in flight to one follower. */
  readonly maxInflightMsgs: number;
  /** Max bytes of entry data in flight to one follower (0 = unlimited). */
  readonly maxInflightBytes: number;
  /** Max bytes of uncommitted entry data on the leader; proposals beyond it get OVERLOADED (0 = unlimited). */
  readonly maxUncommittedBytes: number;
  /** The index already applied to the state machine when restarting (0 if none). */
  readonly applied?: number;
  /**
   * Quiesce idle groups (quiesce.ts): the leader stops heartbeating and followers
   * stop their election timers until there is work. Off by default. The driver
   * must then watch its peers' liveness and call `forgetLeader()` / `unquiesce()`
   * (see the raft README, decisions 22–25).
   */
  readonly quiesce?: boolean;
}

/**
 * The synchronous node API (etcd's RawNode). `RawNode` in raw-node.ts
 * implements it: `new RawNode(config, storage)`; a restarted node reads its
 * hard state, membership and log back from `storage`.
 */
export interface RaftNodeApi {
  readonly id: NodeId;
  /** One logical clock tick (elections, heartbeats, CheckQuorum). */
  tick(): void;
  /** A message from a peer. Messages of stale terms and from unknown nodes are handled by the rules. */
  step(m: Message): void;
  /** Start an election now (tests, simulation). */
  campaign(): void;
  /** Append `data` as one entry if leader. */
  propose(data: Uint8Array): ProposeResult;
  /** Request a linearizable read point for `context` (unique per request batch). Released via Ready.readStates. */
  readIndex(context: string): ReadIndexResult;
  /** Leader only: hand leadership to `to` (catch it up, then TimeoutNow). */
  transferLeadership(to: NodeId): void;
  /**
   * Leader only: propose a membership change (appended as a 'conf' entry). It
   * takes effect on every replica when its entry is handed out in
   * `Ready.committedEntries` (the core applies it itself; the driver just skips
   * 'conf' entries in its state machine). Refused with CONF_CHANGE_PENDING while
   * an earlier change is not yet applied or a joint configuration is not yet left.
   */
  proposeConfChange?(cc: ConfChange): ProposeResult;
  /** Quiescence (config.quiesce): wake a quiesced replica (a leader heartbeats again; a follower restarts its election timer and asks its leader to heartbeat). */
  unquiesce?(): void;
  /** Follower: forget the leader (it is suspected dead): grant (pre-)votes at once, campaign after a randomized timeout. Wakes a quiesced follower. */
  forgetLeader?(): void;
  /** Liveness of peer node `id` (quiescence): a lagging member on a node reported down does not keep the group awake; reported up again, it wakes it. */
  markPeerDown?(id: NodeId, down: boolean): void;
  /**
   * Quiet: a tick does nothing now (a quiesced follower, or a quiesced leader all
   * of whose members acked). A driver may skip ticking it while this holds
   * (check again after every step, request or wake call).
   */
  isQuiesced?(): boolean;
  hasReady(): boolean;
  ready(): Ready;
  /** Acknowledge that the last Ready was persisted, sent and applied. */
  advance(): void;
  status(): Status;
}
