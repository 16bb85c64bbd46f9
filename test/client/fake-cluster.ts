/**
 * A fake sharded cluster for client tests: FakeNodes on distinct ports that
 * share one shard map (ranges of the ring → shard → replicas, leader). Every
 * node answers `map`, refuses keys of shards it does not serve with
 * WRONG_SHARD (mapVersion), refuses writes of shards it does not lead with
 * NOT_LEADER (leader hint), keeps sessions per group (register with `group`)
 * and applies a (client, seq) at most once. Data lives in one shared store.
 */
import { hashKey } from '../../src/shard/index.js';
import { FakeNode } from './fake-server.js';
import type { FakeContext, Frame } from './fake-server.js';

export interface FakeShard {
  shard: number;
  group: number;
  ranges: [number, number][];
  replicas: string[];
  leader: string | null;
}

/** One data request as a node saw it. */
export interface Served {
  readonly node: string;
  readonly op: string;
  readonly frame: Frame;
  /** The answer's code: 'ok' or an error code. */
  outcome: string;
}

interface SessionState {
  /** Results by seq (the fake never forgets). */
  readonly results: Map<number, Record<string, unknown>>;
}

export const THIRD = Math.floor(0x1_0000_0000 / 3);

/** Three shards of a third of the ring each, led by n1, n2, n3, two replicas each. */
export function threeShards(): FakeShard[] {
  return [
    { shard: 1, group: 11, ranges: [[0, THIRD - 1]], replicas: ['n1', 'n2'], leader: 'n1' },
    { shard: 2, group: 12, ranges: [[THIRD, 2 * THIRD - 1]], replicas: ['n2', 'n3'], leader: 'n2' },
    { shard: 3, group: 13, ranges: [[2 * THIRD, 0xffffffff]], replicas: ['n3', 'n1'], leader: 'n3' },
  ];
}

export class FakeCluster {
  readonly nodes = new Map<string, FakeNode>();
  readonly store = new Map<string, string>();
  readonly served: Served[] = [];
  version = 1;
  shards: FakeShard[];
  /** When set, `map` answers this object instead of the real map. */
  mapOverride: Record<string, unknown> | null = null;
  /** When not undefined, `map` carries `meta: {group: 0, replicas, leader, term}` with this leader. */
  metaLeader: string | null | undefined = undefined;
  /** Runs before the cluster's own handling; return true to take the frame. */
  intercept: (node: FakeNode, frame: Frame, ctx: FakeContext) => boolean = () => false;
  /** When true for a frame, the node handles it (a write is applied) but drops the socket instead of answering. */
  loseAnswer: (node: FakeNode, frame: Frame) => boolean = () => false;
  private readonly sessions = new Map<number, Map<string, SessionState>>();
  private nextClient = 1;

  private constructor(shards: FakeShard[]) {
    this.shards = shards;
  }

  static async start(ids: readonly string[], shards: FakeShard[]): Promise<FakeCluster> {
    const c = new FakeCluster(shards);
    for (const id of ids) {
      const n = await new FakeNode(id).start();
      n.handler = (f, ctx) => {
        if (c.intercept(n, f, ctx)) return true;
        if (!c.loseAnswer(n, f)) return c.handle(n, f, ctx);
        const lost = (): void => ctx.socket.terminate();
        return c.handle(n, f, { ...ctx, reply: lost, fail: lost });
      };
      c.nodes.set(id, n);
    }
    const members = [...c.nodes.values()].map((n) => ({ node: n.id, url: n.url }));
    for (const n of c.nodes.values()) n.members = members;
    return c;
  }

  node(id: string): FakeNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  url(id: string): string {
    return this.node(id).url;
  }

  /** The shard owning `key` (linear scan: an independent reference for the client's binary search). */
  shardOfKey(key: string): FakeShard {
    const h = hashKey(key);
    for (const s of this.shards) for (const [a, b] of s.ranges) if (a <= h && h <= b) return s;
    throw new Error(`no shard covers ${h}`);
  }

  /** Installs a new map (version + 1). */
  setShards(shards: FakeShard[]): void {
    this.shards = shards;
    this.version++;
  }

  mapFrame(): Record<string, unknown> {
    if (this.mapOverride !== null) return this.mapOverride;
    return {
      version: this.version,
      shards: this.shards.map((s) => ({ ...s, ranges: s.ranges.map((r) => [...r]) })),
      members: [...this.nodes.values()].map((n) => ({ node: n.id, url: n.url })),
      ...(this.metaLeader === undefined ? {} : { meta: { group: 0, replicas: [...this.nodes.keys()], leader: this.metaLeader, term: 1 } }),
    };
  }

  /** Data requests served (any outcome) with op `op`, optionally only by `node`. */
  requests(op: string, node?: string): Served[] {
    return this.served.filter((s) => s.op === op && (node === undefined || s.node === node));
  }

  async stop(): Promise<void> {
    for (const n of this.nodes.values()) await n.stop();
  }

  private handle(n: FakeNode, f: Frame, ctx: FakeContext): boolean {
    switch (f.op) {
      case 'hello':
        ctx.reply(f, { node: n.id, version: 1, mapVersion: this.version });
        return true;
      case 'status':
        ctx.reply(f, {
          node: n.id,
          role: 'follower',
          term: 1,
          commit: 1,
          applied: 1,
          leader: null,
          leaderUrl: null,
          pid: process.pid,
          address: n.url,
          group: 0,
          members: n.members,
          mapVersion: this.version,
        });
        return true;
      case 'map':
        ctx.reply(f, this.mapFrame());
        return true;
      case 'register':
        return this.register(n, f, ctx);
      default:
        return this.data(n, f, ctx);
    }
  }

  private register(n: FakeNode, f: Frame, ctx: FakeContext): boolean {
    const shard = this.shards.find((s) => s.group === f['group']);
    const rec: Served = { node: n.id, op: 'register', frame: f, outcome: 'ok' };
    this.served.push(rec);
    if (shard === undefined || !shard.replicas.includes(n.id)) {
      rec.outcome = 'WRONG_SHARD';
      ctx.fail(f, 'WRONG_SHARD', true, { mapVersion: this.version });
    } else if (shard.leader !== n.id) {
      rec.outcome = 'NOT_LEADER';
      ctx.fail(f, 'NOT_LEADER', true, this.leaderHint(shard));
    } else {
      const client = String(shard.group * 1000 + this.nextClient++);
      this.groupSessions(shard.group).set(client, { results: new Map() });
      ctx.reply(f, { client });
    }
    return true;
  }

  private data(n: FakeNode, f: Frame, ctx: FakeContext): boolean {
    const keys = keysOf(f);
    const rec: Served = { node: n.id, op: f.op, frame: f, outcome: 'ok' };
    this.served.push(rec);
    const fail = (code: string, definite: boolean, hints: Record<string, unknown> = {}): boolean => {
      rec.outcome = code;
      ctx.fail(f, code, definite, hints);
      return true;
    };
    if (keys === null) return fail('BAD_REQUEST', true);
    const shards = new Set(keys.map((k) => this.shardOfKey(k)));
    const shard = shards.size === 1 ? [...shards][0] : undefined;
    if (shard === undefined || !shard.replicas.includes(n.id)) return fail('WRONG_SHARD', true, { mapVersion: this.version });
    const isWrite = f.op !== 'get' && f.op !== 'mget';
    if (!isWrite) {
      const values = keys.map((k) => this.store.get(k) ?? null);
      ctx.reply(f, f.op === 'get' ? { value: values[0] } : { values });
      return true;
    }
    if (shard.leader !== n.id) return fail('NOT_LEADER', true, this.leaderHint(shard));
    const session = f['session'] as { client: string; seq: number } | undefined;
    if (session !== undefined) {
      const state = this.groupSessions(shard.group).get(session.client);
      if (state === undefined) return fail('SESSION_EXPIRED', true);
      const done = state.results.get(session.seq);
      if (done !== undefined) {
        ctx.reply(f, done);
        return true;
      }
      const result = this.apply(f);
      state.results.set(session.seq, result);
      ctx.reply(f, result);
      return true;
    }
    ctx.reply(f, this.apply(f));
    return true;
  }

  private apply(f: Frame): Record<string, unknown> {
    const key = String(f['key']);
    switch (f.op) {
      case 'put':
        this.store.set(key, String(f['value']));
        return {};
      case 'mput':
        for (const e of f['entries'] as { key: string; value: string }[]) this.store.set(e.key, e.value);
        return {};
      case 'delete':
        return { deleted: this.store.delete(key) };
      case 'incr': {
        const v = Number(this.store.get(key) ?? '0') + Number(f['by'] ?? 1);
        this.store.set(key, String(v));
        return { value: v };
      }
      case 'cas': {
        const current = this.store.get(key) ?? null;
        if (current !== f['expected']) return { swapped: false, current };
        if (f['value'] === null) this.store.delete(key);
        else this.store.set(key, String(f['value']));
        return { swapped: true, current: f['value'] };
      }
      default:
        return {};
    }
  }

  private leaderHint(shard: FakeShard): Record<string, unknown> {
    return shard.leader === null ? { leader: null, leaderUrl: null } : { leader: shard.leader, leaderUrl: this.url(shard.leader) };
  }

  private groupSessions(group: number): Map<string, SessionState> {
    let m = this.sessions.get(group);
    if (m === undefined) {
      m = new Map();
      this.sessions.set(group, m);
    }
    return m;
  }
}

function keysOf(f: Frame): string[] | null {
  if (typeof f['key'] === 'string') return [f['key']];
  if (Array.isArray(f['keys'])) return f['keys'] as string[];
  if (Array.isArray(f['entries'])) return (f['entries'] as { key: string }[]).map((e) => e.key);
  return null;
}
