/**
 * Several Readies outstanding (RawNode, decision 27): a driver keeps taking
 * Readies while earlier ones are being written, and advances them in order.
 */
import { describe, expect, it } from 'vitest';
import { sendsBeforePersist } from '../../src/raft/index.js';
import type { Ready } from '../../src/raft/index.js';
import { Network, bytes, text } from './network.js';

/** Writes a Ready to the node's storage (what a completed flush does). */
function persist(net: Network, id: number, rd: Ready): void {
  const n = net.get(id);
  if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
  n.storage.append(rd.entries);
  if (rd.hardState) n.storage.setHardState(rd.hardState);
}

/** Queues a Ready's messages (the test decides when they are delivered). */
function sendAll(net: Network, rd: Ready): void {
  for (const m of rd.messages) net.queue.push(m);
}

function entryTexts(rd: Ready): string[] {
  return rd.entries.filter((e) => e.data.byteLength > 0).map((e) => text(e.data));
}

describe('RawNode with several Readies outstanding', () => {
  it('hands out each entry once and counts the leader only once a Ready is advanced', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(3); // commit then needs the leader's own durable copy
    const leader = net.raw(1);
    leader.propose(bytes('a=1'));
    const rd1 = leader.ready();
    expect(entryTexts(rd1)).toEqual(['a=1']);
    sendAll(net, rd1);
    leader.propose(bytes('b=2'));
    expect(leader.hasReady()).toBe(true);
    const rd2 = leader.ready();
    expect(entryTexts(rd2)).toEqual(['b=2']); // not a=1 again
    sendAll(net, rd2);
    expect(leader.outstandingReadies).toBe(2);

    // Follower 2 acknowledges both; without the leader's copy there is no quorum.
    net.deliver({ to: 2 });
    net.processReady(2);
    net.deliver({ to: 1 });
    const indexA = rd1.entries[0]!.index;
    const indexB = rd2.entries[0]!.index;
    expect(net.status(1).commit).toBeLessThan(indexA);

    persist(net, 1, rd1);
    leader.advance();
    expect(net.status(1).commit).toBe(indexA); // b=2 is not durable on the leader yet
    persist(net, 1, rd2);
    leader.advance();
    expect(net.status(1).commit).toBe(indexB);
    expect(leader.outstandingReadies).toBe(0);
    const rd3 = leader.ready();
    expect(rd3.entries).toEqual([]);
    expect(rd3.committedEntries.map((e) => text(e.data))).toEqual(['a=1', 'b=2']);
  });

  it('applies committed entries of a Ready whose write is still in flight', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const follower = net.raw(2);
    net.raw(1).propose(bytes('x=9'));
    net.processReady(1);
    net.deliver({ to: 2 }); // append
    const rd1 = follower.ready();
    expect(entryTexts(rd1)).toEqual(['x=9']);
    // The leader commits on follower 3's answer and tells follower 2 while rd1 is still being written.
    net.deliver({ to: 3 });
    net.processReady(3);
    net.deliver({ from: 3, to: 1 });
    net.processReady(1);
    net.tick(1, 3); // a heartbeat carries the commit
    net.processReady(1);
    net.deliver({ from: 1, to: 2 });
    expect(follower.hasReady()).toBe(true);
    const rd2 = follower.ready();
    expect(rd2.entries).toEqual([]);
    expect(rd2.committedEntries.map((e) => text(e.data))).toEqual(['x=9']);
    persist(net, 2, rd1);
    follower.advance();
    follower.advance();
    expect(follower.status().applied).toBe(rd1.entries[0]!.index);
  });

  it('waits for a Ready with a term change to be advanced before the next one', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const follower = net.raw(2);
    net.raw(1).propose(bytes('k=1'));
    net.processReady(1);
    net.deliver({ to: 2 });
    const rd1 = follower.ready(); // entries in flight
    expect(rd1.entries.length).toBe(1);
    follower.campaign(); // a new term and a vote for itself
    expect(follower.hasReady()).toBe(true);
    const rd2 = follower.ready();
    expect(rd2.hardState?.term).toBeGreaterThan(rd1.hardState?.term ?? 0);
    expect(rd2.mustSync).toBe(true);
    follower.tick(); // anything
    expect(follower.hasReady()).toBe(false);
    expect(() => follower.ready()).toThrow(/advance/);
    persist(net, 2, rd1);
    follower.advance();
    expect(follower.hasReady()).toBe(false); // rd2 still outstanding
    persist(net, 2, rd2);
    follower.advance();
    expect(follower.outstandingReadies).toBe(0);
  });

  it('hands out the replacement of an entry still in flight when a new leader overwrites it', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.stabilize();
    // Leader 1 appends old=1 and crashes before writing it; only follower 2 got the append.
    net.raw(1).propose(bytes('old=1'));
    const lost = net.raw(1).ready();
    for (const m of lost.messages) if (m.to === 2) net.queue.push(m);
    net.deliver({ to: 2 });
    const follower = net.raw(2);
    const rd1 = follower.ready();
    expect(entryTexts(rd1)).toEqual(['old=1']); // in flight from here on
    const oldIndex = rd1.entries[0]!.index;
    const oldTerm = rd1.entries[0]!.term;
    net.crash(1);
    net.restart(1);
    // Node 3 wins with node 1's vote; its messages to node 2 wait in the queue.
    net.raw(3).campaign();
    for (let i = 0; i < 20 && net.status(3).role !== 'leader'; i++) {
      net.processReady(3);
      net.processReady(1);
      net.deliver({ from: 3, to: 1 });
      net.deliver({ from: 1, to: 3 });
    }
    expect(net.status(3).role).toBe('leader');
    net.processReady(3);
    // Node 2 hears the new term and the leader's first append (its no-op at oldIndex) in one go.
    net.deliver({ from: 3, to: 2 });
    expect(follower.hasReady()).toBe(true);
    const rd2 = follower.ready();
    expect(rd2.hardState?.term).toBe(net.status(3).term);
    const replacement = rd2.entries.find((e) => e.index === oldIndex);
    expect(replacement?.term).toBe(net.status(3).term);
    expect(replacement?.term).not.toBe(oldTerm);
    expect(follower.hasReady()).toBe(false); // rd2 changed the term: a barrier
    persist(net, 2, rd1); // the writes land in order: old=1, then its replacement
    follower.advance();
    persist(net, 2, rd2);
    follower.advance();
    sendAll(net, rd2);
    net.raw(3).propose(bytes('new=1'));
    net.stabilize();
    expect(net.get(2).kv.get('new')).toBe('1');
    expect(net.get(2).kv.has('old')).toBe(false);
    const stored = net.get(2).storage.entries(oldIndex, net.get(2).storage.lastIndex() + 1, Number.POSITIVE_INFINITY);
    expect(stored[0]!.term).toBe(net.status(3).term);
    expect(stored.map((e) => text(e.data))).not.toContain('old=1');
  });

  it('lets a candidate ask for votes before its term is durable, and nothing it does as leader leave before', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const cand = net.raw(2);
    cand.campaign();
    const rd = cand.ready(); // the new term and self-vote: a barrier, not written yet
    const votes = rd.messages.filter((m) => m.type === 'vote');
    expect(votes.length).toBe(2);
    const termStable = rd.hardState === null; // (the Ready changes the term)
    expect(termStable).toBe(false);
    for (const m of rd.messages) expect(sendsBeforePersist(m.type, termStable)).toBe(m.type === 'vote' || m.type === 'pre-vote');
    // Node 3 grants before the candidate's own write is durable: it wins in memory...
    for (const m of votes) net.queue.push(m);
    net.deliver({ to: 3 });
    net.processReady(3);
    net.deliver({ from: 3, to: 2 });
    expect(cand.status().role).toBe('leader');
    // ...but its appends wait behind the barrier until that write is advanced.
    expect(cand.hasReady()).toBe(false);
    // It crashes first: it restarts at the old term and without that vote, and was leader of nothing.
    const oldTerm = net.get(2).storage.initialState().hardState.term;
    expect(oldTerm).toBe(rd.hardState?.term === undefined ? -1 : rd.hardState.term - 1);
    net.crash(2);
    net.restart(2);
    expect(net.status(2).term).toBe(oldTerm);
    expect(net.status(2).role).toBe('follower');
  });

  it('holds every answer, and every message of a Ready that changes the term but vote requests, until it is durable', () => {
    const always = ['heartbeat', 'heartbeat-resp', 'read-index', 'read-index-resp', 'app', 'vote', 'pre-vote'] as const;
    const never = ['app-resp', 'vote-resp', 'pre-vote-resp', 'snap', 'timeout-now'] as const;
    for (const t of always) expect(sendsBeforePersist(t, true)).toBe(true);
    for (const t of never) expect([sendsBeforePersist(t, true), sendsBeforePersist(t, false)]).toEqual([false, false]);
    for (const t of always) expect(sendsBeforePersist(t, false)).toBe(t === 'vote' || t === 'pre-vote');
  });
});
