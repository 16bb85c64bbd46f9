/**
 * Kept scenarios of bugs the simulation found in the Raft core. Each one fails
 * on the core before its fix (checked by reverting the fix) and passes after.
 */
import { describe, expect, it } from 'vitest';
import { type FaultEvent, runSimulation } from '../../src/sim/index.js';
import { explain } from './helpers.js';

describe('regressions found by the simulation', () => {
  // Bug 1 (liveness): in 'replicate' state a leader whose in-flight window was
  // full of lost appends never sent again; heartbeat answers did not reopen the
  // window, so after the heal nothing committed. Found on seed 2 (3 nodes, 2000
  // steps) of the first schedule generator; fixed in raft.ts: a heartbeat
  // response frees one in-flight slot (etcd's FreeFirstOne), the follower
  // rejects the gap and the leader probes.
  it('a full in-flight window of lost appends does not stall replication', { timeout: 30_000 }, () => {
    const schedule: FaultEvent[] = [
      { at: 200, kind: 'links', faults: { dropRate: 0.5, dupRate: 0, maxExtraDelay: 2, longDelayRate: 0 } },
      { at: 600, kind: 'heal' },
    ];
    for (const seed of [1, 2, 3, 4]) {
      const r = runSimulation({ seed, nodes: 3, steps: 1000, schedule, tuning: { maxInflightMsgs: 4, maxInflightBytes: 0 } });
      expect(explain(r, 3, 1000)).toBe('ok');
      expect(r.stats.livenessChecks).toBe(1);
    }
  });

  // Scenario kept from a shrunk fast-check schedule: a membership change (a
  // joint configuration) right before a crash; the node restarts 1000 ticks
  // later. The restarted core must come back with the membership in effect at
  // its persisted commit (no conf entry applied twice or forgotten), and the
  // cluster must commit after the heal.
  it('a node that crashes during a membership change restarts with the committed membership', { timeout: 30_000 }, () => {
    const schedule: FaultEvent[] = [
      { at: 17, kind: 'membership', size: 1 },
      { at: 20, kind: 'crash', target: 'random' },
      { at: 1020, kind: 'heal' },
    ];
    for (const seed of [1, 2, 3]) {
      const r = runSimulation({ seed, nodes: 3, steps: 1200, schedule });
      expect(explain(r, 3, 1200)).toBe('ok');
      expect(r.stats.livenessChecks).toBe(1);
    }
  });
  // Bug 5 (liveness, PreVote off): after a heal the only node able to win (n1, in
  // joint [1,4]/[1]) needed n4's vote, while n4 (stale joint [5]/[5,4], log behind)
  // campaigned only to n5 and raised its term just before each of n1's tries: n1
  // learned n4's term from the rejection and retried at exactly that term. Fixed in
  // raft.ts: a candidate that rejects a vote only because it voted for itself, for
  // a candidate whose log is at least as up to date, restarts its election timer.
  it('a stale candidate does not out-campaign the one node that can win (seed 10452)', { timeout: 60_000 }, () => {
    const r = runSimulation({ seed: 10452, nodes: 5, steps: 20_000, membership: true, compaction: true, checkLinearizability: false });
    expect(explain(r, 5, 20_000)).toBe('ok');
  });

  // Liveness, PreVote off, found 2026-11-28 by `sim --async-disk` over 1,500 seeds with
  // --membership --compaction --quiesce: with disk writes of 0–4 ticks and up to 8 Readies
  // outstanding, n1 (the only node whose log can win) kept losing split votes to n2 and n3
  // for 250+ ticks after the heal. Each candidate held its vote requests until its new term
  // and self-vote were durable, so every election round waited for two disk writes (the
  // candidate's and the voter's). Vote and pre-vote requests now leave at once, as in
  // etcd raft (sendsBeforePersist, src/raft/raw-node.ts).
  it('elections without PreVote settle with an async disk (seeds 100803, 101468)', { timeout: 60_000 }, () => {
    for (const seed of [100803, 101468]) expect(asyncDiskRun(seed)).toBe('ok');
  });

  // Liveness, PreVote on; found 2026-11-28 by the same 1,500-seed run once vote requests
  // left early (the old rule passed it only because its schedule differed). n1, leader,
  // commits its own removal (the leave-joint entry, index 13) and hands over to n3, which
  // holds entry 13 but not yet its commit. n3 wins, sends its first entry (14, term 3)
  // before it is durable — the leader's disk write runs in parallel with replication —
  // and crashes. n3 restarts in the joint configuration and needs n1's vote; n1's log
  // (14/3) is ahead of n3's (13/1), so n1 refused, and n1, no voter in its own
  // configuration, never campaigned. Now such a node campaigns once to hand over again
  // (handOverAgain, src/raft/raft.ts; test/raft/membership.test.ts shows it directly).
  it('a removed ex-leader holding the longest log does not stall the group (seed 101381)', { timeout: 60_000 }, () => {
    expect(asyncDiskRun(101381)).toBe('ok');
  });
});

/** A run of `sim --async-disk --membership --compaction --quiesce` (3 nodes, 3000 steps, writes of 0–4 ticks, 8 Readies outstanding), explained. */
function asyncDiskRun(seed: number): string {
  const r = runSimulation({
    seed,
    nodes: 3,
    steps: 3000,
    membership: true,
    compaction: true,
    quiesce: true,
    asyncDisk: { latency: { min: 0, max: 4 }, maxOutstanding: 8 },
  });
  return explain(r, 3, 3000);
}
