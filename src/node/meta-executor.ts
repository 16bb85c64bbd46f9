/**
 * The meta leader's executor: carries out the planner's steps (src/meta
 * planner.ts) on the shards' Raft groups and records each completed step in
 * the meta log. It runs on the node that leads the meta group, once per round
 * (a few ticks), and is stateless beyond the latest membership report of each
 * shard: every step is a request repeated until a report shows it done, and
 * every step's completion is proposed only once the report shows the conf
 * change committed, so a lost message, a new shard leader or a new meta leader
 * simply repeats the request.
 *
 *   beginMove        → propose beginMove
 *   addLearner       → ask add-learner until the learner is in the conf → propose learnerAdded
 *   promote          → ask add-voter (done once caught up) until a voter → propose promoted
 *   transferLeader   → ask transfer until the report names the new leader → propose leaderReport
 *   removeReplica    → ask remove until gone from the conf → propose replicaRemoved
 *   abortMove        → propose abortMove (a learner it leaves behind is swept as a stray)
 *   (every round)    → remove members a leader reports that the map does not explain
 *
 * Splits: `splitShard` records the new shard first (with `parent`); the
 * executor then asks the parent's leader for the split entry until the new
 * group reports a leader.
 *
 * Leader transfers the planner proposes only to balance leaders (no move in
 * its remove phase) are left to the nodes' own leader balancer (node.ts), so
 * the two never pull a leader in different directions.
 */
import { nextActions } from '../meta/index.js';
import type { MetaAction, MetaCommand, MetaState } from '../meta/index.js';
import type { NodeId } from '../raft/index.js';
import type { ConfReport, ConfRequestOp } from './group-driver.js';

export interface ExecutorDeps {
  /** Proposes one meta command; resolves when applied (or fails). */
  propose(cmd: MetaCommand): Promise<unknown>;
  /** Asks the replicas of `group` on `targets` for one membership step. */
  request(group: number, op: ConfRequestOp, node: NodeId, targets: readonly NodeId[]): void;
  /** Asks the leader of `parent` (among `targets`) to split `ranges` off into the new group `newGroup`. */
  requestSplit(parent: number, newGroup: number, ranges: readonly { start: number; end: number }[], targets: readonly NodeId[]): void;
  /** The log timestamp for a command (ms). */
  now(): number;
}

export class MetaExecutor {
  private readonly reports = new Map<number, ConfReport>();
  private busy = false;
  private stepsProposed = 0;

  constructor(private readonly deps: ExecutorDeps) {}

  /** Meta commands this executor proposed (move steps and leader reports). */
  get proposed(): number {
    return this.stepsProposed;
  }

  /** A shard leader's report (newer terms replace older ones; a same-term report is newer). */
  onReport(r: ConfReport): void {
    const cur = this.reports.get(r.group);
    if (cur !== undefined && r.term < cur.term) return;
    this.reports.set(r.group, r);
  }

  report(group: number): ConfReport | undefined {
    return this.reports.get(group);
  }

  /** Forgets reports (this node stopped leading the meta group). */
  reset(): void {
    this.reports.clear();
  }

  /** One round: at most one meta proposal in flight; membership requests as needed. */
  round(state: MetaState): void {
    if (state.config === null) return;
    this.driveSplits(state);
    if (this.busy) return;
    const stale = this.staleLeaderHint(state);
    if (stale !== null) {
      this.submit(stale);
      return;
    }
    for (const a of nextActions(state)) {
      const cmd = this.step(state, a);
      if (cmd !== null) {
        this.submit(cmd);
        return;
      }
    }
    this.sweepStrays(state);
  }

  /**
   * The map is the truth: a member a shard's leader reports that the map does
   * not explain (not a voter or learner there, not the node a move in flight
   * adds) is left over from an aborted move, and is removed.
   */
  private sweepStrays(state: MetaState): void {
    for (const s of state.shards) {
      const r = this.reports.get(s.id);
      if (r === undefined || r.joint || r.leader === 0) continue;
      const move = state.moves.find((m) => m.shard === s.id);
      const explained = (n: NodeId): boolean => s.voters.includes(n) || s.learners.includes(n) || (move !== undefined && move.add === n);
      const stray = [...r.learners, ...r.voters].find((n) => !explained(n));
      if (stray !== undefined) this.deps.request(s.id, 'remove', stray, [r.leader]);
    }
  }

  /**
   * Splits recorded in the map whose data half is pending: the parent's leader
   * is asked (every round, idempotent) to append the split entry; the new
   * group's first leader report then completes the split (leaderReport clears
   * `parent`).
   */
  private driveSplits(state: MetaState): void {
    for (const s of state.shards) {
      if (s.parent === undefined) continue;
      const parent = state.shards.find((x) => x.id === s.parent);
      if (parent === undefined) continue;
      const ranges = state.ranges.filter((r) => r.shard === s.id).map((r) => ({ start: r.start, end: r.end }));
      const targets = new Set<NodeId>(parent.voters);
      const r = this.reports.get(parent.id);
      if (r !== undefined && r.leader !== 0) targets.add(r.leader);
      this.deps.requestSplit(parent.id, s.id, ranges, [...targets]);
    }
  }

  private submit(cmd: MetaCommand): void {
    this.busy = true;
    this.stepsProposed++;
    const done = (): void => {
      this.busy = false;
    };
    this.deps.propose(cmd).then(done, done);
  }

  /** A report naming a newer leader than the map's hint: propose a leaderReport. */
  private staleLeaderHint(state: MetaState): MetaCommand | null {
    for (const s of state.shards) {
      const r = this.reports.get(s.id);
      if (r === undefined || r.leader === 0 || r.term <= s.term || !s.voters.includes(r.leader)) continue;
      return { type: 'leaderReport', ts: this.deps.now(), shard: s.id, node: r.leader, term: r.term };
    }
    return null;
  }

  /** Performs one planner action: returns the meta command to propose now, or null (a request was sent, or nothing to do). */
  private step(state: MetaState, a: MetaAction): MetaCommand | null {
    const ts = this.deps.now();
    if (a.kind === 'beginMove') return { type: 'beginMove', ts, shard: a.shard, add: a.add, remove: a.remove };
    const shard = state.shards.find((s) => s.id === a.shard);
    if (shard === undefined) return null;
    const r = this.reports.get(a.shard);
    const targets = new Set<NodeId>([...shard.voters, ...shard.learners]);
    if (shard.leader !== null) targets.add(shard.leader);
    if (r !== undefined && r.leader !== 0) targets.add(r.leader);
    const ask = (op: ConfRequestOp, node: NodeId): null => {
      this.deps.request(a.shard, op, node, [...targets]);
      return null;
    };
    const inConf = (n: NodeId): boolean => r !== undefined && (r.voters.includes(n) || r.learners.includes(n));
    switch (a.kind) {
      case 'addLearner':
        return inConf(a.node) ? { type: 'learnerAdded', ts, shard: a.shard, node: a.node } : ask('add-learner', a.node);
      case 'promote':
        if (r !== undefined && !r.joint && r.voters.includes(a.node)) return { type: 'promoted', ts, shard: a.shard, node: a.node };
        // The learner is gone from the group (a stray removal raced the move): add it again.
        if (r !== undefined && !r.joint && !inConf(a.node)) return ask('add-learner', a.node);
        return ask('add-voter', a.node);
      case 'transferLeader': {
        const move = state.moves.find((m) => m.shard === a.shard);
        if (move === undefined || move.phase !== 'remove') return null; // balance only: the nodes' balancer does it
        return r !== undefined && r.leader === a.to ? { type: 'leaderReport', ts, shard: a.shard, node: a.to, term: r.term } : ask('transfer', a.to);
      }
      case 'removeReplica':
        return r !== undefined && !r.joint && !inConf(a.node) ? { type: 'replicaRemoved', ts, shard: a.shard, node: a.node } : ask('remove', a.node);
      case 'abortMove':
        // Recorded first, never preceded by a removal here: a removal decided on a
        // report older than our own add-learner request could miss the learner, and a
        // node coming back before the abort is recorded would revive the move. A
        // learner the map no longer explains is removed by the stray sweep below.
        return { type: 'abortMove', ts, shard: a.shard };
    }
  }
}
