/**
 * `raftcache bench --endpoints HOST:PORT,… [--clients 64] [--duration 10]
 *   [--read-ratio 0.5] [--value-size 100] [--keys 10000] [--connections N]
 *   [--warmup 1] [--no-prefill] [--dev] [--json]`
 *
 * A closed-loop load against a running cluster through RaftcacheClient:
 * `--clients` requests in flight, spread over `--connections` clients (one
 * pipelined socket per node each). Reports ops/s, p50/p99/p999 latency (a
 * log-linear histogram: no allocation per operation), errors by code, and CPU
 * time per operation of this process and of the node processes (pids from
 * `status`, CPU from /proc/<pid>/stat; only for nodes on this machine).
 * `--dev` starts a throwaway 3-node cluster in a temp dir instead. `--json`
 * prints one JSON object on the last line. A tool, not a timed test.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftcacheClient, RaftcacheError } from '../client/index.js';
import type { NodeStatus } from '../client/index.js';
import { boolFlag, endpointsFlag, numberFlag, parseArgs, withUsage } from '../cli/client-args.js';
import { LocalCluster } from '../cli/client-cluster.js';

const USAGE =
  'usage: raftcache bench --endpoints HOST:PORT,… [--clients 64] [--duration 10] [--read-ratio 0.5]\n' +
  '         [--value-size 100] [--keys 10000] [--connections N] [--warmup 1] [--no-prefill] [--json]\n' +
  '         [--dev [--nodes 3] [--shards 1]]   (--dev: a throwaway local cluster)\n';

/** Log-linear latency histogram over integer microseconds (32 sub-buckets per power of two, ~3 %). */
export class LatencyHistogram {
  private static readonly SUB_BITS = 5;
  private static readonly SUB = 1 << LatencyHistogram.SUB_BITS;
  readonly counts = new Float64Array(1024);
  count = 0;
  max = 0;
  sum = 0;

  static indexOf(us: number): number {
    const v = us < 0 ? 0 : us > 0x7fffffff ? 0x7fffffff : Math.floor(us);
    if (v < 2 * LatencyHistogram.SUB) return v;
    const shift = 31 - Math.clz32(v) - LatencyHistogram.SUB_BITS;
    return shift * LatencyHistogram.SUB + (v >>> shift);
  }

  /** Lowest value (µs) that falls in bucket `i`. */
  static lowerBound(i: number): number {
    if (i < 2 * LatencyHistogram.SUB) return i;
    const shift = Math.floor(i / LatencyHistogram.SUB) - 1;
    return (i - shift * LatencyHistogram.SUB) * 2 ** shift;
  }

  record(us: number): void {
    const i = LatencyHistogram.indexOf(us);
    this.counts[i] = (this.counts[i] as number) + 1;
    this.count++;
    this.sum += us;
    if (us > this.max) this.max = us;
  }

  merge(o: LatencyHistogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i] = (this.counts[i] as number) + (o.counts[i] as number);
    this.count += o.count;
    this.sum += o.sum;
    this.max = Math.max(this.max, o.max);
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.max = 0;
    this.sum = 0;
  }

  /** The q-quantile (0..1) in µs: the midpoint of its bucket. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] as number;
      if (seen >= rank) {
        const lo = LatencyHistogram.lowerBound(i);
        const hi = LatencyHistogram.lowerBound(i + 1);
        return Math.min(this.max, (lo + hi) / 2);
      }
    }
    return this.max;
  }
}

interface BenchConfig {
  clients: number;
  connections: number;
  durationS: number;
  warmupS: number;
  readRatio: number;
  valueSize: number;
  keys: number;
  prefill: boolean;
  json: boolean;
}

interface Phase {
  measuring: boolean;
  stop: boolean;
  reads: number;
  writes: number;
  readsAll: number;
  writesAll: number;
  readHist: LatencyHistogram;
  writeHist: LatencyHistogram;
  errors: Map<string, number>;
}

export async function main(argv: string[]): Promise<number> {
  return withUsage(USAGE, argv, async () => {
    const args = parseArgs(argv, ['json', 'dev', 'no-prefill']);
    const clients = numberFlag(args, 'clients', 64, 1);
    const cfg: BenchConfig = {
      clients,
      connections: numberFlag(args, 'connections', Math.min(4, clients), 1),
      durationS: numberFlag(args, 'duration', 10, 0.1),
      warmupS: numberFlag(args, 'warmup', 1, 0),
      readRatio: numberFlag(args, 'read-ratio', 0.5, 0),
      valueSize: numberFlag(args, 'value-size', 100, 0),
      keys: numberFlag(args, 'keys', 10_000, 1),
      prefill: !boolFlag(args, 'no-prefill'),
      json: boolFlag(args, 'json'),
    };
    if (cfg.readRatio > 1) throw new Error('--read-ratio must be within [0, 1]');
    if (!boolFlag(args, 'dev')) return run(endpointsFlag(args), cfg);
    const dir = mkdtempSync(join(tmpdir(), 'raftcache-bench-'));
    const shards = numberFlag(args, 'shards', 1, 1);
    const cluster = new LocalCluster({
      nodes: numberFlag(args, 'nodes', 3, 1),
      dir,
      basePort: numberFlag(args, 'base-port', 7401, 1),
      logLevel: 'warn',
      extraArgs: ['--shards', String(shards)],
    });
    try {
      cluster.startAll();
      await cluster.waitHealthy(30_000);
      await cluster.waitLeader(30_000);
      // With shards, leaderships move for a while after a start (balancing): measure after that.
      if (shards > 1) await cluster.waitSettled(90_000, 3_000);
      return await run(cluster.endpoints(), cfg);
    } finally {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

async function run(endpoints: string[], cfg: BenchConfig): Promise<number> {
  const log = (s: string): void => {
    process.stderr.write(s);
  };
  const pool: RaftcacheClient[] = [];
  for (let i = 0; i < cfg.connections; i++) pool.push(new RaftcacheClient({ endpoints, timeoutMs: 5000 }));
  try {
    try {
      await Promise.all(pool.map((c) => c.connect()));
    } catch (e) {
      if (!(e instanceof RaftcacheError)) throw e;
      process.stderr.write(`raftcache bench: ${e.code}: ${e.message}\n`);
      return 1;
    }
    const statuses = (await pool[0]!.clusterStatus()).flatMap((r) => (r.ok ? [r.status] : []));
    log(
      `raftcache bench: ${statuses.length} node(s), ${cfg.clients} in flight over ${cfg.connections} client(s), ` +
        `read-ratio ${cfg.readRatio}, ${cfg.valueSize}-byte values, ${cfg.keys} keys, ${cfg.durationS} s\n`,
    );
    const keys = Array.from({ length: cfg.keys }, (_, i) => `bench:${i}`);
    const value = 'x'.repeat(cfg.valueSize);
    if (cfg.prefill && cfg.readRatio > 0) await prefill(pool, keys, value, cfg.clients, log);

    const phase: Phase = {
      measuring: false,
      stop: false,
      reads: 0,
      writes: 0,
      readsAll: 0,
      writesAll: 0,
      readHist: new LatencyHistogram(),
      writeHist: new LatencyHistogram(),
      errors: new Map(),
    };
    const workers: Promise<void>[] = [];
    for (let w = 0; w < cfg.clients; w++) {
      workers.push(worker(pool[w % pool.length]!, phase, keys, value, cfg.readRatio, 0x9e3779b9 ^ (w * 7919 + 1)));
    }
    if (cfg.warmupS > 0) await progress(cfg.warmupS, phase, 'warmup ', log);
    const cpu0 = sampleCpu(statuses);
    phase.measuring = true;
    const t0 = performance.now();
    await progress(cfg.durationS, phase, 'running', log);
    phase.measuring = false;
    const elapsedS = (performance.now() - t0) / 1000;
    const cpu1 = sampleCpu(statuses);
    phase.stop = true;
    await Promise.all(workers);

    const report = buildReport(cfg, phase, elapsedS, cpu0, cpu1, statuses);
    process.stdout.write(renderReport(report));
    if (cfg.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  } finally {
    await Promise.all(pool.map((c) => c.close()));
  }
}

async function prefill(pool: RaftcacheClient[], keys: string[], value: string, inFlight: number, log: (s: string) => void): Promise<void> {
  let next = 0;
  const t0 = performance.now();
  const lanes: Promise<void>[] = [];
  for (let w = 0; w < inFlight; w++) {
    const c = pool[w % pool.length]!;
    lanes.push(
      (async () => {
        while (next < keys.length) {
          const k = keys[next++]!;
          await c.put(k, value);
        }
      })(),
    );
  }
  await Promise.all(lanes);
  log(`prefilled ${keys.length} keys in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

async function worker(client: RaftcacheClient, phase: Phase, keys: string[], value: string, readRatio: number, seed: number): Promise<void> {
  let x = seed >>> 0 || 1;
  const readThreshold = Math.floor(readRatio * 0x100000000);
  while (!phase.stop) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const isRead = x < readThreshold;
    const key = keys[(x >>> 7) % keys.length]!;
    const t = performance.now();
    try {
      if (isRead) await client.get(key);
      else await client.put(key, value);
      const us = (performance.now() - t) * 1000;
      if (isRead) {
        phase.readsAll++;
        if (phase.measuring) {
          phase.reads++;
          phase.readHist.record(us);
        }
      } else {
        phase.writesAll++;
        if (phase.measuring) {
          phase.writes++;
          phase.writeHist.record(us);
        }
      }
    } catch (e) {
      if (e instanceof RaftcacheError && e.code === 'CLOSED') return;
      const code = e instanceof RaftcacheError ? e.code : 'EXCEPTION';
      if (phase.measuring) phase.errors.set(code, (phase.errors.get(code) ?? 0) + 1);
    }
  }
}

async function progress(seconds: number, phase: Phase, label: string, log: (s: string) => void): Promise<void> {
  const tty = process.stderr.isTTY === true;
  const start = performance.now();
  const width = 30;
  let lastOps = phase.readsAll + phase.writesAll;
  let lastT = start;
  let lastLine = start;
  for (;;) {
    const now = performance.now();
    const elapsed = (now - start) / 1000;
    if (elapsed >= seconds) break;
    await new Promise((r) => setTimeout(r, Math.min(250, (seconds - elapsed) * 1000)));
    const t = performance.now();
    const ops = phase.readsAll + phase.writesAll;
    const rate = ((ops - lastOps) * 1000) / Math.max(1, t - lastT);
    lastOps = ops;
    lastT = t;
    const frac = Math.min(1, (t - start) / 1000 / seconds);
    const filled = Math.round(frac * width);
    const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${((t - start) / 1000).toFixed(1)}/${seconds} s  ${Math.round(rate).toLocaleString('en-US')} ops/s`;
    if (tty) log(`\r${line}  `);
    else if (t - lastLine >= 1000) {
      log(`${line}\n`);
      lastLine = t;
    }
  }
  if (tty) log('\n');
}

interface CpuSample {
  readonly bench: number;
  /** µs of CPU per node id; null when /proc is unreadable for it. */
  readonly nodes: Map<string, number | null>;
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime+stime of `pid` in µs, from /proc/<pid>/stat; null when unreadable. */
export function procCpuMicros(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1e6) / ticksPerSecond() : null;
  } catch {
    return null;
  }
}

function sampleCpu(statuses: readonly NodeStatus[]): CpuSample {
  const u = process.cpuUsage();
  const nodes = new Map<string, number | null>();
  for (const s of statuses) nodes.set(s.node, s.pid > 0 ? procCpuMicros(s.pid) : null);
  return { bench: u.user + u.system, nodes };
}

interface Report {
  config: BenchConfig;
  nodes: number;
  durationS: number;
  ops: number;
  reads: number;
  writes: number;
  opsPerSec: number;
  latencyMs: { p50: number; p99: number; p999: number; max: number; mean: number };
  readLatencyMs: { p50: number; p99: number } | null;
  writeLatencyMs: { p50: number; p99: number } | null;
  errors: Record<string, number>;
  cpuUsPerOp: { bench: number; nodes: number | null; perNode: Record<string, number | null>; leader: string | null };
}

const ms = (us: number): number => Math.round(us / 10) / 100;

function buildReport(cfg: BenchConfig, phase: Phase, elapsedS: number, cpu0: CpuSample, cpu1: CpuSample, statuses: readonly NodeStatus[]): Report {
  const all = new LatencyHistogram();
  all.merge(phase.readHist);
  all.merge(phase.writeHist);
  const ops = phase.reads + phase.writes;
  const perOp = (us: number): number => (ops > 0 ? Math.round((us / ops) * 10) / 10 : 0);
  const perNode: Record<string, number | null> = {};
  let nodesTotal: number | null = 0;
  for (const [node, before] of cpu0.nodes) {
    const after = cpu1.nodes.get(node) ?? null;
    const d = before !== null && after !== null ? after - before : null;
    perNode[node] = d === null ? null : perOp(d);
    nodesTotal = d === null || nodesTotal === null ? null : nodesTotal + d;
  }
  const split = (h: LatencyHistogram): { p50: number; p99: number } | null =>
    h.count === 0 ? null : { p50: ms(h.quantile(0.5)), p99: ms(h.quantile(0.99)) };
  return {
    config: cfg,
    nodes: statuses.length,
    durationS: Math.round(elapsedS * 100) / 100,
    ops,
    reads: phase.reads,
    writes: phase.writes,
    opsPerSec: Math.round(ops / elapsedS),
    latencyMs: {
      p50: ms(all.quantile(0.5)),
      p99: ms(all.quantile(0.99)),
      p999: ms(all.quantile(0.999)),
      max: ms(all.max),
      mean: all.count > 0 ? ms(all.sum / all.count) : 0,
    },
    readLatencyMs: split(phase.readHist),
    writeLatencyMs: split(phase.writeHist),
    errors: Object.fromEntries(phase.errors),
    cpuUsPerOp: {
      bench: perOp(cpu1.bench - cpu0.bench),
      nodes: nodesTotal === null || statuses.length === 0 ? null : perOp(nodesTotal),
      perNode,
      leader: statuses.find((s) => s.role === 'leader')?.node ?? null,
    },
  };
}

function renderReport(r: Report): string {
  const errors = Object.entries(r.errors);
  const perNode = Object.entries(r.cpuUsPerOp.perNode)
    .map(([n, v]) => `${n}${n === r.cpuUsPerOp.leader ? '*' : ''} ${v ?? '?'}`)
    .join(', ');
  const lines = [
    `ops          ${r.ops.toLocaleString('en-US')} in ${r.durationS} s (${r.reads} reads, ${r.writes} writes)`,
    `throughput   ${r.opsPerSec.toLocaleString('en-US')} ops/s`,
    `latency      p50 ${r.latencyMs.p50} ms  p99 ${r.latencyMs.p99} ms  p999 ${r.latencyMs.p999} ms  max ${r.latencyMs.max} ms`,
    ...(r.readLatencyMs !== null && r.writeLatencyMs !== null
      ? [`  reads      p50 ${r.readLatencyMs.p50} ms  p99 ${r.readLatencyMs.p99} ms`, `  writes     p50 ${r.writeLatencyMs.p50} ms  p99 ${r.writeLatencyMs.p99} ms`]
      : []),
    `errors       ${errors.length === 0 ? 'none' : errors.map(([c, n]) => `${c} ${n}`).join(', ')}`,
    `cpu µs/op    bench ${r.cpuUsPerOp.bench}; nodes ${r.cpuUsPerOp.nodes ?? '?'} (${perNode}; * = leader)`,
  ];
  return `${lines.join('\n')}\n`;
}
