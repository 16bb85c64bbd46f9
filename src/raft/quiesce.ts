/**
 * Quiescence: an idle group stops heartbeating (CockroachDB's quiesced ranges).
 * Only timers change, never what is safe: a quiesced replica still answers
 * every message by the ordinary rules; quiescence only means "the leader sends
 * no periodic heartbeats, CheckQuorum and the election timer are stopped".
 *
 * Protocol (all of it rides on the existing heartbeat messages; the transport
 * needs no new field, only these reserved `context` values — the core owns the
 * heartbeat context namespace, read rounds are `read-N`):
 *  - The leader quiesces, at a heartbeat, when the group is idle (see
 *    `leaderQuiesceBlocker`). It then sends, instead of the heartbeat, a
 *    *quiesce heartbeat* (context `quiesce-R`, R = a fresh round number, commit =
 *    its commit index) to every member, and repeats it each heartbeat interval
 *    only to the members that have not acknowledged round R. Members on nodes
 *    the driver reported down (`markPeerDown`) may lag; they get a plain
 *    heartbeat instead (commit = their match), so that back, they are caught up.
 *  - A follower that gets a quiesce heartbeat from its leader, at its term, with
 *    its log ending at that commit index (lastIndex == commit == m.commit)
 *    quiesces (election timer stopped) and echoes the context (the ack);
 *    otherwise it answers an ordinary heartbeat response (context '') and is
 *    tried again at the next interval: to it, quiesce heartbeats are heartbeats.
 *  - A quiesced follower wakes on anything that shows activity: a local request,
 *    `unquiesce()` / `forgetLeader()`, a message from another node, a message
 *    from its leader that carries news (entries, a higher commit, a read round,
 *    a snapshot, timeout-now) or any term change. A plain heartbeat without news
 *    does not wake it: a late or duplicated heartbeat from before the quiesce
 *    must not leave it awake next to a quiet leader (it would time out and
 *    campaign). Every wake with a known leader sends the leader a *wake* message
 *    (a heartbeat response with context `wake`), so that a quiesced leader
 *    resumes heartbeating before the woken follower's timer can run out —
 *    except a wake by new entries from the leader (it is awake, and cannot
 *    quiesce again before this follower acks them).
 *  - A quiesced leader wakes on a local request (proposal, conf change, read,
 *    transfer, any append), `unquiesce()`, a `read-index`, a wake message, a
 *    (pre-)vote from a member, or as soon as its quiescence conditions no longer
 *    hold after a message (e.g. a rejected append). Plain acks (late heartbeat or
 *    append responses) are absorbed: they change nothing.
 *  - On waking, a leader restarts its CheckQuorum interval and counts every
 *    member as recently active (a grace period: nobody could be heard from
 *    during the quiet), and forgets whom it heard from since: it quiesces again
 *    only after hearing from a quorum, so a leader woken because its peers went
 *    silent stays awake and CheckQuorum can depose it. A woken follower restarts
 *    its randomized election timer: its lease on the leader lasts one election
 *    timeout from the wake, not the whole quiet.
 */
import type { NodeId } from './types.js';
import { jointVoteResult } from './quorum.js';
import type { JointConfig } from './quorum.js';

/** Prefix of the context of a quiesce heartbeat (and its ack): `quiesce-<round>`. */
export const QUIESCE_CONTEXT_PREFIX = 'quiesce-';
/** Context of the heartbeat response a woken follower sends its leader. */
export const WAKE_CONTEXT = 'wake';

export function quiesceContext(round: number): string {
  return `${QUIESCE_CONTEXT_PREFIX}${round}`;
}

export function isQuiesceContext(context: string): boolean {
  return context.startsWith(QUIESCE_CONTEXT_PREFIX);
}

/** Why an idle leader does not quiesce (null: it may). */
export type QuiesceBlocker =
  | 'disabled'
  | 'not-leader'
  | 'not-committed-own-term'
  | 'uncommitted-entries'
  | 'unapplied-entries'
  | 'pending-reads'
  | 'transfer'
  | 'joint-config'
  | 'not-voter'
  | 'lagging-member'
  | 'quorum-not-heard';

/** What the leader's quiescence rule looks at (a plain snapshot of the core's state). */
export interface LeaderQuiesceView {
  readonly isLeader: boolean;
  readonly committedCurrentTerm: boolean;
  readonly lastIndex: number;
  readonly committed: number;
  /** The last index handed out for applying. */
  readonly applying: number;
  readonly pendingReads: number;
  readonly transferring: boolean;
  readonly joint: boolean;
  readonly isVoter: boolean;
  /** Every member (the leader too) with its match index and flow-control state. */
  readonly members: Iterable<readonly [NodeId, { readonly match: number; readonly state: string }]>;
  readonly config: JointConfig;
  readonly self: NodeId;
}

/** Volatile quiescence state of one replica (reset on every role or term change). */
export class Quiescence {
  /** The timers are stopped. */
  quiesced = false;
  /** Leader: the current (or last) quiesce round; never reset, so a stale ack never counts. */
  round = 0;
  /** Leader: members that acknowledged the current round (they are quiet). */
  readonly acked = new Set<NodeId>();
  /** Leader: members heard from since it became leader or last woke (a quorum is needed to quiesce). */
  readonly heard = new Map<NodeId, boolean>();
  /** Peers the driver's liveness signal reports down: a member among them may lag and still let the group quiesce. */
  readonly down = new Set<NodeId>();

  constructor(readonly enabled: boolean) {}

  /** Role or term change: awake, nothing heard. */
  reset(): void {
    this.quiesced = false;
    this.acked.clear();
    this.heard.clear();
  }

  /** Leader: start a round. Returns the context its heartbeats carry. */
  startRound(): string {
    this.quiesced = true;
    this.round++;
    this.acked.clear();
    return quiesceContext(this.round);
  }

  /** Leader: an ack for `context` from `from`; true if it is for the current round. */
  ack(from: NodeId, context: string): boolean {
    if (!this.quiesced || context !== quiesceContext(this.round)) return false;
    this.acked.add(from);
    return true;
  }

  /** Leader: wake up; the next quiesce needs a quorum heard from again. */
  wakeLeader(): void {
    this.quiesced = false;
    this.acked.clear();
    this.heard.clear();
  }

  hearFrom(id: NodeId): void {
    if (this.enabled) this.heard.set(id, true);
  }
}

/** The leader's quiescence rule: why it may not quiesce now, or null if it may. */
export function leaderQuiesceBlocker(v: LeaderQuiesceView, q: Quiescence): QuiesceBlocker | null {
  if (!q.enabled) return 'disabled';
  if (!v.isLeader) return 'not-leader';
  if (!v.committedCurrentTerm) return 'not-committed-own-term';
  if (v.committed !== v.lastIndex) return 'uncommitted-entries';
  if (v.applying !== v.committed) return 'unapplied-entries';
  if (v.pendingReads > 0) return 'pending-reads';
  if (v.transferring) return 'transfer';
  if (v.joint) return 'joint-config';
  if (!v.isVoter) return 'not-voter';
  // Probe with a full match is idle too (a stale reject can leave a caught-up
  // member in probe until the next entry); a snapshot in flight is not. A member
  // on a node reported down may lag (CockroachDB's lagging replicas on dead nodes).
  for (const [id, pr] of v.members) {
    if (id !== v.self && q.down.has(id)) continue;
    if (pr.match !== v.lastIndex || pr.state === 'snapshot') return 'lagging-member';
  }
  q.heard.set(v.self, true);
  if (jointVoteResult(v.config, q.heard) !== 'won') return 'quorum-not-heard';
  return null;
}
