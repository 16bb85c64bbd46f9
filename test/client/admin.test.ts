/**
 * The client's operator commands (nodeAdd, nodeRemove, join, shardSplit:
 * routed to the meta leader through NOT_LEADER redirects) and its map watch
 * (`watch` + `{event: "map", version}` pushes), against a fake cluster.
 */
import { describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { RaftcacheClient, RaftcacheError } from '../../src/client/index.js';
import type { RaftcacheClientOptions } from '../../src/client/index.js';
import { THIRD, threeShards } from './fake-cluster.js';
import type { FakeCluster } from './fake-cluster.js';
import { cluster, connected, registerCleanup, rejection, until } from './fake-setup.js';
import type { FakeShard } from './fake-cluster.js';
import type { FakeContext, Frame } from './fake-server.js';

registerCleanup();

const ADMIN_OPS = new Set(['nodeAdd', 'nodeRemove', 'join', 'shardSplit']);

interface MetaCall {
  readonly node: string;
  readonly frame: Frame;
}

/**
 * A fake meta group on the cluster: only `leader` carries out admin ops
 * (via `answer`), the others answer NOT_LEADER naming it (or no one).
 */
function metaGroup(c: FakeCluster, leader: string | null, answer: (f: Frame, ctx: FakeContext) => void): { calls: MetaCall[]; leader: string | null } {
  const meta = { calls: [] as MetaCall[], leader };
  c.intercept = (n, f, ctx) => {
    if (!ADMIN_OPS.has(f.op)) return false;
    meta.calls.push({ node: n.id, frame: f });
    const l = meta.leader;
    if (l !== n.id) ctx.fail(f, 'NOT_LEADER', true, l === null ? { leader: null, leaderUrl: null } : { leader: l, leaderUrl: c.url(l) });
    else answer(f, ctx);
    return true;
  };
  return meta;
}

function sendError(ctx: FakeContext, f: Frame, error: Record<string, unknown>): void {
  ctx.socket.send(JSON.stringify({ id: f.id, ok: false, error }));
}

describe('operator commands', () => {
  it('nodeAdd follows NOT_LEADER to the meta leader and resolves with the map version', async () => {
    const c = await cluster();
    const meta = metaGroup(c, 'n3', (f, ctx) => ctx.reply(f, { version: 7 }));
    const client = await connected(c);
    const node = { id: 4, host: '10.0.0.4', clientPort: 7004, peerPort: 8004 };
    expect(await client.nodeAdd(node)).toEqual({ version: 7 });
    expect(meta.calls.map((x) => x.node)).toEqual(['n1', 'n3']);
    expect(meta.calls[1]?.frame).toMatchObject({ op: 'nodeAdd', node });
    // The leader is remembered: the next command goes straight to it.
    expect(await client.nodeRemove(2)).toEqual({ version: 7 });
    expect(meta.calls.slice(2).map((x) => [x.node, x.frame.op, x.frame['node']])).toEqual([['n3', 'nodeRemove', 2]]);
  });

  it('asks the meta leader the map names first', async () => {
    const c = await cluster();
    c.metaLeader = 'n2';
    const meta = metaGroup(c, 'n2', (f, ctx) => ctx.reply(f, { version: 3 }));
    const client = await connected(c);
    expect(await client.join({ id: 5, host: 'h5', clientPort: 1, peerPort: 2 })).toEqual({ version: 3 });
    expect(meta.calls.map((x) => [x.node, x.frame.op])).toEqual([['n2', 'join']]);
  });

  it('shardSplit sends `at` only when given and returns the new shard id', async () => {
    const c = await cluster();
    const meta = metaGroup(c, 'n1', (f, ctx) => ctx.reply(f, { version: 9, shard: f['at'] === undefined ? 4 : 5 }));
    const client = await connected(c);
    expect(await client.shardSplit(2)).toEqual({ version: 9, shard: 4 });
    expect(await client.shardSplit(2, THIRD + 10)).toEqual({ version: 9, shard: 5 });
    // the node that carried out the first is the meta leader: the second went straight to it
    expect(meta.calls.map((x) => x.node)).toEqual(['n1', 'n1']);
    expect(meta.calls.map((x) => x.frame)).toEqual([
      expect.not.objectContaining({ at: expect.anything() }),
      expect.objectContaining({ op: 'shardSplit', shard: 2, at: THIRD + 10 }),
    ]);
  });

  it('REJECTED is final: thrown at once, definite, with the message and reason', async () => {
    const c = await cluster();
    const meta = metaGroup(c, 'n2', (f, ctx) =>
      sendError(ctx, f, { code: 'REJECTED', message: 'NODE_EXISTS: node 4 is already active', definite: true, reason: 'NODE_EXISTS' }),
    );
    const client = await connected(c);
    const e = await rejection(client.nodeAdd({ id: 4, host: 'h', clientPort: 1, peerPort: 2 }));
    expect(e.code).toBe('REJECTED');
    expect(e.definite).toBe(true);
    expect(e.message).toBe('NODE_EXISTS: node 4 is already active');
    expect(e.hints['reason']).toBe('NODE_EXISTS');
    expect(meta.calls.filter((x) => x.node === 'n2')).toHaveLength(1);
  });

  it('an attempt that may have been applied is not repeated: TIMEOUT, definite false', async () => {
    const c = await cluster();
    const meta = metaGroup(c, 'n1', (f, ctx) => sendError(ctx, f, { code: 'TIMEOUT', message: 'no outcome in time', definite: false }));
    const client = await connected(c);
    const e = await rejection(client.shardSplit(1));
    expect(e.code).toBe('TIMEOUT');
    expect(e.definite).toBe(false);
    expect(meta.calls).toHaveLength(1);

    // The same when the socket is lost after the command was sent.
    meta.calls.length = 0;
    c.loseAnswer = (_n, f) => f.op === 'nodeRemove';
    const lost = await rejection(client.nodeRemove(3));
    expect(lost.definite).toBe(false);
    expect(meta.calls.filter((x) => x.node === 'n1')).toHaveLength(1);
  });

  it('with no meta leader known it keeps asking until its deadline, then TIMEOUT', async () => {
    const c = await cluster();
    const meta = metaGroup(c, null, () => {});
    const client = await connected(c, { timeoutMs: 300 });
    const e = await rejection(client.nodeRemove(1));
    expect(e.code).toBe('TIMEOUT');
    // (definite unless the last attempt was still unanswered at the deadline: then nobody knows)
    expect(new Set(meta.calls.map((x) => x.node)).size).toBe(3); // it went round the members
    expect(meta.calls.length).toBeGreaterThan(3);
  });

  it('fetches the newer map the answer announces', async () => {
    const c = await cluster();
    const split: FakeShard[] = [...threeShards(), { shard: 4, group: 14, ranges: [], replicas: ['n1', 'n2'], leader: 'n1' }];
    // shard 1 gives the upper half of its range to the new shard 4
    const half = Math.floor(THIRD / 2);
    (split[0] as FakeShard).ranges = [[0, half - 1]];
    (split[3] as FakeShard).ranges = [[half, THIRD - 1]];
    metaGroup(c, 'n1', (f, ctx) => {
      c.setShards(split);
      ctx.reply(f, { version: c.version, shard: 4 });
    });
    const client = await connected(c);
    expect(client.mapVersion).toBe(1);
    expect(await client.shardSplit(1, half)).toEqual({ version: 2, shard: 4 });
    await until(() => client.mapVersion === 2, 'the client to load map version 2');
    expect(client.shardMap().shards.map((s) => s.shard)).toEqual([1, 2, 3, 4]);
  });
});

/** Makes every node answer `watch` with the cluster's version and remember the socket, to push on. */
function watchable(c: FakeCluster): { sockets: { node: string; socket: WebSocket }[]; push(version: number): void } {
  const w = {
    sockets: [] as { node: string; socket: WebSocket }[],
    push(version: number): void {
      for (const s of w.sockets) s.socket.send(JSON.stringify({ event: 'map', version }));
    },
  };
  c.intercept = (n, f, ctx) => {
    if (f.op !== 'watch') return false;
    w.sockets.push({ node: n.id, socket: ctx.socket });
    ctx.reply(f, { version: c.version });
    return true;
  };
  return w;
}

const moved = (): FakeShard[] => threeShards().map((s) => ({ ...s, leader: s.replicas[1] ?? null }));

describe('map watch', () => {
  it('watchMap subscribes on one node; a push of a newer version makes the client load the map', async () => {
    const c = await cluster();
    const w = watchable(c);
    const client = await connected(c);
    expect(await client.watchMap()).toBe(1);
    expect(w.sockets).toHaveLength(1);
    const mapsBefore = [...c.nodes.values()].reduce((n, node) => n + node.ops('map').length, 0);
    c.setShards(moved());
    w.push(2);
    await until(() => client.mapVersion === 2, 'map version 2');
    expect(client.mapPushes).toBe(1);
    expect(client.shardMap().shards.map((s) => s.leader)).toEqual([c.url('n2'), c.url('n3'), c.url('n1')]);
    const mapsAfter = [...c.nodes.values()].reduce((n, node) => n + node.ops('map').length, 0);
    expect(mapsAfter).toBeGreaterThan(mapsBefore);
  });

  it('the watchMap option subscribes on connect', async () => {
    const c = await cluster();
    const w = watchable(c);
    const client = await connected(c, { watchMap: true });
    await until(() => w.sockets.length === 1, 'a watch');
    c.setShards(moved());
    w.push(2);
    await until(() => client.mapVersion === 2, 'map version 2');
  });

  it('a push right behind the watch answer (same read) is not lost', async () => {
    const c = await cluster();
    c.intercept = (_n, f, ctx) => {
      if (f.op !== 'watch') return false;
      ctx.reply(f, { version: c.version });
      c.setShards(moved());
      ctx.socket.send(JSON.stringify({ event: 'map', version: c.version }));
      return true;
    };
    const client = await connected(c, { watchMap: true });
    await until(() => client.mapVersion === 2, 'map version 2');
    expect(client.mapPushes).toBe(1);
  });

  it('when the watched socket drops, the client watches again on another member', async () => {
    const c = await cluster();
    const w = watchable(c);
    const client = await connected(c, { backoffMaxMs: 5 });
    await client.watchMap();
    const first = w.sockets[0];
    if (first === undefined) throw new Error('no watch');
    first.socket.terminate();
    await until(() => w.sockets.length === 2, 'a second watch');
    expect(w.sockets[1]?.node).not.toBe(first.node);
    c.setShards(moved());
    w.push(2);
    await until(() => client.mapVersion === 2, 'map version 2 after the re-watch');
  });

  it('pushes from a socket that is not the watched one are ignored', async () => {
    const c = await cluster();
    const w = watchable(c);
    const watchOnly = c.intercept;
    const client = await connected(c);
    await client.watchMap();
    const watched = w.sockets[0]?.node;
    // Every other node sends a stray push right before it answers `status`.
    let stray = 0;
    c.intercept = (n, f, ctx) => {
      if (f.op === 'status' && n.id !== watched) {
        ctx.socket.send(JSON.stringify({ event: 'map', version: 99 }));
        stray++;
      }
      return watchOnly(n, f, ctx);
    };
    const statuses = await client.clusterStatus();
    expect(statuses.every((x) => x.ok)).toBe(true);
    expect(stray).toBe(2);
    expect(client.mapPushes).toBe(0);
    expect(client.mapVersion).toBe(1);
  });

  it('watchMap rejects with BAD_REQUEST when no node supports watch', async () => {
    const c = await cluster();
    const client = await connected(c);
    const e = await rejection(client.watchMap());
    expect(e.code).toBe('BAD_REQUEST');
  });
});
