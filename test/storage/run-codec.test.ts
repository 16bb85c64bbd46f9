/**
 * Runs of log entries: the encoding written into a reused buffer at batch time
 * (encodeRunInto) decodes to the entries appended, and several runs of one
 * batch (the shared buffer reused between them, and one larger than it) reach
 * the disk intact.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Entry } from '../../src/raft/types.js';
import { NodeStore } from '../../src/storage/index.js';
import { decodeHardState, decodeRun, encodeRun, encodeRunInto, runSize } from '../../src/storage/codec.js';
import { KIND_HARD_STATE } from '../../src/storage/keys.js';

interface SpiedBatch {
  put(k: Uint8Array, v: Uint8Array): unknown;
}

/** Records the term of every hard state the store's chained batches receive (copied when put). */
function spyHardStates(store: NodeStore): number[] {
  const seen: number[] = [];
  const db = (store as unknown as { db: { batch(): SpiedBatch } }).db;
  const batch = db.batch.bind(db);
  db.batch = () => {
    const b = batch();
    const put = b.put.bind(b);
    b.put = (k, v) => {
      if (k[0] === KIND_HARD_STATE) seen.push(decodeHardState(v.slice()).term);
      return put(k, v);
    };
    return b;
  };
  return seen;
}
import { tempDirs, view } from './helpers.js';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const entryArb = fc.record({
  term: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constant(2 ** 32 + 7), fc.constant(Number.MAX_SAFE_INTEGER)),
  type: fc.constantFrom('normal' as const, 'conf' as const),
  data: fc.uint8Array({ maxLength: 300 }),
});

describe('run codec', () => {
  it('decodes what encodeRunInto wrote, at any offset range, into a dirty reused buffer', () => {
    const shared = new Uint8Array(1 << 16).fill(0xaa);
    fc.assert(
      fc.property(fc.array(entryArb, { minLength: 1, maxLength: 40 }), fc.nat(5), fc.nat(5), (raw, skipA, skipB) => {
        const first = 100;
        const ents: Entry[] = raw.map((e, i) => ({ ...e, index: first + i }));
        const from = Math.min(skipA, ents.length - 1);
        const to = Math.max(from + 1, ents.length - skipB);
        const n = encodeRunInto(shared, ents, from, to);
        expect(n).toBe(runSize(ents, from, to));
        const bytes = shared.subarray(0, n);
        expect(Array.from(bytes)).toEqual(Array.from(encodeRun(ents, from, to)));
        const back = decodeRun(first + from, bytes.slice());
        expect(back.map((e) => ({ ...e, data: Array.from(e.data) }))).toEqual(
          ents.slice(from, to).map((e) => ({ ...e, data: Array.from(e.data) })),
        );
      }),
      { seed: 5150, numRuns: 200 },
    );
  });

  it('refuses a term that is not a safe u64', () => {
    const bad: Entry[] = [{ index: 1, term: -1, type: 'normal', data: new Uint8Array(1) }];
    expect(() => encodeRunInto(new Uint8Array(64), bad, 0, 1)).toThrow(RangeError);
  });

  it('writes several runs of one batch, small and larger than the shared buffer, intact', async () => {
    const dir = dirs.make();
    let store = await NodeStore.open(dir);
    const g = store.group(1, { voters: [1], learners: [] });
    const made: Entry[] = [];
    let index = 0;
    const batch = (n: number, size: number, term: number): Entry[] => {
      const out: Entry[] = [];
      for (let i = 0; i < n; i++) {
        index++;
        const data = new Uint8Array(size);
        for (let b = 0; b < size; b++) data[b] = (index * 31 + b) & 0xff;
        out.push({ index, term, type: 'normal', data });
      }
      made.push(...out);
      return out;
    };
    // one batch: three appends (the second larger than the 64 KiB shared buffer), no await in between
    void g.append(batch(100, 150, 1));
    void g.append(batch(3, 40_000, 1));
    void g.append(batch(50, 10, 2));
    await store.flush();
    const before = view(g);
    store = await (async () => {
      await store.close();
      return NodeStore.open(dir);
    })();
    const g2 = store.group(1, { voters: [1], learners: [] });
    expect(view(g2)).toEqual(before);
    expect(g2.entries(1, index + 1).map((e) => Array.from(e.data))).toEqual(made.map((e) => Array.from(e.data)));
    await store.close();
  });
});

describe('hard state in a batch', () => {
  it('is put once per batch however often it is set, the last value wins, and a batch in flight keeps its own', async () => {
    const dir = dirs.make();
    let store = await NodeStore.open(dir);
    const g = store.group(1, { voters: [1], learners: [] });
    await g.append([{ index: 1, term: 1, type: 'normal', data: new Uint8Array(3) }]);
    await store.flush();
    const seen = spyHardStates(store);
    const ops0 = store.stats().ops;
    void g.setHardState({ term: 1, vote: 1, commit: 0 });
    void g.setHardState({ term: 2, vote: 1, commit: 1 });
    void g.setHardState({ term: 3, vote: 2, commit: 1 });
    await store.flush();
    expect(store.stats().ops - ops0).toBe(1);
    // One batch in flight with term 4, the next accumulating with term 5.
    void g.setHardState({ term: 4, vote: 2, commit: 1 });
    const first = store.flush();
    void g.setHardState({ term: 5, vote: 3, commit: 1 });
    await first;
    await store.flush();
    expect(seen).toEqual([3, 4, 5]);
    await store.close();
    store = await NodeStore.open(dir);
    expect(store.group(1, { voters: [1], learners: [] }).initialState().hardState).toEqual({ term: 5, vote: 3, commit: 1 });
    await store.close();
  });
});
