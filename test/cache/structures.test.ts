import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ExpiryHeap, LruCache, LruStore, utf8Length } from '../../src/cache/index.js';

const keyArb = fc.integer({ min: 0, max: 40 }).map((i) => `k${i}`);

describe('LruStore', () => {
  it('matches an array in recency order through growth and slot reuse', () => {
    type Op = { op: 'insert' | 'move' | 'remove' | 'set'; key: string; size: number };
    const opArb: fc.Arbitrary<Op> = fc.record({
      op: fc.constantFrom('insert' as const, 'move' as const, 'remove' as const, 'set' as const),
      key: keyArb,
      size: fc.integer({ min: 0, max: 100 }),
    });
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        const store = new LruStore(1);
        let model: { key: string; size: number }[] = [];
        for (const { op, key, size } of ops) {
          const slot = store.slotOf(key);
          const present = model.some((e) => e.key === key);
          expect(slot >= 0).toBe(present);
          if (op === 'insert' && !present) {
            store.insert(key, new Uint8Array([size]), size);
            model.push({ key, size });
          } else if (op === 'move' && present) {
            store.moveToMru(slot);
            model = [...model.filter((e) => e.key !== key), { key, size: model.find((e) => e.key === key)?.size ?? 0 }];
          } else if (op === 'remove' && present) {
            store.remove(slot);
            model = model.filter((e) => e.key !== key);
          } else if (op === 'set' && present) {
            store.setValue(slot, new Uint8Array([size]), size);
            model = model.map((e) => (e.key === key ? { key, size } : e));
          }
        }
        const keys: string[] = [];
        for (let s = store.lruSlot(); s >= 0; s = store.newerThan(s)) keys.push(store.keyAt(s));
        expect(keys).toEqual(model.map((e) => e.key));
        expect(store.size).toBe(model.length);
        expect(store.bytes).toBe(model.reduce((n, e) => n + e.size, 0));
        expect(store.mruSlot() < 0 ? undefined : store.keyAt(store.mruSlot())).toBe(model.at(-1)?.key);
      }),
      { seed: 31, numRuns: 300 },
    );
  });
});

describe('LruCache', () => {
  it('get refreshes recency; eviction is by entries and bytes', () => {
    const c = new LruCache({ maxEntries: 3, maxBytes: 1000, entryOverhead: 0 });
    for (const k of ['a', 'b', 'c']) c.set(k, new Uint8Array(1));
    c.get('a');
    c.set('d', new Uint8Array(1));
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBeDefined();
    expect(c.set('huge', new Uint8Array(2000))).toBe(false);
    c.set('big', new Uint8Array(997));
    expect(c.size).toBe(1);
  });

  it('utf8Length matches TextEncoder', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 20 }), (s) => {
        expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
      }),
      { seed: 32, numRuns: 500 },
    );
  });
});

describe('ExpiryHeap', () => {
  it('pops in (expiresAt, seq) order with updates and removals', () => {
    type Op = { op: 'set' | 'remove' | 'pop'; slot: number; exp: number };
    const opArb: fc.Arbitrary<Op> = fc.record({
      op: fc.constantFrom('set' as const, 'set' as const, 'remove' as const, 'pop' as const),
      slot: fc.integer({ min: 0, max: 30 }),
      exp: fc.integer({ min: 0, max: 10 }),
    });
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        const heap = new ExpiryHeap(2);
        const model = new Map<number, { exp: number; seq: number }>();
        let seq = 0;
        for (const { op, slot, exp } of ops) {
          if (op === 'set') {
            heap.ensureSlotCapacity(slot + 1);
            heap.set(slot, exp, ++seq);
            model.set(slot, { exp, seq });
          } else if (op === 'remove') {
            heap.remove(slot);
            model.delete(slot);
          } else {
            const sorted = [...model.entries()].sort((a, b) => a[1].exp - b[1].exp || a[1].seq - b[1].seq);
            const want = sorted[0];
            expect(heap.minSlot()).toBe(want === undefined ? -1 : want[0]);
            expect(heap.minExpiresAt()).toBe(want === undefined ? Infinity : want[1].exp);
            if (want) {
              heap.remove(want[0]);
              model.delete(want[0]);
            }
          }
          expect(heap.size).toBe(model.size);
        }
        for (const [slot, { exp }] of model) expect(heap.expiresAt(slot)).toBe(exp);
      }),
      { seed: 33, numRuns: 300 },
    );
  });
});
