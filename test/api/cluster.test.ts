import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, startCluster, waitFor } from './harness.js';
import type { Cluster } from './harness.js';

describe('3-node in-process cluster', () => {
  let cluster: Cluster;
  let leader: number;
  let follower: number;
  let lc: RawClient;
  let fc: RawClient;

  beforeAll(async () => {
    cluster = await startCluster(3);
    leader = await cluster.leader();
    follower = (leader + 1) % 3;
    lc = await RawClient.connect(cluster.url(leader));
    fc = await RawClient.connect(cluster.url(follower));
  });
  afterAll(async () => {
    lc?.close();
    fc?.close();
    await cluster.close();
  });

  it('put, get, delete', async () => {
    expect(await lc.request({ op: 'put', key: 'a', value: '1' })).toMatchObject({ ok: true });
    expect(await lc.request({ op: 'get', key: 'a' })).toMatchObject({ ok: true, value: '1' });
    expect(await lc.request({ op: 'delete', key: 'a' })).toMatchObject({ ok: true, deleted: true });
    expect(await lc.request({ op: 'delete', key: 'a' })).toMatchObject({ ok: true, deleted: false });
    expect(await lc.request({ op: 'get', key: 'a' })).toMatchObject({ ok: true, value: null });
  });

  it('cas swaps only on a match and reports the current value', async () => {
    expect(await lc.request({ op: 'cas', key: 'c', expected: null, value: 'x' })).toMatchObject({ ok: true, swapped: true, current: 'x' });
    expect(await lc.request({ op: 'cas', key: 'c', expected: 'nope', value: 'y' })).toMatchObject({ ok: true, swapped: false, current: 'x' });
    expect(await lc.request({ op: 'cas', key: 'c', expected: 'x', value: null })).toMatchObject({ ok: true, swapped: true, current: null });
  });

  it('incr counts, and refuses a non-integer value definitely', async () => {
    expect(await lc.request({ op: 'incr', key: 'n' })).toMatchObject({ ok: true, value: 1 });
    expect(await lc.request({ op: 'incr', key: 'n', by: 41 })).toMatchObject({ ok: true, value: 42 });
    await lc.request({ op: 'put', key: 's', value: 'text' });
    const r = await lc.request({ op: 'incr', key: 's' });
    expect(r.error).toMatchObject({ code: 'NOT_INTEGER', definite: true });
  });

  it('mput then mget', async () => {
    const entries = [
      { key: 'm1', value: 'one' },
      { key: 'm2', value: 'two', ttlMs: 60_000 },
    ];
    expect(await lc.request({ op: 'mput', entries })).toMatchObject({ ok: true });
    expect(await lc.request({ op: 'mget', keys: ['m1', 'm2', 'm3'] })).toMatchObject({ ok: true, values: ['one', 'two', null] });
  });

  it('a value at the 1 MiB limit replicates and reads back whole on a follower', async () => {
    const value = 'x'.repeat(1 << 20);
    expect(await lc.request({ op: 'put', key: 'big', value })).toMatchObject({ ok: true });
    const r = await fc.request({ op: 'get', key: 'big' });
    expect(r.ok).toBe(true);
    expect((r['value'] as string).length).toBe(1 << 20);
    expect((await lc.request({ op: 'put', key: 'big', value: `${value}y` })).error?.code).toBe('TOO_LARGE');
  });

  it('register hands out a decimal client id', async () => {
    const r = await lc.request({ op: 'register' });
    expect(r.ok).toBe(true);
    expect(r['client']).toMatch(/^[1-9][0-9]*$/);
    // in a named group: the one group served here, or WRONG_SHARD with the map version
    expect(await lc.request({ op: 'register', group: 1 })).toMatchObject({ ok: true });
    const wrong = await lc.request({ op: 'register', group: 7 });
    expect(wrong.error).toMatchObject({ code: 'WRONG_SHARD', definite: true });
    // the node's map version at the time (the meta group may have moved it on since)
    expect(wrong.error?.['mapVersion']).toBeGreaterThanOrEqual(1);
    expect(wrong.error?.['mapVersion']).toBeLessThanOrEqual(cluster.nodes[leader]?.node.mapVersion ?? 0);
  });

  it('a retried session write is applied once', async () => {
    const client = (await lc.request({ op: 'register' }))['client'];
    const req = { op: 'incr', key: 'once', session: { client, seq: 1 } };
    expect(await lc.request(req)).toMatchObject({ ok: true, value: 1 });
    expect(await lc.request(req)).toMatchObject({ ok: true, value: 1 }); // the retry returns the first result
    expect(await lc.request({ op: 'incr', key: 'once', session: { client, seq: 2 } })).toMatchObject({ ok: true, value: 2 });
    expect(await lc.request({ op: 'get', key: 'once' })).toMatchObject({ value: '2' });
  });

  it('an unknown session gets SESSION_EXPIRED', async () => {
    const r = await lc.request({ op: 'put', key: 'x', value: 'y', session: { client: '999999', seq: 1 } });
    expect(r.error).toMatchObject({ code: 'SESSION_EXPIRED', definite: true });
  });

  it('a linearizable follower read after an acknowledged write sees it', async () => {
    for (let i = 0; i < 5; i++) {
      expect(await lc.request({ op: 'put', key: 'lin', value: `v${i}` })).toMatchObject({ ok: true });
      expect(await fc.request({ op: 'get', key: 'lin' })).toMatchObject({ ok: true, value: `v${i}` });
    }
    // many reads in one burst share ReadIndex rounds and all see the write
    const reads = await Promise.all(Array.from({ length: 20 }, () => fc.request({ op: 'mget', keys: ['lin'] })));
    expect(reads.every((r) => r.ok && (r['values'] as unknown[])[0] === 'v4')).toBe(true);
  });

  it('a stale read is answered from local state', async () => {
    const r = await fc.request({ op: 'get', key: 'never-written', consistency: 'stale' });
    expect(r).toMatchObject({ ok: true, value: null });
  });

  it('a write to a follower gets NOT_LEADER with the leader and its URL', async () => {
    const r = await fc.request({ op: 'put', key: 'f', value: 'v' });
    expect(r.error).toMatchObject({
      code: 'NOT_LEADER',
      definite: true,
      leader: `n${leader + 1}`,
      leaderUrl: cluster.url(leader),
    });
  });

  it('status and /health report the node, its role and the members', async () => {
    const s = await fc.request({ op: 'status' });
    expect(s).toMatchObject({
      ok: true,
      node: `n${follower + 1}`,
      role: 'follower',
      leader: `n${leader + 1}`,
      leaderUrl: cluster.url(leader),
      address: cluster.url(follower),
      group: 1,
      pid: process.pid,
    });
    expect(s['mapVersion']).toBeGreaterThanOrEqual(1);
    expect(s['mapVersion']).toBeLessThanOrEqual(cluster.nodes[follower]?.node.mapVersion ?? 0);
    expect(s['members']).toEqual([0, 1, 2].map((i) => ({ node: `n${i + 1}`, url: cluster.url(i), state: 'up' })));
    const base = cluster.url(leader).replace('ws://', 'http://').replace('/v1', '');
    const h = await fetch(`${base}/health`);
    expect(h.status).toBe(200);
    const body = (await h.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ node: `n${leader + 1}`, role: 'leader', leader: `n${leader + 1}` });
    for (const k of ['term', 'commit', 'applied']) expect(typeof body[k]).toBe('number');
  });

  it('/metrics is Prometheus text with per-group series', async () => {
    const base = cluster.url(leader).replace('ws://', 'http://').replace('/v1', '');
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    for (const name of [
      'raftcache_raft_term{group="1"}',
      'raftcache_raft_role{group="1"} 3',
      'raftcache_raft_commit_index{group="1"}',
      'raftcache_raft_applied_index{group="1"}',
      'raftcache_proposals_total{group="1"}',
      'raftcache_raft_leader_changes_total{group="1"}',
      'raftcache_read_index_seconds_bucket{group="1",le="+Inf"}',
      'raftcache_apply_seconds_count{group="1"}',
      'raftcache_cache_hits_total{group="1"}',
      'raftcache_cache_misses_total{group="1"}',
      'raftcache_cache_evictions_total{group="1"}',
      'raftcache_cache_bytes{group="1"}',
      'raftcache_cache_entries{group="1"}',
      'raftcache_api_requests_total{op="put"}',
    ]) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(/# TYPE raftcache_apply_seconds histogram/);
    // every sample line is "name{labels} number"
    for (const line of text.trim().split('\n')) {
      if (!line.startsWith('#')) expect(line).toMatch(/^[a-z_]+(\{[^}]*\})? -?[0-9.e+-]+$/);
    }
  });

  it('a restarted follower catches up from its data dir', async () => {
    const victim = (leader + 2) % 3;
    await cluster.stop(victim);
    for (let i = 0; i < 10; i++) expect((await lc.request({ op: 'put', key: `r${i}`, value: `${i}` })).ok).toBe(true);
    await cluster.restart(victim);
    const target = cluster.nodes[leader]?.node.status().commit ?? 0;
    await waitFor('restarted node to catch up', () => (cluster.nodes[victim]?.node.status().applied ?? 0) >= target);
    const c = await RawClient.connect(cluster.url(victim));
    expect(await c.request({ op: 'mget', keys: ['r0', 'r9', 'once'], consistency: 'stale' })).toMatchObject({ ok: true, values: ['0', '9', '2'] });
    expect(await c.request({ op: 'get', key: 'r9' })).toMatchObject({ ok: true, value: '9' });
    c.close();
  });
});
