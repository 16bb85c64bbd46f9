import { afterEach, describe, expect, it } from 'vitest';
import { RaftcacheClient, RaftcacheError, endpointUrl, parseEndpoints, toNodeStatus } from '../../src/client/index.js';
import { FakeNode } from './fake-server.js';
import type { Frame } from './fake-server.js';
import { rejection } from './fake-setup.js';

const nodes: FakeNode[] = [];
const clients: RaftcacheClient[] = [];

async function node(id: string): Promise<FakeNode> {
  const n = await new FakeNode(id).start();
  nodes.push(n);
  return n;
}

function client(endpoints: string[], extra: Partial<ConstructorParameters<typeof RaftcacheClient>[0]> = {}): RaftcacheClient {
  const c = new RaftcacheClient({ endpoints, backoffBaseMs: 1, backoffMaxMs: 5, ...extra });
  clients.push(c);
  return c;
}

/** Two fake nodes that list each other as members. */
async function twoReplicas(): Promise<[FakeNode, FakeNode]> {
  const a = await node('n1');
  const b = await node('n2');
  const members = [
    { node: 'n1', url: a.url },
    { node: 'n2', url: b.url },
  ];
  a.members = members;
  b.members = members;
  return [a, b];
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const n of nodes.splice(0)) await n.stop();
});

describe('status frames', () => {
  it('reads the per-shard list, skipping malformed entries; absent on servers without shards', () => {
    const st = toNodeStatus({
      node: 'n1',
      shards: [{ group: 2, role: 'leader', term: 3, commit: 9, applied: 8, leader: 'n1' }, { role: 'follower' }, { group: 5, leader: null }],
    });
    expect(st.shards).toEqual([
      { group: 2, role: 'leader', term: 3, commit: 9, applied: 8, leader: 'n1' },
      { group: 5, role: 'unknown', term: 0, commit: 0, applied: 0, leader: null },
    ]);
    expect(toNodeStatus({ node: 'n1' }).shards).toBeUndefined();
  });
});

describe('endpoints', () => {
  it('normalises host:port and ws URLs to ws://…/v1', () => {
    expect(endpointUrl('127.0.0.1:7001')).toBe('ws://127.0.0.1:7001/v1');
    expect(endpointUrl('ws://h:1')).toBe('ws://h:1/v1');
    expect(endpointUrl('wss://h:1/v1')).toBe('wss://h:1/v1');
    expect(parseEndpoints('a:1, b:2,')).toEqual(['ws://a:1/v1', 'ws://b:2/v1']);
  });
});

describe('RaftcacheClient against a fake node', () => {
  it('pipelines requests on one socket and matches out-of-order responses by id', async () => {
    const n = await node('n1');
    n.leaderUrl = n.url;
    const held: Frame[] = [];
    n.handler = (f, ctx) => {
      if (f.op !== 'get') return false;
      held.push(f);
      if (held.length === 3) {
        // every request arrived before any answer: answer in reverse order
        for (const h of [...held].reverse()) ctx.reply(h, { value: `v-${String(h['key'])}` });
      }
      return true;
    };
    const c = client([n.url]);
    await c.connect();
    const values = await Promise.all([c.get('a'), c.get('b'), c.get('c')]);
    expect(values).toEqual(['v-a', 'v-b', 'v-c']);
    expect(n.connections).toBe(1);
    expect(new Set(held.map((h) => h.id)).size).toBe(3);
  });

  it('follows NOT_LEADER to the leader named in the hint', async () => {
    const follower = await node('n1');
    const leader = await node('n2');
    const members = [
      { node: 'n1', url: follower.url },
      { node: 'n2', url: leader.url },
    ];
    follower.members = members;
    leader.members = members;
    leader.leaderUrl = leader.url;
    follower.handler = (f, ctx) => {
      if (f.op !== 'register' && f.op !== 'put') return false;
      ctx.fail(f, 'NOT_LEADER', true, { leader: 'n2', leaderUrl: leader.url });
      return true;
    };
    const c = client([follower.url]);
    await c.connect();
    expect(c.members).toEqual([follower.url, leader.url]);
    await c.put('k', 'v');
    expect(leader.store.get('k')).toBe('v');
    expect(follower.store.has('k')).toBe(false);
    expect(c.leader).toBe(leader.url);
    expect(leader.ops('put')).toHaveLength(1);
  });

  it('follows a NOT_LEADER hint that names only the node id', async () => {
    const follower = await node('n1');
    const leader = await node('n2');
    follower.members = [
      { node: 'n1', url: follower.url },
      { node: 'n2', url: leader.url },
    ];
    follower.handler = (f, ctx) => {
      if (f.op !== 'register' && f.op !== 'delete') return false;
      ctx.fail(f, 'NOT_LEADER', true, { leader: 'n2' });
      return true;
    };
    leader.store.set('k', 'x');
    const c = client([follower.url]);
    await c.connect();
    expect(await c.delete('k')).toBe(true);
  });

  it('retries a write after a lost connection with the same (client, seq)', async () => {
    const n = await node('n1');
    n.leaderUrl = n.url;
    let drops = 0;
    n.handler = (f, ctx) => {
      if (f.op === 'put' && drops < 2) {
        drops++;
        ctx.socket.terminate(); // the write "may have been applied"
        return true;
      }
      return false;
    };
    const c = client([n.url]);
    await c.connect();
    await c.put('k', 'v1');
    await c.put('k2', 'v2');
    const puts = n.ops('put');
    expect(puts).toHaveLength(4);
    const sessions = puts.map((p) => p['session'] as { client: string; seq: number });
    expect(sessions.slice(0, 3).map((s) => [s.client, s.seq])).toEqual([
      ['c1', 1],
      ['c1', 1],
      ['c1', 1],
    ]);
    expect([sessions[3]?.client, sessions[3]?.seq]).toEqual(['c1', 2]);
    expect(n.ops('register')).toHaveLength(1);
  });

  it('numbers writes 1, 2, 3 and reports the lowest seq without an outcome as firstIncomplete', async () => {
    const n = await node('n1');
    n.leaderUrl = n.url;
    let held: Frame | undefined;
    let release: (() => void) | undefined;
    n.handler = (f, ctx) => {
      const s = f['session'] as { seq: number } | undefined;
      if (f.op === 'put' && s?.seq === 1) {
        held = f;
        release = () => ctx.reply(f);
        return true;
      }
      return false;
    };
    const c = client([n.url]);
    await c.connect();
    const first = c.put('a', '1');
    while (held === undefined) await new Promise((r) => setTimeout(r, 2));
    await Promise.all([c.put('b', '2'), c.put('c', '3')]);
    await c.put('d', '4');
    release?.();
    await first;
    await c.put('e', '5');
    const fields = n.ops('put').map((f) => f['session'] as { seq: number; firstIncomplete: number });
    expect(fields.map((f) => [f.seq, f.firstIncomplete])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 1],
      [5, 5],
    ]);
  });

  it('retries with the same seq after a TIMEOUT error from the server', async () => {
    const n = await node('n1');
    n.leaderUrl = n.url;
    let first = true;
    n.handler = (f, ctx) => {
      if (f.op === 'incr' && first) {
        first = false;
        ctx.fail(f, 'TIMEOUT', false);
        return true;
      }
      return false;
    };
    const c = client([n.url]);
    await c.connect();
    expect(await c.incr('n', 5)).toBe(5);
    const seqs = n.ops('incr').map((f) => (f['session'] as { seq: number }).seq);
    expect(seqs).toEqual([1, 1]);
  });

  it('gives up a write with no answer as TIMEOUT, definite: false', async () => {
    const n = await node('n1');
    n.leaderUrl = n.url;
    n.handler = (f) => f.op === 'put' || f.op === 'get'; // swallow: never answer
    const c = client([n.url], { timeoutMs: 150, attemptTimeoutMs: 50 });
    await c.connect();
    const e = await rejection(c.put('k', 'v'));
    expect(e.code).toBe('TIMEOUT');
    expect(e.definite).toBe(false);
    const seqs = new Set(n.ops('put').map((f) => (f['session'] as { seq: number }).seq));
    expect(n.ops('put').length).toBeGreaterThan(1);
    expect([...seqs]).toEqual([1]);
    // a read changes nothing, so its timeout is definite
    const r = await rejection(c.get('k'));
    expect(r.code).toBe('TIMEOUT');
    expect(r.definite).toBe(true);
  });

  it('reports non-retryable server errors at once with their definite flag and hints', async () => {
    const n = await node('n1');
    n.leaderUrl = n.url;
    n.handler = (f, ctx) => {
      if (f.op !== 'put') return false;
      ctx.fail(f, 'TOO_LARGE', true, { limit: 10 });
      return true;
    };
    const c = client([n.url]);
    await c.connect();
    const e = await rejection(c.put('k', 'a long value'));
    expect([e.code, e.definite, e.hints['limit']]).toEqual(['TOO_LARGE', true, 10]);
    expect(n.ops('put')).toHaveLength(1);
  });

  it('close() rejects pending operations with a typed CLOSED error', async () => {
    const n = await node('n1');
    n.leaderUrl = n.url;
    n.handler = (f) => f.op === 'get' || f.op === 'put';
    const c = client([n.url], { timeoutMs: 10_000 });
    await c.connect();
    const pendingGet = rejection(c.get('k'));
    const pendingPut = rejection(c.put('k', 'v'));
    while (n.ops('get').length === 0 || n.ops('put').length === 0) await new Promise((r) => setTimeout(r, 2));
    await c.close();
    const [g, p] = await Promise.all([pendingGet, pendingPut]);
    expect([g.code, g.definite]).toEqual(['CLOSED', true]);
    expect([p.code, p.definite]).toEqual(['CLOSED', false]);
    const after = await rejection(c.get('k'));
    expect(after.code).toBe('CLOSED');
  });

  it('spreads reads round-robin over the members and sends writes to the leader', async () => {
    const [a, b] = await twoReplicas();
    a.leaderUrl = a.url;
    const c = client([a.url]);
    await c.connect();
    for (let i = 0; i < 6; i++) await c.get('k');
    await c.put('k', 'v');
    expect(a.ops('get')).toHaveLength(3);
    expect(b.ops('get')).toHaveLength(3);
    expect(b.ops('put')).toHaveLength(0);
  });

  it('moves reads to another replica when one is down', async () => {
    const [a, b] = await twoReplicas();
    b.store.set('k', 'v');
    a.store.set('k', 'v');
    const c = client([a.url, b.url]);
    await c.connect();
    await b.stop();
    nodes.splice(nodes.indexOf(b), 1);
    for (let i = 0; i < 4; i++) expect(await c.get('k')).toBe('v');
  });

  it('skips a replica that let a read time out, for a few attempt times', async () => {
    const [a, b] = await twoReplicas();
    a.store.set('k', 'v');
    b.handler = (f) => f.op === 'get'; // a paused replica: never answers reads
    const c = client([a.url], { timeoutMs: 2000, attemptTimeoutMs: 100 });
    await c.connect();
    for (let i = 0; i < 6; i++) expect(await c.get('k')).toBe('v');
    expect(b.ops('get')).toHaveLength(1); // one timeout, then reads go to n1 only
    expect(a.ops('get')).toHaveLength(6);
  });

  it('sends binary values as base64 and carries ttl, cas, mget and mput fields', async () => {
    const n = await node('n1');
    n.leaderUrl = n.url;
    const c = client([n.url]);
    await c.connect();
    await c.put('bin', new Uint8Array([0, 255, 1]), { ttlMs: 1000 });
    const put = n.ops('put')[0];
    expect([put?.['encoding'], put?.['value'], put?.['ttlMs']]).toEqual(['base64', 'AP8B', 1000]);
    n.handler = (f, ctx) => {
      if (f.op !== 'get' || f['encoding'] !== 'base64') return false;
      ctx.reply(f, { value: n.store.get(String(f['key'])) ?? null });
      return true;
    };
    expect(Array.from((await c.getBytes('bin')) ?? [])).toEqual([0, 255, 1]);
    expect(await c.cas('x', null, '1')).toEqual({ swapped: true, current: '1' });
    expect(await c.cas('x', '0', '2')).toEqual({ swapped: false, current: '1' });
    await c.mput([
      { key: 'a', value: 'A' },
      { key: 'b', value: 'B' },
    ]);
    expect(await c.mget(['a', 'b', 'zz'])).toEqual(['A', 'B', null]);
    const seqs = n.received.filter((f) => f['session'] !== undefined).map((f) => (f['session'] as { seq: number }).seq);
    expect(seqs).toEqual([1, 2, 3]); // put, cas, cas; a multi-entry mput carries no session
    expect(n.ops('mput')[0]?.['session']).toBeUndefined();
  });

  it('does not repeat a multi-entry mput (no session) once it may have been applied', async () => {
    const n = await node('n1');
    n.leaderUrl = n.url;
    n.handler = (f, ctx) => {
      if (f.op !== 'mput') return false;
      ctx.fail(f, 'TIMEOUT', false);
      return true;
    };
    const c = client([n.url]);
    await c.connect();
    const e = await rejection(
      c.mput([
        { key: 'a', value: 'A' },
        { key: 'b', value: 'B' },
      ]),
    );
    expect([e.code, e.definite]).toEqual(['TIMEOUT', false]);
    expect(n.ops('mput')).toHaveLength(1);
  });

  it('registers again and retries when the session expired and the write was certainly not applied', async () => {
    const n = await node('n1');
    n.leaderUrl = n.url;
    let expired = false;
    n.handler = (f, ctx) => {
      const s = f['session'] as { client: string } | undefined;
      if (f.op === 'put' && s?.client === 'c1' && !expired) {
        expired = true;
        ctx.fail(f, 'SESSION_EXPIRED', true);
        return true;
      }
      return false;
    };
    const c = client([n.url]);
    await c.connect();
    await c.put('k', 'v');
    const sessions = n.ops('put').map((f) => f['session'] as { client: string; seq: number });
    expect(sessions.map((s) => [s.client, s.seq])).toEqual([
      ['c1', 1],
      ['c2', 1],
    ]);
    expect(n.store.get('k')).toBe('v');
  });

  it('sends the token in hello and surfaces UNAUTHORIZED without retrying', async () => {
    const n = await node('n1');
    n.handler = (f, ctx) => {
      if (f.op !== 'hello') return false;
      if (f['token'] === 'right') ctx.reply(f, { node: 'n1', version: 1 });
      else ctx.fail(f, 'UNAUTHORIZED', true);
      return true;
    };
    const good = client([n.url], { token: 'right' });
    await good.connect();
    expect(await good.get('k')).toBeNull();
    const bad = client([n.url], { token: 'wrong' });
    const e = await rejection(bad.connect());
    expect([e.code, e.definite]).toEqual(['UNAUTHORIZED', true]);
    expect(n.ops('hello').filter((f) => f['token'] === 'wrong')).toHaveLength(1);
  });

  it('rotates over the members when NOT_LEADER carries no hint', async () => {
    const [a, b] = await twoReplicas();
    a.handler = (f, ctx) => {
      if (f.op !== 'register' && f.op !== 'put') return false;
      ctx.fail(f, 'NOT_LEADER', true, { leader: null, leaderUrl: null });
      return true;
    };
    const c = client([a.url]);
    await c.connect();
    await c.put('k', 'v');
    expect(b.store.get('k')).toBe('v');
  });

  it('reconnects after the node went away and came back', async () => {
    const n = await node('n1');
    n.leaderUrl = n.url;
    const c = client([n.url], { timeoutMs: 5000 });
    await c.connect();
    await c.put('k', 'v1');
    const port = Number(new URL(n.url).port);
    await n.stop();
    nodes.splice(nodes.indexOf(n), 1);
    const pending = c.get('k'); // retries while the node is down
    const back = new FakeNode('n1');
    back.store.set('k', 'v2');
    await back.start(port);
    nodes.push(back);
    expect(await pending).toBe('v2');
    expect(back.connections).toBe(1);
  });

  it('rejects connect() with UNAVAILABLE when no seed answers', async () => {
    const n = await node('n1');
    const url = n.url;
    await n.stop();
    nodes.splice(0);
    const c = client([url], { timeoutMs: 100 });
    const e = await rejection(c.connect());
    expect([e.code, e.definite]).toEqual(['UNAVAILABLE', true]);
  });
});
