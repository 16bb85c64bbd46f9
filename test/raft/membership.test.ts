/**
 * Membership: learners, joint consensus (add, remove, replace, promote), the
 * removed leader, removed nodes that cannot disrupt, partitions in the middle of
 * a joint change, and restarts that recover the membership.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyConfChange,
  decodeConfChange,
  encodeConfChange,
  jointCommittedIndex,
  jointVoteResult,
  validateConfChange,
} from '../../src/raft/index.js';
import type { ConfChange, ConfChangeItem, ConfState, NodeId } from '../../src/raft/index.js';
import { Network, bytes } from './network.js';

function change(...items: Array<[ConfChangeItem['op'], NodeId]>): ConfChange {
  return { changes: items.map(([op, node]) => ({ op, node })) };
}

function confOf(net: Network, id: NodeId): ConfState {
  return net.raw(id).confState();
}

/** Proposes a change at `leader` and stabilizes (joint changes leave the joint config on their own). */
function reconfigure(net: Network, leader: NodeId, cc: ConfChange): void {
  const r = net.raw(leader).proposeConfChange(cc);
  expect(r.ok, JSON.stringify(r)).toBe(true);
  net.stabilize();
}

/** A 3-voter cluster with leader 1 and learner 4 caught up. */
function withLearner(opts = {}): Network {
  const net = new Network([1, 2, 3], opts);
  net.elect(1);
  net.addNode(4);
  reconfigure(net, 1, change(['add-learner', 4]));
  return net;
}

describe('conf change codec and arithmetic', () => {
  it('encode/decode round-trips', () => {
    const item = fc.record({
      op: fc.constantFrom<ConfChangeItem['op']>('add-voter', 'add-learner', 'remove'),
      node: fc.integer({ min: 1, max: 0xffffffff }),
    });
    fc.assert(
      fc.property(fc.array(item, { maxLength: 20 }), (changes) => {
        expect(decodeConfChange(encodeConfChange({ changes }))).toEqual({ changes });
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('rejects malformed payloads', () => {
    expect(() => decodeConfChange(new Uint8Array([2, 0, 0]))).toThrow();
    expect(() => decodeConfChange(new Uint8Array([1, 0, 1, 9, 0, 0, 0, 1]))).toThrow();
    expect(() => decodeConfChange(new Uint8Array([1, 0, 2, 1, 0, 0, 0, 1]))).toThrow();
  });

  it('voter changes go through a joint config; learner-only changes do not', () => {
    const c: ConfState = { voters: [1, 2, 3], learners: [] };
    const joint = applyConfChange(c, change(['add-voter', 4], ['remove', 3]));
    expect(joint).toEqual({ voters: [1, 2, 4], learners: [], votersOutgoing: [1, 2, 3], autoLeave: true });
    expect(applyConfChange(joint, { changes: [] })).toEqual({ voters: [1, 2, 4], learners: [] });
    expect(applyConfChange(c, change(['add-learner', 5]))).toEqual({ voters: [1, 2, 3], learners: [5] });
  });

  it('invalid changes are refused and leave the config unchanged', () => {
    const c: ConfState = { voters: [1, 2, 3], learners: [4] };
    expect(validateConfChange(c, change(['remove', 9]))).toMatch(/not a member/);
    expect(validateConfChange(c, change(['add-learner', 2]))).toMatch(/demotion/);
    expect(validateConfChange(c, change(['remove', 1], ['remove', 2], ['remove', 3]))).toMatch(/no voters/);
    expect(validateConfChange(c, { changes: [] })).toMatch(/not in a joint/);
    expect(validateConfChange(c, change(['add-voter', 5], ['remove', 5]))).toMatch(/twice/);
    const joint = applyConfChange(c, change(['add-voter', 4]));
    expect(validateConfChange(joint, change(['add-voter', 5]))).toMatch(/leave it first/);
    expect(applyConfChange(c, change(['remove', 9]))).toBe(c);
  });

  it('joint quorum: commit is the min of both majorities, a vote needs both', () => {
    const cfg = { incoming: [1, 2, 4], outgoing: [1, 2, 3] };
    const match = new Map([[1, 9], [2, 5], [3, 9], [4, 9]]);
    // incoming {9,5,9} → 9; outgoing {9,5,9} → 9
    expect(jointCommittedIndex(cfg, (id) => match.get(id) ?? 0)).toBe(9);
    match.set(3, 1);
    match.set(1, 7);
    // incoming {7,5,9} → 7; outgoing {7,5,1} → 5
    expect(jointCommittedIndex(cfg, (id) => match.get(id) ?? 0)).toBe(5);
    expect(jointVoteResult(cfg, new Map([[1, true], [4, true]]))).toBe('pending');
    expect(jointVoteResult(cfg, new Map([[1, true], [4, true], [3, true]]))).toBe('won');
    expect(jointVoteResult(cfg, new Map([[3, false], [2, false]]))).toBe('lost');
    expect(jointVoteResult({ incoming: [1, 2, 3], outgoing: [] }, new Map([[1, true], [2, true]]))).toBe('won');
  });
});

describe('learners', () => {
  it('receive the log but are never counted for commit', () => {
    const net = withLearner();
    expect(net.get(4).kv.size).toBe(0);
    net.raw(1).propose(bytes('a=1'));
    net.stabilize();
    expect(net.get(4).kv.get('a')).toBe('1');
    // Voters 2 and 3 cut off: the learner's ack must not make a quorum with the leader.
    net.isolate(2);
    net.isolate(3);
    const r = net.raw(1).propose(bytes('b=2'));
    expect(r.ok).toBe(true);
    net.stabilize();
    expect(net.status(4).lastIndex).toBe(net.status(1).lastIndex); // the learner has it …
    expect(net.status(1).commit).toBeLessThan(r.ok ? r.index : 0); // … but it is not committed
    net.heal();
    net.tickAll(2);
    expect(net.get(4).kv.get('b')).toBe('2');
  });

  it('receive snapshots when the log they need is compacted', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    for (let i = 0; i < 5; i++) net.raw(1).propose(bytes(`k${i}=${i}`));
    net.stabilize();
    net.compact(1);
    net.addNode(4);
    reconfigure(net, 1, change(['add-learner', 4]));
    net.tickAll(2);
    expect(net.delivered.get('snap')).toBe(1);
    expect(net.get(4).kv.get('k4')).toBe('4');
    expect(net.status(1).progress?.get(4)?.match).toBe(net.status(1).lastIndex);
  });

  it('a blank learner makes a leader without a snapshot ask its driver for one, then gets it', () => {
    // (found by jepsen-lite: a leader elected after the learner was added had no
    // snapshot, and the blank learner waited forever)
    const net = new Network([1, 2, 3]);
    net.elect(1);
    for (let i = 0; i < 5; i++) net.raw(1).propose(bytes(`k${i}=${i}`));
    net.stabilize();
    net.addNode(4, true);
    reconfigure(net, 1, change(['add-learner', 4]));
    net.tickAll(2);
    expect(net.delivered.get('snap') ?? 0).toBe(0);
    expect(net.raw(1).takeSnapshotWanted()).toBe(true);
    expect(net.raw(1).takeSnapshotWanted()).toBe(false); // once per request
    const n1 = net.get(1);
    n1.storage.createSnapshot(n1.lastApplied, bytes(JSON.stringify([...n1.kv])), n1.node.confState());
    net.tickAll(2);
    net.stabilize();
    expect(net.delivered.get('snap')).toBe(1);
    expect(net.get(4).kv.get('k4')).toBe('4');
    expect(net.raw(1).takeSnapshotWanted()).toBe(false);
  });

  it('do not confirm a ReadIndex round', () => {
    const net = withLearner();
    net.isolate(2);
    net.isolate(3);
    net.raw(1).readIndex('r1');
    net.tickAll(3);
    expect(net.get(1).reads).toHaveLength(0);
    net.heal();
    net.tickAll(2);
    expect(net.get(1).reads.map((r) => r.context)).toEqual(['r1']);
  });

  it('do not keep a leader alive under CheckQuorum', () => {
    const net = withLearner({ checkQuorum: true });
    net.isolate(2);
    net.isolate(3);
    net.drop(1, 2);
    // only 1 <-> 4 works
    net.heal();
    net.partition([1, 4], [2, 3]);
    net.tickAll(25);
    expect(net.status(1).role).not.toBe('leader');
    expect(net.status(4).role).toBe('follower'); // a learner never campaigns
  });

  it('never campaign, even when the voters are gone', () => {
    const net = withLearner();
    for (const id of [1, 2, 3]) net.crash(id);
    net.tickAll(50);
    expect(net.status(4).role).toBe('follower');
    expect(net.status(4).term).toBe(1);
  });

  it('are promoted once caught up; then they count', () => {
    const net = withLearner();
    for (let i = 0; i < 5; i++) net.raw(1).propose(bytes(`k${i}=${i}`));
    net.stabilize();
    const pr = net.status(1).progress?.get(4);
    expect(pr?.match).toBe(net.status(1).lastIndex); // caught up
    reconfigure(net, 1, change(['add-voter', 4]));
    for (const id of [1, 2, 3, 4]) expect(confOf(net, id)).toEqual({ voters: [1, 2, 3, 4], learners: [] });
    // 4 voters: a quorum is 3; with 2 and 3 cut off, 1 + 4 cannot commit …
    net.isolate(2);
    net.isolate(3);
    const r = net.raw(1).propose(bytes('x=1'));
    net.stabilize();
    expect(net.status(1).commit).toBeLessThan(r.ok ? r.index : 0);
    // … and with only 3 cut off, 1 + 2 + 4 can.
    net.heal();
    net.isolate(3);
    net.tickAll(2);
    expect(net.status(1).commit).toBeGreaterThanOrEqual(r.ok ? r.index : 0);
  });
});

describe('voters: add, remove, replace', () => {
  it('replaces a voter in one joint change; the old one no longer counts', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.addNode(4);
    reconfigure(net, 1, change(['add-voter', 4], ['remove', 3]));
    for (const id of [1, 2, 4]) expect(confOf(net, id)).toEqual({ voters: [1, 2, 4], learners: [] });
    const log = net.get(1).storage.allEntries().filter((e) => e.type === 'conf');
    expect(log.map((e) => decodeConfChange(e.data).changes.length)).toEqual([2, 0]); // enter joint, leave joint
    // 3 is out: with 2 and 4 cut off, 1 + 3 do not commit.
    net.isolate(2);
    net.isolate(4);
    const r = net.raw(1).propose(bytes('a=1'));
    net.stabilize();
    expect(net.status(1).commit).toBeLessThan(r.ok ? r.index : 0);
  });

  it('stale-term requests are answered with the higher term (configurations may differ)', () => {
    // 3 is at a higher term; 1 campaigns at a lower one. Without PreVote/CheckQuorum
    // etcd would not answer; we do, so a candidate (or leader) whose configuration
    // differs from ours still learns our term.
    const net = new Network([1, 2, 3]);
    net.isolate(3);
    net.raw(3).campaign();
    net.raw(3).campaign();
    net.stabilize();
    net.heal();
    expect(net.status(3).term).toBe(2);
    net.raw(1).campaign(); // term 1
    net.processAll();
    net.deliver({ to: 3 });
    net.processAll();
    const answer = net.queue.find((m) => m.from === 3 && m.to === 1);
    expect(answer).toMatchObject({ type: 'vote-resp', term: 2, reject: true });
    net.deliver({ from: 3, to: 1 });
    expect(net.status(1)).toMatchObject({ term: 2, role: 'follower' });
  });

  it('a node that knows a conf entry is committed does not campaign before the change takes effect', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.addNode(4);
    expect(net.raw(1).proposeConfChange(change(['add-learner', 4])).ok).toBe(true);
    net.processAll();
    net.deliver({ from: 1 }); // the entry reaches 2 and 3
    net.processAll();
    net.deliver({ to: 1 }); // their acks: 1 commits it
    net.processReady(1); // … and tells them
    net.deliver({ from: 1, to: 2 });
    expect(net.status(2).commit).toBe(net.status(1).commit);
    const term = net.status(2).term;
    for (let i = 0; i < 40; i++) net.raw(2).tick(); // no Ready handled in between: the change is not in effect yet
    expect(net.status(2)).toMatchObject({ role: 'follower', term });
    net.processReady(2); // hands the entry out: now in effect
    expect(net.raw(2).confState().learners).toEqual([4]);
    for (let i = 0; i < 40; i++) net.raw(2).tick();
    expect(net.status(2).term).toBeGreaterThan(term);
  });

  it('refuses a change while the previous one is not applied, and on a fresh leader until its no-op applies', () => {
    const net = new Network([1, 2, 3]);
    net.raw(1).campaign();
    net.processAll();
    net.deliver();
    net.processAll();
    net.deliver(); // votes granted: 1 is leader, its no-op not yet committed
    expect(net.status(1).role).toBe('leader');
    expect(net.raw(1).proposeConfChange(change(['add-learner', 4]))).toMatchObject({ ok: false, reason: 'CONF_CHANGE_PENDING' });
    net.stabilize();
    expect(net.raw(1).proposeConfChange(change(['add-learner', 4])).ok).toBe(true);
    expect(net.raw(1).proposeConfChange(change(['add-learner', 5]))).toMatchObject({ ok: false, reason: 'CONF_CHANGE_PENDING' });
    net.stabilize();
    expect(net.raw(1).proposeConfChange(change(['remove', 9]))).toMatchObject({ ok: false, reason: 'INVALID_CONF_CHANGE' });
    expect(net.raw(2).proposeConfChange(change(['add-learner', 5]))).toMatchObject({ ok: false, reason: 'NOT_LEADER', leader: 1 });
  });

  it('a leader that removes itself leads through the joint config, then hands over to a voter of C_new and steps down', () => {
    const net = new Network([1, 2, 3], { preVote: true, checkQuorum: true });
    net.elect(1);
    reconfigure(net, 1, change(['remove', 1]));
    expect(net.status(1).role).toBe('follower');
    expect(confOf(net, 2)).toEqual({ voters: [2, 3], learners: [] });
    expect(net.status(2).commit).toBeGreaterThanOrEqual(net.status(1).commit); // the others learned C_new is committed
    net.tickAll(40);
    const lead = net.leader();
    expect([2, 3]).toContain(lead);
    net.raw(lead).propose(bytes('after=1'));
    net.stabilize();
    expect(net.get(lead === 2 ? 3 : 2).kv.get('after')).toBe('1');
    expect(net.status(1).role).toBe('follower'); // never campaigns again
  });

  it('a removed leader that crashes before anyone learned C_new is committed does not block the cluster', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    expect(net.raw(1).proposeConfChange(change(['remove', 1])).ok).toBe(true);
    for (let i = 0; i < 40 && confOf(net, 1).voters.includes(1); i++) {
      net.processAll();
      net.deliver();
    }
    // Leader 1 is in C_old only: it takes no proposals (its log must not outgrow C_new's).
    expect(net.raw(1).propose(bytes('x=1'))).toMatchObject({ ok: false, reason: 'DROPPED' });
    for (let i = 0; i < 40 && confOf(net, 1).votersOutgoing !== undefined; i++) {
      net.processAll();
      net.deliver({ to: 1 }); // acks reach 1; nothing from 1 reaches the others
      net.queue = net.queue.filter((m) => m.from !== 1);
    }
    expect(confOf(net, 1)).toEqual({ voters: [2, 3], learners: [] }); // 1 applied C_new …
    expect(confOf(net, 2).votersOutgoing).toEqual([1, 2, 3]); // … 2 and 3 still need its vote
    net.crash(1);
    net.restart(1);
    net.tickAll(60);
    expect([2, 3]).toContain(net.leader());
    for (const id of [2, 3]) expect(confOf(net, id)).toEqual({ voters: [2, 3], learners: [] });
  });

  for (const preVote of [false, true]) {
    it(`a removed node that never learned it cannot disrupt (preVote=${preVote})`, () => {
      const net = new Network([1, 2, 3], { preVote, checkQuorum: preVote });
      net.elect(1);
      net.isolate(3);
      reconfigure(net, 1, change(['remove', 3]));
      expect(confOf(net, 3)).toEqual({ voters: [1, 2, 3], learners: [] }); // 3 did not hear of it
      net.tickAll(30); // 3 campaigns (alone) and its term grows if it does not pre-vote
      net.heal();
      const before = net.status(1);
      net.tickAll(60);
      const after = net.status(1);
      expect(after.role).toBe('leader');
      expect(after.term).toBe(before.term);
      expect(net.status(2).term).toBe(before.term);
    });
  }
});

describe('partition in the middle of a joint change', () => {
  it('a side with only one half of the joint quorum can neither commit nor elect', () => {
    const net = new Network([1, 2, 3], { preVote: true, checkQuorum: true });
    net.elect(1);
    net.addNode(4);
    // Enter joint C_old={1,2,3}, C_new={1,2,4}; cut before the leave-joint entry commits.
    expect(net.raw(1).proposeConfChange(change(['add-voter', 4], ['remove', 3])).ok).toBe(true);
    for (let i = 0; i < 40 && confOf(net, 1).votersOutgoing === undefined; i++) {
      net.processAll();
      net.deliver();
    }
    expect(confOf(net, 1).votersOutgoing).toEqual([1, 2, 3]);
    net.partition([1, 3], [2, 4]);
    net.stabilize();
    const commits = [1, 2, 3, 4].map((id) => net.status(id).commit);
    // ReadIndex needs both halves too: 3 alone (C_old) does not confirm it.
    expect(net.raw(1).readIndex('r1').ok).toBe(true);
    net.tickAll(5);
    expect(net.get(1).reads).toHaveLength(0);
    net.tickAll(55);
    // CheckQuorum counts both halves: the leader with only C_old's majority steps down.
    expect(net.status(1).role).not.toBe('leader');
    // {1,3}: a majority of C_old only; {2,4}: of neither. Nothing commits anywhere.
    expect([1, 2, 3, 4].map((id) => net.status(id).commit)).toEqual(commits);
    const leaders = [1, 2, 3, 4].filter((id) => net.status(id).role === 'leader');
    expect(leaders.length).toBeLessThanOrEqual(1);
    net.heal();
    net.tickAll(60);
    const lead = net.leader();
    expect([1, 2, 4]).toContain(lead);
    for (const id of [1, 2, 4]) expect(confOf(net, id)).toEqual({ voters: [1, 2, 4], learners: [] });
  });

  it('a majority of C_new alone is not enough either (commit, ReadIndex, CheckQuorum)', () => {
    const net = new Network([1, 2, 3], { preVote: true, checkQuorum: true });
    net.elect(1);
    net.addNode(4);
    expect(net.raw(1).proposeConfChange(change(['add-voter', 4], ['remove', 3])).ok).toBe(true);
    for (let i = 0; i < 40 && confOf(net, 1).votersOutgoing === undefined; i++) {
      net.processAll();
      net.deliver();
    }
    net.partition([1, 4], [2, 3]); // {1,4}: a majority of C_new = (1 2 4), not of C_old = (1 2 3)
    net.stabilize();
    const commit = net.status(1).commit;
    net.raw(1).readIndex('r1');
    net.tickAll(5);
    expect(net.get(1).reads).toHaveLength(0);
    expect(net.status(1).commit).toBe(commit);
    net.tickAll(30);
    expect(net.status(1).role).not.toBe('leader');
  });

  it('a side with a majority of both halves finishes the change', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.addNode(4);
    expect(net.raw(1).proposeConfChange(change(['add-voter', 4], ['remove', 3])).ok).toBe(true);
    for (let i = 0; i < 40 && confOf(net, 1).votersOutgoing === undefined; i++) {
      net.processAll();
      net.deliver();
    }
    net.partition([1, 2, 4], [3]);
    net.tickAll(5);
    expect(confOf(net, 1)).toEqual({ voters: [1, 2, 4], learners: [] });
    expect(confOf(net, 4)).toEqual({ voters: [1, 2, 4], learners: [] });
  });
});

describe('membership survives restarts', () => {
  for (const compact of [false, true]) {
    it(`a restarted node recovers the membership (${compact ? 'from its snapshot' : 'by replaying its log'})`, () => {
      const net = withLearner();
      reconfigure(net, 1, change(['add-voter', 4]));
      net.raw(1).propose(bytes('a=1'));
      net.stabilize();
      if (compact) net.compact(2);
      net.crash(2);
      net.restart(2);
      expect(confOf(net, 2)).toEqual({ voters: [1, 2, 3, 4], learners: [] });
      net.tickAll(3);
      expect(net.get(2).kv.get('a')).toBe('1');
      expect(confOf(net, 2)).toEqual({ voters: [1, 2, 3, 4], learners: [] });
    });
  }

  it('a blank node (no membership) is brought in by a snapshot, never by replaying the log from nothing', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.raw(1).propose(bytes('a=1'));
    net.stabilize();
    net.addNode(4, true);
    reconfigure(net, 1, change(['add-voter', 4]));
    // No snapshot yet on the leader: 4 holds nothing and stays out of the way.
    net.tickAll(3);
    expect(net.status(4).lastIndex).toBe(0);
    expect(net.status(4).role).toBe('follower');
    net.compact(1);
    net.tickAll(15);
    expect(confOf(net, 4)).toEqual({ voters: [1, 2, 3, 4], learners: [] });
    expect(net.get(4).kv.get('a')).toBe('1');
  });
});

describe('a removed leader that still holds the longest log', () => {
  // Found by `sim --async-disk` (seed 101381, PreVote on). n1 removes itself, commits
  // leaving the joint configuration and hands over to n3, which has not heard of that
  // commit. n3 wins, sends its no-op before its own disk has it (the leader's write runs
  // in parallel with replication) and crashes. It comes back in the joint configuration,
  // needing n1's vote; n1's log is ahead, so n1 refuses — and n1, no voter in its own
  // configuration, used to never campaign: no leader, ever.
  for (const preVote of [false, true]) {
    it(`campaigns once more to hand over again (preVote ${preVote})`, () => {
      const net = new Network([1, 3], { preVote });
      expect(net.elect(1)).toBe(1);
      expect(net.raw(1).proposeConfChange(change(['remove', 1])).ok).toBe(true);
      // Until n1 has left the joint configuration; n3 never hears that this is committed.
      const left = (): boolean => confOf(net, 1).voters.length === 1 && confOf(net, 1).votersOutgoing === undefined;
      for (let i = 0; i < 50; i++) {
        net.processAll();
        net.queue = net.queue.filter((m) => m.type !== 'timeout-now'); // (the hand-over comes below)
        if (left()) break;
        net.deliver({ to: 1 });
        net.deliver({ from: 1, to: 3 });
      }
      expect(confOf(net, 1)).toEqual({ voters: [3], learners: [] });
      net.queue = [];
      expect(confOf(net, 3).votersOutgoing).toEqual([1, 3]);
      // n1 hands over (handOverIfRemoved, at its election timeout): only the timeout-now reaches n3.
      for (let i = 0; i < 30 && !net.queue.some((m) => m.type === 'timeout-now'); i++) {
        net.tick(1);
        net.processReady(1);
        net.queue = net.queue.filter((m) => m.type === 'timeout-now');
      }
      net.deliver({ type: 'timeout-now' });
      // n3 campaigns (a transfer skips pre-vote), n1 votes for it.
      net.processReady(3);
      net.deliver({ to: 1 });
      net.processReady(1);
      net.deliver({ to: 3 });
      expect(net.status(3).role).toBe('leader');
      // n3's first Ready as leader: its no-op goes out before it is written, then n3 crashes.
      const rd = net.raw(3).ready();
      expect(rd.entries.length).toBe(1);
      net.queue = rd.messages.filter((m) => m.type === 'app');
      expect(net.queue.length).toBe(1);
      net.deliver({ to: 1 });
      net.crash(3);
      net.restart(3);
      net.processReady(1);
      net.queue = [];
      expect(net.status(1).lastIndex).toBeGreaterThan(net.status(3).lastIndex);
      // A leader again within a few election timeouts, and writes commit.
      for (let t = 0; t < 200 && !(net.leader() === 3 && net.status(3).commit >= net.status(1).lastIndex); t++) net.tickAll(1);
      expect(net.leader()).toBe(3);
      expect(net.raw(3).propose(bytes('k=v')).ok).toBe(true);
      net.stabilize();
      expect(net.get(3).kv.get('k')).toBe('v');
    });
  }
});
