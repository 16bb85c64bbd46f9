/**
 * The executor's part of a split: a shard the map marks with a parent (the
 * split recorded, its data half pending) makes every round ask the parent's
 * replicas for the split entry, with the new shard's ranges — whatever meta
 * leader runs the round, so a fail-over in the middle leaves nothing half
 * done — until the new group's first leader report, which it records.
 */
import { describe, expect, it } from 'vitest';
import { MetaStateMachine, suggestSplit } from '../../src/meta/index.js';
import type { MetaCommand, NodeAddress } from '../../src/meta/index.js';
import { MetaExecutor } from '../../src/node/meta-executor.js';

const addr = (id: number): NodeAddress => ({ id, host: '127.0.0.1', clientPort: 7000 + id, peerPort: 8000 + id });

function splitState(): MetaStateMachine {
  const sm = new MetaStateMachine();
  const config = { replication: 3, metaReplication: 3, downTimeoutMs: 30_000, maxConcurrentMoves: 3, loadFactor: 1.25, vnodes: 16 };
  expect(sm.apply({ type: 'bootstrap', ts: 1, nodes: [addr(1), addr(2), addr(3)], shards: 2, config }).ok).toBe(true);
  const plan = suggestSplit(sm.state(), 1);
  expect(plan).toMatchObject({ shard: 1, newShard: 3 });
  expect(sm.apply({ type: 'splitShard', ts: 2, shard: 1, at: plan!.at, newShard: 3 }).ok).toBe(true);
  return sm;
}

function executor(): { ex: MetaExecutor; proposed: MetaCommand[]; asked: { parent: number; newGroup: number; ranges: { start: number; end: number }[]; targets: number[] }[] } {
  const proposed: MetaCommand[] = [];
  const asked: { parent: number; newGroup: number; ranges: { start: number; end: number }[]; targets: number[] }[] = [];
  const ex = new MetaExecutor({
    propose: (cmd) => {
      proposed.push(cmd);
      return Promise.resolve();
    },
    request: () => undefined,
    requestSplit: (parent, newGroup, ranges, targets) => asked.push({ parent, newGroup, ranges: [...ranges], targets: [...targets] }),
    now: () => 10,
  });
  return { ex, proposed, asked };
}

describe('the executor drives a recorded split', () => {
  it("asks the parent's replicas for the split entry, every round, on any meta leader, with the new shard's ranges", () => {
    const sm = splitState();
    const state = sm.state();
    const ranges = state.ranges.filter((r) => r.shard === 3).map((r) => ({ start: r.start, end: r.end }));
    expect(ranges.length).toBeGreaterThan(0);
    for (const leader of [executor(), executor()]) {
      // two rounds on one executor, then a fresh one (a new meta leader)
      leader.ex.round(state);
      leader.ex.round(state);
      expect(leader.asked).toHaveLength(2);
      for (const a of leader.asked) expect(a).toEqual({ parent: 1, newGroup: 3, ranges, targets: [1, 2, 3] });
      // and no move on either side meanwhile
      expect(leader.proposed.filter((c) => c.type === 'beginMove' && (c.shard === 1 || c.shard === 3))).toEqual([]);
    }
  });

  it("records the new group's first leader, which ends the split; then it asks no more", async () => {
    const sm = splitState();
    const { ex, proposed, asked } = executor();
    ex.onReport({ group: 3, leader: 2, term: 1, voters: [1, 2, 3], learners: [], joint: false, opsPerSec: 0 });
    ex.round(sm.state());
    const report = proposed.find((c) => c.type === 'leaderReport');
    expect(report).toMatchObject({ type: 'leaderReport', shard: 3, node: 2, term: 1 });
    expect(sm.apply(report!).ok).toBe(true);
    await Promise.resolve();
    const n = asked.length;
    ex.round(sm.state());
    expect(asked.length).toBe(n);
    expect(sm.state().shards.find((s) => s.id === 3)?.parent).toBeUndefined();
  });
});
