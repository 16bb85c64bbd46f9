import { afterEach, describe, expect, it } from 'vitest';
import { Level } from 'level';
import { CompactedError, UnavailableError } from '../../src/raft/types.js';
import { NodeStore, StorageCorruptionError, StorageFailedError } from '../../src/storage/index.js';
import { decodeRun } from '../../src/storage/codec.js';
import { KIND_RUN, formatKey, parseKey, runKey } from '../../src/storage/keys.js';
import { entries, entry, tempDirs, view } from './helpers.js';

const conf = { voters: [1, 2, 3], learners: [] };
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

/** The first indexes of group `g`'s runs on disk (the store must be closed). */
async function runsOnDisk(dir: string, g: number): Promise<number[]> {
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  const out: number[] = [];
  for await (const k of db.keys()) {
    const p = parseKey(k);
    if (p?.kind === KIND_RUN && p.group === g) out.push(p.first);
  }
  await db.close();
  return out;
}

async function reopen(store: NodeStore, dir: string): Promise<NodeStore> {
  await store.close();
  return NodeStore.open(dir);
}

describe('NodeStore', () => {
  it('round-trips entries, hard state and membership across close/reopen', async () => {
    const dir = dirs.make();
    let store = await NodeStore.open(dir);
    const g = store.group(7, conf);
    const p1 = g.append(entries(1, 5, 1));
    const p2 = g.setHardState({ term: 1, vote: 2, commit: 3 });
    // visible before durable
    expect(g.lastIndex()).toBe(5);
    expect(g.term(4)).toBe(1);
    await Promise.all([p1, p2]);
    await g.setConf({ voters: [1, 2, 3, 4], learners: [5] });
    await g.append([entry(6, 2, 'x', 'conf')]);
    const before = view(g);
    store = await reopen(store, dir);
    expect(store.groups()).toEqual([7]);
    const h = store.group(7, { voters: [9], learners: [] });
    expect(view(h)).toEqual(before);
    expect(h.initialState()).toEqual({ hardState: { term: 1, vote: 2, commit: 3 }, conf: { voters: [1, 2, 3, 4], learners: [5] } });
    expect(h.entries(6, 7)[0]?.type).toBe('conf');
    expect(() => h.entries(2, 8)).toThrow(UnavailableError);
    expect(h.entries(1, 7, 8).map((e) => e.index)).toEqual([1, 2]); // 4 bytes each: stops at maxBytes
    expect(h.entries(1, 7, 1).map((e) => e.index)).toEqual([1]); // at least one
    await store.close();
  });

  it('keeps a joint configuration (outgoing voters, autoLeave) across reopen, in the conf and in a snapshot', async () => {
    const dir = dirs.make();
    let store = await NodeStore.open(dir);
    const g = store.group(2, conf);
    await g.append(entries(1, 4, 1));
    const joint = { voters: [1, 2, 4], learners: [5], votersOutgoing: [1, 2, 3], autoLeave: true };
    const snap = g.createSnapshot(3, new Uint8Array([9, 9]), joint);
    // the membership as of the snapshot becomes the initial membership
    expect(g.initialState().conf).toEqual(joint);
    await store.flush();
    store = await reopen(store, dir);
    const h = store.group(2, conf);
    expect(h.initialState().conf).toEqual(joint);
    expect(h.snapshot().metadata).toEqual(snap.metadata);
    expect(h.snapshot().metadata.conf).toEqual(joint);
    await h.setConf({ voters: [1, 2, 4], learners: [5] }); // left the joint configuration
    store = await reopen(store, dir);
    expect(store.group(2, conf).initialState().conf).toEqual({ voters: [1, 2, 4], learners: [5] });
    await store.close();
  });

  it('a new empty group survives reopen with its initial membership', async () => {
    const dir = dirs.make();
    let store = await NodeStore.open(dir);
    store.group(3, conf);
    store = await reopen(store, dir);
    const g = store.group(3, { voters: [], learners: [] });
    expect(g.initialState()).toEqual({ hardState: { term: 0, vote: 0, commit: 0 }, conf });
    expect([g.firstIndex(), g.lastIndex(), g.term(0)]).toEqual([1, 0, 0]);
    expect(g.snapshot().metadata).toEqual({ index: 0, term: 0, conf });
    await store.close();
  });

  it('truncates a conflicting suffix, deleting the keys above the new last index, durably', async () => {
    const dir = dirs.make();
    let store = await NodeStore.open(dir);
    const g = store.group(1, conf);
    await g.append(entries(1, 10, 1));
    await g.append(entries(4, 6, 2)); // replaces 4..10 by 4..6
    expect(g.lastIndex()).toBe(6);
    expect(g.term(6)).toBe(2);
    store = await reopen(store, dir);
    const h = store.group(1, conf);
    expect(h.lastIndex()).toBe(6);
    expect(h.entries(1, 7).map((e) => e.term)).toEqual([1, 1, 1, 2, 2, 2]);
    await store.close();
    // the run 1..10 was rewritten as 1..3; 4..6 is a run of its own; nothing else survives
    expect(await runsOnDisk(dir, 1)).toEqual([1, 4]);
  });

  it('stores one run per append; a conflict below a straddling compacted run moves it to a new key', async () => {
    const dir = dirs.make();
    let store = await NodeStore.open(dir);
    const g = store.group(1, conf);
    await g.append(entries(1, 4, 1));
    await g.append(entries(5, 8, 1));
    await g.append(entries(9, 12, 1));
    g.createSnapshot(6, Uint8Array.of(1));
    await g.compact(6); // run 1..4 goes; 5..8 straddles and stays
    await g.append(entries(8, 9, 2)); // conflict at 8: 5..8 becomes 7..7 (5 and 6 are compacted), 9..12 goes
    const before = view(g);
    expect([g.firstIndex(), g.lastIndex(), g.term(7), g.term(8)]).toEqual([7, 9, 1, 2]);
    await store.close();
    expect(await runsOnDisk(dir, 1)).toEqual([7, 8]);
    store = await NodeStore.open(dir);
    expect(view(store.group(1, conf))).toEqual(before);
    await store.close();
  });

  it('refuses gaps and replacing entries covered by the snapshot, without changing anything', async () => {
    const store = await NodeStore.open(dirs.make());
    const g = store.group(1, conf);
    await g.append(entries(1, 5, 1));
    expect(() => g.append(entries(7, 8, 1))).toThrow(/gap/);
    g.createSnapshot(3, Uint8Array.of(1));
    expect(() => g.append(entries(3, 6, 2))).toThrow(/snapshot/);
    expect(g.lastIndex()).toBe(5);
    await g.append(entries(4, 6, 2)); // above the snapshot: fine
    expect(() => g.compact(5)).toThrow(/past the snapshot/);
    await store.close();
  });

  it('compacts up to the snapshot and keeps the start term; survives reopen', async () => {
    const dir = dirs.make();
    let store = await NodeStore.open(dir);
    const g = store.group(2, conf);
    await g.append(entries(1, 10, 3));
    await g.setHardState({ term: 3, vote: 1, commit: 8 });
    const snap = g.createSnapshot(6, Uint8Array.of(9, 9), { voters: [1], learners: [] });
    expect(snap.metadata).toEqual({ index: 6, term: 3, conf: { voters: [1], learners: [] } });
    await g.compact(4);
    expect([g.firstIndex(), g.term(4)]).toEqual([5, 3]);
    expect(() => g.term(3)).toThrow(CompactedError);
    expect(() => g.entries(4, 6)).toThrow(CompactedError);
    const before = view(g);
    store = await reopen(store, dir);
    expect(view(store.group(2, conf))).toEqual(before);
    await store.compact(2, 6);
    expect(() => store.compact(3, 1)).toThrow(/no group/);
    store = await reopen(store, dir);
    const h = store.group(2, conf);
    expect([h.firstIndex(), h.lastIndex(), h.term(6)]).toEqual([7, 10, 3]);
    await store.close();
    expect(await runsOnDisk(dir, 2)).toEqual([1]); // the one run 1..10 straddles the log start and stays
  });

  it('installs a snapshot replacing the log; chunked data round-trips and shrinks cleanly', async () => {
    const dir = dirs.make();
    let store = await NodeStore.open(dir, { snapshotChunkSize: 4 });
    const g = store.group(5, conf);
    await g.append(entries(1, 3, 1));
    const big = Uint8Array.from({ length: 23 }, (_, i) => i);
    const members = { voters: [1, 2], learners: [3] };
    await g.applySnapshot({ metadata: { index: 20, term: 4, conf: members }, data: big });
    await g.setHardState({ term: 4, vote: 0, commit: 20 });
    expect([g.firstIndex(), g.lastIndex(), g.term(20)]).toEqual([21, 20, 4]);
    expect(g.initialState().conf).toEqual(members);
    store = await reopen(store, dir);
    let h = store.group(5, conf);
    expect(Array.from(h.snapshot().data)).toEqual(Array.from(big));
    expect(h.snapshot().metadata).toEqual({ index: 20, term: 4, conf: members });
    await h.append(entries(21, 22, 4));
    h.createSnapshot(22, Uint8Array.of(7)); // 6 chunks → 1: the 5 stale chunks must go
    await store.flush();
    await store.close();
    store = await NodeStore.open(dir, { snapshotChunkSize: 4 }); // would fail on leftover chunks
    h = store.group(5, conf);
    expect(Array.from(h.snapshot().data)).toEqual([7]);
    expect(h.snapshot().metadata.index).toBe(22);
    await store.close();
  });

  it('writes of many groups in one turn go in one db.batch', async () => {
    const dir = dirs.make();
    let store = await NodeStore.open(dir);
    const groups = Array.from({ length: 32 }, (_, i) => store.group(100 + i, conf));
    await store.flush();
    const before = store.stats().batches;
    const promises = groups.flatMap((g, i) => [g.append(entries(1, 3 + i, 1)), g.setHardState({ term: 1, vote: 1, commit: 2 })]);
    await Promise.all(promises);
    expect(store.stats().batches - before).toBe(1);
    store = await reopen(store, dir);
    expect(store.groups()).toHaveLength(32);
    groups.forEach((_, i) => expect(store.group(100 + i, conf).lastIndex()).toBe(3 + i));
    await store.close();
  });

  it('refuses to write a batch whose hard state commits beyond the log, and then fails every write', async () => {
    const dir = dirs.make();
    const store = await NodeStore.open(dir);
    const g = store.group(1, conf);
    await g.append(entries(1, 2, 1));
    const bad = g.setHardState({ term: 1, vote: 0, commit: 5 });
    await expect(bad).rejects.toThrow(StorageFailedError);
    expect(() => g.append(entries(3, 3, 1))).toThrow(StorageFailedError);
    await expect(store.flush()).rejects.toThrow(StorageFailedError);
    await store.close();
    const again = await NodeStore.open(dir);
    expect(again.group(1, conf).initialState().hardState.commit).toBe(0);
    await again.close();
  });

  it('close waits for pending writes and refuses later ones', async () => {
    const dir = dirs.make();
    let store = await NodeStore.open(dir);
    const g = store.group(1, conf);
    void g.append(entries(1, 3, 1)); // not awaited: close must wait for it
    await store.close();
    expect(() => g.append(entries(4, 4, 1))).toThrow(/closed/);
    expect(() => store.group(2, conf)).toThrow(/closed/);
    store = await NodeStore.open(dir);
    expect(store.group(1, conf).lastIndex()).toBe(3);
    await store.close();
  });

  it('detects a hole in the log on open', async () => {
    const dir = dirs.make();
    const store = await NodeStore.open(dir);
    const g = store.group(1, conf);
    await g.append(entries(1, 2, 1));
    await g.append(entries(3, 4, 1));
    await g.append(entries(5, 5, 1));
    await store.close();
    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.del(runKey(1, 3));
    await db.close();
    await expect(NodeStore.open(dir)).rejects.toThrow(/not contiguous/);
  });

  it('refuses data of another format version with a clear error', async () => {
    const dir = dirs.make();
    const store = await NodeStore.open(dir);
    await store.group(1, conf).append(entries(1, 2, 1));
    await store.close();
    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.put(formatKey(), Uint8Array.of(1));
    await db.close();
    const err = await NodeStore.open(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageCorruptionError);
    expect(String(err)).toMatch(/unsupported data format 1: this build reads format 3.*empty data directory/);
  });

  it('upgrades a format-2 data dir (one key per entry) to runs in place, nothing lost', async () => {
    const dir = dirs.make();
    const store = await NodeStore.open(dir);
    const g = store.group(1, conf);
    await g.append([...entries(1, 4, 1), entry(5, 2, 'conf', 'conf')]);
    await g.setHardState({ term: 2, vote: 1, commit: 4 });
    await store.group(7, conf).append(entries(1, 2, 3));
    const before = [view(store.group(1, conf)), view(store.group(7, conf))];
    await store.close();
    // Rewrite the log as format 2 had it: kind 0x10, group u32, index u64 → type u8, term u64, data.
    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    for await (const [k, v] of db.iterator()) {
      const p = parseKey(k);
      if (p?.kind !== KIND_RUN) continue;
      await db.del(k);
      for (const e of decodeRun(p.first, v)) {
        const key = new Uint8Array(13);
        const kv = new DataView(key.buffer);
        key[0] = 0x10;
        kv.setUint32(1, p.group);
        kv.setUint32(5, Math.floor(e.index / 2 ** 32));
        kv.setUint32(9, e.index >>> 0);
        const val = new Uint8Array(9 + e.data.byteLength);
        val[0] = e.type === 'conf' ? 1 : 0;
        new DataView(val.buffer).setUint32(5, e.term);
        val.set(e.data, 9);
        await db.put(key, val);
      }
    }
    await db.put(formatKey(), Uint8Array.of(2));
    await db.close();
    const upgraded = await NodeStore.open(dir);
    expect([view(upgraded.group(1, conf)), view(upgraded.group(7, conf))]).toEqual(before);
    await upgraded.close();
    const again = await NodeStore.open(dir); // already format 3: opens as is
    expect([view(again.group(1, conf)), view(again.group(7, conf))]).toEqual(before);
    await again.close();
    const check = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    expect([...((await check.get(formatKey())) ?? [])]).toEqual([3]);
    await check.close();
  });
});
