import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { MetaFormatError, ShardRouter, mapToWire, nodeIdOf, nodeName, parseShardMap } from '../../src/meta/index.js';
import { hashKey, lookupRange } from '../../src/shard/index.js';
import { bootstrapped, ok, reportLowestLeaders } from './helpers.js';

/** What src/api/requests.ts `mapFields` emits today for a 3-node single-group cluster. */
const legacy = {
  version: 1,
  shards: [{ shard: 1, group: 1, ranges: [[0, 0xffffffff]], replicas: ['n1', 'n2', 'n3'], leader: 'n2' }],
  members: [
    { node: 'n1', url: 'ws://127.0.0.1:7001/v1' },
    { node: 'n2', url: 'ws://127.0.0.1:7002/v1' },
    { node: 'n3', url: 'ws://127.0.0.1:7003/v1' },
  ],
};

function fieldOf(x: unknown): string {
  try {
    parseShardMap(x);
  } catch (e) {
    if (e instanceof MetaFormatError) return e.field;
    throw e;
  }
  return '(accepted)';
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

describe('wire map', () => {
  it('has the shape of the api map op, extended compatibly', () => {
    const sm = bootstrapped(3, 1);
    ok(sm.apply({ type: 'leaderReport', ts: 2000, shard: 1, node: 2, term: 1 }));
    const wire = mapToWire(sm.state());
    expect(wire.shards).toEqual([{ ...legacy.shards[0], learners: [], term: 1 }]);
    expect(wire.members).toEqual(legacy.members.map((m) => ({ ...m, state: 'up' })));
    expect(wire.version).toBe(sm.mapVersion);
    expect(wire.meta).toEqual({ group: 0, replicas: ['n1', 'n2', 'n3'], leader: null, learners: [], term: 0 });
    expect(Object.keys(wire.shards[0]!).slice(0, 5)).toEqual(['shard', 'group', 'ranges', 'replicas', 'leader']);
  });

  it('parses the map api/requests.ts emits today', () => {
    const parsed = parseShardMap(legacy);
    expect(parsed.table.ranges).toEqual([{ start: 0, end: 2 ** 32, shard: 1 }]);
    const router = ShardRouter.fromMap(parsed);
    expect(router.route('any key')).toMatchObject({ shard: 1, leader: 'n2', leaderUrl: 'ws://127.0.0.1:7002/v1' });
  });

  it('round-trips through JSON, and the router agrees with the range table for every key', () => {
    const sm = bootstrapped(5, 24);
    reportLowestLeaders(sm, 2000);
    const state = sm.state();
    const wire = JSON.parse(JSON.stringify(mapToWire(state))) as unknown;
    const router = ShardRouter.fromWire(wire);
    expect(router.version).toBe(state.version);
    const table = { version: state.version, ranges: state.ranges };
    fc.assert(
      fc.property(fc.string(), (key) => {
        const shard = lookupRange(table, key);
        expect(router.shardOf(key)).toBe(shard);
        expect(router.shardOfHash(hashKey(key))).toBe(shard);
        const route = router.route(key);
        const rec = state.shards.find((s) => s.id === shard)!;
        expect(route.replicas).toEqual(rec.voters.map(nodeName));
        expect(route.replicaUrls).toEqual(rec.voters.map((v) => `ws://127.0.0.1:${7000 + v}/v1`));
        expect(route.leader).toBe(nodeName(rec.leader!));
      }),
      { seed: 7401, numRuns: 300 },
    );
    const split = router.splitByShard(['a', 'b', 'c', 'd', 'e', 'f']);
    expect([...split.values()].flat().sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    for (const [s, keys] of split) for (const k of keys) expect(router.shardOf(k)).toBe(s);
  });

  it('shows learners and node states, and leaves removed nodes out', () => {
    const sm = bootstrapped(3, 1);
    ok(sm.apply({ type: 'addNode', ts: 2000, node: { id: 4, host: '::1', clientPort: 7004, peerPort: 8004 } }));
    ok(sm.apply({ type: 'beginMove', ts: 2001, shard: 1, add: 4, remove: 1 }));
    ok(sm.apply({ type: 'learnerAdded', ts: 2002, shard: 1, node: 4 }));
    ok(sm.apply({ type: 'tick', ts: 2000 + 6000 }));
    const wire = mapToWire(sm.state());
    expect(wire.shards[0]!.learners).toEqual(['n4']);
    expect(wire.members.map((m) => m.state)).toEqual(['down', 'down', 'down', 'down']);
    expect(wire.members[3]!.url).toBe('ws://[::1]:7004/v1');
    expect(parseShardMap(wire).shards[0]!.learners).toEqual(['n4']);
  });

  it('names the bad field', () => {
    interface Loose {
      version: unknown;
      members: Record<string, unknown>[];
      shards: { shard: unknown; group?: unknown; ranges: unknown[][]; replicas: unknown[]; leader: unknown; learners?: unknown; term?: unknown }[];
      meta: Record<string, unknown>;
    }
    const good = JSON.parse(JSON.stringify(mapToWire(bootstrapped(3, 3).state()))) as Loose;
    expect(fieldOf(good)).toBe('(accepted)');
    expect(fieldOf([good])).toBe('map');
    expect(fieldOf(null)).toBe('map');
    const cases: [string, (m: Loose) => void][] = [
      ['version', (m) => (m.version = '1')],
      ['members[0].node', (m) => (m.members[0]!['node'] = 'node1')],
      ['members[1].url', (m) => (m.members[1]!['url'] = 'http://x')],
      ['members[2].state', (m) => (m.members[2]!['state'] = 'sleepy')],
      ['members[1].node', (m) => (m.members[1]!['node'] = 'n1')],
      ['shards[0].shard', (m) => (m.shards[0]!.shard = -1)],
      ['shards[1].group', (m) => delete m.shards[1]!.group],
      ['shards[0].ranges[0]', (m) => (m.shards[0]!.ranges[0] = [1])],
      ['shards[0].ranges[0][1]', (m) => (m.shards[0]!.ranges[0]![1] = (m.shards[0]!.ranges[0]![0] as number) - 1)],
      ['shards[2].replicas[0]', (m) => (m.shards[2]!.replicas[0] = 'n9')],
      ['shards[2].replicas[1]', (m) => (m.shards[2]!.replicas[1] = m.shards[2]!.replicas[0])],
      ['shards[1].leader', (m) => (m.shards[1]!.leader = 3)],
      ['shards[1].learners[0]', (m) => (m.shards[1]!.learners = [m.shards[1]!.replicas[0]])],
      ['shards[0].term', (m) => (m.shards[0]!.term = -2)],
      ['meta.replicas', (m) => (m.meta['replicas'] = 'n1')],
      ['shards', (m) => (m.shards = [])],
    ];
    for (const [field, mutate] of cases) {
      const m = clone(good);
      mutate(m);
      expect(fieldOf(m), field).toBe(field);
    }
    // A gap or an overlap names the range where it shows.
    const gap = clone(good);
    const first = gap.shards.flatMap((x) => x.ranges).find((r) => r[0] === 0)!;
    first[0] = 1;
    expect(fieldOf(gap)).toMatch(/^shards\[\d+\]\.ranges\[\d+\]$/);
    const overlap = clone(good);
    overlap.shards[0]!.ranges.push([5, 5]);
    expect(fieldOf(overlap)).toMatch(/^shards\[\d+\]\.ranges\[\d+\]$/);
  });

  it('never throws anything but MetaFormatError on mangled maps', () => {
    const good = JSON.parse(JSON.stringify(mapToWire(bootstrapped(3, 2).state()))) as unknown;
    const paths = (x: unknown, prefix: (string | number)[] = []): (string | number)[][] => {
      if (typeof x !== 'object' || x === null) return [prefix];
      return [prefix, ...Object.entries(x).flatMap(([k, v]) => paths(v, [...prefix, Array.isArray(x) ? Number(k) : k]))];
    };
    const all = paths(good).filter((p) => p.length > 0);
    fc.assert(
      fc.property(fc.constantFrom(...all), fc.jsonValue(), (path, value) => {
        const m = clone(good) as Record<string | number, unknown>;
        let o: Record<string | number, unknown> = m;
        for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
        o[path[path.length - 1]!] = value;
        try {
          parseShardMap(m);
        } catch (e) {
          expect(e).toBeInstanceOf(MetaFormatError);
        }
      }),
      { seed: 7402, numRuns: 400 },
    );
  });

  it('node names', () => {
    expect(nodeName(7)).toBe('n7');
    expect(nodeIdOf('n7')).toBe(7);
    for (const bad of ['n0', 'n', 'n01', 'x1', 'n4294967296', 'n1 ']) expect(nodeIdOf(bad)).toBeNull();
  });
});
