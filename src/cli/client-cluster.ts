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
import WebSocket from 'ws';
import { endpointUrl, toNodeStatus } from '../client/index.js';
import type { NodeStatus } from '../client/index.js';
import { nodeName, parseShardMap } from '../meta/index.js';
import type { ParsedShardMap } from '../meta/index.js';
import { freePortPairs } from './free-ports.js';

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
  /** Started with `--join` (added to a running cluster by addNode). */
  readonly joined: boolean;
  /** Its `--members` when it differs from the cluster's initial list (added nodes: the members then, plus itself). */
  readonly membersArg: string | null;
  /** Stopped for good (removed from the cluster): skipped by endpoints(), waits and startAll(). */
  retired: boolean;
  /** The next exit is intended (stopNode / retire): onUnexpectedExit is not called for it. */
  expectExit: boolean;
  child: ChildProcess | null;
  /** Resolves when the current child has exited. */
  exited: Promise<void>;
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | null;
}

export function defaultMainPath(): string {
  return fileURLToPath(new URL('./main.js', import.meta.url));
}

/**
 * V8 flags for every node this launcher starts: a larger young generation
 * (semi-spaces of 32 MB instead of 16) means fewer scavenges of the short-lived
 * garbage a busy node makes (frames, entries, responses): about 5 % more puts/s
 * and 4–8 % less node CPU per put in `bench --dev` (docs/operations.md).
 */
export const NODE_RUNTIME_FLAGS: readonly string[] = ['--max-semi-space-size=32'];

export class LocalCluster {
  readonly nodes: LocalNode[];
  readonly secret: string;
  private readonly host: string;
  private readonly members: string;
  private readonly mainPath: string;
  private readonly dir: string;
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
    this.dir = dir;
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
        joined: false,
        membersArg: null,
        retired: false,
        expectExit: false,
        child: null,
        exited: Promise.resolve(),
        lastExit: null,
      });
    }
    this.members = this.nodes.map((n) => `${n.id}=${this.host}:${n.clientPort}/${n.peerPort}`).join(',');
  }

  /** Client endpoints of the nodes that are not retired. */
  endpoints(): string[] {
    return this.active().map((n) => n.endpoint);
  }

  /** The nodes that are not retired (initial and added ones). */
  active(): LocalNode[] {
    return this.nodes.filter((n) => !n.retired);
  }

  node(id: number): LocalNode {
    const n = this.nodes.find((x) => x.id === id);
    if (n === undefined) throw new RangeError(`no node ${id}`);
    return n;
  }

  /** `ID=HOST:CLIENTPORT/PEERPORT` of a node, as `--members` lists it. */
  memberEntry(n: Pick<LocalNode, 'id' | 'clientPort' | 'peerPort'>): string {
    return `${n.id}=${this.host}:${n.clientPort}/${n.peerPort}`;
  }

  /** Spawns every node that is not running (retired ones stay down). */
  startAll(): void {
    this.stopping = false;
    for (const n of this.nodes) if (n.child === null && !n.retired) this.spawnNode(n);
  }

  /**
   * Adds a node to the running cluster: the next id, free ports (unless
   * given), and spawns it with `--join`; its `--members` lists the nodes not
   * retired plus itself (or `members`, e.g. jepsen-lite's proxied list). The
   * meta group then moves replicas onto it. Restarts reuse the same arguments.
   */
  async addNode(o: { readonly ports?: { readonly client: number; readonly peer: number }; readonly members?: string } = {}): Promise<LocalNode> {
    const id = Math.max(0, ...this.nodes.map((n) => n.id)) + 1;
    const p = o.ports ?? (await freePortPairs(1, this.host))[0]!;
    const base = { id, clientPort: p.client, peerPort: p.peer };
    const members = o.members ?? [...this.active().map((n) => this.memberEntry(n)), this.memberEntry(base)].join(',');
    const n: LocalNode = {
      ...base,
      endpoint: `${this.host}:${p.client}`,
      dataDir: join(this.dir, `n${id}`),
      logPath: join(this.dir, `n${id}.log`),
      joined: true,
      membersArg: members,
      retired: false,
      expectExit: false,
      child: null,
      exited: Promise.resolve(),
      lastExit: null,
    };
    this.nodes.push(n);
    this.spawnNode(n);
    return n;
  }

  /**
   * Stops one node's process on purpose: SIGTERM, SIGKILL after graceMs.
   * `retire` marks it gone for good (after `node remove` reported it removed).
   */
  async stopNode(id: number, o: { readonly graceMs?: number; readonly retire?: boolean } = {}): Promise<void> {
    const n = this.node(id);
    if (o.retire === true) n.retired = true;
    const child = n.child;
    if (child === null || child.pid === undefined) return;
    n.expectExit = true;
    signalPid(child.pid, 'SIGCONT'); // a paused node cannot act on SIGTERM
    signalPid(child.pid, 'SIGTERM');
    if (!(await withTimeout(n.exited, o.graceMs ?? 5000))) {
      signalPid(child.pid, 'SIGKILL');
      await withTimeout(n.exited, 5000);
    }
  }

  /**
   * The shard map as node `n` serves it (the `map` op over one WebSocket), or
   * null when it does not answer in time or answers something unparsable.
   */
  async fetchMap(n: LocalNode, timeoutMs = 1000): Promise<ParsedShardMap | null> {
    const result = await requestOnce(n.endpoint, { id: 1, op: 'map' }, timeoutMs);
    if (result === null || result['ok'] !== true) return null;
    try {
      return parseShardMap(result);
    } catch {
      return null;
    }
  }

  /**
   * Waits until the maps of the running nodes other than `id` no longer list
   * node `id` (removed nodes leave the map) nor name it in any shard or the
   * meta group; then stops and retires it. Throws after timeoutMs.
   */
  async waitRemovedAndRetire(id: number, timeoutMs: number): Promise<void> {
    const name = nodeName(id);
    await pollUntil(timeoutMs, async () => {
      const others = this.active().filter((n) => n.id !== id && n.child !== null);
      const maps = await Promise.all(others.map((n) => this.fetchMap(n)));
      const answered = maps.filter((m): m is ParsedShardMap => m !== null);
      if (answered.length === 0) return undefined;
      return answered.every((m) => !mapMentions(m, name)) ? true : undefined;
    }, () => `node ${id} was not removed from the shard map within ${timeoutMs} ms`);
    await this.stopNode(id, { retire: true });
  }

  /** Spawns node `id` (again) with the same data dir. */
  spawnNode(n: LocalNode): void {
    mkdirSync(n.dataDir, { recursive: true });
    const log = openSync(n.logPath, 'a');
    const args = [
      ...NODE_RUNTIME_FLAGS,
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
      n.membersArg ?? this.options.membersFor?.(n.id) ?? this.members,
      ...(n.joined ? ['--join'] : []),
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
    n.expectExit = false;
    n.exited = new Promise<void>((done) => {
      child.once('exit', (code, signal) => {
        if (n.child === child) n.child = null;
        n.lastExit = { code, signal };
        if (!this.stopping && !n.expectExit) this.onUnexpectedExit?.(n);
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
    const targets = ids?.map((id) => this.node(id)) ?? this.active();
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
      const running = this.active().filter((n) => n.child !== null && !exclude.includes(n.id));
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

  /**
   * Waits until every shard has a leader and no shard's leadership has changed
   * for `quietMs` (the nodes hand leaderships over to balance them, one per
   * node per second, after a start): a benchmark then measures the steady state.
   */
  async waitSettled(timeoutMs: number, quietMs: number): Promise<void> {
    let last = '';
    let since = Date.now();
    await pollUntil(timeoutMs, async () => {
      const running = this.active().filter((n) => n.child !== null);
      const statuses = (await Promise.all(running.map((n) => this.health(n)))).filter((s): s is NodeStatus => s !== null);
      if (statuses.length < running.length || !statuses.every(allShardsLed)) {
        last = '';
        return undefined;
      }
      const leaders = statuses
        .flatMap((s) => (s.shards ?? []).map((e) => `${e.group}:${e.leader ?? '-'}`))
        .sort()
        .join(',');
      if (leaders !== last) {
        last = leaders;
        since = Date.now();
        return undefined;
      }
      return Date.now() - since >= quietMs ? true : undefined;
    }, () => `shard leaderships still changing after ${timeoutMs} ms`);
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

/** True when the map lists node `name` as a member, or as a voter or learner of a shard or of the meta group. */
export function mapMentions(m: ParsedShardMap, name: string): boolean {
  if (m.members.some((x) => x.node === name)) return true;
  const groups = m.meta === undefined ? [...m.shards] : [...m.shards, m.meta];
  return groups.some((g) => g.replicas.includes(name) || (g.learners ?? []).includes(name));
}

/**
 * Sends one request frame to a node's client API on a fresh WebSocket and
 * returns the response frame with the same id (ok or not); null when the
 * socket fails or closes, or nothing answers within timeoutMs.
 */
export function requestOnce(endpoint: string, frame: Readonly<Record<string, unknown>>, timeoutMs: number): Promise<Record<string, unknown> | null> {
  return new Promise((done) => {
    let settled = false;
    const ws = new WebSocket(endpointUrl(endpoint));
    const finish = (v: Record<string, unknown> | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      done(v);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    ws.once('open', () => ws.send(JSON.stringify(frame)));
    ws.on('message', (data: WebSocket.RawData) => {
      try {
        const msg: unknown = JSON.parse(data.toString());
        if (typeof msg === 'object' && msg !== null && (msg as Record<string, unknown>)['id'] === frame['id']) finish(msg as Record<string, unknown>);
      } catch {
        finish(null);
      }
    });
    ws.once('error', () => finish(null));
    ws.once('close', () => finish(null));
  });
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
