import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  META_SHARD,
  MetaFormatError,
  MetaStateMachine,
  decodeMetaState,
  encodeMetaCommand,
  metaStateToJson,
  nextActions,
  nodeState,
  suggestSplit,
} from '../../src/meta/index.js';
import type { MetaCommand, MetaErrorCode, MetaResult } from '../../src/meta/index.js';
import { RING_SIZE, spanByShard } from '../../src/shard/index.js';
import { CONFIG, addr, bootstrapped, completionOf, ok } from './helpers.js';

function err(r: MetaResult): MetaErrorCode {
  if (r.ok) throw new Error('expected an error');
  return r.code;
}

const nodeOf = (sm: MetaStateMachine, id: number) => sm.state().nodes.find((n) => n.id === id)!;

describe('bootstrap', () => {
  it('creates S data shards over the whole ring plus the meta group, at version 1', () => {
    const sm = bootstrapped(3, 8);
    const s = sm.state();
    expect(s.version).toBe(1);
    expect(s.shards.map((x) => x.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(s.ranges[0]!.start).toBe(0);
    expect(s.ranges[s.ranges.length - 1]!.end).toBe(RING_SIZE);
    const spans = spanByShard({ version: 1, ranges: s.ranges });
    expect([...spans.keys()]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const span of spans.values()) expect(span).toBeLessThanOrEqual(Math.floor((1.25 * RING_SIZE) / 8));
    for (const x of s.shards) expect(x.voters).toEqual([1, 2, 3]);
    expect(s.nodes.map(nodeState)).toEqual(['up', 'up', 'up']);
  });

  it('is refused twice and before it everything else is refused', () => {
    const sm = new MetaStateMachine();
    expect(err(sm.apply({ type: 'tick', ts: 5 }))).toBe('NOT_BOOTSTRAPPED');
    expect(sm.clock).toBe(5);
    ok(sm.apply({ type: 'bootstrap', ts: 6, nodes: [addr(1)], shards: 1, config: CONFIG }));
    expect(err(sm.apply({ type: 'bootstrap', ts: 7, nodes: [addr(1)], shards: 1, config: CONFIG }))).toBe('ALREADY_BOOTSTRAPPED');
  });

  it('refuses two nodes on one address', () => {
    const sm = new MetaStateMachine();
    const r = sm.apply({ type: 'bootstrap', ts: 1, nodes: [addr(1), { ...addr(2), clientPort: addr(1).clientPort }], shards: 1, config: CONFIG });
    expect(err(r)).toBe('BAD_ARGUMENT');
  });
});

describe('liveness by log time', () => {
  it('marks a node down only after downTimeoutMs without heartbeat, and up again on its next heartbeat', () => {
    const sm = bootstrapped(3, 2, { downTimeoutMs: 5000 }, 1000);
    ok(sm.apply({ type: 'heartbeat', ts: 3000, node: 1 }));
    ok(sm.apply({ type: 'heartbeat', ts: 3000, node: 2 }));
    const v = sm.mapVersion;
    ok(sm.apply({ type: 'tick', ts: 6000 })); // node 3: 5000 ms since its last sign of life: not more than the timeout
    expect(nodeOf(sm, 3).live).toBe(true);
    expect(sm.mapVersion).toBe(v);
    ok(sm.apply({ type: 'tick', ts: 6001 }));
    expect(nodeState(nodeOf(sm, 3))).toBe('down');
    expect(nodeOf(sm, 1).live).toBe(true);
    expect(sm.mapVersion).toBe(v + 1);
    ok(sm.apply({ type: 'heartbeat', ts: 6002, node: 3 }));
    expect(nodeState(nodeOf(sm, 3))).toBe('up');
    expect(sm.mapVersion).toBe(v + 2);
  });

  it('takes time from commands only: an older timestamp never moves the clock back', () => {
    const sm = bootstrapped(2, 1, { downTimeoutMs: 100 }, 1000);
    ok(sm.apply({ type: 'heartbeat', ts: 2000, node: 1 }));
    ok(sm.apply({ type: 'heartbeat', ts: 500, node: 2 })); // a late proposal: stamped with the clock, 2000
    expect(nodeOf(sm, 2).lastHeartbeat).toBe(2000);
    ok(sm.apply({ type: 'tick', ts: 2100 }));
    expect(nodeOf(sm, 2).live).toBe(true);
  });

  it('refuses heartbeats from unknown and removed nodes', () => {
    const sm = bootstrapped(3, 1);
    expect(err(sm.apply({ type: 'heartbeat', ts: 2000, node: 9 }))).toBe('UNKNOWN_NODE');
    ok(sm.apply({ type: 'addNode', ts: 2000, node: addr(4) }));
    ok(sm.apply({ type: 'removeNode', ts: 2001, node: 4 }));
    expect(nodeOf(sm, 4).admin).toBe('removed'); // it held nothing
    expect(err(sm.apply({ type: 'heartbeat', ts: 2002, node: 4 }))).toBe('BAD_STATE');
    expect(err(sm.apply({ type: 'joinNode', ts: 2002, node: addr(4) }))).toBe('BAD_STATE');
    ok(sm.apply({ type: 'addNode', ts: 2003, node: addr(4) }));
    expect(nodeState(nodeOf(sm, 4))).toBe('up');
  });
});

describe('registry and leaders', () => {
  it('joinNode registers a new node and refreshes an address; addNode refuses an active one', () => {
    const sm = bootstrapped(3, 1);
    const v = sm.mapVersion;
    ok(sm.apply({ type: 'joinNode', ts: 2000, node: addr(4) }));
    expect(sm.mapVersion).toBe(v + 1);
    ok(sm.apply({ type: 'joinNode', ts: 2001, node: addr(4) }));
    expect(sm.mapVersion).toBe(v + 1); // nothing changed
    ok(sm.apply({ type: 'joinNode', ts: 2002, node: { ...addr(4), host: '10.0.0.4' } }));
    expect(nodeOf(sm, 4).host).toBe('10.0.0.4');
    expect(sm.mapVersion).toBe(v + 2);
    expect(err(sm.apply({ type: 'addNode', ts: 2003, node: addr(4) }))).toBe('NODE_EXISTS');
  });

  it('keeps the newest leader report and refuses stale or foreign ones', () => {
    const sm = bootstrapped(4, 2);
    const s1 = sm.state().shards.find((s) => s.id === 1)!;
    const [a, b] = s1.voters as [number, number];
    const outsider = [1, 2, 3, 4].find((n) => !s1.voters.includes(n))!;
    ok(sm.apply({ type: 'leaderReport', ts: 2000, shard: 1, node: a, term: 3 }));
    expect(err(sm.apply({ type: 'leaderReport', ts: 2001, shard: 1, node: b, term: 2 }))).toBe('STALE_TERM');
    expect(err(sm.apply({ type: 'leaderReport', ts: 2001, shard: 1, node: b, term: 3 }))).toBe('STALE_TERM');
    expect(err(sm.apply({ type: 'leaderReport', ts: 2001, shard: 1, node: outsider, term: 9 }))).toBe('NOT_A_REPLICA');
    expect(err(sm.apply({ type: 'leaderReport', ts: 2001, shard: 99, node: a, term: 9 }))).toBe('UNKNOWN_SHARD');
    const v = sm.mapVersion;
    ok(sm.apply({ type: 'leaderReport', ts: 2002, shard: 1, node: a, term: 3 })); // repeat: no change
    expect(sm.mapVersion).toBe(v);
    ok(sm.apply({ type: 'leaderReport', ts: 2003, shard: 1, node: b, term: 4 }));
    expect(sm.state().shards.find((s) => s.id === 1)).toMatchObject({ leader: b, term: 4 });
    expect(sm.mapVersion).toBe(v + 1);
  });

  it('refuses removing the last active node', () => {
    const sm = bootstrapped(1, 1);
    expect(err(sm.apply({ type: 'removeNode', ts: 2000, node: 1 }))).toBe('BAD_STATE');
  });

  it('checks expectVersion', () => {
    const sm = bootstrapped(3, 1);
    expect(err(sm.apply({ type: 'addNode', ts: 2000, node: addr(4), expectVersion: 7 }))).toBe('STALE_VERSION');
    ok(sm.apply({ type: 'addNode', ts: 2000, node: addr(4), expectVersion: sm.mapVersion }));
  });
});

describe('moves', () => {
  it('walks a move through its phases and refuses steps out of order', () => {
    const sm = bootstrapped(3, 1);
    ok(sm.apply({ type: 'addNode', ts: 2000, node: addr(4) }));
    expect(err(sm.apply({ type: 'learnerAdded', ts: 2001, shard: 1, node: 4 }))).toBe('NO_MOVE');
    expect(err(sm.apply({ type: 'beginMove', ts: 2001, shard: 1, add: 1, remove: 2 }))).toBe('BAD_STATE');
    expect(err(sm.apply({ type: 'beginMove', ts: 2001, shard: 1, add: 4, remove: 9 }))).toBe('UNKNOWN_NODE');
    ok(sm.apply({ type: 'beginMove', ts: 2001, shard: 1, add: 4, remove: 1 }));
    expect(err(sm.apply({ type: 'beginMove', ts: 2001, shard: 1, add: 4, remove: 2 }))).toBe('MOVE_IN_PROGRESS');
    expect(err(sm.apply({ type: 'promoted', ts: 2002, shard: 1, node: 4 }))).toBe('BAD_STATE');
    expect(err(sm.apply({ type: 'replicaRemoved', ts: 2002, shard: 1, node: 2 }))).toBe('NO_MOVE');
    const v = sm.mapVersion;
    ok(sm.apply({ type: 'learnerAdded', ts: 2002, shard: 1, node: 4 }));
    expect(sm.state().shards[1]).toMatchObject({ voters: [1, 2, 3], learners: [4] });
    ok(sm.apply({ type: 'promoted', ts: 2003, shard: 1, node: 4 }));
    expect(sm.state().shards[1]).toMatchObject({ voters: [1, 2, 3, 4], learners: [] });
    ok(sm.apply({ type: 'replicaRemoved', ts: 2004, shard: 1, node: 1 }));
    expect(sm.state().shards[1]).toMatchObject({ voters: [2, 3, 4], learners: [] });
    expect(sm.state().moves).toEqual([]);
    expect(sm.mapVersion).toBe(v + 3);
  });

  it('limits concurrent moves', () => {
    const sm = bootstrapped(3, 3, { maxConcurrentMoves: 2 });
    ok(sm.apply({ type: 'addNode', ts: 2000, node: addr(4) }));
    ok(sm.apply({ type: 'beginMove', ts: 2001, shard: 1, add: 4, remove: 1 }));
    ok(sm.apply({ type: 'beginMove', ts: 2001, shard: 2, add: 4, remove: 1 }));
    expect(err(sm.apply({ type: 'beginMove', ts: 2001, shard: 3, add: 4, remove: 1 }))).toBe('TOO_MANY_MOVES');
    ok(sm.apply({ type: 'abortMove', ts: 2002, shard: 1 }));
    ok(sm.apply({ type: 'beginMove', ts: 2003, shard: 3, add: 4, remove: 1 }));
    expect(err(sm.apply({ type: 'abortMove', ts: 2004, shard: 1 }))).toBe('NO_MOVE');
  });

  it('a drained node becomes removed when its last replica leaves', () => {
    const sm = bootstrapped(4, 4, { replication: 3 });
    ok(sm.apply({ type: 'removeNode', ts: 2000, node: 2 }));
    expect(nodeState(nodeOf(sm, 2))).toBe('draining');
    for (let i = 0; i < 200 && nodeOf(sm, 2).admin !== 'removed'; i++) {
      const a = nextActions(sm.state())[0]!;
      ok(sm.apply(completionOf(a, sm.state(), sm.clock + 1)));
    }
    expect(nodeState(nodeOf(sm, 2))).toBe('removed');
    for (const s of sm.state().shards) expect(s.voters).not.toContain(2);
  });
});

describe('split', () => {
  it('gives the new shard the positions at or after the split point, with the same replicas', () => {
    const sm = bootstrapped(3, 4);
    const proposal = suggestSplit(sm.state(), 2)!;
    expect(proposal.newShard).toBe(5);
    const before = spanByShard({ version: 0, ranges: sm.state().ranges });
    ok(sm.apply({ type: 'splitShard', ts: 2000, ...proposal }));
    const after = spanByShard({ version: 0, ranges: sm.state().ranges });
    expect(after.get(2)! + after.get(5)!).toBe(before.get(2));
    expect(Math.abs(after.get(2)! - after.get(5)!)).toBeLessThanOrEqual(1);
    for (const r of sm.state().ranges) {
      if (r.shard === 5) expect(r.start).toBeGreaterThanOrEqual(proposal.at);
      if (r.shard === 2) expect(r.end).toBeLessThanOrEqual(proposal.at);
    }
    // the data half is pending until the new group's first leader: no second split, no move on either side
    expect(sm.state().shards.find((s) => s.id === 5)).toEqual({ id: 5, voters: [1, 2, 3], learners: [], leader: null, term: 0, parent: 2 });
    expect(MetaStateMachine.restore(sm.snapshot()).state()).toEqual(sm.state()); // the mark survives a snapshot
    expect(err(sm.apply({ type: 'splitShard', ts: 2001, shard: 2, at: proposal.at, newShard: 6 }))).toBe('BAD_STATE');
    expect(err(sm.apply({ type: 'beginMove', ts: 2001, shard: 5, add: null, remove: 1 }))).toBe('BAD_STATE');
    expect(err(sm.apply({ type: 'beginMove', ts: 2001, shard: 2, add: null, remove: 1 }))).toBe('BAD_STATE');
    expect(sm.apply({ type: 'leaderReport', ts: 2001, shard: 5, node: 1, term: 1 }).ok).toBe(true);
    expect(sm.state().shards.find((s) => s.id === 5)).toEqual({ id: 5, voters: [1, 2, 3], learners: [], leader: 1, term: 1 });
    expect(MetaStateMachine.restore(sm.snapshot()).equals(sm)).toBe(true);
    expect(err(sm.apply({ type: 'splitShard', ts: 2001, shard: 2, at: proposal.at, newShard: 6 }))).toBe('BAD_ARGUMENT');
    expect(err(sm.apply({ type: 'splitShard', ts: 2001, shard: 1, at: 5, newShard: 5 }))).toBe('SHARD_EXISTS');
    expect(err(sm.apply({ type: 'splitShard', ts: 2001, shard: META_SHARD, at: 5, newShard: 9 }))).toBe('BAD_ARGUMENT');
  });
});

// ---- determinism and snapshots --------------------------------------------------

const nodeIdArb = fc.integer({ min: 1, max: 6 });
const shardArb = fc.integer({ min: 0, max: 6 });
const dtArb = fc.integer({ min: 0, max: 3000 });

/** Random commands (many will be refused: that must be deterministic too). Timestamps are offsets. */
const commandArb: fc.Arbitrary<(ts: number) => MetaCommand> = fc.oneof(
  nodeIdArb.map((id) => (ts: number) => ({ type: 'joinNode', ts, node: addr(id) }) as const),
  nodeIdArb.map((id) => (ts: number) => ({ type: 'addNode', ts, node: addr(id) }) as const),
  nodeIdArb.map((id) => (ts: number) => ({ type: 'removeNode', ts, node: id }) as const),
  nodeIdArb.map((id) => (ts: number) => ({ type: 'heartbeat', ts, node: id }) as const),
  fc.constant((ts: number) => ({ type: 'tick', ts }) as const),
  fc.tuple(shardArb, nodeIdArb, fc.integer({ min: 0, max: 5 })).map(([shard, node, term]) => (ts: number) => ({ type: 'leaderReport', ts, shard, node, term }) as const),
  fc.tuple(shardArb, fc.option(nodeIdArb), fc.option(nodeIdArb)).map(([shard, add, remove]) => (ts: number) =>
    add === null && remove === null ? ({ type: 'tick', ts } as const) : ({ type: 'beginMove', ts, shard, add, remove: remove === add ? null : remove } as const),
  ),
  fc.tuple(fc.constantFrom('learnerAdded', 'promoted', 'replicaRemoved') , shardArb, nodeIdArb).map(([type, shard, node]) => (ts: number) => ({ type, ts, shard, node }) as MetaCommand),
  shardArb.map((shard) => (ts: number) => ({ type: 'abortMove', ts, shard }) as const),
  fc.tuple(shardArb, fc.integer({ min: 1, max: 0xffffffff }), fc.integer({ min: 1, max: 9 })).map(([shard, at, newShard]) => (ts: number) => ({ type: 'splitShard', ts, shard, at, newShard }) as const),
  // The planner's next action, completed (keeps runs realistic).
  fc.constant((ts: number) => ({ type: 'tick', ts, plan: true }) as unknown as MetaCommand),
);

/** Byte equality (vitest's deep equality is slow on large typed arrays). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

/** Turns the generated list into concrete commands against a running state machine. */
function concrete(sm: MetaStateMachine, make: (ts: number) => MetaCommand, ts: number): MetaCommand {
  const c = make(ts) as MetaCommand & { plan?: boolean };
  if (c.plan === true) {
    const a = nextActions(sm.state())[0];
    return a === undefined ? { type: 'tick', ts } : completionOf(a, sm.state(), ts);
  }
  return c;
}

describe('determinism', () => {
  it('the same commands give identical snapshot bytes, through the entry codec or not, and restore exactly', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(dtArb, commandArb), { maxLength: 80 }), fc.nat({ max: 80 }), (steps, cut) => {
        const direct = bootstrapped(4, 5);
        const viaBytes = bootstrapped(4, 5);
        let ts = direct.clock;
        let restored: MetaStateMachine | undefined;
        steps.forEach(([dt, make], i) => {
          ts += dt;
          const cmd = concrete(direct, make, ts);
          const r1 = direct.apply(cmd);
          const r2 = viaBytes.applyEntry(encodeMetaCommand(cmd));
          expect(r2).toEqual(r1);
          if (restored !== undefined) expect(restored.apply(cmd)).toEqual(r1);
          if (i === cut) restored = MetaStateMachine.restore(direct.snapshot());
        });
        expect(sameBytes(viaBytes.snapshot(), direct.snapshot())).toBe(true);
        expect(viaBytes.digest()).toBe(direct.digest());
        expect(viaBytes.equals(direct)).toBe(true);
        if (restored !== undefined) expect(sameBytes(restored.snapshot(), direct.snapshot())).toBe(true);
        // Round trip: restore then snapshot gives the same bytes.
        expect(sameBytes(MetaStateMachine.restore(direct.snapshot()).snapshot(), direct.snapshot())).toBe(true);
        // Versions only grow, and every shard keeps distinct replicas.
        for (const s of direct.state().shards) expect(new Set([...s.voters, ...s.learners]).size).toBe(s.voters.length + s.learners.length);
      }),
      { seed: 7201, numRuns: 80 },
    );
  });

  it('digest differs when the state differs', () => {
    const a = bootstrapped(3, 2);
    const b = bootstrapped(3, 2);
    ok(b.apply({ type: 'heartbeat', ts: 5000, node: 1 }));
    expect(a.digest()).not.toBe(b.digest());
    expect(a.equals(b)).toBe(false);
  });
});

describe('snapshot decoding', () => {
  const good = (): Record<string, unknown> => JSON.parse(JSON.stringify(metaStateToJson(bootstrapped(3, 2).state()))) as Record<string, unknown>;
  const bytes = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o));
  const fieldOf = (o: unknown): string => {
    try {
      decodeMetaState(bytes(o));
    } catch (e) {
      if (e instanceof MetaFormatError) return e.field;
      throw e;
    }
    return '(accepted)';
  };

  it('names the bad field', () => {
    expect(fieldOf(good())).toBe('(accepted)');
    const cases: [string, (o: Record<string, unknown>) => void][] = [
      ['format', (o) => (o['format'] = 'x')],
      ['version', (o) => (o['version'] = -1)],
      ['nodes[1].admin', (o) => ((o['nodes'] as Record<string, unknown>[])[1]!['admin'] = 'gone')],
      ['nodes[2]', (o) => ((o['nodes'] as Record<string, unknown>[])[2]!['id'] = 1)],
      ['shards[1].voters[0]', (o) => ((o['shards'] as Record<string, unknown>[])[1]!['voters'] = [9])],
      ['ranges', (o) => (o['ranges'] as unknown[]).pop()],
      ['ranges[0][2]', (o) => ((o['ranges'] as unknown[][])[0]![2] = 0)],
      ['config.loadFactor', (o) => ((o['config'] as Record<string, unknown>)['loadFactor'] = 1)],
      ['extra', (o) => (o['extra'] = 1)],
    ];
    for (const [field, mutate] of cases) {
      const o = good();
      mutate(o);
      expect(fieldOf(o), field).toBe(field);
    }
    expect(() => decodeMetaState(new Uint8Array([0xff, 0x00]))).toThrow(MetaFormatError);
  });
});
