/**
 * PendingWrites (the ring of client writes waiting for their log index)
 * against a Map model: same live writes, same callbacks, same order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PendingWrites } from '../../src/node/pending-writes.js';
import type { NodeError } from '../../src/node/errors.js';
import type { WriteOutcome } from '../../src/node/replica.js';

interface ModelWrite {
  term: number;
  started: number;
  deadline: number;
  peekKey: string | null;
  reject: (e: NodeError) => void;
  resolve: (o: WriteOutcome) => void;
}

type Op =
  | { kind: 'add'; gap: number; term: number; timeout: number; cas: boolean }
  | { kind: 'apply'; back: number }
  | { kind: 'expire'; advance: number }
  | { kind: 'takeUpTo'; back: number }
  | { kind: 'takeFrom'; back: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('add' as const), gap: fc.integer({ min: -6, max: 3 }), term: fc.integer({ min: 1, max: 3 }), timeout: fc.integer({ min: 1, max: 50 }), cas: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('apply' as const), back: fc.nat(80) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('expire' as const), advance: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('takeUpTo' as const), back: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('takeFrom' as const), back: fc.nat(40) }) },
);

describe('PendingWrites', () => {
  it('keeps the live writes of a Map model under adds, applies, expiry and takes', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 400 }), (ops) => {
        const ring = new PendingWrites();
        const model = new Map<number, ModelWrite>();
        let next = 1;
        let now = 0;
        const calls: string[] = [];
        const expected: string[] = [];
        const mk = (index: number) => ({
          resolve: () => calls.push(`resolve ${index}`),
          reject: () => calls.push(`reject ${index}`),
        });
        for (const op of ops) {
          switch (op.kind) {
            case 'add': {
              // a negative gap: a new leader whose log ends below writes proposed in an earlier term
              const index = Math.max(1, next + op.gap);
              // as the replica does: a proposal at `index` settles the older writes at or above it
              const tail = [...model.keys()].filter((i) => i >= index).sort((a, b) => a - b);
              for (const i of tail) {
                expected.push(`reject ${i}`);
                model.delete(i);
              }
              for (const r of ring.takeFrom(index)) r(undefined as unknown as NodeError);
              const cb = mk(index);
              model.set(index, { term: op.term, started: now, deadline: now + op.timeout, peekKey: op.cas ? `k${index}` : null, ...cb });
              ring.add(index, op.term, now, now + op.timeout, op.cas ? `k${index}` : null, cb.resolve, cb.reject);
              next = index + 1;
              break;
            }
            case 'apply': {
              const index = Math.max(1, next - 1 - op.back);
              const m = model.get(index);
              const s = ring.slotOf(index);
              expect(s >= 0).toBe(m !== undefined);
              if (m !== undefined) {
                expect(ring.termAt(s)).toBe(m.term);
                expect(ring.startedOf(s)).toBe(m.started);
                expect(ring.peekKeyOf(s)).toBe(m.peekKey);
                ring.resolveOf(s)({ result: { ok: true } } as unknown as WriteOutcome);
                ring.release(s);
                m.resolve({ result: { ok: true } } as unknown as WriteOutcome);
                expected.push(`resolve ${index}`);
                calls.pop();
                model.delete(index);
              }
              break;
            }
            case 'expire': {
              now += op.advance;
              // oldest first, up to the first write still in time
              const order = [...model.keys()].sort((a, b) => a - b);
              for (const i of order) {
                if ((model.get(i) as ModelWrite).deadline > now) break;
                expected.push(`reject ${i}`);
                model.delete(i);
              }
              const n = ring.expire(now, (_i, reject) => reject(undefined as unknown as NodeError));
              expect(n).toBeGreaterThanOrEqual(0);
              break;
            }
            case 'takeUpTo': {
              const index = next - 1 - op.back;
              for (const i of [...model.keys()].filter((k) => k <= index).sort((a, b) => a - b)) {
                expected.push(`reject ${i}`);
                model.delete(i);
              }
              for (const r of ring.takeUpTo(index)) r(undefined as unknown as NodeError);
              break;
            }
            case 'takeFrom': {
              const index = Math.max(1, next - 1 - op.back);
              for (const i of [...model.keys()].filter((k) => k >= index).sort((a, b) => a - b)) {
                expected.push(`reject ${i}`);
                model.delete(i);
              }
              for (const r of ring.takeFrom(index)) r(undefined as unknown as NodeError);
              break;
            }
          }
          expect(ring.size).toBe(model.size);
          expect(calls).toEqual(expected);
        }
        for (let i = 1; i < next; i++) expect(ring.slotOf(i) >= 0).toBe(model.has(i));
      }),
      { seed: 20261128, numRuns: 300 },
    );
  });

  it('grows past its initial capacity without losing a write', () => {
    const ring = new PendingWrites();
    const resolved: number[] = [];
    for (let i = 10; i < 10 + 1000; i += 3) ring.add(i, 1, 0, 100, null, () => resolved.push(i), () => {});
    expect(ring.size).toBe(334);
    for (let i = 10; i < 10 + 1000; i += 3) {
      const s = ring.slotOf(i);
      expect(s).toBeGreaterThanOrEqual(0);
      ring.resolveOf(s)({ result: { ok: true } } as unknown as WriteOutcome);
      ring.release(s);
    }
    expect(resolved.length).toBe(334);
    expect(ring.size).toBe(0);
  });

  it('expires oldest first and stops at the first write still in time', () => {
    const ring = new PendingWrites();
    const rejected: number[] = [];
    ring.add(1, 1, 0, 10, null, () => {}, () => rejected.push(1));
    ring.add(2, 1, 0, 30, null, () => {}, () => rejected.push(2));
    // a shorter timeout after a longer one waits for the earlier write (oldest first)
    ring.add(3, 1, 0, 5, null, () => {}, () => rejected.push(3));
    expect(ring.expire(10, (_i, r) => r(undefined as unknown as NodeError))).toBe(1);
    expect(rejected).toEqual([1]);
    expect(ring.expire(29, (_i, r) => r(undefined as unknown as NodeError))).toBe(0);
    expect(ring.expire(30, (_i, r) => r(undefined as unknown as NodeError))).toBe(2);
    expect(rejected).toEqual([1, 2, 3]);
  });
});
