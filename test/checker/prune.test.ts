import { describe, expect, it } from 'vitest';
import { checkHistory, operationsByKey } from '../../jepsen-lite/checker/index.js';
import { pruneIndefiniteWrites } from '../../jepsen-lite/checker/prune.js';
import { history, type OpSpec } from './helpers.js';

describe('indefinite writes', () => {
  it('drops unobserved ones and bounds the only writer of an observed value', () => {
    const h = history(
      { p: 0, f: 'put', v: 'unseen', from: 0, to: 1, type: 'info' },
      { p: 1, f: 'put', v: 'a', from: 0, to: 1, type: 'info' },
      { p: 2, f: 'get', v: null, from: 2, to: 3 },
      { p: 2, f: 'get', v: 'a', from: 5, to: 8 },
    );
    const { ops, dropped } = pruneIndefiniteWrites(operationsByKey(h).get('x')!);
    expect(dropped).toBe(1);
    expect(ops.map((op) => op.id)).toEqual([0, 1, 2]);
    const write = ops.find((op) => op.f === 'put');
    expect(write).toMatchObject({ value: 'a', completeTime: Number.POSITIVE_INFINITY, effectDeadline: 8 });
    expect(checkHistory(h).verdict).toBe('linearizable');
  });

  it('still finds the violation when the bounded write must precede a read', () => {
    // 'a' is read at [1,2], so the unknown write of 'a' took effect by 2; the later read of null is stale.
    const h = history(
      { p: 0, f: 'put', v: 'a', from: 0, to: 1, type: 'info' },
      { p: 1, f: 'get', v: 'a', from: 1, to: 2 },
      { p: 1, f: 'get', v: null, from: 3, to: 4 },
    );
    expect(checkHistory(h).verdict).toBe('not-linearizable');
  });

  it('keeps an indefinite write whose value is also written by someone else unbounded', () => {
    const h = history(
      { p: 0, f: 'put', v: 'a', from: 0, to: 1, type: 'info' },
      { p: 1, f: 'put', v: 'a', from: 10, to: 11 },
      { p: 2, f: 'get', v: 'a', from: 12, to: 13 },
    );
    const { ops } = pruneIndefiniteWrites(operationsByKey(h).get('x')!);
    expect(ops[0]?.effectDeadline).toBeUndefined();
    expect(checkHistory(h).verdict).toBe('linearizable');
  });

  it('keeps the search small with many unobserved unknown writes around a violation', () => {
    const specs: OpSpec[] = [];
    for (let p = 0; p < 40; p++) specs.push({ p, f: 'put', v: `lost-${p}`, from: p, to: p + 1, type: 'info' });
    specs.push({ p: 100, f: 'put', v: 'a', from: 50, to: 51 });
    specs.push({ p: 100, f: 'get', v: 'ghost', from: 52, to: 53 });
    const r = checkHistory(history(...specs), { maxStepsPerKey: 1000 });
    expect(r.verdict).toBe('not-linearizable');
  });
});
