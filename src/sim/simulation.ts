/**
 * One seeded simulation run: N Raft cores on a simulated network, a client
 * workload and a fault schedule, all driven by one SeededRng and a tick clock.
 * Invariants are checked as the nodes persist and apply; liveness is checked
 * after every heal; the client history goes through the linearizability
 * checker at the end. The run is a pure function of its options.
 */
import type { HistoryEvent, Verdict } from '../../jepsen-lite/history.js';
import { checkHistory } from '../../jepsen-lite/checker/index.js';
import type {
  ConfChangeItem,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  ProposeResult,
  ReadIndexResult,
  ReadState,
  Snapshot,
  SoftState,
} from '../raft/types.js';
import { NONE } from '../raft/types.js';
import { SeededRng } from '../util/rng.js';
import { AsyncDisk, type AsyncDiskOptions, type AsyncDiskStats, emptyAsyncDiskStats } from './async-disk.js';
import { type ClientCluster, type ClientOptions, ClientWorkload } from './clients.js';
import { realCore } from './core.js';
import { describeFault, type FaultEvent, type FaultTarget, type PartitionShape, randomSchedule } from './faults.js';
import { confKey, InvariantChecker, SimViolation } from './invariants.js';
import { type ApplyOutcome, encodeCommand } from './kv.js';
import { HEALTHY_LINKS, SimNetwork } from './network.js';
import { NodeLiveness } from './liveness.js';
import { type CompactionPolicy, type NodeObserver, type RaftCoreFactory, type RaftTuning, SimNode } from './sim-node.js';
import { Trace } from './trace.js';

/** Deliberate bugs, for tests that prove the harness catches them. */
export interface SimMutations {
  readonly staleReads?: boolean;
  readonly earlyAck?: boolean;
  /** A restarted node forgets whom it voted for. */
  readonly forgetVote?: boolean;
  /** `--quiesce` without the node liveness signal: nothing wakes the followers of a dead quiesced leader. */
  readonly noNodeLiveness?: boolean;
  /** Async disk: a wrong driver that also sends these message types (e.g. 'app-resp') when it takes the Ready, before the write is durable. */
  readonly earlyTypes?: readonly Message['type'][];
}

export interface SimOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly steps: number;
  /** The fault schedule; by default a random one derived from the seed. */
  readonly schedule?: readonly FaultEvent[];
  readonly factory?: RaftCoreFactory;
  /** Overrides of the Raft knobs otherwise drawn from the seed. */
  readonly tuning?: Partial<RaftTuning>;
  readonly mutations?: SimMutations;
  readonly clients?: Partial<ClientOptions>;
  /** Check the client history for linearizability at the end (default true). */
  readonly checkLinearizability?: boolean;
  /** Budget for the checker, per run. */
  readonly checkerTimeoutMs?: number;
  /** Check that a heal leads to a commit within LIVENESS_BOUND ticks (default true). */
  readonly checkLiveness?: boolean;
  /** Lines of trace kept for a report. */
  readonly traceSize?: number;
  /** `--membership`: many more membership changes in the random schedule, removing/replacing the leader too. */
  readonly membership?: boolean;
  /** `--compaction`: snapshot and compact every few applied entries on every node (else a policy drawn from the seed). */
  readonly compaction?: boolean;
  /**
   * `--quiesce`: idle groups quiesce (RaftConfig.quiesce), a per-node-pair liveness
   * signal wakes them (liveness.ts), and the workload gets idle windows. Draws
   * nothing extra from the seed: the fault schedule is unchanged.
   */
  readonly quiesce?: boolean;
  /** Idle windows in the client workload (default: on with `quiesce`); `--idle` alone gives the baseline without quiescence. */
  readonly idleWorkload?: boolean;
  /**
   * `--async-disk`: the chosen nodes' drivers keep taking Readies while earlier
   * writes are in flight (async-disk.ts). Latencies come from a generator of
   * their own (seeded from `seed`): the rest of the run draws the same numbers.
   */
  readonly asyncDisk?: AsyncDiskOptions;
}

/** The idle windows of `--quiesce` / `--idle` runs: no new operation in the last 350 ticks of every 900. */
export const IDLE_WINDOWS = { period: 900, length: 350 } as const;
/** Ticks at the start of an idle window not counted as idle (in-flight work finishes, groups quiesce). */
export const IDLE_SETTLE = 60;

export interface SimViolationReport {
  readonly invariant: string;
  readonly detail: string;
  readonly tick: number;
}

export interface SimStats {
  ticks: number;
  messages: number;
  elections: number;
  crashes: number;
  snapshotsInstalled: number;
  committed: number;
  livenessChecks: number;
  maxRecoveryTicks: number;
  ops: { ok: number; fail: number; info: number };
  verdict: Verdict | 'skipped';
  checkerMs: number;
  /** Membership changes the leaders accepted (proposeConfChange ok). */
  membershipChanges: number;
  /** Ticks inside idle windows (after IDLE_SETTLE) and the messages delivered in them. */
  idleTicks: number;
  idleMessages: number;
  /** Wake calls made by the node liveness signal (`--quiesce`). */
  livenessWakes: number;
  /** `--async-disk`: what the async drivers did (null without). */
  asyncDisk: AsyncDiskStats | null;
}

export interface SimResult {
  readonly seed: number;
  readonly violation: SimViolationReport | null;
  readonly trace: readonly string[];
  readonly history: readonly HistoryEvent[];
  readonly stats: SimStats;
  readonly tuning: RaftTuning;
  readonly schedule: readonly FaultEvent[];
  /** Each node's status at the end (JSON), for reports. */
  readonly finalStatus: readonly string[];
}

export const ELECTION_TICK = 10;
/**
 * Liveness after a heal: the commit index must move (on some node) at least
 * once every LIVENESS_BOUND ticks, and a proposal made after the heal must
 * commit within LIVENESS_CAP ticks. A lagging voter that the quorum needs may
 * take long to catch up (small messages, a window of one), but its commit
 * index moves while it does; a stalled cluster's does not.
 */
export const LIVENESS_BOUND = 20 * ELECTION_TICK + 50;
export const LIVENESS_CAP = 5000;
/** Calm window after a heal (the liveness bound plus slack). */
export const CALM_TICKS = LIVENESS_BOUND + 30;

const DEFAULT_CLIENTS: ClientOptions = {
  clients: 6,
  keys: ['a', 'b', 'c', 'd'],
  opTimeout: 6 * ELECTION_TICK,
  thinkMax: 12,
  readFraction: 0.5,
  casFraction: 0.2,
};

function pick<T>(rng: SeededRng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)]!;
}

/** Raft knobs drawn from the seed so that runs cover several configurations. */
export function tuningForSeed(rng: SeededRng): RaftTuning {
  return {
    electionTick: ELECTION_TICK,
    heartbeatTick: 1 + rng.int(2),
    preVote: rng.int(4) !== 0,
    checkQuorum: rng.int(4) !== 0,
    maxSizePerMsg: pick(rng, [64, 1024, 1 << 20]),
    maxInflightMsgs: pick(rng, [1, 4, 256]),
    maxInflightBytes: pick(rng, [0, 0, 512]),
    maxUncommittedBytes: pick(rng, [0, 0, 4096]),
  };
}

interface Probe {
  readonly node: NodeId;
  readonly incarnation: number;
  readonly index: number;
  readonly term: number;
}

class Simulation implements NodeObserver, ClientCluster {
  readonly rng: SeededRng;
  readonly nodes: SimNode[] = [];
  readonly nodeIds: NodeId[] = [];
  readonly network: SimNetwork;
  readonly invariants = new InvariantChecker();
  readonly clients: ClientWorkload;
  readonly trace: Trace;
  readonly tuning: RaftTuning;
  readonly schedule: readonly FaultEvent[];
  now = 0;
  /** Liveness: the tick of the last heal still waiting for a commit, or null. */
  private healedAt: number | null = null;
  private probe: Probe | null = null;
  private probeId = -1;
  /** Last tick at which some node's persisted commit index grew, and each node's commit. */
  private lastCommitProgress = 0;
  private readonly commitOf: number[] = [];
  /** Highest committed index when each read was requested (reads must not go back past it). */
  private readonly readFloor = new Map<string, number>();
  private readonly sortedSchedule: readonly FaultEvent[];
  private nextFault = 0;
  private readonly liveness: NodeLiveness | null = null;
  readonly stats: SimStats = {
    ticks: 0, messages: 0, elections: 0, crashes: 0, snapshotsInstalled: 0, committed: 0,
    livenessChecks: 0, maxRecoveryTicks: 0, ops: { ok: 0, fail: 0, info: 0 }, verdict: 'skipped', checkerMs: 0,
    membershipChanges: 0, idleTicks: 0, idleMessages: 0, livenessWakes: 0, asyncDisk: null,
  };

  constructor(readonly options: SimOptions) {
    this.rng = new SeededRng(options.seed);
    this.tuning = { ...tuningForSeed(this.rng), ...options.tuning };
    if (options.quiesce === true) this.tuning = { ...this.tuning, quiesce: true };
    const drawn: CompactionPolicy = pick(this.rng, [
      { threshold: 0, keep: 0 },
      { threshold: 20, keep: 0 },
      { threshold: 50, keep: 5 },
      { threshold: 200, keep: 20 },
    ]);
    // --compaction: frequent snapshots (no extra draw, so the rest of the run is unchanged).
    const frequent: readonly CompactionPolicy[] = [
      { threshold: 5, keep: 0 },
      { threshold: 8, keep: 2 },
      { threshold: 12, keep: 0 },
    ];
    const compaction = options.compaction === true ? frequent[options.seed % frequent.length]! : drawn;
    // Forked even when a schedule is given, so that the rest of the run draws the same numbers.
    const scheduleRng = this.rng.fork();
    this.schedule =
      options.schedule ??
      randomSchedule(scheduleRng, {
        steps: options.steps,
        nodes: options.nodes,
        calm: CALM_TICKS,
        maxChaos: 1500,
        membership: options.membership === true,
      });
    this.sortedSchedule = [...this.schedule].sort((a, b) => a.at - b.at);
    this.network = new SimNetwork(this.rng.fork(), options.nodes);
    this.trace = new Trace(options.traceSize ?? 40);
    for (let i = 1; i <= options.nodes; i++) this.nodeIds.push(i);
    const conf: ConfState = { voters: this.nodeIds, learners: [] };
    const factory = options.factory ?? realCore;
    const nodeRng = this.rng.fork();
    for (const id of this.nodeIds) {
      const node = new SimNode(id, factory, this.tuning, nodeRng, conf, compaction, this);
      node.forgetVoteOnRestart = options.mutations?.forgetVote === true;
      this.nodes.push(node);
    }
    const asyncDisk = options.asyncDisk;
    if (asyncDisk !== undefined) {
      const diskRng = new SeededRng((options.seed ^ 0x5a17d15c) >>> 0);
      const stats = emptyAsyncDiskStats();
      this.stats.asyncDisk = stats;
      for (const node of this.nodes) {
        const rng = diskRng.fork();
        if (asyncDisk.nodes !== undefined && !asyncDisk.nodes.includes(node.id)) continue;
        const latency = asyncDisk.latencyOf?.[node.id] ?? asyncDisk.latency;
        node.asyncDisk = new AsyncDisk(rng, () => this.now, latency === undefined ? asyncDisk : { ...asyncDisk, latency }, stats);
        node.wrongEarlyTypes = new Set(options.mutations?.earlyTypes ?? []);
      }
    }
    const idle = options.idleWorkload ?? options.quiesce === true;
    const clientOptions: ClientOptions = { ...DEFAULT_CLIENTS, ...(idle ? { idle: IDLE_WINDOWS } : {}), ...options.clients };
    this.clients = new ClientWorkload(this.rng.fork(), clientOptions, options.mutations ?? {});
    if (options.quiesce === true && options.mutations?.noNodeLiveness !== true) {
      this.liveness = new NodeLiveness(
        {
          nodes: this.nodes,
          linkUp: (from, to) => !this.network.isBlocked(from, to),
          woke: (node, what) => {
            this.trace.text(this.now, `n${node.id} liveness: ${what}`);
            this.drive(node);
          },
        },
        ELECTION_TICK,
      );
    }
  }

  node(id: NodeId): SimNode {
    return this.nodes[id - 1]!;
  }

  // ------------------------------------------------------------ observer

  onSoftState(node: SimNode, ss: SoftState): void {
    this.trace.text(this.now, `n${node.id} ${ss.role} (leader n${ss.leader})`);
    if (ss.role === 'leader') this.stats.elections++;
  }

  onTaken(node: SimNode, hs: HardState | null, termStable: boolean): void {
    this.invariants.onTaken(node, hs);
    // A new leader's early appends need its leadership recorded first (its term is durable).
    if (termStable && node.role === 'leader' && !node.termChangePending()) this.invariants.checkLeader(node);
  }

  onPersisted(node: SimNode, hs: HardState | null, entries: readonly Entry[], snap: Snapshot | null): void {
    if (node.asyncDisk !== null && entries.length > 0) {
      this.trace.text(this.now, `n${node.id} durable ${entries[0]!.index}..${entries[entries.length - 1]!.index}${hs !== null ? ` hs ${hs.term}/${hs.vote}/${hs.commit}` : ''}`);
    }
    if (snap !== null) {
      this.stats.snapshotsInstalled++;
      this.trace.text(this.now, `n${node.id} installs snapshot ${snap.metadata.index}/${snap.metadata.term}`);
    }
    this.invariants.onPersisted(node, hs, entries, snap);
    if (hs !== null && hs.commit > (this.commitOf[node.id] ?? 0)) {
      this.commitOf[node.id] = hs.commit;
      this.lastCommitProgress = this.now;
    }
  }

  send(node: SimNode, m: Message): void {
    this.invariants.onSend(node, m);
    this.network.send(m, this.now);
  }

  onApplied(node: SimNode, e: Entry, outcome: ApplyOutcome | null, prevApplied: number): void {
    this.invariants.onApplied(node, e, prevApplied);
    this.clients.onApplied(node, e, outcome);
    const p = this.probe;
    if (p !== null && p.node === node.id && p.index === e.index && p.incarnation === node.incarnation) {
      this.probe = null;
      if (e.term === p.term && this.healedAt !== null) {
        this.stats.maxRecoveryTicks = Math.max(this.stats.maxRecoveryTicks, this.now - this.healedAt);
        this.stats.livenessChecks++;
        this.healedAt = null;
      }
    }
  }

  onSnapshotRestored(node: SimNode, snap: Snapshot, prevApplied: number): void {
    this.invariants.onSnapshotRestored(node, snap, prevApplied);
    this.clients.onSnapshotRestored(node, snap);
    if (this.probe?.node === node.id && this.probe.index <= snap.metadata.index) this.probe = null;
  }

  onConfState(node: SimNode, conf: ConfState, atIndex: number): void {
    this.trace.text(this.now, `n${node.id} membership after ${atIndex}: ${confKey(conf)}`);
    this.invariants.onConfState(node, conf, atIndex);
  }

  onReadState(node: SimNode, rs: ReadState): void {
    if (rs.index > node.applied) {
      throw new SimViolation('read-state-applied', `n${node.id} released read ${rs.context} at index ${rs.index} with applied ${node.applied}`);
    }
    const floor = this.readFloor.get(rs.context);
    if (floor !== undefined) {
      this.readFloor.delete(rs.context);
      if (rs.index < floor) {
        throw new SimViolation('read-index-stale', `n${node.id} read ${rs.context} got index ${rs.index}, but ${floor} was committed before it was requested`);
      }
    }
    this.clients.onReadState(node, rs);
  }

  // ------------------------------------------------------------ client cluster

  propose(id: NodeId, data: Uint8Array): ProposeResult | null {
    const node = this.running(id);
    const raft = node?.raft;
    if (node === null || raft == null) return null;
    const res = raft.propose(data);
    this.trace.text(this.now, `n${id} propose -> ${res.ok ? `${res.index}/${res.term}` : res.reason}`);
    this.drive(node);
    return res;
  }

  readIndex(id: NodeId, context: string): ReadIndexResult | null {
    const node = this.running(id);
    const raft = node?.raft;
    if (node === null || raft == null) return null;
    this.readFloor.set(context, this.invariants.highestCommitted);
    const res = raft.readIndex(context);
    this.trace.text(this.now, `n${id} readIndex ${context} -> ${res.ok ? 'ok' : res.reason}`);
    this.drive(node);
    return res;
  }

  // ------------------------------------------------------------ faults

  private leaderNode(): SimNode | null {
    let best: SimNode | null = null;
    let bestTerm = -1;
    for (const n of this.nodes) {
      if (n.raft === null || n.role !== 'leader') continue;
      const t = n.disk.initialState().hardState.term;
      if (t > bestTerm) {
        best = n;
        bestTerm = t;
      }
    }
    return best;
  }

  private resolve(t: FaultTarget): NodeId {
    if (t === 'random') return pick(this.rng, this.nodeIds);
    if (t === 'leader') return this.leaderNode()?.id ?? pick(this.rng, this.nodeIds);
    return Math.min(Math.max(1, t), this.options.nodes);
  }

  private shuffledIds(): NodeId[] {
    const ids = [...this.nodeIds];
    for (let i = ids.length - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    return ids;
  }

  private cut(sideA: readonly NodeId[], sideB: readonly NodeId[]): void {
    for (const a of sideA) {
      for (const b of sideB) {
        this.network.setBlocked(a, b, true);
        this.network.setBlocked(b, a, true);
      }
    }
  }

  private partition(shape: PartitionShape): string {
    const net = this.network;
    net.clearPartitions();
    const n = this.options.nodes;
    switch (shape.kind) {
      case 'halves': {
        const ids = this.shuffledIds();
        const k = 1 + this.rng.int(n - 1);
        this.cut(ids.slice(0, k), ids.slice(k));
        return `${ids.slice(0, k).join(',')} | ${ids.slice(k).join(',')}`;
      }
      case 'minority': {
        const ids = this.shuffledIds();
        const k = 1 + this.rng.int(Math.floor((n - 1) / 2));
        this.cut(ids.slice(0, k), ids.slice(k));
        return `${ids.slice(0, k).join(',')} | ${ids.slice(k).join(',')}`;
      }
      case 'isolate-leader': {
        const l = this.resolve('leader');
        this.cut([l], this.nodeIds.filter((x) => x !== l));
        return `${l} | rest`;
      }
      case 'bridge': {
        const ids = this.shuffledIds();
        const bridge = ids[0]!;
        const rest = ids.slice(1);
        const k = 1 + this.rng.int(rest.length - 1);
        this.cut(rest.slice(0, k), rest.slice(k));
        return `${rest.slice(0, k).join(',')} | ${rest.slice(k).join(',')} bridged by ${bridge}`;
      }
      case 'one-way': {
        const from = this.resolve(shape.from);
        let to = this.resolve(shape.to);
        if (to === from) to = (from % n) + 1;
        net.setBlocked(from, to, true);
        return `${from} -/-> ${to}`;
      }
      case 'leader-mute': {
        const l = this.resolve('leader');
        for (const x of this.nodeIds) if (x !== l) net.setBlocked(l, x, true);
        return `${l} muted`;
      }
      case 'group': {
        const side = [...new Set(shape.members.map((t) => this.resolve(t)))];
        this.cut(side, this.nodeIds.filter((x) => !side.includes(x)));
        return `${side.join(',')} | rest`;
      }
    }
  }

  /** Runs a node's Ready loop; cleans up if it crashed in the middle of a Ready. */
  private drive(node: SimNode): void {
    node.drive();
    if (node.crashedInReady) {
      node.crashedInReady = false;
      this.trace.text(this.now, `n${node.id} crashed inside a Ready`);
      this.afterCrash(node);
    }
  }

  private afterCrash(node: SimNode): void {
    this.stats.crashes++;
    this.clients.onCrash(node);
    if (this.probe?.node === node.id) this.probe = null;
  }

  private crash(id: NodeId): void {
    const node = this.node(id);
    if (!node.alive) return;
    node.crash();
    this.afterCrash(node);
  }

  private resume(node: SimNode): void {
    if (!node.paused) return;
    node.paused = false;
    const held = node.held.splice(0);
    for (const m of held) {
      if (node.raft === null) return;
      this.trace.message(this.now, m);
      node.raft.step(m);
      this.drive(node);
    }
  }

  /** A live, running node (not crashed, not paused), or null. */
  private running(id: NodeId): SimNode | null {
    const node = this.node(id);
    return node.raft === null || node.paused ? null : node;
  }

  private restart(id: NodeId): void {
    const node = this.node(id);
    if (node.alive) return;
    node.restart();
    this.invariants.onRestart(node, node.conf);
    this.drive(node);
  }

  private applyFault(e: FaultEvent): void {
    let what = describeFault(e);
    if (e.kind !== 'heal') this.healedAt = null;
    switch (e.kind) {
      case 'partition':
        what += `: ${this.partition(e.shape)}`;
        break;
      case 'crash': {
        const id = this.resolve(e.target);
        what += ` -> n${id}`;
        this.crash(id);
        break;
      }
      case 'restart': {
        const down = this.nodes.filter((x) => !x.alive);
        const target = e.target === 'random' ? (down.length > 0 ? pick(this.rng, down).id : NONE) : this.resolve(e.target);
        if (target !== NONE) {
          what += ` -> n${target}`;
          this.restart(target);
        }
        break;
      }
      case 'links':
        this.network.setFaults(e.faults);
        break;
      case 'transfer': {
        const l = this.leaderNode();
        if (l?.raft) {
          const others = this.nodeIds.filter((x) => x !== l.id);
          const to = pick(this.rng, others);
          what += ` n${l.id} -> n${to}`;
          l.raft.transferLeadership(to);
          this.drive(l);
        }
        break;
      }
      case 'crash-mid-ready': {
        const id = this.resolve(e.target);
        what += ` -> n${id}`;
        const node = this.node(id);
        if (node.alive) node.crashPoint = e.point;
        break;
      }
      case 'pause': {
        const id = this.resolve(e.target);
        what += ` -> n${id}`;
        const node = this.node(id);
        if (node.alive) node.paused = true;
        break;
      }
      case 'resume': {
        const paused = this.nodes.filter((x) => x.paused);
        const node = e.target === 'random' ? (paused.length > 0 ? pick(this.rng, paused) : null) : this.node(this.resolve(e.target));
        if (node !== null) {
          what += ` -> n${node.id}`;
          this.resume(node);
        }
        break;
      }
      case 'clock': {
        const id = this.resolve(e.target);
        what += ` -> n${id}`;
        this.node(id).clockRate = e.rate;
        break;
      }
      case 'campaign': {
        const node = this.running(this.resolve(e.target));
        if (node?.raft) {
          what += ` -> n${node.id}`;
          node.raft.campaign();
          this.drive(node);
        }
        break;
      }
      case 'membership':
        what += this.changeMembership(e.size);
        break;
      case 'remove-leader':
        what += this.removeLeader(e.replace);
        break;
      case 'heal':
        this.network.clearPartitions();
        this.network.setFaults(HEALTHY_LINKS);
        for (const n of this.nodes) {
          n.crashPoint = null;
          n.clockRate = 1;
          this.resume(n);
          if (!n.alive) this.restart(n.id);
        }
        if (this.healedAt === null) this.healedAt = this.now;
        break;
    }
    this.trace.text(this.now, `FAULT ${what}`);
  }

  /** The leader proposes a random membership change of `size` steps; returns what it tried. */
  private changeMembership(size: 1 | 2): string {
    const leader = this.leaderNode();
    const raft = leader?.raft;
    if (leader === null || raft == null) return ': no leader';
    const conf = raft.status().conf ?? leader.conf;
    const voters = [...conf.voters];
    const learners = [...conf.learners];
    const outsiders = this.nodeIds.filter((x) => !voters.includes(x) && !learners.includes(x));
    const changes: ConfChangeItem[] = [];
    for (let i = 0; i < size; i++) {
      const options: ConfChangeItem[] = [];
      for (const x of outsiders) options.push({ op: 'add-voter', node: x }, { op: 'add-learner', node: x });
      for (const x of learners) options.push({ op: 'add-voter', node: x }, { op: 'remove', node: x });
      if (voters.length > 1) for (const x of voters) options.push({ op: 'remove', node: x });
      const fresh = options.filter((o) => !changes.some((c) => c.node === o.node));
      if (fresh.length === 0) break;
      const c = pick(this.rng, fresh);
      changes.push(c);
      if (c.op === 'remove') voters.splice(voters.indexOf(c.node), 1);
    }
    if (changes.length === 0) return ': nothing to change';
    return this.proposeChanges(leader, changes);
  }

  /** The leader removes itself (or swaps itself for a node outside the configuration). */
  private removeLeader(replace: boolean): string {
    const leader = this.leaderNode();
    const raft = leader?.raft;
    if (leader === null || raft == null) return ': no leader';
    const conf = raft.status().conf ?? leader.conf;
    if (conf.voters.length < 2) return ': the leader is the only voter';
    const changes: ConfChangeItem[] = [{ op: 'remove', node: leader.id }];
    const outsiders = this.nodeIds.filter((x) => !conf.voters.includes(x));
    if (replace && outsiders.length > 0) changes.push({ op: 'add-voter', node: pick(this.rng, outsiders) });
    return this.proposeChanges(leader, changes);
  }

  private proposeChanges(leader: SimNode, changes: readonly ConfChangeItem[]): string {
    const raft = leader.raft;
    if (raft === null) return ': no leader';
    if (raft.proposeConfChange === undefined) return ': core has no membership changes';
    const res = raft.proposeConfChange({ changes });
    if (res.ok) this.stats.membershipChanges++;
    this.drive(leader);
    return `: n${leader.id} ${changes.map((c) => `${c.op} n${c.node}`).join(' + ')} -> ${res.ok ? `${res.index}/${res.term}` : res.reason}`;
  }

  // ------------------------------------------------------------ main loop

  private livenessStep(): void {
    if (this.healedAt === null) return;
    if (this.options.checkLiveness !== false) {
      const quiet = this.now - Math.max(this.healedAt, this.lastCommitProgress);
      if (quiet > LIVENESS_BOUND) {
        throw new SimViolation('liveness', `no commit progress for ${quiet} ticks after the heal at tick ${this.healedAt}`);
      }
      if (this.now - this.healedAt > LIVENESS_CAP) {
        throw new SimViolation('liveness', `no proposal made after the heal at tick ${this.healedAt} committed within ${LIVENESS_CAP} ticks`);
      }
    }
    const p = this.probe;
    if (p !== null) {
      const n = this.node(p.node);
      if (n.alive && n.incarnation === p.incarnation && n.role === 'leader') return;
    }
    const leader = this.leaderNode();
    if (leader?.raft == null) return;
    const res = leader.raft.propose(encodeCommand({ op: 'probe', id: this.probeId-- }));
    if (res.ok) this.probe = { node: leader.id, incarnation: leader.incarnation, index: res.index, term: res.term };
    this.drive(leader);
  }

  private tick(): void {
    const now = ++this.now;
    const net = this.network;
    const schedule = this.sortedSchedule;
    while (this.nextFault < schedule.length && schedule[this.nextFault]!.at <= now) {
      this.applyFault(schedule[this.nextFault++]!);
    }
    this.liveness?.step(now);
    const deliveredBefore = net.stats.delivered;
    for (const m of net.takeDue(now)) {
      const node = this.node(m.to);
      if (node.raft === null) continue;
      if (node.paused) {
        node.held.push(m);
        continue;
      }
      this.trace.message(now, m);
      node.raft.step(m);
      this.drive(node);
    }
    for (const id of this.shuffledIds()) {
      const node = this.node(id);
      if (node.raft === null || node.paused) continue;
      const ticks = node.clockRate === 2 ? 2 : node.clockRate === 0.5 ? now % 2 : 1;
      for (let i = 0; i < ticks && node.raft !== null; i++) {
        node.raft.tick();
        this.drive(node);
      }
    }
    for (const n of this.nodes) {
      if (n.role === 'leader' && n.raft !== null && !n.termChangePending()) this.invariants.checkLeader(n);
    }
    this.clients.step(now, this);
    this.livenessStep();
    if (this.clients.idleAt(now) && this.clients.idleAt(now - IDLE_SETTLE)) {
      this.stats.idleTicks++;
      this.stats.idleMessages += net.stats.delivered - deliveredBefore;
    }
  }

  run(): SimResult {
    let violation: SimViolationReport | null = null;
    try {
      for (const n of this.nodes) n.start();
      while (this.now < this.options.steps) this.tick();
      // The last heal must still be followed by a commit: run on (no new faults) until
      // the probe commits or the liveness rules fail (bounded by LIVENESS_CAP).
      while (this.healedAt !== null && this.options.checkLiveness !== false) this.tick();
    } catch (e) {
      violation =
        e instanceof SimViolation
          ? { invariant: e.invariant, detail: e.detail, tick: this.now }
          : { invariant: 'exception', detail: e instanceof Error ? (e.stack ?? e.message) : String(e), tick: this.now };
    }
    this.clients.close(this.now);
    this.stats.ticks = this.now;
    this.stats.messages = this.network.stats.delivered;
    this.stats.committed = this.invariants.highestCommitted;
    this.stats.ops = { ...this.clients.stats };
    this.stats.livenessWakes = this.liveness?.wakes ?? 0;
    if (violation === null && this.options.checkLinearizability !== false) {
      const started = Date.now();
      const result = checkHistory(this.clients.history, { timeoutMs: this.options.checkerTimeoutMs ?? 20_000 });
      this.stats.checkerMs = Date.now() - started;
      this.stats.verdict = result.verdict;
      if (result.verdict === 'not-linearizable') {
        const bad = result.keys.find((k) => k.verdict === 'not-linearizable');
        const window = bad?.window;
        violation = {
          invariant: 'linearizability',
          detail: `key ${bad?.key ?? '?'}: ${bad?.detail ?? ''}`,
          tick: window?.to ?? this.now,
        };
      }
    }
    return {
      seed: this.options.seed,
      violation,
      trace: this.trace.lines(),
      history: this.clients.history,
      stats: this.stats,
      tuning: this.tuning,
      schedule: this.schedule,
      finalStatus: this.nodes.map((n) => `n${n.id}: ${n.raft === null ? 'down' : JSON.stringify(n.raft.status(), (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v))}`),
    };
  }
}

export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

export interface IdleTrafficOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly quiesce: boolean;
  /** Ticks to let the group elect a leader and settle (default 200). */
  readonly warmup?: number;
  /** Ticks measured (default 1000). */
  readonly ticks?: number;
  readonly tuning?: Partial<RaftTuning>;
}

/**
 * Messages per tick of a healthy, idle group (no clients, no faults) after it
 * settled: the traffic quiescence removes. Two runs that differ only in length
 * share their prefix exactly, so the difference is the measured window.
 */
export function idleTraffic(o: IdleTrafficOptions): number {
  const warmup = o.warmup ?? 200;
  const ticks = o.ticks ?? 1000;
  const base = {
    seed: o.seed, nodes: o.nodes, schedule: [], clients: { clients: 0 }, checkLinearizability: false,
    quiesce: o.quiesce, ...(o.tuning ? { tuning: o.tuning } : {}),
  };
  const a = runSimulation({ ...base, steps: warmup });
  const b = runSimulation({ ...base, steps: warmup + ticks });
  for (const r of [a, b]) if (r.violation !== null) throw new Error(`idle run violated ${r.violation.invariant}: ${r.violation.detail}`);
  return (b.stats.messages - a.stats.messages) / ticks;
}
