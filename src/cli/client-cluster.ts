/**
 * A local cluster of real node processes (`raftcache start` children), used by
 * `raftcache dev`, `raftcache bench --dev` and the end-to-end tests. It only
 * ever signals the processes it spawned, by pid.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toNodeStatus } from '../client/index.js';
import type { NodeStatus } from '../client/index.js';

export interface LocalClusterOptions {
  readonly nodes: number;
  /** Data root: node i keeps its data in DIR/nI and logs to DIR/nI.log. */
  readonly dir: string;
  /** Node i listens for clients on basePort+i-1 and for peers on basePort+100+i-1. */
  readonly basePort?: number;
  /** Explicit ports per node (overrides basePort). */
  readonly ports?: readonly { readonly client: number; readonly peer: number }[];
  readonly host?: string;
  readonly secret?: string;
  readonly logLevel?: string;
  /** Path of dist/src/cli/main.js (default: next to this module). */
  readonly mainPath?: string;
  /** Extra arguments for every `start`. */
  readonly extraArgs?: readonly string[];
  /**
   * Per-node `--members` override (default: every node gets the same list of
   * the real ports). jepsen-lite uses it to route node i's link to node j
   * through a fault proxy.
   */
  readonly membersFor?: (nodeId: number) => string;
}

export interface LocalNode {
  readonly id: number;
  readonly clientPort: number;
  readonly peerPort: number;
  /** host:port of the client API. */
  readonly endpoint: string;
  readonly dataDir: string;
  readonly logPath: string;
  child: ChildProcess | null;
  /** Resolves when the current child has exited. */
  exited: Promise<void>;
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | null;
}

export function defaultMainPath(): string {
  return fileURLToPath(new URL('./main.js', import.meta.url));
}

export class LocalCluster {
  readonly nodes: LocalNode[];
  readonly secret: string;
  private readonly host: string;
  private readonly members: string;
  private readonly mainPath: string;
  private stopping = false;
  /** Called when a node exits while the cluster is not stopping. */
  onUnexpectedExit: ((node: LocalNode) => void) | undefined;

  constructor(private readonly options: LocalClusterOptions) {
    if (!Number.isInteger(options.nodes) || options.nodes < 1) throw new RangeError('nodes must be a positive integer');
    this.host = options.host ?? '127.0.0.1';
    this.secret = options.secret ?? randomBytes(32).toString('hex');
    this.mainPath = options.mainPath ?? defaultMainPath();
    const base = options.basePort ?? 7001;
    const dir = resolve(options.dir);
    this.nodes = [];
    for (let i = 1; i <= options.nodes; i++) {
      const p = options.ports?.[i - 1];
      const clientPort = p?.client ?? base + i - 1;
      const peerPort = p?.peer ?? base + 100 + i - 1;
      this.nodes.push({
        id: i,
        clientPort,
        peerPort,
        endpoint: `${this.host}:${clientPort}`,
        dataDir: join(dir, `n${i}`),
        logPath: join(dir, `n${i}.log`),
        child: null,
        exited: Promise.resolve(),
        lastExit: null,
      });
    }
    this.members = this.nodes.map((n) => `${n.id}=${this.host}:${n.clientPort}/${n.peerPort}`).join(',');
  }

  endpoints(): string[] {
    return this.nodes.map((n) => n.endpoint);
  }

  node(id: number): LocalNode {
    const n = this.nodes[id - 1];
    if (n === undefined) throw new RangeError(`no node ${id}`);
    return n;
  }

  /** Spawns every node that is not running. */
  startAll(): void {
    this.stopping = false;
    for (const n of this.nodes) if (n.child === null) this.spawnNode(n);
  }

  /** Spawns node `id` (again) with the same data dir. */
  spawnNode(n: LocalNode): void {
    mkdirSync(n.dataDir, { recursive: true });
    const log = openSync(n.logPath, 'a');
    const args = [
      this.mainPath,
      'start',
      '--id',
      String(n.id),
      '--data',
      n.dataDir,
      '--listen',
      `${this.host}:${n.clientPort}`,
      '--peer-listen',
      `${this.host}:${n.peerPort}`,
      '--members',
      this.options.membersFor?.(n.id) ?? this.members,
      '--secret',
      this.secret,
      '--log-format',
      'json',
      '--log-level',
      this.options.logLevel ?? 'info',
      ...(this.options.extraArgs ?? []),
    ];
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, args, { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    n.child = child;
    n.lastExit = null;
    n.exited = new Promise<void>((done) => {
      child.once('exit', (code, signal) => {
        if (n.child === child) n.child = null;
        n.lastExit = { code, signal };
        if (!this.stopping) this.onUnexpectedExit?.(n);
        done();
      });
      child.once('error', () => {
        if (n.child === child) n.child = null;
        n.lastExit = { code: null, signal: null };
        done();
      });
    });
  }

  /** Sends `signal` to node `id`'s process (if running) and waits until it exited. */
  async kill(id: number, signal: NodeJS.Signals = 'SIGKILL', waitMs = 10_000): Promise<void> {
    const n = this.node(id);
    const child = n.child;
    if (child === null || child.pid === undefined) return;
    process.kill(child.pid, signal);
    await withTimeout(n.exited, waitMs);
  }

  /** GET /health of one node: its status, or null when it does not answer 200. */
  async health(n: LocalNode, timeoutMs = 1000): Promise<NodeStatus | null> {
    try {
      const res = await fetch(`http://${n.endpoint}/health`, { signal: AbortSignal.timeout(timeoutMs) });
      if (res.status !== 200) return null;
      const body: unknown = await res.json();
      return typeof body === 'object' && body !== null ? toNodeStatus(body as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }

  /** Waits until the running nodes (or those in `ids`) answer /health; throws after timeoutMs. */
  async waitHealthy(timeoutMs: number, ids?: readonly number[]): Promise<void> {
    const targets = ids?.map((id) => this.node(id)) ?? this.nodes;
    await pollUntil(timeoutMs, async () => {
      for (const n of targets) {
        if (n.child === null) throw new Error(`node ${n.id} exited (${exitText(n)}); see ${n.logPath}`);
      }
      const ok = await Promise.all(targets.map((n) => this.health(n)));
      return ok.every((s) => s !== null) ? true : undefined;
    }, () => `nodes did not answer /health within ${timeoutMs} ms`);
  }

  /**
   * Waits until a running node reports itself leader and every other running
   * node agrees on it; returns the leader's status.
   */
  async waitLeader(timeoutMs: number, exclude: readonly number[] = []): Promise<NodeStatus> {
    return pollUntil(timeoutMs, async () => {
      const running = this.nodes.filter((n) => n.child !== null && !exclude.includes(n.id));
      const statuses = (await Promise.all(running.map((n) => this.health(n)))).filter((s): s is NodeStatus => s !== null);
      if (statuses.length === 0) return undefined;
      const leader = statuses.find((s) => s.role === 'leader');
      if (leader !== undefined && statuses.every((s) => s.leader === leader.node)) return leader;
      // Several shards: the top-level fields are each node's first shard, which
      // differ; ready once every shard of every answering node knows its leader.
      const sharded = statuses.some((s) => (s.shards?.length ?? 0) > 1);
      return sharded && statuses.every(allShardsLed) ? (leader ?? statuses[0]) : undefined;
    }, () => `no leader within ${timeoutMs} ms`);
  }

  /** SIGKILLs every child at once, synchronously: the last resort of an exit hook (no node outlives its parent). */
  killAllNow(): void {
    for (const n of this.nodes) {
      const pid = n.child?.pid;
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /**
   * Stops every child: SIGTERM, then SIGKILL for those still running after
   * graceMs. Resolves when all have exited.
   */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    const running = this.nodes.filter((n) => n.child !== null);
    for (const n of running) {
      const pid = n.child?.pid;
      if (pid !== undefined) signalPid(pid, 'SIGTERM');
    }
    const all = Promise.all(running.map((n) => n.exited));
    if (!(await withTimeout(all, graceMs))) {
      for (const n of running) {
        const pid = n.child?.pid;
        if (pid !== undefined) signalPid(pid, 'SIGKILL');
      }
      await withTimeout(all, 5000);
    }
  }
}

/** The last `lines` lines of a node's log (for error messages). */
export function logTail(n: LocalNode, lines = 5): string {
  try {
    const text = readFileSync(n.logPath, 'utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export function exitText(n: LocalNode): string {
  const e = n.lastExit;
  if (e === null) return 'running';
  return e.signal !== null ? `signal ${e.signal}` : `code ${e.code ?? '?'}`;
}

/** Resolves true when `p` settles within ms, false otherwise. */
async function withTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `probe` every 100 ms until it returns a value; throws when `timeoutMs` passes. */
export async function pollUntil<T>(timeoutMs: number, probe: () => Promise<T | undefined>, what: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) throw new Error(what());
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every shard in a node's status knows its leader. */
function allShardsLed(s: NodeStatus): boolean {
  return s.shards === undefined ? s.leader !== null : s.shards.every((e) => e.leader !== null);
}
