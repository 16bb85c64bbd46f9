/**
 * In-process cluster harness: N nodes (API server + CacheNode) on 127.0.0.1
 * with free ports and temp data dirs, and a raw `ws` client that pipelines.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { startNodeServer } from '../../src/api/run.js';
import type { RunningNode } from '../../src/api/run.js';
import { parseNodeConfig, silentLogger } from '../../src/node/index.js';
import type { NodeConfig } from '../../src/node/index.js';

export const SECRET = 'test-secret-0123456789abcdef';

export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<import('node:net').Server>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === 'string') throw new Error('no port');
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

export interface Cluster {
  readonly configs: NodeConfig[];
  readonly nodes: (RunningNode | null)[];
  readonly dirs: string[];
  url(i: number): string;
  /** Index (0-based) of the node whose replica leads, waiting for one. */
  leader(): Promise<number>;
  stop(i: number): Promise<void>;
  restart(i: number): Promise<void>;
  close(): Promise<void>;
}

/** Overrides merged into every node's config input. */
export type Overrides = Record<string, unknown>;

export async function startCluster(size: number, overrides: Overrides = {}): Promise<Cluster> {
  const ports = await freePorts(size * 2);
  const dirs: string[] = [];
  for (let i = 0; i < size; i++) dirs.push(await mkdtemp(join(tmpdir(), 'raftcache-test-')));
  const members = Array.from({ length: size }, (_, i) => ({
    id: i + 1,
    host: '127.0.0.1',
    clientPort: ports[2 * i] as number,
    peerPort: ports[2 * i + 1] as number,
  }));
  const configs = members.map((m, i) =>
    parseNodeConfig({
      id: m.id,
      data: dirs[i],
      listen: `127.0.0.1:${m.clientPort}`,
      peerListen: `127.0.0.1:${m.peerPort}`,
      members,
      secret: SECRET,
      // 25 ms ticks, 500–1000 ms election timeout: quick elections that survive a loaded CI machine
      raft: { tickMs: 25, electionTicks: 20, heartbeatTicks: 1 },
      ...overrides,
    }),
  );
  const nodes: (RunningNode | null)[] = await Promise.all(configs.map((c) => startNodeServer(c, silentLogger(), c.id)));
  const cluster: Cluster = {
    configs,
    nodes,
    dirs,
    url: (i) => `ws://127.0.0.1:${members[i]?.clientPort ?? 0}/v1`,
    async leader() {
      for (let attempt = 0; attempt < 500; attempt++) {
        for (let i = 0; i < nodes.length; i++) {
          const n = nodes[i];
          if (n && n.node.status().role === 'leader') {
            // Wait until the leader has applied its no-op (it can serve reads).
            const s = n.node.status();
            if (s.applied >= s.commit && s.commit > 0) return i;
          }
        }
        await sleep(20);
      }
      throw new Error('no leader elected');
    },
    async stop(i) {
      const n = nodes[i];
      nodes[i] = null;
      if (n) await n.close();
    },
    async restart(i) {
      const c = configs[i];
      if (!c) throw new Error(`no node ${i}`);
      nodes[i] = await startNodeServer(c, silentLogger(), c.id + 100);
    },
    async close() {
      await Promise.all(nodes.map((n) => n?.close()));
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    },
  };
  return cluster;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` until true (bounded); throws with `what` if it never holds. */
export async function waitFor(what: string, cond: () => boolean, attempts = 500, everyMs = 20): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (cond()) return;
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export type Frame = Record<string, unknown> & { id: number | null; ok: boolean; error?: { code: string; message: string; definite: boolean; [k: string]: unknown } };

/** A pushed frame (no `id`), e.g. `{event: "map", version}` after `watch`. */
export type PushFrame = Record<string, unknown> & { event: string };

/**
 * A raw protocol client: send frames, await responses by id; frames with id
 * null queue separately; pushes (no `id` at all) collect in `events`.
 */
export class RawClient {
  private readonly waiting = new Map<number, (f: Frame) => void>();
  private readonly nullFrames: Frame[] = [];
  private nullWaiter: ((f: Frame) => void) | null = null;
  private nextId = 1;
  readonly events: PushFrame[] = [];
  private eventWaiter: ((f: PushFrame) => void) | null = null;
  private eventsTaken = 0;
  closeCode: number | null = null;
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code: number) => {
        this.closeCode = code;
        resolve(code);
      });
    });
    ws.on('error', () => {
      /* close follows */
    });
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as Frame;
      if (!('id' in f)) {
        const e = f as unknown as PushFrame;
        const w = this.eventWaiter;
        this.eventWaiter = null;
        this.events.push(e);
        if (w) w(e);
        return;
      }
      if (f.id === null) {
        const w = this.nullWaiter;
        this.nullWaiter = null;
        if (w) w(f);
        else this.nullFrames.push(f);
        return;
      }
      const w = this.waiting.get(f.id);
      if (w) {
        this.waiting.delete(f.id);
        w(f);
      }
    });
  }

  static connect(url: string, headers?: Record<string, string>): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, headers ? { headers } : undefined);
      const c = new RawClient(ws);
      ws.once('open', () => resolve(c));
      ws.once('error', reject);
    });
  }

  /** Sends a request (id assigned unless given) and resolves with its response. */
  request(frame: Record<string, unknown>): Promise<Frame> {
    const id = typeof frame['id'] === 'number' ? frame['id'] : this.nextId++;
    const p = new Promise<Frame>((resolve) => this.waiting.set(id, resolve));
    this.ws.send(JSON.stringify({ ...frame, id }));
    return p;
  }

  /** Sends raw text (or bytes) and resolves with the next response whose id is null. */
  sendRaw(data: string | Buffer, binary = false): Promise<Frame> {
    const p = new Promise<Frame>((resolve) => {
      const f = this.nullFrames.shift();
      if (f) resolve(f);
      else this.nullWaiter = resolve;
    });
    this.ws.send(data, { binary });
    return p;
  }

  /** Resolves with the next push frame (or one already received and not yet taken by nextEvent). */
  nextEvent(): Promise<PushFrame> {
    const taken = this.eventsTaken;
    const ready = this.events[taken];
    if (ready !== undefined) {
      this.eventsTaken++;
      return Promise.resolve(ready);
    }
    return new Promise((resolve) => {
      this.eventWaiter = (e) => {
        this.eventsTaken++;
        resolve(e);
      };
    });
  }
  close(): void {
    this.ws.close();
  }
}
