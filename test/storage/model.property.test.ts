/**
 * Property: any valid sequence of driver writes (appends with conflicting
 * suffixes, hard state, membership, snapshots, compactions, installed
 * snapshots) over several groups, with turn boundaries and reopens anywhere,
 * leaves a NodeStore that reads exactly like MemoryStorage fed the same writes
 * — in memory at every step and after every reopen. Groups are also dropped and
 * made again (empty, or from a snapshot as after a split), in any turn.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryStorage } from '../../src/raft/memory-storage.js';
import type { Entry } from '../../src/raft/types.js';
import { NodeStore } from '../../src/storage/index.js';
import { tempDirs, view } from './helpers.js';

const GROUPS = [1, 70000];
const conf = { voters: [1, 2, 3], learners: [] };
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

type Op =
  | { k: 'append'; g: number; at: number; n: number; bump: boolean }
  | { k: 'hard'; g: number; commit: number; vote: number }
  | { k: 'conf'; g: number; voters: number[] }
  | { k: 'snap'; g: number; at: number; data: Uint8Array }
  | { k: 'compact'; g: number; at: number }
  | { k: 'install'; g: number; ahead: number; data: Uint8Array }
  | { k: 'drop'; g: number }
  | { k: 'create'; g: number; fromSnapshot: boolean; index: number; data: Uint8Array }
  | { k: 'turn' }
  | { k: 'reopen' };

const g = fc.constantFrom(...GROUPS);
const frac = fc.nat({ max: 1000 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('append' as const), g, at: frac, n: fc.integer({ min: 1, max: 4 }), bump: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('hard' as const), g, commit: frac, vote: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('conf' as const), g, voters: fc.uniqueArray(fc.integer({ min: 1, max: 5 }), { maxLength: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('snap' as const), g, at: frac, data: fc.uint8Array({ maxLength: 10 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('compact' as const), g, at: frac }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('install' as const), g, ahead: fc.integer({ min: 1, max: 5 }), data: fc.uint8Array({ maxLength: 10 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('drop' as const), g }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('create' as const),
      g,
      fromSnapshot: fc.boolean(),
      index: fc.integer({ min: 1, max: 20 }),
      data: fc.uint8Array({ maxLength: 10 }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ k: 'turn' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'reopen' as const }) },
);

/** What the model needs besides MemoryStorage: the current term (terms never go back). */
interface Model {
  mem: MemoryStorage;
  term: number;
}

/** Picks a value in [lo, hi] from a fraction, or null if the range is empty. */
function pick(lo: number, hi: number, f: number): number | null {
  return lo > hi ? null : lo + (f % (hi - lo + 1));
}

const open = (dir: string): Promise<NodeStore> => NodeStore.open(dir, { snapshotChunkSize: 3 });

async function run(ops: readonly Op[]): Promise<void> {
  const dir = dirs.make();
  let store = await open(dir);
  const models = new Map<number, Model>();
  for (const id of GROUPS) {
    models.set(id, { mem: new MemoryStorage(conf), term: 0 });
    store.group(id, conf);
  }
  const check = (): void => {
    expect(store.groups()).toEqual([...models.keys()].sort((a, b) => a - b));
    for (const [id, m] of models) expect(view(store.group(id, conf))).toEqual(view(m.mem));
  };
  for (const op of ops) {
    if (op.k === 'turn') {
      await store.flush();
      continue;
    }
    if (op.k === 'reopen') {
      await store.close();
      store = await open(dir);
      check();
      continue;
    }
    if (op.k === 'drop') {
      if (models.delete(op.g)) void store.dropGroup(op.g);
      check();
      continue;
    }
    if (op.k === 'create') {
      if (models.has(op.g)) continue;
      if (op.fromSnapshot) {
        const snap = { metadata: { index: op.index, term: 2, conf: { voters: [4, 5, 6], learners: [1] } }, data: op.data };
        const hs = { term: 3, vote: 5, commit: op.index };
        const mem = new MemoryStorage(conf);
        mem.applySnapshot(snap);
        mem.setHardState(hs);
        models.set(op.g, { mem, term: 3 });
        store.groupFromSnapshot(op.g, snap, hs);
      } else {
        models.set(op.g, { mem: new MemoryStorage(conf), term: 0 });
        store.group(op.g, conf);
      }
      check();
      continue;
    }
    const m = models.get(op.g);
    if (!m) continue; // dropped
    const s = store.group(op.g, conf);
    const { mem } = m;
    const commit = mem.initialState().hardState.commit;
    const snapIndex = mem.snapshot().metadata.index;
    switch (op.k) {
      case 'append': {
        const at = pick(Math.max(mem.firstIndex(), snapIndex + 1, commit + 1), mem.lastIndex() + 1, op.at);
        if (at === null) break;
        m.term = Math.max(m.term, mem.term(at - 1)) + (op.bump ? 1 : 0);
        const ents: Entry[] = [];
        for (let i = 0; i < op.n; i++) {
          ents.push({ index: at + i, term: m.term, type: i % 3 === 2 ? 'conf' : 'normal', data: Uint8Array.of(op.g & 0xff, at + i, m.term, op.at & 0xff) });
        }
        mem.append(ents);
        void s.append(ents);
        break;
      }
      case 'hard': {
        // commit near the end of the log, so that snapshots and compactions have room
        const c = Math.max(commit, mem.lastIndex() - (op.commit % 3));
        const hs = { term: m.term, vote: op.vote, commit: c };
        mem.setHardState(hs);
        void s.setHardState(hs);
        break;
      }
      case 'conf': {
        const c = { voters: op.voters, learners: [] };
        mem.setConf(c);
        void s.setConf(c);
        break;
      }
      case 'snap': {
        const at = pick(snapIndex + 1, commit, op.at);
        if (at === null) break;
        expect(s.createSnapshot(at, op.data)).toEqual(mem.createSnapshot(at, op.data));
        break;
      }
      case 'compact': {
        const at = pick(mem.firstIndex(), snapIndex, op.at);
        if (at === null) break;
        mem.compact(at);
        void s.compact(at);
        break;
      }
      case 'install': {
        const index = Math.max(mem.lastIndex(), commit) + op.ahead;
        m.term += 1;
        const snap = { metadata: { index, term: m.term, conf: { voters: [1, 2], learners: [op.ahead] } }, data: op.data };
        const hs = { term: m.term, vote: 0, commit: index };
        mem.applySnapshot(snap);
        mem.setHardState(hs);
        void s.applySnapshot(snap);
        void s.setHardState(hs);
        break;
      }
    }
    check();
  }
  await store.close();
  store = await open(dir);
  check();
  await store.close();
}

describe('NodeStore against MemoryStorage', () => {
  it('reads like the model at every step and after every reopen', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 20, maxLength: 50, size: 'max' }), (ops) => run(ops)),
      { seed: 20261127, numRuns: 15 },
    );
  }, 30_000);
});
