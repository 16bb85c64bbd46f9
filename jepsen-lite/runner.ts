/**
 * One jepsen-lite run: spawn the nodes behind fault proxies, wait for a
 * leader, run the workload and the nemesis, heal, wait for the cluster to
 * converge, check the history, write history.jsonl + report.html +
 * summary.json, and stop everything it started (also on abort or error).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { freePorts } from '../src/cli/free-ports.js';
import { join, resolve } from 'node:path';
import { LocalCluster, defaultMainPath, exitText } from '../src/cli/client-cluster.js';
import { RaftcacheClient } from '../src/client/index.js';
import type { NodeStatus } from '../src/client/index.js';
import { SeededRng } from '../src/util/rng.js';
import { checkHistory, formatCheckResult, formatHistoryJsonl } from './checker/index.js';
import type { DetailedCheckResult } from './checker/index.js';
import { notConverged } from './convergence.js';
import { mapNotSettled } from './map-convergence.js';
import { ProxiedNetwork } from './network.js';
import { changesMembership, makeSchedule, runNemesis } from './nemesis.js';
import type { FaultRecord, FaultWindow, NemesisKind, NemesisTarget, ScheduleOptions } from './nemesis.js';
import { renderReport } from './report.js';
import { computeStats, formatStats, pairOperations } from './stats.js';
import type { RunStats } from './stats.js';
import { HistoryRecorder, monotonicClock, runWorkload } from './workload.js';

export interface JepsenOptions {
  readonly nodes: number;
  /** Workload duration, seconds. */
  readonly timeSec: number;
  readonly clients: number;
  readonly keys: number;
  readonly nemesis: readonly NemesisKind[];
  readonly seed: number;
  readonly unsafeStaleReads: boolean;
  /** Shards (Raft groups) of the cluster; keys spread over them by the ring. */
  readonly shards: number;
  /** Output directory (created). */
  readonly out: string;
  /** Deadline of one client operation, retries included. */
  readonly opTimeoutMs: number;
  /** How long the cluster may take to converge after the last heal. */
  readonly recoveryTimeoutMs: number;
  /** Checker budget for the whole history. */
  readonly checkTimeoutMs: number;
  /** Keep the nodes' data dirs (logs are always kept). */
  readonly keepData: boolean;
  readonly mainPath?: string;
  readonly logLevel?: string;
  /** How long a removed node's drain may take before the nemesis gives up waiting (membership nemesis). */
  readonly drainTimeoutMs?: number;
}

export const DEFAULT_OPTIONS: Omit<JepsenOptions, 'seed' | 'out'> = {
  nodes: 3,
  timeSec: 60,
  clients: 10,
  keys: 5,
  nemesis: ['partition', 'kill', 'pause'],
  unsafeStaleReads: false,
  shards: 1,
  opTimeoutMs: 1500,
  recoveryTimeoutMs: 30_000,
  checkTimeoutMs: 120_000,
  keepData: false,
};

export interface NodeHealth {
  readonly id: number;
  readonly status: NodeStatus | null;
}

export interface RunResult {
  readonly verdict: DetailedCheckResult['verdict'];
  readonly healthy: boolean;
  readonly healthDetail: string;
  readonly check: DetailedCheckResult;
  readonly stats: RunStats;
  readonly faults: readonly FaultRecord[];
  readonly schedule: readonly FaultWindow[];
  readonly outDir: string;
  /** True when the run was aborted (SIGINT); the verdict then covers what was recorded. */
  readonly aborted: boolean;
}

/** Voters per shard the nodes derive (src/node effectiveReplication: every member with one shard, else 3). */
export function replicationFor(o: Pick<JepsenOptions, 'nodes' | 'shards'>): number {
  return Math.min(o.shards === 1 ? o.nodes : 3, o.nodes);
}

/** Fault timing for the schedule; unsafe mode uses shapes and lengths that expose stale reads quickly. */
export function scheduleOptionsFor(o: Pick<JepsenOptions, 'nodes' | 'timeSec' | 'nemesis' | 'unsafeStaleReads'> & Partial<Pick<JepsenOptions, 'shards'>>): ScheduleOptions {
  const durationMs = o.timeSec * 1000;
  const short = durationMs < 30_000;
  const base: ScheduleOptions = {
    nodes: o.nodes,
    // A removal must leave enough nodes for every shard's replicas.
    minMembers: Math.max(3, replicationFor({ nodes: o.nodes, shards: o.shards ?? 1 })),
    maxMembers: Math.min(9, o.nodes + 2),
    durationMs,
    kinds: o.nemesis,
    warmupMs: short ? 1500 : 3000,
    cooldownMs: short ? 2000 : 4000,
    minFaultMs: 2000,
    maxFaultMs: short ? 4000 : 6000,
    minGapMs: 1000,
    maxGapMs: short ? 2000 : 4000,
  };
  if (!o.unsafeStaleReads) return base;
  // A minority that keeps answering reads while the majority moves on.
  return { ...base, shapes: ['isolate-leader', 'majority-minority'], minFaultMs: 3000, maxFaultMs: 5000, minGapMs: 1000, maxGapMs: 1500 };
}

function sleep(ms: number, aborted: () => boolean): Promise<void> {
  return new Promise((done) => {
    const end = Date.now() + ms;
    const tick = (): void => {
      const left = end - Date.now();
      if (left <= 0 || aborted()) done();
      else setTimeout(tick, Math.min(left, 100));
    };
    tick();
  });
}

export async function runJepsen(o: JepsenOptions, log: (line: string) => void, signal?: AbortSignal): Promise<RunResult> {
  const outDir = resolve(o.out);
  const clusterDir = join(outDir, 'cluster');
  mkdirSync(clusterDir, { recursive: true });
  const rng = new SeededRng(o.seed);
  const scheduleRng = rng.fork();
  const workloadRng = rng.fork();
  const schedule = makeSchedule(scheduleRng, scheduleOptionsFor(o));

  let stopping = false;
  const aborted = (): boolean => stopping || signal?.aborted === true;

  // Proxies first: the nodes' ports are then picked among ports the proxies do not hold.
  const network = await ProxiedNetwork.listen(Array.from({ length: o.nodes }, (_, i) => i + 1));
  let ports: number[];
  try {
    ports = await freePorts(2 * o.nodes);
  } catch (e) {
    await network.close();
    throw e;
  }
  const nodePorts = Array.from({ length: o.nodes }, (_, i) => ({ id: i + 1, clientPort: ports[2 * i] as number, peerPort: ports[2 * i + 1] as number }));
  network.bind(nodePorts);
  const cluster = new LocalCluster({
    nodes: o.nodes,
    dir: clusterDir,
    ports: nodePorts.map((p) => ({ client: p.clientPort, peer: p.peerPort })),
    logLevel: o.logLevel ?? 'warn',
    mainPath: o.mainPath ?? defaultMainPath(),
    extraArgs: [...(o.unsafeStaleReads ? ['--unsafe-stale-reads'] : []), '--shards', String(o.shards)],
    membersFor: (id) => network.membersFor(id),
  });
  const expectedDown = new Set<number>();
  const unexpectedExits: string[] = [];
  cluster.onUnexpectedExit = (n) => {
    if (!expectedDown.has(n.id)) unexpectedExits.push(`n${n.id} exited (${exitText(n)})`);
  };
  const paused = new Set<number>();

  // Operator commands go through the client (it follows NOT_LEADER to the meta
  // leader and never repeats an attempt that may have been applied); a fresh
  // client each time, since the node set changes.
  const withAdminClient = async <T>(f: (c: RaftcacheClient) => Promise<T>): Promise<T> => {
    const c = new RaftcacheClient({ endpoints: cluster.endpoints(), timeoutMs: 10_000, attemptTimeoutMs: 2000, connectTimeoutMs: 500 });
    try {
      return await f(c);
    } finally {
      await c.close();
    }
  };

  const nemesisTarget: NemesisTarget = {
    findLeader: async () => {
      const statuses = await Promise.all(cluster.active().filter((n) => n.child !== null && !paused.has(n.id)).map((n) => cluster.health(n, 500)));
      const leaders = statuses.filter((s): s is NodeStatus => s !== null && s.role === 'leader').sort((a, b) => b.term - a.term);
      const l = leaders[0];
      return l === undefined ? null : Number(l.node.replace(/^n/, ''));
    },
    partition: (cuts) => network.applyCuts(cuts),
    healNetwork: () => network.healAll(),
    kill: async (id) => {
      expectedDown.add(id);
      await cluster.kill(id, 'SIGKILL');
    },
    restart: (id) => {
      cluster.spawnNode(cluster.node(id));
      expectedDown.delete(id);
    },
    pause: (id) => {
      const pid = cluster.node(id).child?.pid;
      if (pid === undefined) return;
      process.kill(pid, 'SIGSTOP');
      paused.add(id);
    },
    resume: (id) => {
      const pid = cluster.node(id).child?.pid;
      paused.delete(id);
      if (pid !== undefined) process.kill(pid, 'SIGCONT');
    },
    // Added nodes' peer links are direct (not proxied): the address a node
    // registers with the meta group is one for every dialer, while the proxies
    // are per pair. Partitions therefore cut links among the initial nodes only.
    addNode: async (id) => {
      const n = await cluster.addNode();
      if (n.id !== id) throw new Error(`added node got id ${n.id}, the schedule expected ${id}`);
    },
    removeNode: async (id) => {
      try {
        await withAdminClient((c) => c.nodeRemove(id));
      } catch (e) {
        // An attempt that timed out may have taken: draining or gone is success.
        const maps = await Promise.all(cluster.active().filter((n) => n.child !== null && n.id !== id).map((n) => cluster.fetchMap(n)));
        const newest = maps.filter((m) => m !== null).sort((a, b) => b.version - a.version)[0];
        const member = newest?.members.find((m) => m.node === `n${id}`);
        if (newest !== undefined && (member === undefined || member.state === 'draining')) return;
        throw e;
      }
    },
    awaitRemoved: async (id) => {
      try {
        await cluster.waitRemovedAndRetire(id, o.drainTimeoutMs ?? 30_000);
        return true;
      } catch {
        return false;
      }
    },
    split: async (pick) => {
      const running = cluster.active().filter((n) => n.child !== null && !paused.has(n.id));
      const maps = await Promise.all(running.map((n) => cluster.fetchMap(n)));
      const map = maps.filter((m) => m !== null).sort((a, b) => b.version - a.version)[0];
      if (map === undefined) throw new Error('no node answered map');
      const shards = map.shards.map((x) => x.shard).sort((a, b) => a - b);
      const shard = shards[pick % shards.length]!;
      try {
        const r = await withAdminClient((c) => c.shardSplit(shard));
        return `shard ${shard} → new shard ${r.shard} (map v${r.version})`;
      } catch (e) {
        throw new Error(`shard ${shard}: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
  };

  // Last resort if this process dies without reaching `finally` (an uncaught error, process.exit).
  const killOnExit = (): void => cluster.killAllNow();
  process.once('exit', killOnExit);

  let nemesisDone: Promise<FaultRecord[]> | null = null;
  let workloadDone: Promise<unknown> | null = null;
  try {
    log(`jepsen-lite: ${o.nodes} nodes, ${o.shards} shard(s), ${o.clients} clients, ${o.keys} keys, ${o.timeSec} s, nemesis ${o.nemesis.join(',') || 'none'}, seed ${o.seed}${o.unsafeStaleReads ? ', UNSAFE stale reads' : ''}`);
    log(`schedule: ${schedule.length} fault window(s); out ${outDir}`);
    cluster.startAll();
    await cluster.waitHealthy(20_000);
    const leader = await cluster.waitLeader(20_000);
    log(`cluster up: leader ${leader.node}`);

    const now = monotonicClock();
    const history = new HistoryRecorder(now);
    const startWall = Date.now();
    const workloadFrom = now();
    let stopWorkload = false;
    workloadDone = runWorkload({
      clients: o.clients,
      keys: o.keys,
      rng: workloadRng,
      history,
      stopped: () => stopWorkload || aborted(),
      makeClient: () =>
        new RaftcacheClient({
          endpoints: cluster.endpoints(),
          timeoutMs: o.opTimeoutMs,
          attemptTimeoutMs: Math.min(1000, o.opTimeoutMs),
          connectTimeoutMs: 500,
        }),
    });
    nemesisDone = runNemesis({
      schedule,
      target: nemesisTarget,
      now,
      sleepUntil: (ms) => sleep(startWall + ms - Date.now(), aborted),
      aborted,
      log,
    });
    await sleep(o.timeSec * 1000, aborted);
    stopWorkload = true;
    const faults = await nemesisDone;
    await workloadDone;
    const workloadTo = now();
    network.healAll();
    log(`workload done: ${history.events.length} events; waiting for the cluster to converge`);

    const health = await waitConverged(cluster, aborted() ? 5000 : o.recoveryTimeoutMs, unexpectedExits, changesMembership(o.nemesis) ? replicationFor(o) : null);
    log(health.detail);

    const check = checkHistory(history.events, { timeoutMs: o.checkTimeoutMs });
    const checkText = formatCheckResult(check);
    const ops = pairOperations(history.events);
    const workload = { from: workloadFrom, to: workloadTo };
    const stats = computeStats(ops, faults, workload);
    writeFileSync(join(outDir, 'history.jsonl'), formatHistoryJsonl(history.events));
    const command = `jepsen-lite --nodes ${o.nodes}${o.shards > 1 ? ` --shards ${o.shards}` : ''} --time ${o.timeSec} --clients ${o.clients} --keys ${o.keys} --nemesis ${o.nemesis.join(',') || 'none'} --seed ${o.seed}${o.unsafeStaleReads ? ' --unsafe-stale-reads' : ''}`;
    writeFileSync(
      join(outDir, 'report.html'),
      renderReport({ title: `jepsen-lite seed ${o.seed}`, command, verdict: check.verdict, healthy: health.healthy, healthDetail: health.detail, check, checkText, stats, ops, faults, workload }),
    );
    const result: RunResult = { verdict: check.verdict, healthy: health.healthy, healthDetail: health.detail, check, stats, faults, schedule, outDir, aborted: signal?.aborted === true };
    writeFileSync(join(outDir, 'summary.json'), `${JSON.stringify(summaryJson(o, result), null, 2)}\n`);
    log(checkText);
    log(formatStats(stats));
    return result;
  } finally {
    stopping = true;
    await nemesisDone?.catch(() => []);
    await workloadDone?.catch(() => undefined);
    for (const id of paused) nemesisTarget.resume(id);
    await cluster.stop(3000);
    process.off('exit', killOnExit);
    await network.close();
    if (!o.keepData) for (const n of cluster.nodes) rmSync(n.dataDir, { recursive: true, force: true });
  }
}

/**
 * Waits until every node not removed answers /health and every shard has
 * converged (convergence.ts); with `replication` (membership nemeses) also
 * until the maps agree on a settled, balanced placement over those nodes
 * (map-convergence.ts). healthy = that happened within timeoutMs and no node
 * exited on its own.
 */
async function waitConverged(
  cluster: LocalCluster,
  timeoutMs: number,
  unexpectedExits: readonly string[],
  replication: number | null,
): Promise<{ healthy: boolean; detail: string }> {
  const deadline = Date.now() + timeoutMs;
  let last: NodeHealth[] = [];
  for (;;) {
    const nodes = cluster.active();
    last = await Promise.all(nodes.map(async (n) => ({ id: n.id, status: n.child === null ? null : await cluster.health(n, 1000) })));
    let why = notConverged(last.map((h) => h.status));
    if (why === null && replication !== null) {
      const maps = await Promise.all(nodes.map((n) => cluster.fetchMap(n)));
      const problem = mapNotSettled(maps, { replication, members: nodes.map((n) => `n${n.id}`) });
      if (problem !== null) why = `map: ${problem}`;
    }
    const converged = why === null;
    if (converged || Date.now() >= deadline) {
      const lines = last.map((h) =>
        h.status === null
          ? `  n${h.id}: no answer`
          : `  ${h.status.node}: ${h.status.role} term ${h.status.term} commit ${h.status.commit} applied ${h.status.applied}${h.status.shards !== undefined ? ` shards ${h.status.shards.map((x) => x.group).join(',')}` : ''}`,
      );
      const retired = cluster.nodes.filter((n) => n.retired).map((n) => `n${n.id}`);
      const healthy = converged && unexpectedExits.length === 0;
      const head = healthy
        ? `cluster healthy: every node answers; every shard has one leader and converged commit and applied indexes${replication !== null ? '; the maps agree on a settled, balanced placement' : ''}`
        : `cluster NOT healthy${converged ? '' : ` (not converged within ${timeoutMs} ms: ${why})`}`;
      const removedLine = retired.length > 0 ? [`  removed (stopped): ${retired.join(' ')}`] : [];
      return { healthy, detail: [head, ...lines, ...removedLine, ...unexpectedExits.map((e) => `  unexpected exit: ${e}`)].join('\n') };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The machine-readable summary (summary.json and --json). */
export function summaryJson(o: JepsenOptions, r: RunResult): Record<string, unknown> {
  return {
    verdict: r.verdict,
    healthy: r.healthy,
    aborted: r.aborted,
    options: { ...o, nemesis: [...o.nemesis] },
    operations: r.check.operations,
    counts: r.stats.counts,
    latencyMs: r.stats.latency,
    availability: { baselineOkPerSec: r.stats.baselineOkPerSec, windows: r.stats.windows },
    faults: r.faults,
    keys: r.check.keys.map((k) => ({ key: k.key, verdict: k.verdict, operations: k.operations, ...(k.detail !== undefined ? { detail: k.detail } : {}) })),
    checkMs: r.check.elapsedMs,
    health: r.healthDetail,
    outDir: r.outDir,
  };
}
