/**
 * A deterministic world for the meta executor (src/node/meta-executor.ts): the
 * meta log (a MetaStateMachine whose proposals apply after a delay, or are
 * dropped), one simulated Raft membership per shard (voters, learners, joint
 * state, leader, term, catch-up), membership reports that may be delayed or
 * lost, elections, node events and meta leader fail-overs. No Raft, timers or
 * I/O: one `step` is one executor round.
 *
 * Everything random comes from a SeededRng (message fates) or from the event
 * list the test generates (faults), so a run replays exactly.
 *
 * Modelling choices: a shard leader acts like GroupDriver.changeMembership
 * (idempotent steps; add-voter only for a caught-up learner; removing itself
 * hands leadership over; nothing while joint); a conf change commits only with
 * an up majority of the voters; voter changes enter a joint config left 1–3
 * steps later; reports of one group are delivered in order (as over one
 * connection) unless `reorderReports`; the map's liveness is exact (a node that
 * goes down is ticked down at once, as the brief's "advance the clock past
 * downTimeoutMs"); the world never takes a majority of any voter set down nor
 * leaves fewer than max(R, metaR) nodes up and active.
 */
import { MetaStateMachine, computeTarget, eligibleNodes, planMoves } from '../../src/meta/index.js';
import type { MetaCommand, MetaConfig, MetaState, MoveRecord, NodeAddress, ShardRecord } from '../../src/meta/index.js';
import type { ConfReport, ConfRequestOp } from '../../src/node/group-driver.js';
import { MetaExecutor } from '../../src/node/meta-executor.js';
import { SeededRng } from '../../src/util/rng.js';

/**
 * Bugs in src/ that this world found and tolerates until they are fixed (drop
 * one from KNOWN_BUGS once its fix lands, so the properties check it again).
 * - drainAfterAbort: `abortMove` of a move still in its add-learner phase does
 *   not retire its `add` node when that node is draining (MetaStateMachine calls
 *   retireIfDrained only when the learner is in the map), so a node drained just
 *   after a move to it began stays `draining` forever, holding nothing.
 * - removeStall: a move in its remove phase waits (nextActions emits nothing)
 *   while removing its `remove` would leave the other voters without a live
 *   majority; when that is because another voter is down for good (R ≤ 2:
 *   voters {new, leaving, down}), the move never ends and the planner never
 *   replaces the down replica, since a shard has at most one move.
 * - staleAbort: the executor proposes `abortMove` when its latest report shows
 *   the move's learner absent, but that report may predate its own add-learner
 *   request: the group then keeps a learner the map does not know of (leaked;
 *   nothing ever removes it). Tolerated by ignoring such leaked learners.
 * - abortRevived: the planner emits abortMove while the move's new node is
 *   down; the executor starts removing that node from the group; the node
 *   comes back before abortMove is recorded, so the planner asks for the
 *   move's steps again. Then either (a) the learner is gone and the executor
 *   repeats add-voter, which the group ignores for a non-learner, forever; or
 *   (b) its latest report predates its own remove request and shows the node
 *   a voter: it records `promoted` for a voter the group no longer has (the map
 *   is ahead of the group). Tolerated by no longer checking that shard.
 */
export type KnownBug = 'drainAfterAbort' | 'removeStall' | 'staleAbort' | 'abortRevived';
/** The known bugs the properties tolerate by default (remove one once its fix lands). */
/** All four found bugs are fixed (see the history of this file); the list stays for the next one. */
export const KNOWN_BUGS: readonly KnownBug[] = [];

export const STEP_MS = 100;
export const DOWN_TIMEOUT_MS = 5000;

/** A fault or operator event between two executor rounds. `pick` selects the node or shard. */
export type WorldEvent =
  | { readonly kind: 'none' }
  | { readonly kind: 'addNode' | 'joinNode' }
  | { readonly kind: 'drain' | 'down' | 'up' | 'elect' | 'metaFailover'; readonly pick: number };

/**
 * Ways to break the world on purpose (the test's self-check): each one makes a
 * shard leader lie in a way the executor must not be able to tolerate.
 */
export type Breakage =
  | 'none'
  /** add-voter is reported done (non-joint, node a voter) while the group still has it as a learner. */
  | 'report-promote-early'
  /** A removed voter is reported gone while the group still has it. */
  | 'report-remove-early'
  /** add-learner is reported done at once, but the learner joins the group only 5 steps later. */
  | 'report-learner-early';

export interface WorldParams {
  readonly nodes: number;
  readonly shards: number;
  readonly replication: number;
  readonly metaReplication: number;
  readonly maxConcurrentMoves: number;
  /** Seed of message fates (delays, drops, report timing). */
  readonly seed: number;
  /** Delivered reports may overtake each other (same leader, same term). */
  readonly reorderReports?: boolean;
  readonly breakage?: Breakage;
  /** Keep a readable log of what happened (for replaying a counterexample). */
  readonly trace?: boolean;
  /** Known bugs the checks tolerate (default KNOWN_BUGS). */
  readonly tolerate?: readonly KnownBug[];
}

interface SimGroup {
  readonly id: number;
  voters: number[];
  learners: number[];
  /** The outgoing voters while joint (the incoming ones are `voters`), else null. */
  outgoing: number[] | null;
  /** Step from which the group may leave its joint config. */
  jointLeaveAt: number;
  leader: number;
  term: number;
  /** Step from which a member is caught up (absent: caught up since ever). */
  readyAt: Map<number, number>;
  /** Every config (incoming voters|learners) this group had before its current one, with the last step it had it. */
  history: Map<string, number>;
  /** The current config's key (as in `history`). */
  key: string;
  /** Learners an abort left in the group without the map knowing (KNOWN_BUGS.staleAbort). */
  leaked: Set<number>;
  /** Every node that was ever a stray of this group (the config history may then skip the map's configs). */
  everLeaked: Set<number>;
  /** startedAt of the map's move whose new node the executor asked to remove (an abort began). */
  abortBegunFor: number;
  /** Breakage 'report-learner-early': learners already reported, joining at the given step. */
  phantoms: Map<number, number>;
}

interface PendingProposal {
  readonly cmd: MetaCommand;
  readonly at: number;
  readonly fate: 'apply' | 'drop' | 'apply-then-fail';
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

interface PendingReport {
  readonly at: number;
  readonly report: ConfReport;
}

const asc = (a: number, b: number): number => a - b;
const sorted = (xs: Iterable<number>): number[] => [...xs].sort(asc);
const configKey = (voters: readonly number[], learners: readonly number[]): string => `${sorted(voters).join(',')}|${sorted(learners).join(',')}`;

function addr(id: number): NodeAddress {
  return { id, host: '10.0.0.1', clientPort: 7000 + id, peerPort: 9000 + id };
}

function majorityUp(voters: readonly number[], up: ReadonlySet<number>): boolean {
  let n = 0;
  for (const v of voters) if (up.has(v)) n++;
  return voters.length > 0 && n >= Math.floor(voters.length / 2) + 1;
}

export class ExecutorWorld {
  readonly meta = new MetaStateMachine();
  readonly config: MetaConfig;
  readonly groups = new Map<number, SimGroup>();
  /** Nodes whose process runs (heartbeats flow). */
  readonly up = new Set<number>();
  executor: MetaExecutor;
  step = 0;
  clock = 1000;
  /** True while faults may happen: drops, losses, random elections. */
  faulty = true;
  /** First safety violation seen (the run stops checking after it). */
  violation: string | null = null;
  /** Counters for the test's sanity checks. */
  /** Known bugs (KNOWN_BUGS) the liveness check had to tolerate in this run. */
  readonly knownBugSeen = new Set<KnownBug>();
  private readonly tolerate: ReadonlySet<KnownBug>;
  private readonly tracing: boolean;
  /** What happened, when `trace` is on. */
  readonly log: string[] = [];

  private note(line: () => string): void {
    if (this.tracing) this.log.push(`${this.step}: ${line()}`);
  }
  readonly stats = { proposals: 0, requests: 0, confChanges: 0, reports: 0, failovers: 0, events: 0 };

  private readonly rng: SeededRng;
  private readonly breakage: Breakage;
  private readonly reorder: boolean;
  private nextNodeId: number;
  private proposals: PendingProposal[] = [];
  private reports: PendingReport[] = [];
  private readonly lastReportAt = new Map<number, number>();
  /** Step at which the map's current move of a shard was first seen, by shard. */
  private readonly moveSeenAt = new Map<number, { key: string; step: number }>();
  /** The map's moves at the previous check. */
  private prevMoves = new Map<number, MoveRecord>();
  /** The state the executor's current round sees (the log applies nothing during a round). */
  private roundState: MetaState | null = null;
  /** Shards no longer checked: a tolerated known bug (abortRevived) broke them. */
  readonly excluded = new Set<number>();

  constructor(p: WorldParams) {
    this.rng = new SeededRng(p.seed);
    this.breakage = p.breakage ?? 'none';
    this.reorder = p.reorderReports ?? false;
    this.tolerate = new Set(p.tolerate ?? KNOWN_BUGS);
    this.tracing = p.trace ?? false;
    this.config = {
      replication: p.replication,
      metaReplication: p.metaReplication,
      downTimeoutMs: DOWN_TIMEOUT_MS,
      maxConcurrentMoves: p.maxConcurrentMoves,
      loadFactor: 1.25,
      vnodes: 8,
    };
    const nodes = Array.from({ length: p.nodes }, (_, i) => addr(i + 1));
    this.nextNodeId = p.nodes + 1;
    const r = this.meta.apply({ type: 'bootstrap', ts: this.clock, nodes, shards: p.shards, config: this.config });
    if (!r.ok) throw new Error(`bootstrap: ${r.message}`);
    for (const n of nodes) this.up.add(n.id);
    for (const s of this.meta.state().shards) {
      const g: SimGroup = {
        id: s.id,
        voters: [...s.voters],
        learners: [],
        outgoing: null,
        jointLeaveAt: 0,
        leader: s.voters[0] ?? 0,
        term: 1,
        readyAt: new Map(),
        history: new Map(),
        key: '',
        phantoms: new Map(),
        leaked: new Set(),
        everLeaked: new Set(),
        abortBegunFor: -1,
      };
      this.remember(g);
      this.groups.set(s.id, g);
    }
    this.executor = this.newExecutor();
  }

  private newExecutor(): MetaExecutor {
    return new MetaExecutor({
      propose: (cmd) => this.propose(cmd),
      request: (group, op, node, targets) => this.request(group, op, node, targets),
      requestSplit: () => undefined, // splits are not modelled here
      now: () => this.clock,
    });
  }

  state(): MetaState {
    return this.meta.state();
  }

  // ---- the meta log --------------------------------------------------------

  private propose(cmd: MetaCommand): Promise<unknown> {
    this.stats.proposals++;
    return new Promise((resolve, reject) => {
      const x = this.rng.float();
      const fate = !this.faulty || x < 0.85 ? 'apply' : x < 0.95 ? 'drop' : 'apply-then-fail';
      this.proposals.push({ cmd, at: this.step + this.rng.int(4), fate, resolve, reject });
    });
  }

  private deliverProposals(): void {
    const due = this.proposals.filter((p) => p.at <= this.step);
    if (due.length === 0) return;
    this.proposals = this.proposals.filter((p) => p.at > this.step);
    for (const p of due) {
      if (p.fate === 'drop') {
        this.note(() => `proposal dropped ${JSON.stringify(p.cmd)}`);
        p.reject(new Error('dropped'));
        continue;
      }
      const r = this.meta.apply(p.cmd);
      this.note(() => `proposal applied ${JSON.stringify(p.cmd)} -> ${r.ok ? 'ok' : r.code}`);
      if (p.fate === 'apply') p.resolve(r);
      else p.reject(new Error('timed out (but applied)'));
    }
  }

  /** Log commands the world itself applies (operator, heartbeats, ticks): applied at once. */
  private applyNow(cmd: MetaCommand): boolean {
    return this.meta.apply(cmd).ok;
  }

  // ---- shard groups --------------------------------------------------------

  private caughtUp(g: SimGroup, n: number): boolean {
    return this.up.has(n) && (g.readyAt.get(n) ?? 0) <= this.step;
  }

  /** Records a change of the group's config (called after every change). */
  private remember(g: SimGroup): void {
    const key = configKey(g.voters.filter((v) => !g.leaked.has(v)), seenLearners(g));
    if (key === g.key) return;
    if (g.key !== '') g.history.set(g.key, this.step);
    g.key = key;
  }

  /** The last step the group had the config `key` (now: this step), or undefined. */
  private hadAt(g: SimGroup, key: string): number | undefined {
    return key === g.key ? this.step : g.history.get(key);
  }

  private report(g: SimGroup): ConfReport {
    let voters = g.voters;
    let learners = sorted(new Set([...g.learners, ...g.phantoms.keys()]));
    let joint = g.outgoing !== null;
    if (this.breakage === 'report-promote-early' && g.outgoing === null) {
      // Learners that are caught up are claimed voters already.
      const claim = learners.filter((l) => this.caughtUp(g, l));
      voters = sorted([...voters, ...claim]);
      learners = learners.filter((l) => !claim.includes(l));
    }
    if (this.breakage === 'report-remove-early' && g.outgoing !== null) joint = false;
    return { group: g.id, leader: g.leader, term: g.term, voters: sorted(voters), learners: sorted(learners), joint, opsPerSec: 0 };
  }

  /** The group's leader sends its report to the meta leader (maybe delayed, maybe lost). */
  private sendReport(g: SimGroup): void {
    if (g.leader === 0 || !this.up.has(g.leader)) return;
    if (this.faulty && this.rng.float() < 0.2) return; // lost
    let at = this.step + this.rng.int(this.faulty ? 4 : 2);
    if (!this.reorder) at = Math.max(at, this.lastReportAt.get(g.id) ?? 0);
    this.lastReportAt.set(g.id, at);
    this.reports.push({ at, report: this.report(g) });
  }

  private deliverReports(): void {
    const due = this.reports.filter((r) => r.at <= this.step);
    if (due.length === 0) return;
    this.reports = this.reports.filter((r) => r.at > this.step);
    for (const r of due) {
      this.stats.reports++;
      this.note(() => `report delivered ${JSON.stringify(r.report)}`);
      this.executor.onReport(r.report);
    }
  }

  /** The executor's request: reaches the group's leader (if a target, up, and the message is not lost), which acts like GroupDriver.changeMembership. */
  private request(group: number, op: ConfRequestOp, node: number, targets: readonly number[]): void {
    this.stats.requests++;
    const g = this.groups.get(group);
    if (g === undefined) throw new Error(`request for unknown group ${group}`);
    if (g.leader === 0 || !this.up.has(g.leader) || !targets.includes(g.leader)) return;
    if (this.faulty && this.rng.float() < 0.2) return; // lost
    const move = this.roundState?.moves.find((m) => m.shard === group);
    if (op === 'remove' && move !== undefined && move.add === node && move.phase !== 'remove') g.abortBegunFor = move.startedAt;
    const before = configKey(g.voters, g.learners);
    this.changeMembership(g, op, node);
    this.note(() => `request ${op} ${node} on shard ${group}: ${before} -> ${configKey(g.voters, g.learners)}${g.outgoing !== null ? ' joint' : ''} leader ${g.leader}@${g.term}`);
    this.sendReport(g);
  }

  private changeMembership(g: SimGroup, op: ConfRequestOp, node: number): void {
    if (g.outgoing !== null) return; // leaves the joint config on its own first
    // A conf change commits only with a majority of the current voters up.
    if (!majorityUp(g.voters, this.up)) return;
    const isLearner = g.learners.includes(node);
    const isVoter = g.voters.includes(node);
    switch (op) {
      case 'add-learner':
        if (isLearner || isVoter || g.phantoms.has(node)) return;
        if (this.breakage === 'report-learner-early') {
          g.phantoms.set(node, this.step + 5);
          return;
        }
        g.learners = sorted([...g.learners, node]);
        g.readyAt.set(node, this.step + 1 + this.rng.int(5));
        this.changed(g);
        return;
      case 'add-voter':
        if (isVoter || !isLearner) return;
        if (!this.caughtUp(g, node)) return;
        this.enterJoint(g, sorted([...g.voters, node]), g.learners.filter((l) => l !== node));
        return;
      case 'remove':
        if (!isLearner && !isVoter) return;
        if (node === g.leader) {
          const to = g.voters.find((v) => v !== node && this.caughtUp(g, v));
          if (to !== undefined) this.elect(g, to);
          return;
        }
        if (isLearner) {
          g.learners = g.learners.filter((l) => l !== node);
          this.changed(g);
        } else this.enterJoint(g, g.voters.filter((v) => v !== node), g.learners);
        return;
      case 'transfer':
        if (node === g.leader || !isVoter || !this.caughtUp(g, node)) return;
        this.elect(g, node);
        return;
    }
  }

  private enterJoint(g: SimGroup, voters: number[], learners: number[]): void {
    // The executor asked for this voter change: it must not leave the voters without an up majority.
    if (this.violation === null && !majorityUp(voters, this.up)) {
      this.violation = `step ${this.step}: shard ${g.id}: the executor's conf change leaves voters [${voters.join(',')}] without a majority of up nodes (up: ${sorted(this.up).join(',')})`;
    }
    g.outgoing = g.voters;
    g.voters = voters;
    g.learners = learners;
    g.jointLeaveAt = this.step + 1 + this.rng.int(3);
    this.changed(g);
  }

  private changed(g: SimGroup): void {
    this.stats.confChanges++;
    this.remember(g);
  }

  private elect(g: SimGroup, node: number): void {
    g.leader = node;
    g.term++;
    this.sendReport(g);
  }

  /** An election among the up voters of both configs (needs a majority of each). */
  private tryElection(g: SimGroup, pick: number): void {
    if (!majorityUp(g.voters, this.up) || (g.outgoing !== null && !majorityUp(g.outgoing, this.up))) return;
    const candidates = g.voters.filter((v) => this.up.has(v));
    const c = candidates[pick % candidates.length];
    if (c !== undefined) this.elect(g, c);
  }

  private groupHousekeeping(): void {
    for (const g of this.groups.values()) {
      for (const [n, at] of g.phantoms) {
        if (at > this.step) continue;
        g.phantoms.delete(n);
        if (g.outgoing === null && !g.learners.includes(n) && !g.voters.includes(n)) {
          g.learners = sorted([...g.learners, n]);
          g.readyAt.set(n, this.step + 1);
          this.changed(g);
        }
      }
      if (g.leader !== 0 && !this.up.has(g.leader)) g.leader = 0;
      if (g.leader === 0 && (!this.faulty || this.rng.float() < 0.3)) this.tryElection(g, this.rng.int(16));
      if (g.outgoing !== null && g.jointLeaveAt <= this.step && g.leader !== 0 && majorityUp(g.voters, this.up) && majorityUp(g.outgoing, this.up)) {
        g.outgoing = null;
        this.note(() => `shard ${g.id} leaves joint: ${configKey(g.voters, g.learners)}`);
        this.changed(g);
        this.sendReport(g);
      }
      if (g.leader !== 0 && this.rng.float() < 0.15) this.sendReport(g);
    }
  }

  // ---- nodes and the meta log's clock ---------------------------------------

  /** Heartbeats of the up nodes, then a tick (nothing is marked down: up nodes are fresh, down ones were marked at once). */
  private heartbeats(): void {
    const st = this.meta.state();
    for (const n of st.nodes) {
      if (n.admin === 'removed' || !this.up.has(n.id)) continue;
      if (!n.live || this.clock - n.lastHeartbeat >= DOWN_TIMEOUT_MS / 4) this.applyNow({ type: 'heartbeat', ts: this.clock, node: n.id });
    }
    this.applyNow({ type: 'tick', ts: this.clock });
  }

  /** Voter sets a node's failure must leave with an up majority: every group's (both configs) and the map's. */
  private voterSets(): number[][] {
    const out: number[][] = [];
    for (const g of this.groups.values()) {
      out.push(g.voters);
      if (g.outgoing !== null) out.push(g.outgoing);
    }
    for (const s of this.meta.state().shards) out.push([...s.voters]);
    return out;
  }

  /** Up, active nodes a fault or drain must leave: enough for every shard's replication. */
  private get minUpActive(): number {
    return Math.max(this.config.replication, this.config.metaReplication);
  }

  private upActive(st: MetaState): number[] {
    return st.nodes.filter((n) => n.admin === 'active' && this.up.has(n.id)).map((n) => n.id);
  }

  private applyEvent(e: WorldEvent): void {
    const st = this.meta.state();
    if (e.kind !== 'none') this.note(() => `event ${JSON.stringify(e)}`);
    switch (e.kind) {
      case 'none':
        return;
      case 'addNode':
      case 'joinNode': {
        const id = this.nextNodeId++;
        this.up.add(id);
        this.applyNow(e.kind === 'addNode' ? { type: 'addNode', ts: this.clock, node: addr(id) } : { type: 'joinNode', ts: this.clock, node: addr(id) });
        break;
      }
      case 'drain': {
        const active = st.nodes.filter((n) => n.admin === 'active');
        const n = active[e.pick % Math.max(1, active.length)];
        if (n === undefined) return;
        if (this.upActive(st).filter((id) => id !== n.id).length < this.minUpActive) return;
        this.applyNow({ type: 'removeNode', ts: this.clock, node: n.id });
        break;
      }
      case 'down': {
        const cands = sorted(this.up).filter((id) => st.nodes.find((n) => n.id === id)?.admin !== 'removed');
        const id = cands[e.pick % Math.max(1, cands.length)];
        if (id === undefined) return;
        const rest = new Set(this.up);
        rest.delete(id);
        if (this.upActive(st).filter((x) => x !== id).length < this.minUpActive) return;
        if (this.voterSets().some((vs) => vs.includes(id) && !majorityUp(vs, rest))) return;
        this.up.delete(id);
        // Its heartbeats stop: jump past the down timeout (the others heartbeat), then tick.
        const last = st.nodes.find((n) => n.id === id)?.lastHeartbeat ?? this.clock;
        this.clock = Math.max(this.clock, last + DOWN_TIMEOUT_MS + 1);
        this.heartbeats();
        break;
      }
      case 'up': {
        const down = st.nodes.filter((n) => n.admin !== 'removed' && !this.up.has(n.id));
        const n = down[e.pick % Math.max(1, down.length)];
        if (n === undefined) return;
        this.up.add(n.id);
        for (const g of this.groups.values()) if (g.voters.includes(n.id) || g.learners.includes(n.id)) g.readyAt.set(n.id, this.step + 1 + this.rng.int(3));
        this.applyNow({ type: 'heartbeat', ts: this.clock, node: n.id });
        break;
      }
      case 'elect': {
        const ids = [...this.groups.keys()];
        const g = this.groups.get(ids[e.pick % ids.length]!)!;
        this.tryElection(g, e.pick >> 4);
        break;
      }
      case 'metaFailover':
        // A new meta leader: a fresh executor with no reports; the old one's proposals still apply or fail.
        this.stats.failovers++;
        this.executor = this.newExecutor();
        for (const g of this.groups.values()) if (this.rng.float() < 0.5) this.sendReport(g);
        break;
    }
    this.stats.events++;
    this.eventsByKind.set(e.kind, (this.eventsByKind.get(e.kind) ?? 0) + 1);
  }

  /** Events that took effect, by kind. */
  readonly eventsByKind = new Map<WorldEvent['kind'], number>();

  /** One world step: an event, the groups' and the log's progress, then one executor round; then the safety check. */
  async advance(e: WorldEvent): Promise<void> {
    this.step++;
    this.clock += STEP_MS;
    this.applyEvent(e);
    this.heartbeats();
    this.groupHousekeeping();
    this.deliverProposals();
    this.deliverReports();
    // Let promise callbacks (the executor's `busy` flag) run.
    await Promise.resolve();
    await Promise.resolve();
    this.roundState = this.meta.state();
    this.executor.round(this.roundState);
    this.roundState = null;
    this.checkSafety();
  }

  // ---- properties ----------------------------------------------------------

  /**
   * Safety (1): the map is never ahead of a group. For a shard without a move the
   * map's voters and learners are the group's (not joint). With a move of `add`
   * a and `remove` r, from the map's config C0 = (V, L) the move passes through
   * C1 = (V, L+a), C2 = (V+a, L), C3 = (V+a−r, L); the group may be at:
   *   phase add-learner (map C0): C0 or C1;
   *   phase promote (map C1):     C1 or C2, or C0 (an abort removed the learner
   *                               — or a joint config between them);
   *   phase remove (map C2):      C2 or C3.
   * (A joint group's incoming and outgoing configs must both be allowed.) And
   * the map's config is one the group has had since the move began.
   */
  private checkSafety(): void {
    if (this.violation !== null) return;
    const st = this.meta.state();
    const moves = new Map(st.moves.map((m) => [m.shard, m]));
    const prev = this.prevMoves;
    this.prevMoves = moves;
    for (const s of st.shards) {
      if (this.excluded.has(s.id)) continue;
      const g = this.groups.get(s.id)!;
      const m = moves.get(s.id);
      const was = prev.get(s.id);
      const revived = (): boolean => {
        if (!this.tolerate.has('abortRevived') || (m?.startedAt !== g.abortBegunFor && was?.startedAt !== g.abortBegunFor)) return false;
        this.excluded.add(s.id);
        this.knownBugSeen.add('abortRevived');
        return true;
      };
      if (was !== undefined && was.add !== null && m?.startedAt !== was.startedAt) {
        // The move ended (or was replaced): an aborted add the group still has is a
        // stray, which the executor's sweep removes (the map is the truth; the
        // liveness property checks that the sweep happens).
        // (a request for it still in flight may even add or promote it later)
        if (!s.learners.includes(was.add) && !s.voters.includes(was.add)) {
          g.leaked.add(was.add);
          g.everLeaked.add(was.add);
          this.remember(g);
        }
      }
      if (g.leaked.size > 0) {
        for (const l of g.leaked) if (s.learners.includes(l) || s.voters.includes(l)) g.leaked.delete(l);
        this.remember(g);
      }
      const why = safetyProblem(s, m, g);
      if (why !== null && revived()) continue;
      if (why !== null) {
        this.violation = `step ${this.step}: shard ${s.id}: ${why}`;
        return;
      }
      if (m !== undefined) {
        const key = `${m.add}:${m.remove}:${m.startedAt}`;
        const seen = this.moveSeenAt.get(s.id);
        if (seen === undefined || seen.key !== key) this.moveSeenAt.set(s.id, { key, step: this.step });
      }
      const since = m === undefined ? this.step : this.moveSeenAt.get(s.id)!.step;
      const had = this.hadAt(g, configKey(s.voters, s.learners));
      // With strays in the group (left by aborted moves, swept later) its config
      // history names them; the phase rule above (safetyProblem) already holds.
      // (a stray may be promoted late and then re-added by a new move: the group is
      // then ahead of the map, never behind it, which the phase rule checks)
      const hasStrays = [...g.voters, ...g.learners, ...(g.outgoing ?? []), ...s.voters, ...s.learners].some((n) => g.everLeaked.has(n));
      if (!hasStrays && (had === undefined || had < since - 1)) {
        if (revived()) continue;
        this.violation = `step ${this.step}: shard ${s.id}: the map's config ${configKey(s.voters, s.learners)} is not one the group has had since step ${since}`;
        return;
      }
    }
  }

  /**
   * Liveness (2): null once the world is at rest, else what is still missing:
   * no move in flight and none planned, R voters per shard on distinct up active
   * nodes, loads within one, drained nodes removed and empty, map = groups.
   */
  convergedProblem(): string | null {
    const st = this.meta.state();
    if (this.tolerate.has('removeStall') && this.removeStalled(st)) {
      this.knownBugSeen.add('removeStall');
      return null;
    }
    if (this.tolerate.has('abortRevived') && this.learnerLost(st)) {
      this.knownBugSeen.add('abortRevived');
      return null;
    }
    if (this.excluded.size > 0) {
      // Only the shards a known bug did not break can still be compared with their groups.
      for (const s of st.shards) {
        const g = this.groups.get(s.id)!;
        if (this.excluded.has(s.id) || st.moves.some((m) => m.shard === s.id)) continue;
        if (g.outgoing !== null || configKey(g.voters, seenLearners(g)) !== configKey(s.voters, s.learners)) return `shard ${s.id}: map ${configKey(s.voters, s.learners)} but group ${configKey(g.voters, seenLearners(g))}`;
      }
      return null;
    }
    if (st.moves.length > 0) return `moves in flight: ${JSON.stringify(st.moves)}`;
    const planned = planMoves(st);
    if (planned.length > 0) return `moves planned: ${JSON.stringify(planned)}`;
    const eligible = new Set(eligibleNodes(st));
    const load = new Map([...eligible].map((id) => [id, 0]));
    for (const s of st.shards) {
      const r = s.id === 0 ? this.config.metaReplication : this.config.replication;
      if (s.voters.length !== r) return `shard ${s.id} has ${s.voters.length} voters, wants ${r}`;
      if (s.learners.length > 0) return `shard ${s.id} has learners ${s.learners.join(',')}`;
      for (const v of s.voters) {
        if (!eligible.has(v) || !this.up.has(v)) return `shard ${s.id} has a voter on node ${v}, which is not up and active`;
        load.set(v, load.get(v)! + 1);
      }
      const g = this.groups.get(s.id)!;
      if (g.outgoing !== null || configKey(g.voters, seenLearners(g)) !== configKey(s.voters, s.learners)) {
        return `shard ${s.id}: map ${configKey(s.voters, s.learners)} but group ${configKey(g.voters, seenLearners(g))}${g.outgoing !== null ? ' (joint)' : ''}`;
      }
    }
    const loads = [...load.values()];
    if (loads.length > 0 && Math.max(...loads) - Math.min(...loads) > 1) return `loads differ by more than one: ${JSON.stringify([...load])}`;
    for (const n of st.nodes) {
      if (n.admin === 'draining') {
        const holds = st.shards.some((s) => s.voters.includes(n.id) || s.learners.includes(n.id));
        if (!(this.tolerate.has('drainAfterAbort') && !holds)) return `node ${n.id} is still draining`;
        this.knownBugSeen.add('drainAfterAbort');
      }
      if (n.admin === 'removed' && st.shards.some((s) => s.voters.includes(n.id) || s.learners.includes(n.id))) return `removed node ${n.id} holds a replica`;
    }
    const target = computeTarget(st);
    for (const s of st.shards) if (configKey(target.get(s.id) ?? [], []) !== configKey(s.voters, [])) return `shard ${s.id} is not at its target`;
    return null;
  }

  /** The known bug `removeStall` holds the world: a remove-phase move whose removal lacks a live majority of the rest because of a down voter. */
  private removeStalled(st: MetaState): boolean {
    const live = new Set(eligibleNodes(st).concat(st.nodes.filter((n) => n.live && n.admin === 'draining').map((n) => n.id)));
    return st.moves.some((m) => {
      if (m.phase !== 'remove' || m.remove === null) return false;
      const s = st.shards.find((x) => x.id === m.shard)!;
      const rest = s.voters.filter((v) => v !== m.remove);
      return rest.some((v) => !live.has(v)) && !majorityUp(rest, live);
    });
  }

  /** The known bug `abortRevived` (a) holds the world: a promote-phase move whose learner the (non-joint) group does not have. */
  private learnerLost(st: MetaState): boolean {
    return st.moves.some((m) => {
      const g = this.groups.get(m.shard)!;
      return m.phase === 'promote' && m.add !== null && g.outgoing === null && !g.learners.includes(m.add) && !g.voters.includes(m.add);
    });
  }

  /** Ends the faults: messages are no longer dropped, no more events. */
  calm(): void {
    this.faulty = false;
  }

  describe(): string {
    const st = this.meta.state();
    const nodes = st.nodes.map((n) => `${n.id}:${n.admin}${n.live ? '' : '(down)'}${this.up.has(n.id) ? '' : '[proc down]'}`).join(' ');
    const shards = st.shards.map((s) => {
      const g = this.groups.get(s.id)!;
      return `  shard ${s.id}: map v[${s.voters}] l[${s.learners}] leader ${s.leader}@${s.term} | group v[${g.voters}] l[${g.learners}]${g.leaked.size > 0 ? ` leaked[${[...g.leaked]}]` : ''}${g.outgoing !== null ? ` out[${g.outgoing}]` : ''} leader ${g.leader}@${g.term}`;
    });
    return [`step ${this.step} nodes ${nodes}`, ...shards, `moves ${JSON.stringify(st.moves)}`].join('\n');
  }
}

/** The group's learners the checks compare with the map: without the ones a known bug leaked. */
function seenLearners(g: SimGroup): number[] {
  return g.leaked.size === 0 ? g.learners : g.learners.filter((l) => !g.leaked.has(l));
}

function safetyProblem(s: ShardRecord, m: MoveRecord | undefined, g: SimGroup): string | null {
  const c0 = configKey(s.voters, s.learners);
  // Strays (`leaked`: the new node of an aborted move, until the map lists it
  // again) are left out: the executor sweeps them (the liveness property checks it).
  const seen = (vs: readonly number[]): number[] => vs.filter((v) => !g.leaked.has(v));
  const configs = [configKey(seen(g.voters), seen(seenLearners(g)))];
  if (g.outgoing !== null) configs.push(configKey(seen(g.outgoing), seen(seenLearners(g))));
  let allowed: string[];
  if (m === undefined) {
    // (a joint config is allowed only while a stray is being removed: both halves then equal the map's)
    allowed = [c0];
  } else {
    const V = s.voters;
    const L = s.learners;
    const a = m.add;
    const r = m.remove;
    switch (m.phase) {
      case 'add-learner':
        allowed = a === null ? [c0] : [c0, configKey(V, [...L, a])];
        break;
      case 'promote': {
        if (a === null) return 'move in promote phase without add';
        const Lm = L.filter((l) => l !== a);
        allowed = [c0, configKey(V, Lm), configKey([...V, a], Lm)];
        break;
      }
      case 'remove':
        allowed = r === null ? [c0] : [c0, configKey(V.filter((v) => v !== r), L)];
        break;
    }
  }
  for (const c of configs) {
    if (!allowed.includes(c)) return `group config ${c}${g.outgoing !== null ? ' (joint)' : ''} is not allowed by the map ${c0} and move ${JSON.stringify(m ?? null)} (allowed: ${allowed.join(' ; ')})`;
  }
  return null;
}
