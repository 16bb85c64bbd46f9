import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { NearCache, RoutingTable, ShardMapError, parseShardMap } from '../../src/client/index.js';
import { hashKey } from '../../src/shard/index.js';

const LAST = 0xffffffff;

function goodMap(): Record<string, unknown> {
  return {
    version: 4,
    shards: [
      { shard: 1, group: 1, ranges: [[0, 99], [1000, LAST]], replicas: ['n1', 'n2'], leader: 'n2' },
      { shard: 2, group: 2, ranges: [[100, 999]], replicas: ['n3'], leader: null },
    ],
    members: [
      { node: 'n1', url: '127.0.0.1:1' },
      { node: 'n2', url: 'ws://127.0.0.1:2/v1' },
      { node: 'n3', url: 'ws://127.0.0.1:3' },
    ],
  };
}

type Obj = Record<string, unknown>;

/** goodMap with one change made by `edit`. */
function bad(edit: (m: Obj) => void): Obj {
  const m = structuredClone(goodMap());
  edit(m);
  return m;
}

/** shards[i] of a map under edit. */
function sh(m: Obj, i: number): Obj {
  return (m['shards'] as Obj[])[i] as Obj;
}

/** members[i] of a map under edit. */
function mem(m: Obj, i: number): Obj {
  return (m['members'] as Obj[])[i] as Obj;
}

describe('parseShardMap', () => {
  it('reads a valid map and normalises member urls', () => {
    const m = parseShardMap(goodMap());
    expect(m.version).toBe(4);
    expect(m.shards.map((s) => [s.shard, s.group, s.leader])).toEqual([
      [1, 1, 'n2'],
      [2, 2, null],
    ]);
    expect(m.members.map((x) => x.url)).toEqual(['ws://127.0.0.1:1/v1', 'ws://127.0.0.1:2/v1', 'ws://127.0.0.1:3/v1']);
  });

  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['a negative version', bad((m) => (m['version'] = -1)), /version: expected a non-negative integer/],
    ['a missing members list', bad((m) => delete m['members']), /members: expected an array/],
    ['a member without url', bad((m) => delete mem(m, 1)['url']), /members\[1\]\.url/],
    ['a member url that is not a URL', bad((m) => (mem(m, 0)['url'] = 'ws://[')), /members\[0\]\.url: not a ws URL/],
    ['duplicate members', bad((m) => (mem(m, 2)['node'] = 'n1')), /duplicate node n1/],
    ['no shards', bad((m) => (m['shards'] = [])), /shards: expected a non-empty array/],
    ['shards not an array', bad((m) => (m['shards'] = { a: 1 })), /shards: expected a non-empty array/],
    ['a shard that is not an object', bad((m) => ((m['shards'] as unknown[])[1] = 7)), /shards\[1\]: expected an object/],
    ['a fractional shard id', bad((m) => (sh(m, 0)['shard'] = 1.5)), /shards\[0\]\.shard/],
    ['a string group', bad((m) => (sh(m, 1)['group'] = '2')), /shards\[1\]\.group/],
    ['duplicate shard ids', bad((m) => (sh(m, 1)['shard'] = 1)), /duplicate shard 1/],
    ['a range with three bounds', bad((m) => (sh(m, 1)['ranges'] = [[100, 500, 999]])), /shards\[1\]\.ranges\[0\]: expected \[start, end\]/],
    ['a bound beyond the ring', bad((m) => (sh(m, 0)['ranges'] = [[0, 99], [1000, LAST + 1]])), /shards\[0\]\.ranges\[1\]: bounds must be integers/],
    ['start above end', bad((m) => (sh(m, 1)['ranges'] = [[999, 100]])), /start 999 > end 100/],
    ['a gap', bad((m) => (sh(m, 1)['ranges'] = [[100, 998]])), /gap: \[999, 999\]/],
    ['a gap at the end', bad((m) => (sh(m, 0)['ranges'] = [[0, 99], [1000, LAST - 1]])), /gap: \[4294967295, 4294967295\]/],
    ['an overlap', bad((m) => (sh(m, 1)['ranges'] = [[99, 999]])), /overlaps another range at 99/],
    ['no replicas', bad((m) => (sh(m, 1)['replicas'] = [])), /shards\[1\]\.replicas: expected a non-empty array/],
    ['a replica that is not a member', bad((m) => (sh(m, 1)['replicas'] = ['n9'])), /node n9 is not in members/],
    ['a leader that is not a replica', bad((m) => (sh(m, 1)['leader'] = 'n1')), /shards\[1\]\.leader: "n1" is not one of its replicas/],
  ];
  for (const [name, map, message] of cases) {
    it(`rejects ${name} with a ShardMapError naming the field`, () => {
      let thrown: unknown;
      try {
        parseShardMap(map);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(ShardMapError);
      expect((thrown as Error).message).toMatch(/^shard map: /);
      expect((thrown as Error).message).toMatch(message);
    });
  }
});

describe('RoutingTable', () => {
  it('routes every ring position to the shard whose range contains it (binary search = linear scan)', () => {
    const arb = fc.record({
      cuts: fc.uniqueArray(fc.integer({ min: 1, max: LAST }), { minLength: 0, maxLength: 40 }),
      shards: fc.integer({ min: 1, max: 8 }),
      probes: fc.array(fc.integer({ min: 0, max: LAST }), { minLength: 1, maxLength: 30 }),
    });
    fc.assert(
      fc.property(arb, ({ cuts, shards, probes }) => {
        const starts = [0, ...cuts.sort((a, b) => a - b)];
        const owner = starts.map((_, i) => (i % shards) + 1);
        const ranges = starts.map((s, i) => [s, i + 1 < starts.length ? (starts[i + 1] as number) - 1 : LAST] as [number, number]);
        const used = [...new Set(owner)];
        const map = parseShardMap({
          version: 1,
          shards: used.map((id) => ({
            shard: id,
            group: id + 100,
            ranges: ranges.filter((_, i) => owner[i] === id),
            replicas: ['n1'],
            leader: 'n1',
          })),
          members: [{ node: 'n1', url: '127.0.0.1:1' }],
        });
        const table = RoutingTable.fromMap(map);
        for (const p of [...probes, 0, LAST, ...starts]) {
          const i = ranges.findIndex(([a, b]) => a <= p && p <= b);
          const route = table.routeOfHash(p);
          if (route.shard !== owner[i] || route.group !== (owner[i] as number) + 100) return false;
        }
        // the ranges a route reports merge back to what the map gave
        return used.every((id) => {
          const r = table.byShard(id);
          return r !== undefined && table.rangesOf(r).length === ranges.filter((_, i) => owner[i] === id).length;
        });
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it('routes keys by hashKey', () => {
    const table = RoutingTable.fromMap(parseShardMap(goodMap()));
    for (let i = 0; i < 200; i++) {
      const h = hashKey(`key-${i}`);
      expect(table.routeOfHash(h).shard).toBe(h >= 100 && h <= 999 ? 2 : 1);
    }
  });
});

describe('NearCache', () => {
  function clocked(maxEntries: number, maxAgeMs: number): { cache: NearCache; clock: { t: number } } {
    const clock = { t: 1000 };
    return { cache: new NearCache({ maxEntries, maxAgeMs }, () => clock.t), clock };
  }

  it('serves an entry while it is younger than both maxAgeMs and the read’s maxStaleMs', () => {
    const { cache, clock } = clocked(10, 100);
    cache.store('k', 5, 'v', clock.t, cache.ticket(5));
    clock.t += 50;
    expect(cache.lookup('k', 60)).toBe('v');
    expect(cache.lookup('k', 40)).toBeUndefined(); // older than this read accepts
    clock.t += 51;
    expect(cache.lookup('k', 1000)).toBeUndefined(); // older than maxAgeMs: dropped
    expect(cache.stats()).toEqual({ hits: 1, misses: 2, size: 0 });
  });

  it('caches absence (null) too', () => {
    const { cache, clock } = clocked(10, 100);
    cache.store('gone', 1, null, clock.t, cache.ticket(1));
    expect(cache.lookup('gone', 10)).toBeNull();
  });

  it('does not store a read that was in flight when its key was invalidated', () => {
    const { cache, clock } = clocked(10, 100);
    const ticket = cache.ticket(42);
    cache.invalidate('k', 42); // a local write of k while the read was out
    cache.store('k', 42, 'old', clock.t, ticket);
    expect(cache.lookup('k', 100)).toBeUndefined();
    const t2 = cache.ticket(42);
    cache.store('k', 42, 'new', clock.t, t2);
    expect(cache.lookup('k', 100)).toBe('new');
    cache.invalidate('k', 42);
    expect(cache.lookup('k', 100)).toBeUndefined();
  });

  it('clear() drops entries and in-flight reads of every key', () => {
    const { cache, clock } = clocked(10, 100);
    cache.store('a', 1, 'A', clock.t, cache.ticket(1));
    const ticket = cache.ticket(2);
    cache.clear();
    cache.store('b', 2, 'B', clock.t, ticket);
    expect(cache.lookup('a', 100)).toBeUndefined();
    expect(cache.lookup('b', 100)).toBeUndefined();
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const { cache, clock } = clocked(2, 1000);
    cache.store('a', 1, 'A', clock.t, cache.ticket(1));
    cache.store('b', 2, 'B', clock.t, cache.ticket(2));
    expect(cache.lookup('a', 1000)).toBe('A'); // a is now the most recent
    cache.store('c', 3, 'C', clock.t, cache.ticket(3));
    expect(cache.lookup('b', 1000)).toBeUndefined();
    expect(cache.lookup('a', 1000)).toBe('A');
    expect(cache.lookup('c', 1000)).toBe('C');
  });

  it('rejects a bad configuration', () => {
    expect(() => new NearCache({ maxEntries: 0, maxAgeMs: 1 })).toThrow(RangeError);
    expect(() => new NearCache({ maxEntries: 1, maxAgeMs: Number.NaN })).toThrow(RangeError);
  });
});
