/**
 * `npm run sim -- --seeds 500 --nodes 5 --steps 20000 [--first-seed S] [--membership] [--compaction] [--quiesce] [--idle]
 *   [--async-disk [--disk-latency MIN-MAX] [--max-outstanding N]] [--verbose]`
 *
 * Runs one simulation per seed, prints progress, reports every violation with
 * its seed, invariant, the last events and the command that replays it, and
 * ends with `seeds: N, violations: K`. Exit code 1 on any violation.
 */
import { DEFAULT_DISK_LATENCY, DEFAULT_MAX_OUTSTANDING, type DiskLatency } from './async-disk.js';
import { describeFault } from './faults.js';
import { runSimulation, type SimResult } from './simulation.js';

export interface SimCliOptions {
  readonly seeds: number;
  readonly firstSeed: number;
  readonly nodes: number;
  readonly steps: number;
  readonly verbose: boolean;
  /** Many more membership changes (add learner, promote, remove, replace, remove the leader). */
  readonly membership: boolean;
  /** Frequent snapshots and compaction on every node. */
  readonly compaction: boolean;
  /** Idle groups quiesce; a node-pair liveness signal wakes them; idle windows in the workload. */
  readonly quiesce: boolean;
  /** Idle windows in the workload without quiescence (the baseline for the idle traffic figure). */
  readonly idle: boolean;
  /** Every node's driver writes asynchronously (async-disk.ts). */
  readonly asyncDisk: boolean;
  /** Async disk write latency in ticks, uniform in [min, max]. */
  readonly diskLatency: DiskLatency;
  /** Async disk: Readies outstanding at most per node. */
  readonly maxOutstanding: number;
}

const USAGE =
  'usage: sim [--seeds N] [--first-seed S] [--nodes 3|5] [--steps M] [--membership] [--compaction] [--quiesce] [--idle]\n' +
  '           [--async-disk [--disk-latency MIN-MAX] [--max-outstanding N]] [--verbose]';

export function parseSimArgs(argv: readonly string[]): SimCliOptions | string {
  const o = {
    seeds: 100, firstSeed: 1, nodes: 3, steps: 5000, verbose: false, membership: false, compaction: false, quiesce: false, idle: false,
    asyncDisk: false, diskLatency: DEFAULT_DISK_LATENCY, maxOutstanding: DEFAULT_MAX_OUTSTANDING,
  };
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--verbose' || a === '-v') {
      o.verbose = true;
      continue;
    }
    if (a === '--help' || a === '-h') return USAGE;
    if (a === '--async-disk') {
      o.asyncDisk = true;
      continue;
    }
    if (a === '--disk-latency') {
      const m = /^(\d+)-(\d+)$/.exec(args[i + 1] ?? '');
      if (m === null || Number(m[2]) < Number(m[1])) return `--disk-latency needs MIN-MAX ticks (e.g. 0-4)\n${USAGE}`;
      o.diskLatency = { min: Number(m[1]), max: Number(m[2]) };
      i++;
      continue;
    }
    if (a === '--membership' || a === '--compaction' || a === '--quiesce' || a === '--idle') {
      o[a === '--membership' ? 'membership' : a === '--compaction' ? 'compaction' : a === '--quiesce' ? 'quiesce' : 'idle'] = true;
      continue;
    }
    const value = args[i + 1];
    const n = value === undefined ? NaN : Number(value);
    const key = { '--seeds': 'seeds', '--first-seed': 'firstSeed', '--nodes': 'nodes', '--steps': 'steps', '--max-outstanding': 'maxOutstanding' }[a] as
      | 'seeds' | 'firstSeed' | 'nodes' | 'steps' | 'maxOutstanding' | undefined;
    if (key === undefined) return `unknown argument ${a}\n${USAGE}`;
    if (!Number.isInteger(n) || n < 0) return `${a} needs a non-negative integer\n${USAGE}`;
    o[key] = n;
    i++;
  }
  if (o.nodes < 3 || o.nodes > 9) return `--nodes must be between 3 and 9\n${USAGE}`;
  if (o.maxOutstanding < 1) return `--max-outstanding must be at least 1\n${USAGE}`;
  return o;
}

export function replayCommand(seed: number, nodes: number, steps: number, flags = ''): string {
  return `npm run sim -- --seeds 1 --first-seed ${seed} --nodes ${nodes} --steps ${steps}${flags} --verbose`;
}

/** The CLI flags that change a run (for the replay command). */
export function runFlags(o: {
  readonly membership?: boolean;
  readonly compaction?: boolean;
  readonly quiesce?: boolean;
  readonly idle?: boolean;
  readonly asyncDisk?: boolean;
  readonly diskLatency?: DiskLatency;
  readonly maxOutstanding?: number;
}): string {
  const lat = o.diskLatency ?? DEFAULT_DISK_LATENCY;
  const async = o.asyncDisk === true ? ` --async-disk --disk-latency ${lat.min}-${lat.max} --max-outstanding ${o.maxOutstanding ?? DEFAULT_MAX_OUTSTANDING}` : '';
  return (
    `${o.membership === true ? ' --membership' : ''}${o.compaction === true ? ' --compaction' : ''}` +
    `${o.quiesce === true ? ' --quiesce' : ''}${o.idle === true ? ' --idle' : ''}${async}`
  );
}

export function formatViolation(r: SimResult, nodes: number, steps: number, flags = ''): string {
  const v = r.violation;
  if (v === null) return '';
  return [
    `VIOLATION seed ${r.seed}: ${v.invariant} at tick ${v.tick}`,
    `  ${v.detail.split('\n').join('\n  ')}`,
    `  last events:`,
    ...r.trace.map((l) => `    ${l}`),
    `  replay: ${replayCommand(r.seed, nodes, steps, flags)}`,
  ].join('\n');
}

function describeRun(r: SimResult): string {
  const s = r.stats;
  const t = r.tuning;
  return (
    `seed ${r.seed}: ticks=${s.ticks} msgs=${s.messages} elections=${s.elections} crashes=${s.crashes} ` +
    `snapshots=${s.snapshotsInstalled} confChanges=${s.membershipChanges} committed=${s.committed} heals=${s.livenessChecks} maxRecovery=${s.maxRecoveryTicks} ` +
    `ops ok/fail/info=${s.ops.ok}/${s.ops.fail}/${s.ops.info} history=${s.verdict} (${s.checkerMs} ms) ` +
    (s.idleTicks > 0 ? `idle msgs/tick=${(s.idleMessages / s.idleTicks).toFixed(2)} wakes=${s.livenessWakes} ` : '') +
    (s.asyncDisk !== null
      ? `async overlapped=${s.asyncDisk.readiesOverlapped} maxOutstanding=${s.asyncDisk.maxOutstanding} early/held=${s.asyncDisk.earlyMessages}/${s.asyncDisk.heldMessages} replacedInFlight=${s.asyncDisk.replacedInFlight} lost writes/msgs=${s.asyncDisk.writesLost}/${s.asyncDisk.messagesLost} `
      : '') +
    `[preVote=${t.preVote} checkQuorum=${t.checkQuorum} hb=${t.heartbeatTick} maxMsg=${t.maxSizePerMsg} inflight=${t.maxInflightMsgs}]`
  );
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseSimArgs(argv);
  if (typeof parsed === 'string') {
    console.error(parsed);
    return parsed === USAGE ? 0 : 2;
  }
  const o = parsed;
  const started = Date.now();
  let violations = 0;
  let unknown = 0;
  let idleTicks = 0;
  let idleMessages = 0;
  let totalTicks = 0;
  let totalMessages = 0;
  const flags = runFlags(o);
  console.log(`sim: ${o.seeds} seeds from ${o.firstSeed}, ${o.nodes} nodes, ${o.steps} steps each${flags}`);
  for (let i = 0; i < o.seeds; i++) {
    const seed = o.firstSeed + i;
    const r = runSimulation({
      seed, nodes: o.nodes, steps: o.steps, membership: o.membership, compaction: o.compaction,
      quiesce: o.quiesce, idleWorkload: o.quiesce || o.idle,
      ...(o.asyncDisk ? { asyncDisk: { latency: o.diskLatency, maxOutstanding: o.maxOutstanding } } : {}),
    });
    if (r.stats.verdict === 'unknown') unknown++;
    idleTicks += r.stats.idleTicks;
    idleMessages += r.stats.idleMessages;
    totalTicks += r.stats.ticks;
    totalMessages += r.stats.messages;
    if (o.verbose) {
      console.log(describeRun(r));
      console.log(`  schedule: ${r.schedule.map((e) => `${e.at}:${describeFault(e)}`).join('; ')}`);
    }
    if (r.violation !== null) {
      violations++;
      console.log(formatViolation(r, o.nodes, o.steps, flags));
      if (o.verbose) console.log(`  final state:\n${r.finalStatus.map((l) => `    ${l}`).join('\n')}`);
    }
    const done = i + 1;
    if (!o.verbose && (done % 10 === 0 || done === o.seeds)) {
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      console.log(`progress: ${done}/${o.seeds} seeds, ${violations} violations, ${unknown} unchecked histories, ${secs} s`);
    }
    // Let the event loop breathe between seeds (output flushes, signals).
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`messages/tick: ${(totalMessages / Math.max(1, totalTicks)).toFixed(2)} overall over ${totalTicks} ticks, ${secs} s`);
  if (idleTicks > 0) console.log(`idle windows: ${(idleMessages / idleTicks).toFixed(2)} messages/tick over ${idleTicks} idle ticks (faults included)`);
  console.log(`seeds: ${o.seeds}, violations: ${violations}`);
  return violations > 0 ? 1 : 0;
}
