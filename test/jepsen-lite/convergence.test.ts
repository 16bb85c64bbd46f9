import { describe, expect, it } from 'vitest';
import type { NodeStatus } from '../../src/client/index.js';
import { notConverged } from '../../jepsen-lite/convergence.js';

type Shard = { group: number; role: string; term: number; leader: string | null; commit: number; applied: number };

function status(node: string, shards: Shard[]): NodeStatus {
  const first = shards[0] ?? { group: 0, role: 'none', term: 0, leader: null, commit: 0, applied: 0 };
  return {
    node,
    role: first.role,
    term: 1,
    commit: first.commit,
    applied: first.applied,
    leader: first.leader,
    leaderUrl: null,
    pid: 1,
    address: '',
    group: first.group,
    members: [],
    mapVersion: 1,
    shards,
  };
}

const s = (group: number, role: string, leader: string, commit = 10, applied = commit): Shard => ({ group, role, term: 1, leader, commit, applied });

describe('convergence of a sharded cluster', () => {
  it('holds when every shard has one leader that all its replicas follow, at one commit and applied index', () => {
    // 4 nodes, shards 1 and 2 of 3 replicas each; n4 holds only shard 2
    const st = [
      status('n1', [s(1, 'leader', 'n1'), s(2, 'follower', 'n4', 7)]),
      status('n2', [s(1, 'follower', 'n1')]),
      status('n3', [s(1, 'follower', 'n1'), s(2, 'follower', 'n4', 7)]),
      status('n4', [s(2, 'leader', 'n4', 7)]),
    ];
    expect(notConverged(st)).toBeNull();
  });

  it('fails on a missing answer, two leaders, a replica behind, or a replica following another leader', () => {
    const ok = [status('n1', [s(1, 'leader', 'n1')]), status('n2', [s(1, 'follower', 'n1')])];
    expect(notConverged([...ok, null])).toMatch(/does not answer/);
    expect(notConverged([status('n1', [s(1, 'leader', 'n1')]), status('n2', [s(1, 'leader', 'n2')])])).toMatch(/shard 1: 2 leaders/);
    expect(notConverged([status('n1', [s(1, 'leader', 'n1')]), status('n2', [s(1, 'follower', 'n1', 10, 9)])])).toMatch(/shard 1: n2/);
    expect(notConverged([status('n1', [s(1, 'leader', 'n1')]), status('n2', [s(1, 'follower', 'n3')])])).toMatch(/shard 1: n2/);
    expect(notConverged([status('n1', [s(1, 'follower', 'n2')]), status('n2', [s(1, 'follower', 'n1')])])).toMatch(/0 leaders/);
  });

  it('treats a node without a shard list as one shard (its top-level fields)', () => {
    const a = { ...status('n1', [s(1, 'leader', 'n1')]) };
    const b = { ...status('n2', [s(1, 'follower', 'n1')]) };
    delete (a as Record<string, unknown>)['shards'];
    delete (b as Record<string, unknown>)['shards'];
    expect(notConverged([a, b])).toBeNull();
  });
});
