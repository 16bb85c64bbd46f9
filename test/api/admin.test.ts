/**
 * Operator ops (nodeAdd, nodeRemove, join, shardSplit) and the map watch at
 * the API layer. The node's meta group is replaced by stubs of
 * `CacheNode.admin` and `CacheNode.onMapChange` on a real in-process node:
 * these tests pin the wire shapes and the error mapping, not the meta group.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AdminRequest, AdminResult, CacheNode } from '../../src/node/index.js';
import { NodeError } from '../../src/node/index.js';
import { RawClient, startCluster, waitFor } from './harness.js';
import type { Cluster } from './harness.js';

/** Stubs `admin` on a node: records requests, answers with `answer`. */
function stubAdmin(node: CacheNode, answer: (req: AdminRequest) => Promise<AdminResult>): AdminRequest[] {
  const seen: AdminRequest[] = [];
  node.admin = (req: AdminRequest) => {
    seen.push(req);
    return answer(req);
  };
  return seen;
}

/** Replaces `onMapChange` with one whose listeners the test calls; counts live subscriptions. */
function stubMapChanges(node: CacheNode): { fire(version: number): void; readonly active: () => number } {
  const listeners = new Set<(v: number) => void>();
  node.onMapChange = (listener) => {
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  };
  return {
    fire: (v) => {
      for (const l of [...listeners]) l(v);
    },
    active: () => listeners.size,
  };
}

describe('operator ops and map watch (API layer)', () => {
  let cluster: Cluster;
  let node: CacheNode;
  let url: string;
  const sockets: RawClient[] = [];
  const open = async (): Promise<RawClient> => {
    const c = await RawClient.connect(url);
    sockets.push(c);
    return c;
  };

  beforeAll(async () => {
    // Two members so that a NOT_LEADER can name another node with a URL; no leader is needed.
    cluster = await startCluster(2);
    const running = cluster.nodes[0];
    if (!running) throw new Error('node 1 did not start');
    node = running.node;
    url = cluster.url(0);
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await waitFor('sockets of the test to unsubscribe', () => cluster.nodes[0]?.api.watchers === 0);
  });
  afterAll(async () => {
    await cluster.close();
  });

  it('nodeAdd and join pass the address to the node and answer {id, ok, version}', async () => {
    const seen = stubAdmin(node, async () => ({ version: 12 }));
    const c = await open();
    const address = { id: 4, host: '10.0.0.4', clientPort: 7004, peerPort: 8004 };
    expect(await c.request({ id: 5, op: 'nodeAdd', node: address })).toEqual({ id: 5, ok: true, version: 12 });
    expect(await c.request({ id: 6, op: 'join', node: { ...address, extra: 1 } })).toEqual({ id: 6, ok: true, version: 12 });
    expect(seen).toEqual([
      { op: 'nodeAdd', node: address },
      { op: 'join', node: address },
    ]);
  });

  it('nodeRemove takes a node id', async () => {
    const seen = stubAdmin(node, async () => ({ version: 13 }));
    const c = await open();
    expect(await c.request({ op: 'nodeRemove', node: 3 })).toMatchObject({ ok: true, version: 13 });
    expect(seen).toEqual([{ op: 'nodeRemove', node: 3 }]);
  });

  it('shardSplit answers the new shard id; `at` is passed only when given', async () => {
    const seen = stubAdmin(node, async (req) => ({ version: 20, shard: req.op === 'shardSplit' && req.at !== undefined ? 9 : 8 }));
    const c = await open();
    expect(await c.request({ id: 1, op: 'shardSplit', shard: 2 })).toEqual({ id: 1, ok: true, version: 20, shard: 8 });
    expect(await c.request({ id: 2, op: 'shardSplit', shard: 2, at: 0x80000000 })).toEqual({ id: 2, ok: true, version: 20, shard: 9 });
    expect(seen).toEqual([
      { op: 'shardSplit', shard: 2 },
      { op: 'shardSplit', shard: 2, at: 0x80000000 },
    ]);
  });

  it('NOT_LEADER names the meta leader and its client URL, or null when unknown', async () => {
    const c = await open();
    stubAdmin(node, () => Promise.reject(new NodeError('NOT_LEADER', 'the meta leader is n2', true, 2)));
    const r = await c.request({ op: 'nodeRemove', node: 1 });
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({ code: 'NOT_LEADER', definite: true, leader: 'n2', leaderUrl: cluster.url(1) });
    stubAdmin(node, () => Promise.reject(new NodeError('NOT_LEADER', 'no meta leader', true, 0)));
    expect((await c.request({ op: 'nodeRemove', node: 1 })).error).toMatchObject({ code: 'NOT_LEADER', leader: null, leaderUrl: null });
  });

  it('REJECTED is definite, keeps the message and gives its code as reason', async () => {
    stubAdmin(node, () => Promise.reject(new NodeError('REJECTED', 'NODE_EXISTS: node 4 is already active', true)));
    const c = await open();
    const r = await c.request({ op: 'nodeAdd', node: { id: 4, host: 'h', clientPort: 1, peerPort: 2 } });
    expect(r.error).toEqual({ code: 'REJECTED', message: 'NODE_EXISTS: node 4 is already active', definite: true, reason: 'NODE_EXISTS' });
  });

  it('TIMEOUT is not definite; a synchronous throw becomes an error response', async () => {
    const c = await open();
    stubAdmin(node, () => Promise.reject(new NodeError('TIMEOUT', 'no outcome', false)));
    expect((await c.request({ op: 'shardSplit', shard: 1 })).error).toMatchObject({ code: 'TIMEOUT', definite: false });
    node.admin = () => {
      throw new NodeError('UNAVAILABLE', 'meta group down', true);
    };
    expect((await c.request({ op: 'shardSplit', shard: 1 })).error).toMatchObject({ code: 'UNAVAILABLE', definite: true });
  });

  // [name, frame, field the BAD_REQUEST message must start with]
  const invalid: [string, Record<string, unknown>, string][] = [
    ['nodeAdd without node', { op: 'nodeAdd' }, 'node'],
    ['nodeAdd with node id 0', { op: 'nodeAdd', node: { id: 0, host: 'h', clientPort: 1, peerPort: 2 } }, 'node.id'],
    ['nodeAdd with an empty host', { op: 'nodeAdd', node: { id: 4, host: '', clientPort: 1, peerPort: 2 } }, 'node.host'],
    ['nodeAdd with a port above 65535', { op: 'nodeAdd', node: { id: 4, host: 'h', clientPort: 70000, peerPort: 2 } }, 'node.clientPort'],
    ['join without peerPort', { op: 'join', node: { id: 4, host: 'h', clientPort: 1 } }, 'node.peerPort'],
    ['nodeRemove with an object', { op: 'nodeRemove', node: { id: 3 } }, 'node'],
    ['nodeRemove with a fraction', { op: 'nodeRemove', node: 1.5 }, 'node'],
    ['shardSplit without shard', { op: 'shardSplit' }, 'shard'],
    ['shardSplit of shard 0 (the meta group)', { op: 'shardSplit', shard: 0 }, 'shard'],
    ['shardSplit at a point off the ring', { op: 'shardSplit', shard: 1, at: 2 ** 32 }, 'at'],
  ];
  it.each(invalid)('%s → BAD_REQUEST naming the field', async (_name, frame, field) => {
    const seen = stubAdmin(node, async () => ({ version: 1 }));
    const c = await open();
    const r = await c.request(frame);
    expect(r.error?.code).toBe('BAD_REQUEST');
    expect(r.error?.message.startsWith(`${field}: `)).toBe(true);
    expect(seen).toEqual([]);
  });

  it('watch answers the current version, then pushes {event: "map", version} only when it grows', async () => {
    const changes = stubMapChanges(node);
    const c = await open();
    const idle = await open(); // never watches
    const answer = await c.request({ id: 3, op: 'watch' });
    expect(answer).toEqual({ id: 3, ok: true, version: node.mapVersion });
    const base = node.mapVersion;
    changes.fire(base + 2);
    expect(await c.nextEvent()).toEqual({ event: 'map', version: base + 2 });
    changes.fire(base + 2); // not newer than what the socket was told
    changes.fire(base + 1);
    changes.fire(base + 5);
    expect(await c.nextEvent()).toEqual({ event: 'map', version: base + 5 });
    // A request after the pushes: everything the server sent before its answer has arrived.
    await c.request({ op: 'status' });
    expect(c.events).toEqual([
      { event: 'map', version: base + 2 },
      { event: 'map', version: base + 5 },
    ]);
    await idle.request({ op: 'status' });
    expect(idle.events).toEqual([]);
  });

  it('a second watch on a socket answers again but does not subscribe twice', async () => {
    const changes = stubMapChanges(node);
    const c = await open();
    await c.request({ op: 'watch' });
    await c.request({ op: 'watch' });
    expect(changes.active()).toBe(1);
    expect(cluster.nodes[0]?.api.watchers).toBe(1);
    changes.fire(node.mapVersion + 1);
    await c.nextEvent();
    await c.request({ op: 'status' });
    expect(c.events).toHaveLength(1);
  });

  it('closing a watching socket unsubscribes from the node (no leak)', async () => {
    const changes = stubMapChanges(node);
    const api = cluster.nodes[0]?.api;
    const watchers = await Promise.all([open(), open(), open()]);
    await Promise.all(watchers.map((w) => w.request({ op: 'watch' })));
    expect(changes.active()).toBe(3);
    expect(api?.watchers).toBe(3);
    for (const w of watchers) w.close();
    await waitFor('watchers to unsubscribe', () => changes.active() === 0);
    expect(api?.watchers).toBe(0);
    changes.fire(node.mapVersion + 1); // no listener left: nothing to send, nothing throws
  });

  it('the metrics report watchers and pushes', async () => {
    const changes = stubMapChanges(node);
    const c = await open();
    await c.request({ op: 'watch' });
    changes.fire(node.mapVersion + 100);
    await c.nextEvent();
    const port = new URL(url).port;
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toMatch(/^raftcache_api_watchers 1$/m);
    expect(text).toMatch(/^raftcache_api_map_pushes_total [1-9]\d*$/m);
  });
});
