/**
 * Groups coming and going on a node: NodeStore.dropGroup (a replica moved away)
 * and NodeStore.groupFromSnapshot (a replica of a group split off another).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Level } from 'level';
import type { Snapshot } from '../../src/raft/types.js';
import { GroupDroppedError, NodeStore, StorageFailedError } from '../../src/storage/index.js';
import { parseKey } from '../../src/storage/keys.js';
import { entries, tempDirs, view } from './helpers.js';

const conf = { voters: [1, 2, 3], learners: [] };
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

/** Every key of the database, as "kind:group" strings (the store must be closed). */
async function keysOnDisk(dir: string): Promise<string[]> {
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  const out: string[] = [];
  for await (const k of db.keys()) {
    const p = parseKey(k);
    out.push(p === null ? 'unknown' : 'group' in p ? `${p.kind}:${p.group}` : `${p.kind}`);
  }
  await db.close();
  return out;
}

/** A group with several runs, a compacted log, a chunked snapshot and a hard state. */
async function busyGroup(store: NodeStore, id: number): Promise<void> {
  const g = store.group(id, conf);
  await g.append(entries(1, 4, 1));
  await g.append(entries(5, 8, 2));
  await g.setHardState({ term: 2, vote: 1, commit: 7 });
  g.createSnapshot(6, Uint8Array.from({ length: 10 }, (_, i) => i)); // 3 chunks of 4 bytes
  await g.compact(5);
}

const open = (dir: string): Promise<NodeStore> => NodeStore.open(dir, { snapshotChunkSize: 4 });

async function reopen(store: NodeStore, dir: string): Promise<NodeStore> {
  await store.close();
  return open(dir);
}

/** A snapshot as a split hands it to every replica of the new group. */
function splitSnapshot(): Snapshot {
  return {
    metadata: { index: 10, term: 5, conf: { voters: [1, 2, 3], learners: [4], votersOutgoing: [1, 2, 5], autoLeave: false } },
    data: Uint8Array.from({ length: 11 }, (_, i) => 100 + i),
  };
}

describe('NodeStore.dropGroup', () => {
  it('forgets the group at once and removes every key of it; reopen does not find it; others are intact', async () => {
    const dir = dirs.make();
    let store = await open(dir);
    await busyGroup(store, 1);
    await busyGroup(store, 2);
    const other = view(store.group(2, conf));
    const dropped = store.dropGroup(1);
    expect(store.hasGroup(1)).toBe(false);
    expect(store.groups()).toEqual([2]);
    await dropped;
    store = await reopen(store, dir);
    expect(store.groups()).toEqual([2]);
    expect(store.hasGroup(1)).toBe(false);
    expect(view(store.group(2, conf))).toEqual(other);
    await store.close();
    const keys = await keysOnDisk(dir);
    expect(keys.filter((k) => k.endsWith(':1'))).toEqual([]);
    expect(keys.filter((k) => k.endsWith(':2')).length).toBeGreaterThan(4); // metadata, chunks, runs of group 2
  });

  it('the old GroupStorage refuses every write with GroupDroppedError; reads show its last view', async () => {
    const store = await open(dirs.make());
    await busyGroup(store, 1);
    const g = store.group(1, conf);
    const before = view(g);
    await store.dropGroup(1);
    expect(g.isDropped).toBe(true);
    expect(() => g.append(entries(9, 9, 2))).toThrow(GroupDroppedError);
    expect(() => g.setHardState({ term: 3, vote: 0, commit: 7 })).toThrow(GroupDroppedError);
    expect(() => g.setConf(conf)).toThrow(GroupDroppedError);
    expect(() => g.createSnapshot(8, Uint8Array.of(1))).toThrow(/group 1 was dropped/);
    expect(() => g.compact(6)).toThrow(GroupDroppedError);
    expect(() => g.applySnapshot(splitSnapshot())).toThrow(GroupDroppedError);
    expect(() => store.compact(1, 6)).toThrow(/no group 1/);
    expect(view(g)).toEqual(before);
    await store.close();
  });

  it('then group() creates a fresh empty group, in the same batch as the drop and across reopen', async () => {
    const dir = dirs.make();
    let store = await open(dir);
    await busyGroup(store, 3);
    const old = store.group(3, conf);
    const batches = store.stats().batches;
    void store.dropGroup(3);
    const members = { voters: [7, 8, 9], learners: [] };
    const fresh = store.group(3, members);
    expect(fresh).not.toBe(old);
    expect(store.groups()).toEqual([3]);
    await store.flush();
    expect(store.stats().batches - batches).toBe(1);
    const empty = {
      initial: { hardState: { term: 0, vote: 0, commit: 0 }, conf: members },
      first: 1,
      last: 0,
      startTerm: 0,
      entries: [],
      snapshot: { metadata: { index: 0, term: 0, conf: members }, data: [] },
    };
    expect(view(fresh)).toEqual(empty);
    expect(() => old.append(entries(9, 9, 2))).toThrow(GroupDroppedError); // the old object stays dead
    store = await reopen(store, dir); // would fail on a leftover run or chunk of the old group
    expect(view(store.group(3, conf))).toEqual(empty);
    await store.group(3, conf).append(entries(1, 2, 1));
    store = await reopen(store, dir);
    expect(store.group(3, conf).lastIndex()).toBe(2);
    await store.close();
  });

  it('shares one batch with other groups’ writes; the dropped group’s queued writes do not resurrect it', async () => {
    const dir = dirs.make();
    let store = await open(dir);
    await busyGroup(store, 1);
    await busyGroup(store, 2);
    await store.group(3, conf).append(entries(1, 2, 1));
    const batches = store.stats().batches;
    // one turn: writes of the doomed group, of the others, the drop, more writes of the others
    const g1 = store.group(1, conf);
    const queued = [
      g1.append(entries(9, 12, 2)),
      g1.setHardState({ term: 2, vote: 1, commit: 11 }),
      store.group(2, conf).append(entries(9, 10, 3)),
    ];
    g1.createSnapshot(10, Uint8Array.from({ length: 30 }, () => 1)); // 8 chunks, all queued
    const drop = store.dropGroup(1);
    queued.push(store.group(3, conf).append(entries(3, 5, 1)), store.group(2, conf).setHardState({ term: 3, vote: 2, commit: 9 }));
    await Promise.all([...queued, drop]); // the queued writes resolve: they were written, then superseded
    expect(store.stats().batches - batches).toBe(1);
    const others = [view(store.group(2, conf)), view(store.group(3, conf))];
    store = await reopen(store, dir);
    expect(store.groups()).toEqual([2, 3]);
    expect([view(store.group(2, conf)), view(store.group(3, conf))]).toEqual(others);
    expect(store.group(2, conf).initialState().hardState).toEqual({ term: 3, vote: 2, commit: 9 });
    await store.close();
    expect((await keysOnDisk(dir)).filter((k) => k.endsWith(':1'))).toEqual([]);
  });

  it('removes writes that are in flight when it is queued (they land first, the deletes after)', async () => {
    const dir = dirs.make();
    let store = await open(dir);
    await busyGroup(store, 4);
    const g = store.group(4, conf);
    const batches = store.stats().batches;
    const appended = g.append(entries(9, 15, 3));
    void store.flush(); // starts that batch now
    const drop = store.dropGroup(4); // goes into the next batch
    await Promise.all([appended, drop]);
    expect(store.stats().batches - batches).toBe(2);
    store = await reopen(store, dir);
    expect(store.groups()).toEqual([]);
    await store.close();
    expect(await keysOnDisk(dir)).toEqual(['0']); // only the format key is left
  });

  it('is a no-op for a group that does not exist (twice in a row too); refused once the store is closed', async () => {
    const dir = dirs.make();
    const store = await open(dir);
    await busyGroup(store, 1);
    await store.dropGroup(1);
    await store.dropGroup(1);
    await store.dropGroup(99);
    expect(store.groups()).toEqual([]);
    await store.close();
    expect(() => store.dropGroup(1)).toThrow(/closed/);
    expect(() => store.groupFromSnapshot(1, splitSnapshot(), { term: 5, vote: 0, commit: 10 })).toThrow(/closed/);
  });

  it('on a failed store throws and keeps the group', async () => {
    const store = await open(dirs.make());
    const g = store.group(1, conf);
    await g.append(entries(1, 2, 1));
    await expect(g.setHardState({ term: 1, vote: 0, commit: 5 })).rejects.toThrow(StorageFailedError);
    expect(() => store.dropGroup(1)).toThrow(StorageFailedError);
    expect(store.hasGroup(1)).toBe(true);
    await store.close();
  });
});

describe('NodeStore.groupFromSnapshot', () => {
  it('starts the log at the snapshot with its membership and the given hard state; survives reopen exactly', async () => {
    const dir = dirs.make();
    let store = await open(dir);
    const snap = splitSnapshot();
    const hs = { term: 6, vote: 2, commit: 10 };
    const g = store.groupFromSnapshot(8, snap, hs);
    expect(store.hasGroup(8)).toBe(true);
    expect(store.group(8, conf)).toBe(g);
    expect([g.firstIndex(), g.lastIndex(), g.term(10)]).toEqual([11, 10, 5]);
    expect(g.initialState()).toEqual({ hardState: hs, conf: snap.metadata.conf });
    expect(g.snapshot().metadata).toEqual(snap.metadata);
    expect(Array.from(g.snapshot().data)).toEqual(Array.from(snap.data));
    expect(g.entries(11, 11)).toEqual([]);
    const before = view(g);
    await store.flush();
    store = await reopen(store, dir);
    expect(store.groups()).toEqual([8]);
    expect(view(store.group(8, conf))).toEqual(before);
    await store.close();
  });

  it('copies the snapshot data: the caller may reuse its buffer', async () => {
    const dir = dirs.make();
    let store = await open(dir);
    const snap = splitSnapshot();
    const g = store.groupFromSnapshot(8, snap, { term: 5, vote: 0, commit: 10 });
    snap.data.fill(0);
    expect(g.snapshot().data[0]).toBe(100);
    store = await reopen(store, dir);
    expect(store.group(8, conf).snapshot().data[0]).toBe(100);
    await store.close();
  });

  it('then behaves as any group: appends after the snapshot, snapshots, compacts, across reopens', async () => {
    const dir = dirs.make();
    let store = await open(dir);
    const g = store.groupFromSnapshot(8, splitSnapshot(), { term: 5, vote: 0, commit: 10 });
    expect(() => g.append(entries(12, 12, 5))).toThrow(/gap/);
    await g.append(entries(10, 14, 5)); // entry 10 is the snapshot's: skipped, as a compacted one
    expect([g.firstIndex(), g.lastIndex()]).toEqual([11, 14]);
    await g.append(entries(13, 15, 6)); // a conflicting suffix above the snapshot
    await g.setHardState({ term: 6, vote: 1, commit: 14 });
    store = await reopen(store, dir);
    let h = store.group(8, conf);
    expect(h.entries(11, 16).map((e) => [e.index, e.term])).toEqual([[11, 5], [12, 5], [13, 6], [14, 6], [15, 6]]);
    const snap = h.createSnapshot(13, Uint8Array.of(42));
    expect(snap.metadata).toEqual({ index: 13, term: 6, conf: splitSnapshot().metadata.conf });
    await h.compact(12);
    expect([h.firstIndex(), h.term(12)]).toEqual([13, 5]);
    const before = view(h);
    store = await reopen(store, dir);
    h = store.group(8, conf);
    expect(view(h)).toEqual(before);
    await h.compact(13);
    store = await reopen(store, dir);
    h = store.group(8, conf);
    expect([h.firstIndex(), h.lastIndex(), h.term(13)]).toEqual([14, 15, 6]);
    expect(Array.from(h.snapshot().data)).toEqual([42]);
    await store.close();
  });

  it('builds the same group on every replica from the same snapshot', async () => {
    const replicas = await Promise.all([1, 2, 3].map(() => open(dirs.make())));
    // the replicas differ before the split (other groups, other histories)
    await busyGroup(replicas[0] as NodeStore, 1);
    await (replicas[1] as NodeStore).group(1, conf).append(entries(1, 30, 4));
    const views = [];
    for (const r of replicas) {
      const g = r.groupFromSnapshot(2, splitSnapshot(), { term: 5, vote: 0, commit: 10 });
      await g.append(entries(11, 12, 5));
      views.push(view(g));
    }
    expect(views[1]).toEqual(views[0]);
    expect(views[2]).toEqual(views[0]);
    await Promise.all(replicas.map((r) => r.close()));
  });

  it('refuses an existing group, a bad id, a snapshot at 0 and a hard state that does not match the snapshot', async () => {
    const store = await open(dirs.make());
    store.group(1, conf);
    const snap = splitSnapshot();
    const ok = { term: 5, vote: 0, commit: 10 };
    expect(() => store.groupFromSnapshot(1, snap, ok)).toThrow(/group 1 exists/);
    expect(() => store.groupFromSnapshot(-1, snap, ok)).toThrow(RangeError);
    expect(() => store.groupFromSnapshot(2 ** 32, snap, ok)).toThrow(RangeError);
    expect(() => store.groupFromSnapshot(2, { ...snap, metadata: { index: 0, term: 0, conf } }, { term: 0, vote: 0, commit: 0 })).toThrow(/≥ 1/);
    expect(() => store.groupFromSnapshot(2, snap, { term: 4, vote: 0, commit: 10 })).toThrow(/want term ≥ 5 and commit = 10/);
    expect(() => store.groupFromSnapshot(2, snap, { term: 5, vote: 0, commit: 9 })).toThrow(/commit = 10/);
    expect(() => store.groupFromSnapshot(2, snap, { term: 5, vote: 0, commit: 11 })).toThrow(/commit = 10/);
    expect(store.groups()).toEqual([1]);
    await store.close();
  });

  it('replaces a dropped group of the same id in the same batch; nothing of the old one survives reopen', async () => {
    const dir = dirs.make();
    let store = await open(dir);
    await busyGroup(store, 5);
    await store.group(5, conf).append(entries(9, 20, 2)); // runs above the new group's snapshot index
    void store.dropGroup(5);
    const g = store.groupFromSnapshot(5, splitSnapshot(), { term: 7, vote: 3, commit: 10 });
    await store.flush();
    const before = view(g);
    store = await reopen(store, dir);
    expect(view(store.group(5, conf))).toEqual(before);
    expect(store.group(5, conf).lastIndex()).toBe(10);
    await store.close();
  });
});
