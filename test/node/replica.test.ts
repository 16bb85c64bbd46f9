/**
 * One Replica driven by hand with crafted Raft messages (no network): the
 * answer to a write whose log entry is overwritten by a new leader.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { drain as drainDriver } from './drive.js';
import { encodeCommand } from '../../src/cache/index.js';
import { Replica } from '../../src/node/replica.js';
import type { WriteOutcome } from '../../src/node/replica.js';
import { NodeError, silentLogger } from '../../src/node/index.js';
import type { Message } from '../../src/raft/index.js';
import { NodeStore } from '../../src/storage/index.js';
import { SeededRng } from '../../src/util/rng.js';

describe('Replica', () => {
  let dir: string;
  let store: NodeStore;
  let sent: Message[];
  let replica: Replica;

  const drain = (): void => drainDriver(replica);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'raftcache-replica-'));
    store = await NodeStore.open(dir);
    sent = [];
    replica = new Replica({
      groupId: 1,
      raft: {
        id: 1,
        electionTick: 10,
        heartbeatTick: 1,
        rng: new SeededRng(7),
        preVote: true,
        checkQuorum: true,
        maxSizePerMsg: 1 << 20,
        maxInflightMsgs: 64,
        maxInflightBytes: 0,
        maxUncommittedBytes: 0,
      },
      cache: { maxEntries: 100, maxBytes: 1 << 20 },
      storage: store.group(1, { voters: [1, 2, 3], learners: [] }),
      clockIntervalMs: 1000,
      touchMaxKeys: 16,
      snapshotEntries: 1000,
      readRetryTicks: 10,
      logger: silentLogger(),
      onSettled: () => {},
      send: (_to, _g, m) => sent.push(m),
      sendTouches: () => {},
    });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  function becomeLeader(): void {
    replica.raw.campaign();
    drain();
    replica.raw.step({ type: 'pre-vote-resp', from: 2, to: 1, term: 1, reject: false });
    drain();
    replica.raw.step({ type: 'vote-resp', from: 2, to: 1, term: 1, reject: false });
    drain();
    expect(replica.role).toBe('leader');
    // follower 2 acknowledges the leader's no-op at index 1
    replica.raw.step({ type: 'app-resp', from: 2, to: 1, term: 1, index: 1, reject: false, rejectHint: 0, logTerm: 0 });
    drain();
    expect(replica.applied).toBe(1);
  }

  it('answers a write that commits with its result', async () => {
    becomeLeader();
    const outcome = new Promise<WriteOutcome>((resolve, reject) => {
      replica.propose({ type: 'incr', key: 'n', by: 5 }, 10_000, resolve, reject);
    });
    drain();
    replica.raw.step({ type: 'app-resp', from: 3, to: 1, term: 1, index: 2, reject: false, rejectHint: 0, logTerm: 0 });
    drain();
    await expect(outcome).resolves.toMatchObject({ result: { ok: true, kind: 'incr', value: 5 } });
  });

  it('answers NOT_LEADER (definite) when another leader overwrote the entry', async () => {
    becomeLeader();
    const outcome = new Promise<WriteOutcome>((resolve, reject) => {
      replica.propose({ type: 'put', key: 'k', value: new Uint8Array([1]) }, 10_000, resolve, reject);
    });
    drain(); // our put is entry (2, term 1), not acknowledged by anyone
    const theirs = encodeCommand({ type: 'put', ts: 1, key: 'k', value: new Uint8Array([2]) });
    replica.raw.step({
      type: 'app',
      from: 2,
      to: 1,
      term: 2,
      index: 1,
      logTerm: 1,
      entries: [{ term: 2, index: 2, type: 'normal', data: theirs }],
      commit: 2,
    });
    drain();
    expect(replica.role).toBe('follower');
    const err = await outcome.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NodeError);
    expect(err).toMatchObject({ code: 'NOT_LEADER', definite: true, leader: 2 });
    expect(replica.sm.peek('k')).toEqual(new Uint8Array([2]));
  });

  it('answers a write whose entry left the log before it applied, when a new proposal takes its index (not definite)', async () => {
    becomeLeader();
    const settle = (p: Promise<WriteOutcome>): Promise<unknown> => p.then((o) => o, (e: unknown) => e);
    const mine = [0, 1, 2].map((i) =>
      settle(new Promise<WriteOutcome>((resolve, reject) => {
        replica.propose({ type: 'put', key: `k${i}`, value: new Uint8Array([i]) }, 10_000, resolve, reject);
      })),
    );
    drain(); // entries 2, 3, 4 of term 1, acknowledged by no one
    // A leader of term 2 replaces entry 2 and cuts 3 and 4 from our log (commits nothing).
    const theirs = encodeCommand({ type: 'put', ts: 1, key: 'x', value: new Uint8Array([9]) });
    replica.raw.step({ type: 'app', from: 2, to: 1, term: 2, index: 1, logTerm: 1, entries: [{ term: 2, index: 2, type: 'normal', data: theirs }], commit: 1 });
    drain();
    expect(replica.raw.status().lastIndex).toBe(2);
    // We lead term 3: our no-op takes index 3, the next write index 4.
    replica.raw.campaign();
    drain();
    replica.raw.step({ type: 'pre-vote-resp', from: 3, to: 1, term: 3, reject: false });
    drain();
    replica.raw.step({ type: 'vote-resp', from: 3, to: 1, term: 3, reject: false });
    drain();
    expect(replica.role).toBe('leader');
    const next = settle(new Promise<WriteOutcome>((resolve, reject) => {
      replica.propose({ type: 'put', key: 'new', value: new Uint8Array([7]) }, 10_000, resolve, reject);
    }));
    // The write of term 1 at index 4 can no longer be answered by its index: outcome unknown, said at once.
    expect(await mine[2]).toMatchObject({ code: 'UNAVAILABLE', definite: false });
    drain();
    replica.raw.step({ type: 'app-resp', from: 3, to: 1, term: 3, index: 4, reject: false, rejectHint: 0, logTerm: 0 });
    drain();
    expect(replica.applied).toBe(4);
    // Index 2 (their entry) and 3 (our no-op) applied in other terms: definite NOT_LEADER; the new write succeeds.
    expect(await mine[0]).toMatchObject({ code: 'NOT_LEADER', definite: true });
    expect(await mine[1]).toMatchObject({ code: 'NOT_LEADER', definite: true });
    expect(await next).toMatchObject({ result: { ok: true } });
  });

  it('refuses to propose on a follower with the leader hint', () => {
    expect(() => replica.propose({ type: 'register' }, 1000, () => {}, () => {})).toThrow(NodeError);
  });

  it('serves a batch of linearizable reads with one ReadIndex round', async () => {
    becomeLeader();
    const reads = [0, 1, 2].map(
      () => new Promise<(Uint8Array | null)[]>((resolve, reject) => replica.enqueueRead(['absent'], 10_000, resolve, reject)),
    );
    sent = [];
    replica.issueReads();
    drain();
    const heartbeats = sent.filter((m) => m.type === 'heartbeat' && m.context !== '');
    expect(heartbeats.length).toBe(2); // one round, to both followers
    const ctx = heartbeats[0]?.type === 'heartbeat' ? heartbeats[0].context : '';
    replica.raw.step({ type: 'heartbeat-resp', from: 2, to: 1, term: 1, context: ctx });
    drain();
    expect(await Promise.all(reads)).toEqual([[null], [null], [null]]);
    expect(replica.counters.readIndexBatches).toBe(1);
  });

  it("sends the leader's appends before its own write is durable, and commits on the followers' copies", async () => {
    becomeLeader();
    replica.raw.step({ type: 'app-resp', from: 3, to: 1, term: 1, index: 1, reject: false, rejectHint: 0, logTerm: 0 });
    drain(); // follower 3 out of probing too
    const outcome = new Promise<WriteOutcome>((resolve, reject) => {
      replica.propose({ type: 'incr', key: 'n', by: 1 }, 10_000, resolve, reject);
    });
    sent = [];
    const rd = replica.raw.ready();
    replica.persist(rd);
    const held = replica.sendEarly(rd);
    // The appends of entry 2 are out before any flush; nothing is held.
    const apps = sent.filter((m) => m.type === 'app');
    expect(apps.map((m) => m.to).sort()).toEqual([2, 3]);
    expect(apps.every((m) => m.type === 'app' && m.entries.some((e) => e.index === 2))).toBe(true);
    replica.applyReady(rd);
    // Both followers acknowledge while our own write is still in flight: a majority without us.
    replica.raw.step({ type: 'app-resp', from: 2, to: 1, term: 1, index: 2, reject: false, rejectHint: 0, logTerm: 0 });
    replica.raw.step({ type: 'app-resp', from: 3, to: 1, term: 1, index: 2, reject: false, rejectHint: 0, logTerm: 0 });
    expect(replica.raw.status().commit).toBe(2);
    if (held) replica.sendHeld(held);
    replica.raw.advance();
    drain();
    await expect(outcome).resolves.toMatchObject({ result: { ok: true, kind: 'incr', value: 1 } });
  });

  it("does not count the leader's unpersisted copy: one follower's ack alone does not commit", () => {
    becomeLeader();
    replica.propose({ type: 'incr', key: 'n', by: 1 }, 10_000, () => {}, () => {});
    const rd = replica.raw.ready();
    replica.persist(rd);
    const held = replica.sendEarly(rd);
    replica.applyReady(rd);
    replica.raw.step({ type: 'app-resp', from: 2, to: 1, term: 1, index: 2, reject: false, rejectHint: 0, logTerm: 0 });
    expect(replica.raw.status().commit).toBe(1); // leader's own entry 2 not yet persisted (no advance)
    if (held) replica.sendHeld(held);
    replica.raw.advance(); // now durable: leader + follower 2 are a majority
    expect(replica.raw.status().commit).toBe(2);
  });

  it('holds a follower\'s append answers until the flush', () => {
    sent = [];
    const data = encodeCommand({ type: 'put', ts: 1, key: 'k', value: new Uint8Array([2]) });
    replica.raw.step({ type: 'app', from: 2, to: 1, term: 1, index: 0, logTerm: 0, entries: [{ term: 1, index: 1, type: 'normal', data }], commit: 0 });
    const rd = replica.raw.ready();
    replica.persist(rd);
    const held = replica.sendEarly(rd);
    expect(sent.filter((m) => m.type === 'app-resp')).toEqual([]);
    replica.applyReady(rd);
    if (held) replica.sendHeld(held);
    expect(sent.filter((m) => m.type === 'app-resp').length).toBe(1);
    replica.raw.advance();
  });
});
