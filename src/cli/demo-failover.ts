/**
 * `raftcache demo failover`: a 3-node cluster of real processes, client load
 * recorded as a jepsen-lite history, the leader killed with SIGKILL mid-load
 * and restarted later; then a timeline a person can follow (election time,
 * write and read unavailability, catch-up), the read-back of every key
 * (acknowledged writes lost: must be 0) and the linearizability checker's
 * verdict. It stops everything it started, also on Ctrl-C or an error, and
 * exits 0 only when nothing was lost and the history is linearizable.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkHistory } from '../../jepsen-lite/checker/index.js';
import { RaftcacheClient } from '../client/index.js';
import { LocalCluster, exitText, logTail } from './client-cluster.js';
import { UsageError, boolFlag, numberFlag, parseArgs, stringFlag, withUsage } from './client-args.js';
import { FailoverWorkload, HistoryRecorder, StatusWatch, caughtUpAt, renderFailover, summarizeFailover } from './failover/index.js';
import { freePortPairs } from './free-ports.js';
import type { FailoverReport, WorkloadCounters } from './failover/index.js';

const USAGE = `usage: raftcache demo failover [--duration 10] [--kill-after 2] [--restart-after S] [--clients 4] [--keys 3]
         [--seed 1] [--dir DIR] [--base-port N] [--log-level warn] [--json]

Starts 3 nodes (free ports unless --base-port; a temp dir unless --dir), runs
client load, kills the leader with SIGKILL after --kill-after seconds, restarts
it after --restart-after seconds (default: halfway between the kill and the end),
stops the load after --duration seconds and prints the timeline, the read-back
of every key and the checker's verdict. --json adds one JSON object on the last
line. Exit status 0 only when 0 acknowledged writes were lost and the history
is linearizable.
`;

const NODES = 3;
const POLL_MS = 50;
/** How long to wait for the restarted node to catch up after the load stopped. */
const CATCH_UP_GRACE_MS = 5000;

export interface FailoverOptions {
  readonly durationS: number;
  readonly killAfterS: number;
  readonly restartAfterS: number;
  readonly clients: number;
  readonly keys: number;
  readonly seed: number;
  readonly dir: string | undefined;
  readonly basePort: number | undefined;
  readonly logLevel: string;
  readonly json: boolean;
}

const FLAGS = ['duration', 'kill-after', 'restart-after', 'clients', 'keys', 'seed', 'dir', 'base-port', 'log-level', 'json'];

export function parseFailoverOptions(argv: readonly string[]): FailoverOptions {
  const args = parseArgs(argv, ['json']);
  if (args.positional.length > 0) throw new UsageError(`unexpected argument '${args.positional[0] ?? ''}'`);
  for (const name of args.flags.keys()) if (!FLAGS.includes(name)) throw new UsageError(`unknown option --${name}`);
  const durationS = numberFlag(args, 'duration', 10, 1);
  const killAfterS = numberFlag(args, 'kill-after', 2, 0.1);
  const restartAfterS = numberFlag(args, 'restart-after', killAfterS + (durationS - killAfterS) / 2, 0);
  if (!(killAfterS < restartAfterS && restartAfterS < durationS)) {
    throw new UsageError('need --kill-after < --restart-after < --duration');
  }
  const basePort = stringFlag(args, 'base-port') === undefined ? undefined : numberFlag(args, 'base-port', 7001, 1);
  return {
    durationS,
    killAfterS,
    restartAfterS,
    clients: numberFlag(args, 'clients', 4, 1),
    keys: numberFlag(args, 'keys', 3, 1),
    seed: numberFlag(args, 'seed', 1),
    dir: stringFlag(args, 'dir'),
    basePort,
    logLevel: stringFlag(args, 'log-level') ?? 'warn',
    json: boolFlag(args, 'json'),
  };
}

export async function main(argv: string[]): Promise<number> {
  // a closed stdout (`… | head`) must not crash the run before it has stopped its nodes
  process.stdout.on('error', () => {});
  return withUsage(USAGE, argv, () => runFailoverDemo(parseFailoverOptions(argv), (s) => void process.stdout.write(s)));
}

class Interrupted extends Error {}

/** Runs the demo; with --json the figures go out last, after everything was stopped. */
export async function runFailoverDemo(opts: FailoverOptions, out: (s: string) => void): Promise<number> {
  let report: FailoverReport | null = null;
  const code = await runAndStop(opts, out, (r) => {
    report = r;
  });
  if (opts.json && report !== null) out(`${JSON.stringify(jsonReport(report, opts))}\n`);
  return code;
}

async function runAndStop(opts: FailoverOptions, out: (s: string) => void, done: (report: FailoverReport) => void): Promise<number> {
  const abort = new AbortController();
  const aborted = new Promise<never>((_, reject) => {
    abort.signal.addEventListener('abort', () => reject(new Interrupted(String(abort.signal.reason))));
  });
  aborted.catch(() => {}); // observed through race() below
  const race = <T>(p: Promise<T>): Promise<T> => Promise.race([p, aborted]);
  const onSignal = (sig: NodeJS.Signals): void => abort.abort(sig);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const ownDir = opts.dir === undefined;
  const dir = opts.dir === undefined ? mkdtempSync(join(tmpdir(), 'raftcache-failover-')) : resolve(opts.dir);
  const ports = opts.basePort === undefined ? await freePortPairs(NODES) : undefined;
  const cluster = new LocalCluster({
    nodes: NODES,
    dir,
    ...(opts.basePort !== undefined ? { basePort: opts.basePort } : {}),
    ...(ports !== undefined ? { ports } : {}),
    logLevel: opts.logLevel,
  });
  // last resort if this process dies without reaching `finally`: no node outlives it
  const killOrphans = (): void => cluster.killAllNow();
  process.on('exit', killOrphans);
  const expectedExits = new Set<number>();
  let unexpectedExit: string | null = null;
  cluster.onUnexpectedExit = (n) => {
    if (expectedExits.has(n.id) || abort.signal.aborted) return; // killed on purpose, or Ctrl-C reached the whole group
    unexpectedExit = `node n${n.id} exited (${exitText(n)}); see ${n.logPath}\n${logTail(n)}`;
    abort.abort('node exit');
  };

  let workload: FailoverWorkload | null = null;
  let watch: StatusWatch | null = null;
  let progress: NodeJS.Timeout | undefined;
  let keepDir = true; // kept for its logs unless the run passed or was interrupted
  try {
    out(`starting ${NODES} nodes (data and logs under ${dir})\n`);
    cluster.startAll();
    await race(cluster.waitHealthy(30_000));
    const keys = Array.from({ length: opts.keys }, (_, i) => `failover:${i}`);
    const endpoints = cluster.endpoints();

    const recorder = new HistoryRecorder();
    const at = (ns: number): string => `t=+${(ns / 1e9).toFixed(2)}s`.padEnd(10);
    watch = new StatusWatch(cluster, recorder, POLL_MS);
    const initial = await race(waitForLeader(watch, 30_000, abort.signal));
    workload = new FailoverWorkload({ endpoints, clients: opts.clients, keys, seed: opts.seed, writeRatio: 0.5, timeoutMs: 5000 }, recorder);
    await race(workload.connect());
    recorder.resetOrigin(); // t=0 is the start of the load (the samples so far get negative times)
    workload.start();
    watch.start();
    out(`${at(recorder.nowNs())}  cluster up, leader n${initial.id} (term ${initial.term}); ${opts.clients} clients on ${opts.keys} keys\n`);

    // live progress: ops/s each second, and the new leader as soon as a poll sees it
    let killed: { id: number; ns: number } | null = null;
    let announcedLeader = false;
    const prev: WorkloadCounters = { putOk: 0, getOk: 0, fail: 0, info: 0 };
    const w = workload;
    const st = watch;
    progress = setInterval(() => {
      const c = w.counters;
      const line =
        `${at(recorder.nowNs())}  ${(c.putOk - prev.putOk + c.getOk - prev.getOk).toLocaleString('en-US')} ops/s ` +
        `(put ${c.putOk - prev.putOk}, get ${c.getOk - prev.getOk}, failed ${c.fail - prev.fail}, unknown ${c.info - prev.info})` +
        `  leader ${leaderName(st)}\n`;
      Object.assign(prev, c);
      out(line);
    }, 1000);
    watch.onSample = (s) => {
      if (killed === null || announcedLeader) return;
      const leader = s.nodes.find((n) => n.role === 'leader' && n.id !== killed?.id);
      if (leader === undefined) return;
      announcedLeader = true;
      out(`${at(s.timeNs)}  n${leader.id} elected leader (term ${leader.term}) — ${Math.round((s.timeNs - killed.ns) / 1e6)} ms after the kill\n`);
    };

    await race(sleepUntil(recorder, opts.killAfterS * 1e9, abort.signal));
    // so that "acknowledged before the kill" means something on a slow machine
    for (let waited = 0; w.counters.putOk === 0 && waited < 10_000; waited += POLL_MS) await race(sleepMs(POLL_MS, abort.signal));
    const leader = watch.currentLeader() ?? (await race(waitForLeader(watch, 5000, abort.signal)));
    expectedExits.add(leader.id);
    const killNs = recorder.nowNs();
    killed = { id: leader.id, ns: killNs };
    await race(cluster.kill(leader.id, 'SIGKILL'));
    out(`${at(killNs)}  kill -9 n${leader.id} (the leader, term ${leader.term})\n`);

    await race(sleepUntil(recorder, opts.restartAfterS * 1e9, abort.signal));
    const restartNs = recorder.nowNs();
    cluster.spawnNode(cluster.node(leader.id));
    expectedExits.delete(leader.id);
    out(`${at(restartNs)}  n${leader.id} restarted from its data\n`);

    await race(sleepUntil(recorder, opts.durationS * 1e9, abort.signal));
    const loadEndNs = recorder.nowNs();
    clearInterval(progress);
    progress = undefined;
    out(`${at(loadEndNs)}  stopping the load\n`);
    await race(workload.stop());
    const graceEnd = recorder.nowNs() + CATCH_UP_GRACE_MS * 1e6;
    while (caughtUpAt(watch.samples, restartNs, leader.id) === null && recorder.nowNs() < graceEnd) {
      await race(sleepMs(POLL_MS, abort.signal));
    }
    await watch.stop();

    const finalValues = await race(readBackAll(endpoints, keys, recorder));
    out(`checking ${recorder.events.length.toLocaleString('en-US')} history events…\n`);
    const check = checkHistory(recorder.events, { timeoutMs: 60_000 });
    const report = summarizeFailover({
      events: recorder.events,
      marks: { initialLeader: initial, killNs, killedId: leader.id, restartNs, loadEndNs },
      samples: watch.samples,
      finalValues,
      checker: { verdict: check.verdict, operations: check.operations, elapsedMs: check.elapsedMs },
    });
    out('\ntimeline:\n');
    out(renderFailover(report));
    done(report);
    keepDir = !report.ok;
    return report.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof Interrupted) {
      if (unexpectedExit !== null) {
        process.stderr.write(`raftcache demo failover: ${unexpectedExit}\n`);
        return 1;
      }
      out(`\n${e.message}: stopping\n`);
      keepDir = false;
      return 130;
    }
    process.stderr.write(`raftcache demo failover: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    if (progress !== undefined) clearInterval(progress);
    await workload?.close();
    await watch?.stop();
    await cluster.stop(5000);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killOrphans);
    if (ownDir && !keepDir) rmSync(dir, { recursive: true, force: true });
    if (keepDir) out(`stopped all ${NODES} nodes; data and logs kept in ${dir}\n`);
    else out(`stopped all ${NODES} nodes${ownDir ? ' and removed the temp dir' : ''}\n`);
  }
}

function leaderName(watch: StatusWatch): string {
  const l = watch.currentLeader();
  return l === null ? '-' : `n${l.id}`;
}

/** Polls until a node reports itself leader (gives up when `signal` aborts). */
async function waitForLeader(watch: StatusWatch, timeoutMs: number, signal: AbortSignal): Promise<{ id: number; term: number }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (signal.aborted) throw new Interrupted(String(signal.reason));
    await watch.pollOnce();
    const l = watch.currentLeader();
    if (l !== null) return l;
    if (performance.now() > deadline) throw new Error(`no leader within ${timeoutMs} ms`);
    await sleepMs(POLL_MS, signal);
  }
}

/**
 * Reads every key linearizably with a fresh client (each read recorded in the
 * history, so the checker judges it too); retries a failed read a few times.
 */
async function readBackAll(endpoints: readonly string[], keys: readonly string[], recorder: HistoryRecorder): Promise<Map<string, string | null>> {
  const client = new RaftcacheClient({ endpoints, timeoutMs: 5000, clientName: 'demo-failover-readback' });
  const values = new Map<string, string | null>();
  let processId = 1_000_000;
  try {
    for (const key of keys) {
      for (let attempt = 1; ; attempt++) {
        const p = processId++;
        recorder.record(p, 'invoke', 'get', key, null);
        try {
          const v = await client.get(key);
          recorder.record(p, 'ok', 'get', key, v);
          values.set(key, v);
          break;
        } catch (e) {
          recorder.record(p, 'fail', 'get', key, null);
          if (attempt >= 3) throw new Error(`read-back of ${key} failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    }
  } finally {
    await client.close();
  }
  return values;
}

function jsonReport(r: FailoverReport, o: FailoverOptions): Record<string, unknown> {
  return {
    ...r,
    options: { durationS: o.durationS, killAfterS: o.killAfterS, restartAfterS: o.restartAfterS, clients: o.clients, keys: o.keys, seed: o.seed },
  };
}

/** Sleeps `ms`, or less when `signal` aborts (then the timer is cleared, so nothing keeps the process alive). */
function sleepMs(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

function sleepUntil(recorder: HistoryRecorder, ns: number, signal: AbortSignal): Promise<void> {
  return sleepMs(Math.max(0, (ns - recorder.nowNs()) / 1e6), signal);
}
