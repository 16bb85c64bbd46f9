/**
 * The classic Raft pitfalls, one test each, on the in-process test network.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStorage, RawNode } from '../../src/raft/index.js';
import type { Message, MsgApp } from '../../src/raft/index.js';
import { SeededRng } from '../../src/util/rng.js';
import { Network, bytes } from './network.js';

/** Delivers queued messages (processing Readies in between) until quiet, with every entry above `maxIndex` cut from appends. */
function stabilizeCutting(net: Network, maxIndex: number): number {
  let cut = 0;
  for (let i = 0; i < 1000; i++) {
    net.processAll();
    if (net.queue.length === 0) return cut;
    net.queue = net.queue.map((m) => {
      if (m.type !== 'app' || !m.entries.some((e) => e.index > maxIndex)) return m;
      cut++;
      return { ...m, entries: m.entries.filter((e) => e.index <= maxIndex) };
    });
    net.deliver();
  }
  throw new Error('did not stabilize');
}

/** Runs an election at `id` step by step (no other traffic delivered), returning whether it won. */
function electOnly(net: Network, id: number): boolean {
  net.raw(id).campaign();
  for (let i = 0; i < 6; i++) {
    net.processAll();
    net.deliver({ type: i % 2 === 0 ? 'vote' : 'vote-resp' });
    net.deliver({ type: i % 2 === 0 ? 'pre-vote' : 'pre-vote-resp' });
  }
  return net.status(id).role === 'leader';
}

describe('Figure 8: entries of earlier terms commit only with a current-term entry', () => {
  it('a term-2 entry on a majority is not committed by the term-4 leader until its own entry is', () => {
    // maxSizePerMsg=1: every append carries a single entry, so acks can cover index 3 alone.
    const net = new Network([1, 2, 3, 4, 5], { maxSizePerMsg: 1 });
    net.elect(2);
    net.elect(1); // term 2, no-op at index 2, committed everywhere
    expect(net.status(1).term).toBe(2);
    expect(net.status(5).commit).toBe(2);

    // (a) S1 replicates index 3 (term 2) to S2 only.
    net.partition([1, 2], [3], [4], [5]);
    net.raw(1).propose(bytes('xx'));
    net.stabilize();
    net.crash(1);

    // (b) S5 wins term 3 with S3 and S4, appends 3/3 locally, and crashes.
    net.partition([3, 4, 5], [1], [2]);
    expect(electOnly(net, 5)).toBe(true);
    net.processAll();
    net.queue = [];
    net.crash(5);

    // (c) S1 restarts and wins term 4 with S2 and S3; index 3 (term 2) reaches S3,
    // but the no-op of term 4 (index 4) is lost on the way to S2 and S3.
    net.restart(1);
    net.partition([1, 2, 3], [4], [5]);
    let won = false;
    for (let i = 0; i < 3 && !won; i++) won = electOnly(net, 1);
    expect(won).toBe(true);
    expect(net.status(1).term).toBe(4);
    expect(stabilizeCutting(net, 3)).toBeGreaterThan(0);
    for (const id of [1, 2, 3]) expect(net.get(id).storage.term(3)).toBe(2); // on a majority …
    expect(net.status(1).commit).toBe(2); // … and still not committed

    // Once the term-4 entry is on a majority, both commit.
    net.tickAll(3);
    expect(net.status(1).commit).toBe(4);
    expect(net.get(3).kv.size).toBe(0);
    expect(net.get(3).applied.map((e) => e.index)).toEqual([1, 2, 3, 4]);
  });
});

describe('a deposed leader', () => {
  it('cannot commit or confirm a read from the minority side', () => {
    const net = new Network([1, 2, 3, 4, 5]);
    net.elect(1);
    net.partition([1, 2], [3, 4, 5]);
    expect(net.elect(3)).toBe(3);
    // Node 1 still believes it leads (no CheckQuorum here).
    expect(net.status(1).role).toBe('leader');
    expect(net.raw(1).propose(bytes('x=stale')).ok).toBe(true);
    expect(net.raw(1).readIndex('stale-read')).toEqual({ ok: true });
    for (let i = 0; i < 30; i++) {
      net.tick(1);
      net.stabilize();
    }
    expect(net.status(1).commit).toBe(1);
    expect(net.get(1).reads).toEqual([]);
    expect(net.get(2).kv.has('x')).toBe(false);
    // After healing it learns the new term, steps down, and its entry is overwritten.
    net.heal();
    net.tickAll(5);
    expect(net.status(1).role).toBe('follower');
    expect(net.get(1).reads).toEqual([]);
    expect(net.get(1).kv.has('x')).toBe(false);
  });
});

describe('votes survive restarts', () => {
  it('a node restarted after voting does not vote again in that term', () => {
    const net = new Network([1, 2, 3]);
    net.raw(1).campaign();
    net.processAll();
    net.deliver({ to: 2 });
    net.processAll(); // node 2 persists its vote and queues its answer
    net.queue = [];
    net.crash(2);
    net.restart(2);
    expect(net.status(2)).toMatchObject({ term: 1, vote: 1 });
    net.raw(3).campaign(); // also term 1
    net.processAll();
    net.deliver({ from: 3, to: 2 });
    net.processAll();
    const answer = net.queue.find((m) => m.from === 2 && m.to === 3);
    expect(answer).toMatchObject({ type: 'vote-resp', term: 1, reject: true });
  });

  it('a vote response leaves only with the hard state that records the vote', () => {
    const storage = new MemoryStorage([1, 2, 3]);
    const node = new RawNode(
      { id: 2, electionTick: 10, heartbeatTick: 1, rng: new SeededRng(1), preVote: false, checkQuorum: false, maxSizePerMsg: 1024, maxInflightMsgs: 8, maxInflightBytes: 0, maxUncommittedBytes: 0 },
      storage,
    );
    node.step({ type: 'vote', from: 1, to: 2, term: 5, index: 0, logTerm: 0, transfer: false });
    const rd = node.ready();
    expect(rd.messages).toEqual([{ type: 'vote-resp', from: 2, to: 1, term: 5, reject: false }]);
    expect(rd.hardState).toEqual({ term: 5, vote: 1, commit: 0 });
    expect(rd.mustSync).toBe(true);
    node.advance();
    // A vote granted between ready() and advance() comes with its hard state in the next Ready.
    node.step({ type: 'vote', from: 3, to: 2, term: 6, index: 0, logTerm: 0, transfer: false });
    const rd2 = node.ready();
    expect(rd2.messages).toEqual([{ type: 'vote-resp', from: 2, to: 3, term: 6, reject: false }]);
    expect(rd2.hardState).toEqual({ term: 6, vote: 3, commit: 0 });
  });
});

describe('PreVote and CheckQuorum', () => {
  it('PreVote keeps a rejoining node from deposing a healthy leader', () => {
    for (const checkQuorum of [true, false]) {
      const net = new Network([1, 2, 3], { preVote: true, checkQuorum });
      net.elect(1);
      net.isolate(3);
      for (let i = 0; i < 100; i++) {
        net.tickAll(1);
      }
      expect(net.status(3).term).toBe(1); // pre-votes never bump the term
      net.heal();
      // Let node 3's next pre-vote reach the others before any heartbeat reaches node 3.
      for (let i = 0; i < 50 && !net.queue.some((m) => m.type === 'pre-vote'); i++) {
        net.tick(3);
        net.processAll();
      }
      expect(net.queue.some((m) => m.type === 'pre-vote')).toBe(true);
      net.stabilize();
      net.tickAll(20);
      expect(net.leader()).toBe(1);
      for (const id of [1, 2, 3]) expect(net.status(id).term).toBe(1);
    }
  });

  it('without PreVote the same rejoin forces an election (the contrast)', () => {
    const net = new Network([1, 2, 3], { checkQuorum: true });
    net.elect(1);
    net.isolate(3);
    net.tickAll(100);
    expect(net.status(3).term).toBeGreaterThan(1);
    net.heal();
    net.tickAll(40);
    expect(net.status(net.leader()).term).toBeGreaterThan(1);
  });

  it('CheckQuorum steps down a leader cut off from the majority within two election timeouts', () => {
    const net = new Network([1, 2, 3], { checkQuorum: true, electionTick: 10 });
    net.elect(1);
    net.isolate(1);
    net.tick(1, 19);
    expect(net.status(1).role).toBe('leader');
    net.tick(1, 1);
    net.processAll();
    expect(net.status(1).role).toBe('follower');
    expect(net.status(1).term).toBe(1);
  });
});

describe('ReadIndex linearizability', () => {
  it('a follower read never returns a value older than a write acknowledged before the read began', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.raw(1).propose(bytes('x=1'));
    net.stabilize();
    net.drop(1, 3); // node 3 lags: it misses x=2
    net.raw(1).propose(bytes('x=2'));
    net.stabilize();
    expect(net.get(1).kv.get('x')).toBe('2'); // acknowledged to the client
    expect(net.get(3).kv.get('x')).toBe('1');
    net.heal();
    expect(net.raw(3).readIndex('r')).toEqual({ ok: true });
    // Deliver the ReadIndex traffic but no appends yet.
    for (let i = 0; i < 6; i++) {
      net.processAll();
      for (const t of ['read-index', 'heartbeat', 'heartbeat-resp', 'read-index-resp'] as const) net.deliver({ type: t });
    }
    net.queue = net.queue.filter((m) => m.type !== 'app');
    net.processAll();
    expect(net.delivered.get('read-index-resp')).toBe(1);
    expect(net.get(3).reads).toEqual([]); // confirmed at index 3, but applied is 2: wait
    net.tickAll(2);
    expect(net.get(3).reads.map((r) => [r.context, r.index, r.kv.get('x')])).toEqual([['r', 3, '2']]);
  });

  it('a new leader serves no read before it commits an entry of its own term', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.raw(1).propose(bytes('x=1'));
    // x=1 commits on node 1 and is acknowledged; the followers never learn the new commit index.
    net.processAll();
    net.deliver();
    net.processAll();
    net.deliver();
    net.processAll();
    expect(net.get(1).kv.get('x')).toBe('1');
    net.queue = [];
    net.crash(1);
    net.partition([2, 3], [1]);
    expect(electOnly(net, 2)).toBe(true);
    expect(net.status(2).commit).toBe(1); // lags the real commit index (2)
    net.raw(2).readIndex('r');
    net.processAll();
    expect(net.queue.some((m) => m.type === 'heartbeat' && m.context === 'r')).toBe(false);
    net.stabilize();
    const r = net.get(2).reads[0];
    expect(r?.index).toBe(3);
    expect(r?.kv.get('x')).toBe('1');
  });

  it('a single voter answers reads at once (after its own no-op)', () => {
    const net = new Network([1]);
    net.elect(1);
    net.raw(1).propose(bytes('k=v'));
    net.stabilize();
    net.raw(1).readIndex('solo');
    net.processAll();
    expect(net.get(1).reads.map((r) => [r.context, r.index])).toEqual([['solo', 2]]);
    expect(net.delivered.get('heartbeat') ?? 0).toBe(0);
  });
});

describe('leader persistence before counting itself', () => {
  it("the leader's own copy counts toward commit only after advance()", () => {
    const net = new Network([1, 2, 3, 4, 5]);
    net.elect(1);
    const leader = net.raw(1);
    leader.propose(bytes('a=1'));
    const rd = leader.ready(); // not yet persisted
    const st = net.get(1).storage;
    for (const m of rd.messages) net.queue.push(m);
    // Two followers ack before the leader has persisted: 2 of 5.
    net.deliver({ to: 2 });
    net.deliver({ to: 3 });
    net.queue = [];
    net.processReady(2);
    net.processReady(3);
    net.deliver({ to: 1 });
    expect(leader.status().commit).toBe(1);
    st.append(rd.entries);
    if (rd.hardState) st.setHardState(rd.hardState);
    leader.advance();
    expect(leader.status().commit).toBe(2);
  });
});

describe('leadership transfer', () => {
  it('catches the target up, hands over, and refuses proposals meanwhile', () => {
    const net = new Network([1, 2, 3], { preVote: true, checkQuorum: true });
    net.elect(1);
    net.drop(1, 3);
    net.raw(1).propose(bytes('x=1'));
    net.stabilize();
    net.heal();
    net.raw(1).transferLeadership(3);
    expect(net.raw(1).propose(bytes('y=1'))).toEqual({ ok: false, reason: 'DROPPED', leader: 1 });
    net.stabilize();
    expect(net.leader()).toBe(3);
    expect(net.status(3).term).toBe(2);
    expect(net.get(3).kv.get('x')).toBe('1');
  });

  it('is aborted after an election timeout when the target does not answer', () => {
    const net = new Network([1, 2, 3], { electionTick: 10 });
    net.elect(1);
    net.isolate(3);
    net.raw(1).transferLeadership(3);
    expect(net.status(1).leadTransferee).toBe(3);
    expect(net.raw(1).propose(bytes('a=1')).ok).toBe(false);
    net.tickAll(10);
    expect(net.status(1).leadTransferee).toBe(0);
    expect(net.raw(1).propose(bytes('a=1')).ok).toBe(true);
    expect(net.leader()).toBe(1);
  });
});

describe('memory bounds', () => {
  it('refuses proposals beyond maxUncommittedBytes with OVERLOADED until entries commit', () => {
    const net = new Network([1, 2, 3], { maxUncommittedBytes: 10 });
    net.elect(1);
    net.partition([1], [2, 3]);
    const p = (s: string): string => {
      const r = net.raw(1).propose(bytes(s));
      return r.ok ? 'ok' : r.reason;
    };
    expect(p('0123456789abc')).toBe('ok'); // the first proposal always fits, even if large
    expect(p('a=1')).toBe('OVERLOADED');
    net.heal();
    net.tickAll(3);
    expect(net.status(1).commit).toBe(2);
    expect(p('a=1')).toBe('ok');
    expect(p('b=2')).toBe('ok');
    expect(p('c=3')).toBe('ok');
    expect(p('d=4')).toBe('OVERLOADED'); // 12 > 10
  });

  it('bounds the appends in flight to a follower by count and by bytes', () => {
    const count = new Network([1, 2, 3], { maxInflightMsgs: 3, maxSizePerMsg: 4 });
    count.elect(1);
    for (let i = 0; i < 20; i++) count.raw(1).propose(bytes(`k${i}=v`));
    count.processAll();
    const toTwo = count.queue.filter((m): m is MsgApp => m.type === 'app' && m.to === 2);
    expect(toTwo.length).toBe(3);
    expect(toTwo.every((m) => m.entries.length === 1)).toBe(true);

    const byBytes = new Network([1, 2, 3], { maxInflightMsgs: 100, maxInflightBytes: 20, maxSizePerMsg: 10 });
    byBytes.elect(1);
    for (let i = 0; i < 20; i++) byBytes.raw(1).propose(bytes('abcde')); // 5 bytes each
    byBytes.processAll();
    const apps = byBytes.queue.filter((m): m is MsgApp => m.type === 'app' && m.to === 2);
    const inflight = apps.reduce((n, m) => n + m.entries.reduce((s, e) => s + e.data.byteLength, 0), 0);
    expect(inflight).toBe(20);
    expect(apps.length).toBe(2);
    // Everything still gets through once acks flow.
    byBytes.stabilize();
    expect(byBytes.status(2).commit).toBe(21);
  });
});

describe('fast backtracking', () => {
  it('converges in a few round trips on a long divergent log', () => {
    const net = new Network([1, 2, 3], { maxSizePerMsg: 1 << 20 });
    net.elect(1);
    // Node 1 (term 1) appends 100 entries no one else gets.
    net.isolate(1);
    for (let i = 0; i < 100; i++) net.raw(1).propose(bytes(`lost${i}=1`));
    net.processAll();
    net.queue = [];
    // Terms 2..6 on nodes 2 and 3, 20 entries each.
    for (let t = 0; t < 5; t++) {
      const leader = t % 2 === 0 ? 2 : 3;
      expect(net.elect(leader)).toBe(leader);
      for (let i = 0; i < 20; i++) net.raw(leader).propose(bytes(`kept${t}.${i}=1`));
      net.stabilize();
    }
    const leader = net.leader();
    net.heal();
    const before = net.delivered.get('app-resp') ?? 0;
    let rejects = 0;
    net.onEvent = (line) => {
      if (line.startsWith('1->') && line.includes('app-resp') && line.includes('reject')) rejects++;
    };
    net.tickAll(3);
    expect(net.status(1).commit).toBe(net.status(leader).commit);
    expect(net.get(1).storage.allEntries().map((e) => e.term)).toEqual(net.get(leader).storage.allEntries().map((e) => e.term));
    expect(rejects).toBeLessThanOrEqual(2);
    expect((net.delivered.get('app-resp') ?? 0) - before).toBeLessThan(20);
  });
});
