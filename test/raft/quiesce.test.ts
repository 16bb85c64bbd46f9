/**
 * Quiescence (src/raft/quiesce.ts, README decision 22): the wake and quiesce
 * paths, and that the timers it stops come back with the right semantics
 * (leases, CheckQuorum). Safety never depends on it; these tests pin the
 * liveness behaviour. 15-quiesce.txt shows the message flow.
 */
import { describe, expect, it } from 'vitest';
import { NONE, WAKE_CONTEXT } from '../../src/raft/index.js';
import type { Message, NodeId } from '../../src/raft/index.js';
import { Network, bytes } from './network.js';
import { Quiescence, leaderQuiesceBlocker } from '../../src/raft/quiesce.js';
import type { LeaderQuiesceView } from '../../src/raft/quiesce.js';
import type { NetworkOptions } from './network.js';

const BASE: NetworkOptions = { preVote: true, checkQuorum: true, quiesce: true, seed: 7 };

/** A 3-node group led by 1, quiesced. */
function quiesced(opts: NetworkOptions = {}): Network {
  const net = new Network([1, 2, 3], { ...BASE, ...opts });
  expect(net.elect(1)).toBe(1);
  net.tickAll(2);
  for (const id of [1, 2, 3]) expect(net.status(id).quiesced, `node ${id} quiesced`).toBe(true);
  return net;
}

function queued(net: Network, filter: (m: Message) => boolean): Message[] {
  return net.queue.filter(filter);
}

describe('quiescence', () => {
  it('an idle group sends nothing while ticking, for a long time', () => {
    const net = quiesced();
    let sent = 0;
    for (let t = 0; t < 500; t++) {
      for (const id of [1, 2, 3]) net.tick(id);
      net.processAll();
      sent += net.queue.length;
      net.stabilize();
    }
    expect(sent).toBe(0);
    expect(net.status(1).role).toBe('leader');
    expect(net.status(1).term).toBe(1);
  });

  it('is off by default: the leader keeps heartbeating', () => {
    const net = new Network([1, 2, 3], { preVote: true, checkQuorum: true });
    net.elect(1);
    net.tickAll(5);
    expect(net.status(1).quiesced).toBe(false);
    net.tick(1);
    net.processAll();
    expect(queued(net, (m) => m.type === 'heartbeat').length).toBe(2);
  });

  it('the leader wakes on a proposal, replicates, and quiesces again once all is committed', () => {
    const net = quiesced();
    const r = net.raw(1).propose(bytes('a=1'));
    expect(r.ok).toBe(true);
    expect(net.status(1).quiesced).toBe(false);
    net.processAll();
    net.deliver({ from: 1 });
    net.processAll();
    expect(net.status(2).quiesced).toBe(false); // the append woke it ...
    // ... and, new entries showing the leader is awake, it does not ask it to heartbeat.
    expect(queued(net, (m) => m.type === 'heartbeat-resp' && m.context === WAKE_CONTEXT)).toEqual([]);
    net.stabilize();
    expect(net.get(2).kv.get('a')).toBe('1');
    net.tickAll(2);
    for (const id of [1, 2, 3]) expect(net.status(id).quiesced).toBe(true);
  });

  it('the leader wakes on a local read and confirms it with a heartbeat round', () => {
    const net = quiesced();
    expect(net.raw(1).readIndex('r').ok).toBe(true);
    expect(net.status(1).quiesced).toBe(false);
    net.processAll();
    expect(queued(net, (m) => m.type === 'heartbeat' && m.context.startsWith('read-')).length).toBe(2);
    net.stabilize();
    expect(net.get(1).reads.map((x) => x.context)).toEqual(['r']);
  });

  it('a follower read wakes the follower and, through its read-index, the leader', () => {
    const net = quiesced();
    expect(net.raw(3).readIndex('r3').ok).toBe(true);
    expect(net.status(3).quiesced).toBe(false);
    net.processAll();
    expect(queued(net, (m) => m.from === 3 && m.type === 'heartbeat-resp' && m.context === WAKE_CONTEXT).length).toBe(1);
    net.deliver({ from: 3 });
    expect(net.status(1).quiesced).toBe(false);
    net.stabilize();
    expect(net.get(3).reads.map((x) => x.context)).toEqual(['r3']);
  });

  it('a follower wakes on a message from another node and asks its leader to heartbeat', () => {
    const net = quiesced();
    // Node 3 (say, told by its liveness detector that 1 is gone) campaigns.
    net.raw(3).forgetLeader();
    net.raw(3).campaign();
    net.processAll();
    net.deliver({ from: 3, to: 2 });
    expect(net.status(2).quiesced).toBe(false);
    // Node 2 still has a lease on 1 (it woke just now): the pre-vote is ignored,
    // and node 2 tells node 1 to wake up.
    net.processAll();
    expect(queued(net, (m) => m.from === 2 && m.to === 3).length).toBe(0);
    expect(queued(net, (m) => m.from === 2 && m.to === 1 && m.type === 'heartbeat-resp' && m.context === WAKE_CONTEXT).length).toBe(1);
    net.stabilize();
    expect(net.status(1).quiesced).toBe(false);
    // The awake leader brings 3 back; nobody was deposed.
    net.tickAll(3);
    expect(net.status(3).leader).toBe(1);
    expect(net.status(1).term).toBe(1);
  });

  it('a late heartbeat from before the quiesce does not wake a follower', () => {
    const net = quiesced();
    // What a heartbeat sent before the quiesce looks like when it arrives late (or twice).
    net.raw(2).step({ type: 'heartbeat', from: 1, to: 2, term: 1, commit: 1, context: '' });
    net.stabilize();
    expect(net.status(2).quiesced).toBe(true);
    net.raw(2).step({ type: 'app', from: 1, to: 2, term: 1, index: 1, logTerm: 1, entries: [], commit: 1 });
    net.stabilize();
    expect(net.status(2).quiesced).toBe(true);
    net.tickAll(100);
    expect(net.status(2).role).toBe('follower');
    expect(net.status(1).term).toBe(1);
  });

  it('unquiesce() on the followers of a dead leader leads to an election', () => {
    const net = quiesced();
    net.crash(1);
    net.tickAll(200);
    expect(net.status(2).leader).toBe(1); // timers stopped: nobody noticed
    net.raw(2).unquiesce();
    net.raw(3).unquiesce();
    let rounds = 0;
    while (net.leader() === NONE || net.leader() === 1) {
      net.tickAll(1);
      if (++rounds > 100) throw new Error('no election after unquiesce');
    }
    expect([2, 3]).toContain(net.leader());
    expect(rounds).toBeGreaterThanOrEqual(10); // after a full randomized timeout, not at once
  });

  it('forgetLeader() lets followers grant pre-votes at once: an election within about one timeout', () => {
    const net = quiesced();
    net.crash(1);
    net.raw(2).forgetLeader();
    net.raw(3).forgetLeader();
    let rounds = 0;
    while (net.leader() === NONE || net.leader() === 1) {
      net.tickAll(1);
      if (++rounds > 100) throw new Error('no election after forgetLeader');
    }
    expect(rounds).toBeLessThan(20);
  });

  it('a lagging follower prevents quiescence', () => {
    const net = quiesced();
    net.isolate(3);
    net.raw(1).propose(bytes('b=2'));
    net.stabilize();
    net.tickAll(20);
    expect(net.status(1).quiesced).toBe(false);
    expect(net.raw(1).quiesceBlocker()).toBe('lagging-member');
    net.tick(1);
    net.processAll();
    expect(queued(net, (m) => m.from === 1 && m.type === 'heartbeat' && m.context === '').length).toBe(2);
    net.heal();
    net.tickAll(5);
    expect(net.status(1).quiesced).toBe(true);
    expect(net.raw(1).quiesceBlocker()).toBe(null);
    expect(net.status(3).commit).toBe(net.status(1).commit);
  });

  it('a lagging member on a node reported down does not keep the group awake, and is caught up when back', () => {
    const net = quiesced();
    net.crash(3);
    net.raw(1).propose(bytes('c=3'));
    net.stabilize();
    net.tickAll(5);
    expect(net.raw(1).quiesceBlocker()).toBe('lagging-member');
    net.raw(1).markPeerDown(3, true);
    net.tickAll(2);
    expect(net.status(1).quiesced).toBe(true);
    expect(net.status(2).quiesced).toBe(true);
    // Only the down member still gets a heartbeat each interval: a plain one (it is behind), never a quiesce.
    net.tick(1);
    net.processAll();
    expect(queued(net, (m) => m.from === 1).map((m) => (m.type === 'heartbeat' ? `${m.to}:${m.commit}:${m.context}` : m.type))).toEqual(['3:1:']);
    net.stabilize();
    // It comes back: its answer makes the quiesced leader catch it up, and it then quiesces too.
    net.restart(3);
    net.tickAll(3);
    expect(net.status(3).commit).toBe(net.status(1).commit);
    expect(net.get(3).kv.get('c')).toBe('3');
    net.raw(1).markPeerDown(3, false);
    net.tickAll(3);
    for (const id of [1, 2, 3] as NodeId[]) expect(net.status(id).quiesced, `node ${id}`).toBe(true);
  });

  it('a lagging member reported up again wakes the quiesced leader', () => {
    const net = quiesced();
    net.isolate(3);
    net.raw(1).propose(bytes('d=4'));
    net.stabilize();
    net.raw(1).markPeerDown(3, true);
    net.tickAll(3);
    expect(net.status(1).quiesced).toBe(true);
    net.raw(1).markPeerDown(3, false);
    expect(net.status(1).quiesced).toBe(false);
    net.heal();
    net.tickAll(5);
    expect(net.get(3).kv.get('d')).toBe('4');
    expect(net.status(1).quiesced).toBe(true);
  });

  it('a quiesce heartbeat from a stale term is answered with our term and ignored', () => {
    const net = quiesced();
    const quiesce = (term: number, commit: number): Message => ({ type: 'heartbeat', from: 1, to: 2, term, commit, context: 'quiesce-99' });
    // Move node 2 to term 5 (as if a newer leader existed), awake.
    net.raw(2).unquiesce();
    net.raw(2).step({ type: 'heartbeat', from: 3, to: 2, term: 5, commit: 1, context: '' });
    net.stabilize();
    net.queue = [];
    net.raw(2).step(quiesce(1, 1));
    expect(net.status(2).quiesced).toBe(false);
    net.processAll();
    expect(queued(net, (m) => m.from === 2 && m.to === 1).map((m) => `${m.type}@${m.term}`)).toEqual(['app-resp@5']);
  });

  it('a follower whose log does not end at the commit index refuses to quiesce and answers plainly', () => {
    const net = new Network([1, 2, 3], BASE);
    net.elect(1);
    net.stabilize();
    // Node 2 holds an entry node 1 has not committed (a quiesce heartbeat for commit 1).
    net.raw(1).propose(bytes('x=1'));
    net.processAll();
    net.deliver({ to: 2, type: 'app' });
    net.processAll();
    net.queue = [];
    net.raw(2).step({ type: 'heartbeat', from: 1, to: 2, term: 1, commit: 1, context: 'quiesce-7' });
    expect(net.status(2).quiesced).toBe(false);
    net.processAll();
    expect(queued(net, (m) => m.from === 2 && m.type === 'heartbeat-resp').map((m) => m.type === 'heartbeat-resp' && m.context)).toEqual(['']);
  });

  it('a leader keeps sending quiesce heartbeats to members that did not ack; a stale ack does not count', () => {
    const net = new Network([1, 2, 3], BASE);
    net.elect(1);
    net.tick(1);
    net.processAll();
    const first = queued(net, (m) => m.type === 'heartbeat' && m.context === 'quiesce-1');
    expect(first.length).toBe(2);
    net.deliver({ to: 2 });
    net.drop(3, 1); // 3's acks are lost
    net.stabilize();
    expect(net.status(1).quiesced).toBe(true);
    for (let i = 0; i < 3; i++) {
      expect(net.raw(1).isQuiesced()).toBe(false); // it still has to tick: 3 has not acked
      net.tick(1);
      net.processAll();
      expect(queued(net, (m) => m.from === 1).map((m) => m.to)).toEqual([3]);
      net.stabilize();
    }
    net.heal();
    net.tickAll(1);
    expect(net.raw(1).isQuiesced()).toBe(true);
    expect(net.raw(2).isQuiesced()).toBe(true);
    // Now 3 acked round 1: nothing more is sent.
    net.tick(1);
    net.processAll();
    expect(queued(net, (m) => m.from === 1).length).toBe(0);
    // Wake and quiesce again (round 2); an old round-1 ack from 2 does not count for it.
    net.raw(1).unquiesce();
    net.tickAll(1);
    net.tick(1);
    net.processAll();
    expect(queued(net, (m) => m.from === 1 && m.type === 'heartbeat' && m.context === 'quiesce-2').length).toBe(2);
    net.queue = [];
    net.raw(1).step({ type: 'heartbeat-resp', from: 2, to: 1, term: 1, context: 'quiesce-1' });
    net.tick(1);
    net.processAll();
    expect(queued(net, (m) => m.from === 1).map((m) => m.to)).toEqual([2, 3]);
  });

  it('a follower with quiescence disabled never acks, so it keeps receiving heartbeats and never times out', () => {
    const net = new Network([1, 2, 3], BASE);
    // Rebuild node 3 without quiescence (a mixed configuration).
    const n3 = net.get(3);
    const cfg = { ...net.config(3), quiesce: false };
    n3.node = new (net.raw(3).constructor as new (c: typeof cfg, s: typeof n3.storage) => typeof n3.node)(cfg, n3.storage);
    net.elect(1);
    net.tickAll(200);
    expect(net.status(1).quiesced).toBe(true);
    expect(net.status(3).quiesced).toBe(false);
    expect(net.status(3).role).toBe('follower');
    expect(net.status(3).term).toBe(1);
    net.tick(1);
    net.processAll();
    expect(queued(net, (m) => m.from === 1).map((m) => m.to)).toEqual([3]);
  });

  it('a leader woken after a long quiet does not step down for want of answers during the quiet', () => {
    const net = quiesced();
    net.tickAll(1000);
    net.raw(1).propose(bytes('late=1'));
    // Drop every answer for a while: CheckQuorum must still give a full interval after the wake.
    net.drop(2, 1);
    net.drop(3, 1);
    for (let t = 0; t < 10; t++) net.tickAll(1);
    expect(net.status(1).role).toBe('leader');
    net.heal();
    net.tickAll(30);
    expect(net.status(1).role).toBe('leader');
    expect(net.status(1).term).toBe(1);
    expect(net.get(2).kv.get('late')).toBe('1');
  });

  it('a quiesced leader cut off from everyone and woken by its liveness detector steps down (CheckQuorum)', () => {
    const net = quiesced();
    net.isolate(1);
    net.tickAll(300);
    expect(net.status(1).role).toBe('leader'); // quiet: CheckQuorum stopped
    net.raw(1).unquiesce();
    let rounds = 0;
    while (net.status(1).role === 'leader') {
      net.tickAll(1);
      if (++rounds > 40) throw new Error('isolated leader did not step down');
    }
    expect(rounds).toBeGreaterThan(10); // not at once: one full interval of grace
  });

  it('a woken follower holds its lease on the leader for one election timeout only', () => {
    const net = quiesced({ seed: 11 });
    net.crash(1);
    net.tickAll(500);
    // A pre-vote wakes node 2; it ignores it (it woke just now, the lease is fresh) ...
    const preVote = (): Message => ({ type: 'pre-vote', from: 3, to: 2, term: 2, index: 1, logTerm: 1, transfer: false });
    net.raw(2).step(preVote());
    net.processAll();
    expect(queued(net, (m) => m.from === 2 && m.to === 3).length).toBe(0);
    // ... but after an election timeout without hearing from the leader, it grants.
    for (let t = 0; t < 10; t++) net.tick(2);
    net.queue = [];
    net.raw(2).step(preVote());
    net.processAll();
    const answers = queued(net, (m) => m.from === 2 && m.to === 3);
    expect(answers.map((m) => (m.type === 'pre-vote-resp' ? (m.reject ? 'reject' : 'grant') : m.type))).toEqual(['grant']);
  });

  it('a restarted follower is caught by the leader once the leader is told its peer is back', () => {
    const net = quiesced();
    net.crash(2);
    net.restart(2);
    // The node layer sees peer 2 come back: it wakes the groups it leads.
    net.raw(1).unquiesce();
    net.tickAll(3);
    expect(net.status(2).leader).toBe(1);
    net.tickAll(100);
    expect(net.status(1).term).toBe(1);
    for (const id of [1, 2, 3] as NodeId[]) expect(net.status(id).quiesced).toBe(true);
  });

  it('transfer wakes the leader and the target campaigns', () => {
    const net = quiesced();
    net.raw(1).transferLeadership(2);
    net.stabilize();
    expect(net.leader()).toBe(2);
    net.tickAll(3);
    for (const id of [1, 2, 3] as NodeId[]) expect(net.status(id).quiesced).toBe(true);
  });
});

describe('leaderQuiesceBlocker', () => {
  const view = (over: Partial<LeaderQuiesceView> = {}): LeaderQuiesceView => ({
    isLeader: true,
    committedCurrentTerm: true,
    lastIndex: 5,
    committed: 5,
    applying: 5,
    pendingReads: 0,
    transferring: false,
    joint: false,
    isVoter: true,
    members: new Map([
      [1, { match: 5, state: 'replicate' }],
      [2, { match: 5, state: 'probe' }],
      [3, { match: 5, state: 'replicate' }],
    ]),
    config: { incoming: [1, 2, 3], outgoing: [] },
    self: 1,
    ...over,
  });
  const heard = (...ids: number[]): Quiescence => {
    const q = new Quiescence(true);
    for (const id of ids) q.hearFrom(id);
    return q;
  };

  it('allows an idle leader that heard from a quorum, and names the first reason otherwise', () => {
    expect(leaderQuiesceBlocker(view(), heard(2))).toBe(null);
    expect(leaderQuiesceBlocker(view(), new Quiescence(false))).toBe('disabled');
    expect(leaderQuiesceBlocker(view(), heard())).toBe('quorum-not-heard');
    expect(leaderQuiesceBlocker(view({ isLeader: false }), heard(2))).toBe('not-leader');
    expect(leaderQuiesceBlocker(view({ committedCurrentTerm: false }), heard(2))).toBe('not-committed-own-term');
    expect(leaderQuiesceBlocker(view({ committed: 4, applying: 4 }), heard(2))).toBe('uncommitted-entries');
    expect(leaderQuiesceBlocker(view({ applying: 4 }), heard(2))).toBe('unapplied-entries');
    expect(leaderQuiesceBlocker(view({ pendingReads: 1 }), heard(2))).toBe('pending-reads');
    expect(leaderQuiesceBlocker(view({ transferring: true }), heard(2))).toBe('transfer');
    expect(leaderQuiesceBlocker(view({ joint: true }), heard(2))).toBe('joint-config');
    expect(leaderQuiesceBlocker(view({ isVoter: false }), heard(2))).toBe('not-voter');
    const lagging = new Map([[1, { match: 5, state: 'replicate' }], [2, { match: 4, state: 'replicate' }]]);
    expect(leaderQuiesceBlocker(view({ members: lagging }), heard(2))).toBe('lagging-member');
    const snapshot = new Map([[1, { match: 5, state: 'replicate' }], [2, { match: 5, state: 'snapshot' }]]);
    expect(leaderQuiesceBlocker(view({ members: snapshot }), heard(2))).toBe('lagging-member');
  });

  it('needs both majorities of a joint quorum to have been heard from', () => {
    const q = heard(2);
    const joint = view({ config: { incoming: [1, 2, 3], outgoing: [1, 4, 5] } });
    expect(leaderQuiesceBlocker(joint, q)).toBe('quorum-not-heard');
    q.hearFrom(4);
    expect(leaderQuiesceBlocker(joint, q)).toBe(null);
  });
});
