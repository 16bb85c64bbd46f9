/**
 * The settled-map judgement of membership runs and the rebalance e2e tests
 * (jepsen-lite/map-convergence.ts), on maps parsed from wire objects.
 */
import { describe, expect, it } from 'vitest';
import { loadsOf, mapNotSettled, movedKeyReplicas, placementOf, shardAt } from '../../jepsen-lite/map-convergence.js';
import { parseShardMap } from '../../src/meta/index.js';
import type { ParsedShardMap } from '../../src/meta/index.js';

const HALF = 0x80000000;

interface Shape {
  version?: number;
  voters: string[][];
  learners?: string[][];
  members: (string | [string, 'up' | 'down' | 'draining'])[];
  meta?: string[];
}

/** A two-shard map: shard 1 = [0, 2^31), shard 2 = [2^31, 2^32). */
function map(s: Shape): ParsedShardMap {
  return parseShardMap({
    version: s.version ?? 7,
    shards: s.voters.map((replicas, i) => ({
      shard: i + 1,
      group: i + 1,
      ranges: [i === 0 ? [0, HALF - 1] : [HALF, 0xffffffff]],
      replicas,
      learners: s.learners?.[i] ?? [],
      leader: replicas[0] ?? null,
    })),
    members: s.members.map((m) => {
      const [node, state] = typeof m === 'string' ? [m, 'up'] : m;
      return { node, url: `ws://127.0.0.1:${7000 + Number(node.slice(1))}/v1`, state };
    }),
    ...(s.meta === undefined ? {} : { meta: { group: 0, replicas: s.meta, leader: s.meta[0] ?? null } }),
  });
}

const N4 = ['n1', 'n2', 'n3', 'n4'];
const settled = (): ParsedShardMap => map({ voters: [['n1', 'n2', 'n3'], ['n2', 'n3', 'n4']], members: N4, meta: ['n1', 'n4', 'n3'] });

describe('mapNotSettled', () => {
  it('accepts maps that agree on a balanced placement with the expected members', () => {
    expect(mapNotSettled([settled(), settled()], { replication: 3, members: N4 })).toBeNull();
    expect([...loadsOf(settled())]).toEqual([
      ['n1', 2],
      ['n2', 2],
      ['n3', 3],
      ['n4', 2],
    ]);
  });

  it('names what is not settled yet', () => {
    const e = { replication: 3, members: N4 };
    expect(mapNotSettled([], e)).toBe('no map');
    expect(mapNotSettled([settled(), null], e)).toBe('a node does not answer map');
    expect(mapNotSettled([settled(), map({ version: 8, voters: [['n1', 'n2', 'n3'], ['n2', 'n3', 'n4']], members: N4 })], e)).toBe('map versions differ: 7, 8');
    expect(mapNotSettled([map({ voters: [['n1', 'n2', 'n3'], ['n2', 'n3']], learners: [[], ['n4']], members: N4 })], e)).toBe('shard 2: learners n4 (move in flight)');
    expect(mapNotSettled([map({ voters: [['n1', 'n2', 'n3'], ['n1', 'n2', 'n3', 'n4']], members: N4 })], e)).toMatch(/^shard 2: 4 voters/);
    expect(mapNotSettled([map({ voters: [['n1', 'n2', 'n3'], ['n2', 'n3', 'n4']], members: ['n1', 'n2', 'n3', ['n4', 'draining']] })], e)).toBe('draining: n4');
    expect(mapNotSettled([map({ voters: [['n1', 'n2', 'n3'], ['n2', 'n3', 'n4']], members: ['n1', 'n2', 'n3', ['n4', 'down']] })], e)).toBe('shard 2: voters n4 not up');
    expect(mapNotSettled([map({ voters: [['n1', 'n2', 'n3'], ['n1', 'n2', 'n3']], members: ['n1', 'n2', 'n3'] })], e)).toBe('members n1,n2,n3, expected n1,n2,n3,n4');
    expect(mapNotSettled([map({ voters: [['n1', 'n2', 'n3'], ['n1', 'n2', 'n3']], members: N4 })], e)).toBe('loads n1:2 n2:2 n3:2 n4:0 differ by 2');
    expect(mapNotSettled([map({ voters: [['n1', 'n2', 'n3'], ['n1', 'n2', 'n3']], members: ['n1', 'n2', 'n3', ['n4', 'down']], meta: ['n1', 'n4', 'n3'] })], { replication: 3 })).toBe(
      'meta: voters n4 not up',
    );
  });

  it('counts the meta group in the loads and ignores down members there', () => {
    const m = map({ voters: [['n1', 'n2', 'n3'], ['n1', 'n2', 'n3']], members: ['n1', 'n2', 'n3', ['n4', 'down']], meta: ['n1', 'n2', 'n3'] });
    expect(mapNotSettled([m], { replication: 3 })).toBeNull();
    expect([...loadsOf(m).keys()]).toEqual(['n1', 'n2', 'n3']);
  });
});

describe('excluded nodes and placement', () => {
  it('waits until an excluded node is not up and holds nothing', () => {
    const down = ['n1', 'n2', 'n3', ['n4', 'down']] as Shape['members'];
    expect(mapNotSettled([settled()], { replication: 3, excluded: ['n4'] })).toBe('n4 is still up');
    expect(mapNotSettled([map({ voters: [['n1', 'n2', 'n3'], ['n1', 'n2', 'n3']], members: down, meta: ['n1', 'n4', 'n3'] })], { replication: 3, excluded: ['n4'] })).toBe(
      'n4 still holds meta',
    );
    expect(mapNotSettled([map({ voters: [['n1', 'n2', 'n3'], ['n1', 'n2', 'n3']], members: down, meta: ['n1', 'n2', 'n3'] })], { replication: 3, excluded: ['n4'] })).toBeNull();
    // Left the map altogether (removed): nothing to hold.
    expect(mapNotSettled([map({ voters: [['n1', 'n2', 'n3'], ['n1', 'n2', 'n3']], members: ['n1', 'n2', 'n3'] })], { replication: 3, excluded: ['n4'] })).toBeNull();
  });

  it('placement ignores the version, leaders and replica order, not voters or member states', () => {
    const a = settled();
    const b = map({ version: 9, voters: [['n3', 'n2', 'n1'], ['n4', 'n3', 'n2']], members: N4, meta: ['n4', 'n3', 'n1'] });
    expect(placementOf(b)).toBe(placementOf(a));
    expect(placementOf(map({ voters: [['n1', 'n2', 'n3'], ['n1', 'n3', 'n4']], members: N4, meta: ['n1', 'n4', 'n3'] }))).not.toBe(placementOf(a));
    expect(placementOf(map({ voters: [['n1', 'n2', 'n3'], ['n2', 'n3', 'n4']], members: ['n1', 'n2', 'n3', ['n4', 'draining']], meta: ['n1', 'n4', 'n3'] }))).not.toBe(placementOf(a));
  });
});

describe('movedKeyReplicas', () => {
  it('weighs each shard by its keys and the voters it gained', () => {
    const before = map({ voters: [['n1', 'n2', 'n3'], ['n1', 'n2', 'n3']], members: ['n1', 'n2', 'n3'] });
    const after = map({ voters: [['n1', 'n2', 'n4'], ['n5', 'n2', 'n4']], members: ['n1', 'n2', 'n3', 'n4', 'n5'] });
    // 3 keys in shard 1 (one new voter), 1 key in shard 2 (two new voters).
    const r = movedKeyReplicas(before, after, [0, 5, HALF - 1, HALF], ['n4', 'n5']);
    expect(r).toEqual({ moved: 3 * 1 + 1 * 2, landedOnto: 3 * 1 + 1 * 2, total: 4 * 3, replicasMoved: 3, replicasMovedElsewhere: 0 });
    const wasteful = map({ voters: [['n1', 'n3', 'n4'], ['n5', 'n2', 'n4']], members: ['n1', 'n2', 'n3', 'n4', 'n5'] });
    const before2 = map({ voters: [['n1', 'n2', 'n5'], ['n1', 'n2', 'n3']], members: ['n1', 'n2', 'n3', 'n5'] });
    expect(movedKeyReplicas(before2, wasteful, [0], ['n4'])).toMatchObject({ moved: 2, landedOnto: 1, replicasMovedElsewhere: 2 });
  });

  it('finds the shard of a ring position', () => {
    const m = settled();
    expect([0, HALF - 1, HALF, 0xffffffff].map((p) => shardAt(m, p))).toEqual([1, 1, 2, 2]);
  });
});
