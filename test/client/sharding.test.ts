import { describe, expect, it } from 'vitest';
import { RaftcacheClient, RaftcacheError } from '../../src/client/index.js';
import type { RaftcacheClientOptions } from '../../src/client/index.js';
import { hashKey } from '../../src/shard/index.js';
import { FakeCluster, THIRD, threeShards } from './fake-cluster.js';
import { cluster, connected, registerCleanup, rejection, track, until } from './fake-setup.js';
import type { FakeShard } from './fake-cluster.js';
import { FakeNode } from './fake-server.js';
import type { Frame } from './fake-server.js';

const loose: FakeNode[] = [];
registerCleanup(async () => {
  for (const n of loose.splice(0)) await n.stop();
});

/** The first `n` keys "k0", "k1", … whose ring position lies in [lo, hi]. */
function keysIn(lo: number, hi: number, n: number, prefix = 'k'): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const h = hashKey(`${prefix}${i}`);
    if (h >= lo && h <= hi) out.push(`${prefix}${i}`);
  }
  return out;
}

function sessionOf(f: Frame): { client: string; seq: number } | undefined {
  return f['session'] as { client: string; seq: number } | undefined;
}


describe('routing over several shards', () => {
  it('learns the map on connect and sends every write to its shard’s leader (checked against hashKey)', async () => {
    const c = await cluster();
    const client = await connected(c);
    expect(client.mapVersion).toBe(1);
    expect(client.shardMap().shards.map((s) => [s.shard, s.group, s.leader])).toEqual([
      [1, 11, c.url('n1')],
      [2, 12, c.url('n2')],
      [3, 13, c.url('n3')],
    ]);
    const keys = Array.from({ length: 60 }, (_, i) => `user:${i}`);
    for (const k of keys) await client.put(k, `v-${k}`);
    const puts = c.requests('put');
    expect(puts).toHaveLength(60);
    for (const p of puts) {
      const key = String(p.frame['key']);
      const expected = c.shardOfKey(key);
      expect([key, p.node, p.outcome]).toEqual([key, expected.leader, 'ok']);
      expect(client.shardOf(key).shard).toBe(expected.shard);
    }
    // all three shards were used
    expect(new Set(puts.map((p) => p.node)).size).toBe(3);
  });

  it('spreads linearizable reads over the replicas of the key’s shard only', async () => {
    const c = await cluster();
    const client = await connected(c);
    for (const [lo, hi, replicas] of [
      [0, THIRD - 1, ['n1', 'n2']],
      [THIRD, 2 * THIRD - 1, ['n2', 'n3']],
      [2 * THIRD, 0xffffffff, ['n1', 'n3']],
    ] as const) {
      const [key] = keysIn(lo, hi, 1);
      c.served.length = 0;
      for (let i = 0; i < 4; i++) await client.get(key as string);
      const nodes = c.requests('get').map((s) => s.node);
      expect(nodes).toHaveLength(4);
      expect([...new Set(nodes)].sort()).toEqual([...replicas]);
      expect(c.served.every((s) => s.outcome === 'ok')).toBe(true);
    }
  });

  it('a NOT_LEADER hint moves only that shard’s leader', async () => {
    const c = await cluster();
    const client = await connected(c);
    const [k2, warm] = keysIn(THIRD, 2 * THIRD - 1, 2);
    const [k1] = keysIn(0, THIRD - 1, 1);
    await client.put(warm as string, 'w'); // registers on group 12 while n2 leads it
    c.served.length = 0;
    // shard 2's leadership moves to n3 behind the client's back (same map version)
    (c.shards[1] as FakeShard).leader = 'n3';
    await client.put(k2 as string, 'x');
    expect(c.requests('put').map((s) => [s.node, s.outcome])).toEqual([
      ['n2', 'NOT_LEADER'],
      ['n3', 'ok'],
    ]);
    expect(client.shardMap().shards.map((s) => s.leader)).toEqual([c.url('n1'), c.url('n3'), c.url('n3')]);
    await client.put(k1 as string, 'y');
    expect(c.requests('put').at(-1)?.node).toBe('n1');
  });

  it('falls back to one shard over all members when the map has no shards info', async () => {
    const c = await cluster();
    c.mapOverride = { version: 3 };
    const client = await connected(c);
    expect(client.shardMap().fromServer).toBe(false);
    expect(client.shardMap().shards).toHaveLength(1);
    expect(client.members).toEqual([c.url('n1'), c.url('n2'), c.url('n3')]);
  });
});

describe('map changes', () => {
  /** Shard 2 takes the first half of shard 1's range (version 2). */
  function moveHalfOfShard1(c: FakeCluster): number {
    const half = Math.floor(THIRD / 2);
    const s = threeShards();
    (s[0] as FakeShard).ranges = [[half, THIRD - 1]];
    (s[1] as FakeShard).ranges = [
      [0, half - 1],
      [THIRD, 2 * THIRD - 1],
    ];
    c.setShards(s);
    return half;
  }

  it('WRONG_SHARD refreshes the map once (coalesced) and the operations retry on the new route', async () => {
    const c = await cluster();
    const client = await connected(c);
    const half = moveHalfOfShard1(c);
    const moved = keysIn(0, half - 1, 12);
    for (const k of moved) c.store.set(k, `v-${k}`);
    const mapsBefore = [...c.nodes.values()].reduce((n, node) => n + node.ops('map').length, 0);
    const values = await Promise.all(moved.map((k) => client.get(k)));
    expect(values).toEqual(moved.map((k) => `v-${k}`));
    const mapsAfter = [...c.nodes.values()].reduce((n, node) => n + node.ops('map').length, 0);
    expect(mapsAfter - mapsBefore).toBe(1);
    expect(client.mapVersion).toBe(2);
    expect(client.shardOf(moved[0] as string).shard).toBe(2);
    // every successful read came from a replica of the new owner
    for (const s of c.requests('get').filter((x) => x.outcome === 'ok')) expect(['n2', 'n3']).toContain(s.node);
  });

  it('a write refused with WRONG_SHARD moves to the new group’s leader under that group’s session', async () => {
    const c = await cluster();
    const client = await connected(c);
    const [k1] = keysIn(0, THIRD / 2 - 1, 1);
    await client.put('warm', 'x'); // a session on some group, maybe 11
    const half = moveHalfOfShard1(c);
    expect(hashKey(k1 as string)).toBeLessThan(half);
    await client.put(k1 as string, 'v');
    const tries = c.requests('put').filter((s) => s.frame['key'] === k1);
    expect(tries.map((s) => [s.node, s.outcome])).toEqual([
      ['n1', 'WRONG_SHARD'],
      ['n2', 'ok'],
    ]);
    // the second attempt carries a session registered on group 12, at its leader
    const client12 = sessionOf(tries[1]?.frame as Frame)?.client;
    const reg = c.requests('register').find((r) => r.frame['group'] === 12 && r.outcome === 'ok');
    expect(reg?.node).toBe('n2');
    expect(Number(client12) - 12_000).toBeGreaterThan(0);
    expect(c.store.get(k1 as string)).toBe('v');
  });

  it('WRONG_SHARD from a node that is behind us does not refetch the map: the read moves on to another replica', async () => {
    const c = await cluster();
    const client = await connected(c);
    c.setShards(threeShards());
    expect(await client.refreshMap()).toBe(2);
    const maps = (): number => [...c.nodes.values()].reduce((n, node) => n + node.ops('map').length, 0);
    const before = maps();
    c.intercept = (node, f, ctx) => {
      if (f.op !== 'get' || node.id !== 'n1') return false;
      ctx.fail(f, 'WRONG_SHARD', true, { mapVersion: 1 });
      return true;
    };
    const [k] = keysIn(0, THIRD - 1, 1);
    c.store.set(k as string, 'v');
    for (let i = 0; i < 3; i++) expect(await client.get(k as string)).toBe('v');
    expect(maps()).toBe(before);
    expect(c.requests('get').filter((s) => s.outcome === 'ok').every((s) => s.node === 'n2')).toBe(true);
  });

  it('a write whose key moves to another group after an attempt with unknown outcome fails definite: false', async () => {
    const c = await cluster();
    const client = await connected(c);
    const [k] = keysIn(0, Math.floor(THIRD / 2) - 1, 1);
    let step = 0;
    c.intercept = (node, f, ctx) => {
      if (f.op !== 'put' || node.id !== 'n1') return false;
      if (step++ === 0) {
        ctx.fail(f, 'TIMEOUT', false); // may have been applied in group 11
        moveHalfOfShard1(c); // then the range moves to group 12
        return true;
      }
      ctx.fail(f, 'WRONG_SHARD', true, { mapVersion: c.version });
      return true;
    };
    const e = await rejection(client.put(k as string, 'v'));
    expect([e.code, e.definite]).toEqual(['TIMEOUT', false]);
    expect(client.mapVersion).toBe(2);
    expect(c.requests('put').filter((s) => s.node !== 'n1')).toHaveLength(0); // never re-sent under group 12's session
  });

  it('a newer mapVersion in a status answer refreshes the map in the background; routes move without WRONG_SHARD', async () => {
    const c = await cluster();
    const client = await connected(c);
    const half = moveHalfOfShard1(c);
    await client.status();
    await until(() => client.mapVersion === 2, 'the map refresh');
    c.served.length = 0;
    for (const k of keysIn(0, half - 1, 5)) await client.put(k, '1');
    expect(c.requests('put').map((s) => [s.node, s.outcome])).toEqual(Array.from({ length: 5 }, () => ['n2', 'ok']));
  });

  it('a newer mapVersion in the hello of a new socket refreshes the map in the background', async () => {
    const c = await cluster();
    const client = await connected(c); // so far one socket, to n1
    expect(c.node('n2').connections + c.node('n3').connections).toBe(0);
    moveHalfOfShard1(c);
    const [k] = keysIn(THIRD, 2 * THIRD - 1, 1); // shard 2 (n2, n3): not moved
    await client.get(k as string);
    await until(() => client.mapVersion === 2, 'the map refresh');
  });

  it('polls the map while open when mapPollMs is set', async () => {
    const c = await cluster();
    const client = await connected(c, { mapPollMs: 10 });
    moveHalfOfShard1(c);
    await until(() => client.mapVersion === 2, 'the poll to see version 2');
    expect(client.shardMap().shards[1]?.ranges).toEqual([
      [0, Math.floor(THIRD / 2) - 1],
      [THIRD, 2 * THIRD - 1],
    ]);
  });

  it('refreshMap() moves a range to another shard and keeps leader hints the map does not contradict', async () => {
    const c = await cluster();
    const client = await connected(c);
    const s = threeShards();
    (s[2] as FakeShard).leader = null;
    (s[0] as FakeShard).ranges = [[0, THIRD - 101]];
    (s[1] as FakeShard).ranges = [[THIRD - 100, 2 * THIRD - 1]];
    c.setShards(s);
    expect(await client.refreshMap()).toBe(2);
    const view = client.shardMap();
    expect(view.shards.map((x) => x.ranges)).toEqual([[[0, THIRD - 101]], [[THIRD - 100, 2 * THIRD - 1]], [[2 * THIRD, 0xffffffff]]]);
    expect(view.shards[2]?.leader).toBe(c.url('n3')); // known before, still a replica
  });
});

describe('mget and mput over several shards', () => {
  it('splits by shard, sends the parts in parallel to the right nodes and gathers in the caller’s order', async () => {
    const c = await cluster();
    const client = await connected(c);
    const a = keysIn(0, THIRD - 1, 3, 'a');
    const b = keysIn(THIRD, 2 * THIRD - 1, 3, 'b');
    const d = keysIn(2 * THIRD, 0xffffffff, 1, 'd');
    const keys = [a[0], b[0], d[0], a[1], b[1], a[2], b[2]] as string[];
    await client.mput(keys.map((k) => ({ key: k, value: `v-${k}` })));
    const mputs = c.requests('mput');
    expect(mputs).toHaveLength(3);
    for (const m of mputs) {
      const entries = m.frame['entries'] as { key: string }[];
      const shard = c.shardOfKey((entries[0] as { key: string }).key);
      expect(m.node).toBe(shard.leader);
      expect(entries.every((e) => c.shardOfKey(e.key) === shard)).toBe(true);
      // several entries: no session; one entry: a session of its group
      if (entries.length > 1) expect(m.frame['session']).toBeUndefined();
      else expect(Math.floor(Number(sessionOf(m.frame)?.client) / 1000)).toBe(shard.group);
    }
    expect(mputs.map((m) => (m.frame['entries'] as unknown[]).length).sort()).toEqual([1, 3, 3]);

    const asked = ['missing', ...keys.slice().reverse()];
    expect(await client.mget(asked)).toEqual([null, ...keys.slice().reverse().map((k) => `v-${k}`)]);
    const mgets = c.requests('mget');
    expect(mgets.length).toBeGreaterThanOrEqual(3);
    for (const m of mgets) {
      const ks = m.frame['keys'] as string[];
      expect(new Set(ks.map((k) => c.shardOfKey(k).shard)).size).toBe(1);
      expect(c.shardOfKey(ks[0] as string).replicas).toContain(m.node);
    }
  });

  it('an mget part that meets a moved range is split again under the new map', async () => {
    const c = await cluster();
    const client = await connected(c);
    const ks = keysIn(0, THIRD - 1, 6);
    for (const k of ks) c.store.set(k, `v-${k}`);
    // the lower half of shard 1 goes to shard 3
    const half = Math.floor(THIRD / 2);
    const s = threeShards();
    (s[0] as FakeShard).ranges = [[half, THIRD - 1]];
    (s[2] as FakeShard).ranges = [
      [0, half - 1],
      [2 * THIRD, 0xffffffff],
    ];
    c.setShards(s);
    expect(ks.some((k) => hashKey(k) < half) && ks.some((k) => hashKey(k) >= half)).toBe(true);
    expect(await client.mget(ks)).toEqual(ks.map((k) => `v-${k}`));
    const ok = c.requests('mget').filter((m) => m.outcome === 'ok');
    expect(ok.length).toBe(2);
  });

  it('fails the call when one part fails: definite only if no part may have been applied', async () => {
    const c = await cluster();
    const client = await connected(c);
    const a = keysIn(0, THIRD - 1, 2, 'a');
    const b = keysIn(THIRD, 2 * THIRD - 1, 2, 'b');
    let refuse = new Set(['n2']);
    c.intercept = (node, f, ctx) => {
      if ((f.op !== 'mput' && f.op !== 'mget') || !refuse.has(node.id)) return false;
      ctx.fail(f, 'TOO_LARGE', true, { limit: 1 });
      return true;
    };
    const entries = [...a, ...b].map((k) => ({ key: k, value: 'v' }));
    const partial = await rejection(client.mput(entries));
    expect([partial.code, partial.definite, partial.hints['failedParts'], partial.hints['limit']]).toEqual(['TOO_LARGE', false, 1, 1]);
    expect(c.store.get(a[0] as string)).toBe('v'); // the other part was applied

    refuse = new Set(['n1', 'n2', 'n3']);
    const none = await rejection(client.mput(entries.map((e) => ({ ...e, value: 'w' }))));
    expect([none.code, none.definite, none.hints['failedParts']]).toEqual(['TOO_LARGE', true, 2]);

    refuse = new Set(['n2', 'n3']);
    const read = await rejection(client.mget([...a, ...b]));
    expect(read.code).toBe('TOO_LARGE');
  });
});

describe('sessions per shard group', () => {
  it('registers lazily once per group, at that group’s leader, and numbers each group’s writes from 1', async () => {
    const c = await cluster();
    const client = await connected(c);
    const a = keysIn(0, THIRD - 1, 3, 'a');
    const b = keysIn(THIRD, 2 * THIRD - 1, 2, 'b');
    await Promise.all([client.put(a[0] as string, '1'), client.put(a[1] as string, '2'), client.put(b[0] as string, '3')]);
    await client.incr(a[2] as string, 4);
    await client.delete(b[1] as string);
    const regs = c.requests('register');
    expect(regs.map((r) => [r.frame['group'], r.node, r.outcome]).sort()).toEqual([
      [11, 'n1', 'ok'],
      [12, 'n2', 'ok'],
    ]);
    const seqs = (node: string): number[] =>
      c.served
        .filter((s) => s.node === node && s.frame['session'] !== undefined)
        .map((s) => sessionOf(s.frame)?.seq as number)
        .sort();
    expect(seqs('n1')).toEqual([1, 2, 3]);
    expect(seqs('n2')).toEqual([1, 2]);
    const clientsOn = (node: string): Set<string> =>
      new Set(c.served.filter((s) => s.node === node && s.frame['session'] !== undefined).map((s) => sessionOf(s.frame)?.client as string));
    expect(clientsOn('n1').size).toBe(1);
    expect(clientsOn('n2').size).toBe(1);
    expect([...clientsOn('n1')][0]).not.toBe([...clientsOn('n2')][0]);
  });

  it('retries a write whose answer was lost with the same (client, seq) of its group: applied once', async () => {
    const c = await cluster();
    const client = await connected(c);
    const [k] = keysIn(THIRD, 2 * THIRD - 1, 1);
    expect(await client.incr(k as string, 1)).toBe(1);
    let drops = 0;
    c.loseAnswer = (node, f) => f.op === 'incr' && node.id === 'n2' && drops++ < 2;
    expect(await client.incr(k as string, 10)).toBe(11);
    expect(c.store.get(k as string)).toBe('11');
    const tries = c.requests('incr').slice(1);
    // a lost socket forgets the leader, so the retries may visit n3 (NOT_LEADER) on the way back
    expect(tries.filter((s) => s.node === 'n2')).toHaveLength(3);
    expect(tries.every((s) => sessionOf(s.frame)?.seq === 2)).toBe(true);
    expect(new Set(c.requests('incr').map((s) => sessionOf(s.frame)?.client)).size).toBe(1);
  });
});

describe('near cache', () => {
  async function withCache(): Promise<{ c: FakeCluster; client: RaftcacheClient }> {
    const c = await cluster();
    const client = await connected(c, { nearCache: { maxEntries: 100, maxAgeMs: 600_000 } });
    return { c, client };
  }
  const stale = { consistency: 'stale', maxStaleMs: 600_000 } as const;

  it('answers stale reads with maxStaleMs from the cache; linearizable reads never use or fill it', async () => {
    const { c, client } = await withCache();
    c.store.set('hot', 'h1');
    expect(await client.get('hot')).toBe('h1'); // linearizable: not cached
    expect(await client.get('hot', stale)).toBe('h1'); // miss, fills
    c.store.set('hot', 'h2'); // changed by someone else
    expect(await client.get('hot', stale)).toBe('h1'); // hit: bounded staleness
    expect(await client.get('hot')).toBe('h2'); // linearizable: always the server
    expect(await client.get('hot', { consistency: 'stale' })).toBe('h2'); // no maxStaleMs: not cached
    expect(c.requests('get')).toHaveLength(4);
    expect(client.nearCacheStats()).toEqual({ hits: 1, misses: 1, size: 1 });
  });

  it('drops an entry on a local write of its key and everything on a map version change', async () => {
    const { c, client } = await withCache();
    c.store.set('a', 'A1');
    c.store.set('b', 'B1');
    await client.get('a', stale);
    await client.get('b', stale);
    await client.put('a', 'A2');
    c.store.set('b', 'B2');
    expect(await client.get('a', stale)).toBe('A2'); // invalidated by the write
    expect(await client.get('b', stale)).toBe('B1'); // untouched
    c.setShards(threeShards()); // same layout, new version
    await client.refreshMap();
    expect(await client.get('b', stale)).toBe('B2');
    expect(client.nearCacheStats()?.hits).toBe(1);
  });

  it('does not keep a stale read that raced with a local write of the same key', async () => {
    const { c, client } = await withCache();
    c.store.set('k', 'old');
    let release: (() => void) | undefined;
    c.intercept = (_node, f, ctx) => {
      if (f.op !== 'get' || release !== undefined) return false;
      const value = c.store.get('k') ?? null; // read now, answer later
      release = () => ctx.reply(f, { value });
      return true;
    };
    const read = client.get('k', stale);
    await until(() => release !== undefined, 'the read to arrive');
    await client.put('k', 'new');
    release?.();
    expect(await read).toBe('old');
    expect(await client.get('k', stale)).toBe('new'); // the racing result was not stored
  });
});

describe('malformed maps', () => {
  it('connect() rejects a malformed map with BAD_MAP naming the field', async () => {
    const c = await cluster();
    c.mapOverride = { ...c.mapFrame(), shards: [{ shard: 1, group: 1, ranges: [[0, 10]], replicas: ['n1'], leader: 'n1' }] };
    const client = new RaftcacheClient({ endpoints: [c.url('n1')], backoffBaseMs: 1, backoffMaxMs: 5 });
    track(client);
    const e = await rejection(client.connect());
    expect([e.code, e.definite]).toEqual(['BAD_MAP', true]);
    expect(e.message).toMatch(/shard map: ranges leave a gap: \[11, 4294967295\]/);
  });

  it('a malformed map met on refresh is refused: the client keeps its map and the error says why', async () => {
    const c = await cluster();
    const client = await connected(c, { timeoutMs: 150, attemptTimeoutMs: 50 });
    c.setShards(threeShards());
    c.mapOverride = { ...c.mapFrame(), version: 2, members: 'n1' };
    const [k] = keysIn(0, THIRD - 1, 1);
    c.intercept = (_node, f, ctx) => {
      if (f.op !== 'get') return false;
      ctx.fail(f, 'WRONG_SHARD', true, { mapVersion: 2 });
      return true;
    };
    const e = await rejection(client.get(k as string));
    expect(e.code).toBe('TIMEOUT');
    expect(e.message).toMatch(/shard map: members: expected an array/);
    expect(client.mapVersion).toBe(1);
    // and it recovers once the map is good again
    c.mapOverride = null;
    c.intercept = () => false;
    c.store.set(k as string, 'fine');
    expect(await client.get(k as string)).toBe('fine');
  });

  it('a server without the map op keeps today’s behaviour', async () => {
    const n = await new FakeNode('n1').start();
    loose.push(n);
    n.leaderUrl = n.url;
    const client = new RaftcacheClient({ endpoints: [n.url] });
    track(client);
    await client.connect();
    expect(client.shardMap()).toMatchObject({ fromServer: false, version: 1 });
    await client.put('k', 'v');
    expect(n.ops('register')[0]?.['group']).toBeUndefined();
    expect(await client.get('k')).toBe('v');
  });
});
