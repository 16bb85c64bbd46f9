/**
 * The meta replica driven by hand with crafted Raft messages: a command whose
 * entry left the log is answered (outcome unknown) when a new command takes
 * its index, instead of never.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { drain as drainDriver } from './drive.js';
import { MetaReplica } from '../../src/node/meta-replica.js';
import { NodeError, silentLogger } from '../../src/node/index.js';
import { NodeStore } from '../../src/storage/index.js';
import { encodeMetaCommand } from '../../src/meta/index.js';
import { SeededRng } from '../../src/util/rng.js';

describe('MetaReplica', () => {
  let dir: string;
  let store: NodeStore;
  let meta: MetaReplica;

  const drain = (): void => drainDriver(meta);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'raftcache-meta-replica-'));
    store = await NodeStore.open(dir);
    meta = new MetaReplica(0, {
      raft: {
        id: 1,
        electionTick: 10,
        heartbeatTick: 1,
        rng: new SeededRng(3),
        preVote: true,
        checkQuorum: true,
        maxSizePerMsg: 1 << 20,
        maxInflightMsgs: 64,
        maxInflightBytes: 0,
        maxUncommittedBytes: 0,
      },
      storage: store.group(0, { voters: [1, 2, 3], learners: [] }),
      bootstrap: null,
      logger: silentLogger(),
      send: () => {},
      onMapChanged: () => {},
      onRoleChanged: () => {},
    });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  function lead(term: number): void {
    meta.raw.campaign();
    drain();
    meta.raw.step({ type: 'pre-vote-resp', from: 2, to: 1, term, reject: false });
    drain();
    meta.raw.step({ type: 'vote-resp', from: 2, to: 1, term, reject: false });
    drain();
    expect(meta.role).toBe('leader');
  }

  it('answers UNAVAILABLE (not definite) for a command whose index a later term reuses', async () => {
    lead(1);
    const settle = (p: Promise<unknown>): Promise<unknown> => p.then((r) => r, (e: unknown) => e);
    const old = [1, 2, 3].map((ts) => settle(meta.propose({ type: 'tick', ts }, 60_000)));
    drain(); // entries 2, 3, 4 of term 1, acknowledged by no one
    // A leader of term 2 replaces entry 2 and cuts 3 and 4 from our log.
    const other = encodeMetaCommand({ type: 'tick', ts: 9 });
    meta.raw.step({ type: 'app', from: 3, to: 1, term: 2, index: 1, logTerm: 1, entries: [{ term: 2, index: 2, type: 'normal', data: other }], commit: 1 });
    drain();
    lead(3); // our no-op takes index 3
    const next = settle(meta.propose({ type: 'tick', ts: 10 }, 60_000)); // index 4, where the third old command was
    expect(await old[2]).toMatchObject({ code: 'UNAVAILABLE', definite: false });
    drain();
    meta.raw.step({ type: 'app-resp', from: 2, to: 1, term: 3, index: 4, reject: false, rejectHint: 0, logTerm: 0 });
    drain();
    expect(meta.applied).toBe(4);
    expect(await old[0]).toMatchObject({ code: 'NOT_LEADER', definite: true });
    expect(await old[1]).toMatchObject({ code: 'NOT_LEADER', definite: true });
    expect(await next).not.toBeInstanceOf(NodeError);
  });
});
