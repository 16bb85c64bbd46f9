import { describe, expect, it } from 'vitest';
import { checkHistory, formatCheckResult, HistoryError } from '../../jepsen-lite/checker/index.js';
import type { HistoryEvent } from '../../jepsen-lite/history.js';
import { history } from './helpers.js';

const verdict = (events: HistoryEvent[]): string => checkHistory(events).verdict;

describe('checkHistory: linearizable histories', () => {
  it('accepts an empty history', () => {
    const r = checkHistory([]);
    expect(r.verdict).toBe('linearizable');
    expect(r.operations).toBe(0);
  });

  it('accepts a sequential history', () => {
    const h = history(
      { p: 0, f: 'get', v: null, from: 0, to: 1 },
      { p: 0, f: 'put', v: 'a', from: 2, to: 3 },
      { p: 1, f: 'get', v: 'a', from: 4, to: 5 },
      { p: 1, f: 'cas', v: ['a', 'b'], from: 6, to: 7 },
      { p: 0, f: 'get', v: 'b', from: 8, to: 9 },
      { p: 0, f: 'put', v: null, from: 10, to: 11 },
      { p: 1, f: 'get', v: null, from: 12, to: 13 },
    );
    const r = checkHistory(h);
    expect(r.verdict).toBe('linearizable');
    expect(r.operations).toBe(7);
    expect(r.keys).toHaveLength(1);
  });

  it('accepts concurrent writes read in either order', () => {
    for (const [first, second] of [
      ['a', 'b'],
      ['b', 'a'],
    ] as const) {
      const h = history(
        { p: 0, f: 'put', v: 'a', from: 0, to: 10 },
        { p: 1, f: 'put', v: 'b', from: 1, to: 11 },
        { p: 2, f: 'get', v: first, from: 2, to: 5 },
        { p: 3, f: 'get', v: second, from: 6, to: 12 },
      );
      expect(verdict(h)).toBe('linearizable');
    }
  });

  it('accepts a read concurrent with a write returning the old or the new value', () => {
    for (const seen of [null, 'a']) {
      const h = history({ p: 0, f: 'put', v: 'a', from: 0, to: 10 }, { p: 1, f: 'get', v: seen, from: 2, to: 5 });
      expect(verdict(h)).toBe('linearizable');
    }
  });

  it('treats an invoke at the same instant as another completion as concurrent', () => {
    // The get is invoked at time 5, when the put completes: it may still see the old value.
    const h = history({ p: 0, f: 'put', v: 'a', from: 0, to: 5 }, { p: 1, f: 'get', v: null, from: 5, to: 6 });
    expect(verdict(h)).toBe('linearizable');
  });

  it('accepts a cas chain', () => {
    const h = history(
      { p: 0, f: 'cas', v: [null, 'a'], from: 0, to: 1 },
      { p: 1, f: 'cas', v: ['a', 'b'], from: 2, to: 5 },
      { p: 2, f: 'cas', v: ['b', 'c'], from: 3, to: 6 },
      { p: 0, f: 'get', v: 'c', from: 7, to: 8 },
      { p: 1, f: 'cas', v: ['c', null], from: 9, to: 10 },
      { p: 2, f: 'get', v: null, from: 11, to: 12 },
    );
    expect(verdict(h)).toBe('linearizable');
  });

  it('ignores a failed cas and a failed put', () => {
    const h = history(
      { p: 0, f: 'put', v: 'a', from: 0, to: 1 },
      { p: 1, f: 'cas', v: ['zzz', 'b'], from: 2, to: 3, type: 'fail' },
      { p: 1, f: 'put', v: 'c', from: 4, to: 5, type: 'fail' },
      { p: 0, f: 'get', v: 'a', from: 6, to: 7 },
    );
    const r = checkHistory(h);
    expect(r.verdict).toBe('linearizable');
    expect(r.operations).toBe(2);
  });

  it('accepts an info write that took effect, even when read after the client gave up', () => {
    const h = history(
      { p: 0, f: 'put', v: 'a', from: 0, to: 2, type: 'info' },
      { p: 1, f: 'get', v: null, from: 3, to: 4 },
      { p: 1, f: 'get', v: 'a', from: 10, to: 11 },
      { p: 1, f: 'get', v: 'a', from: 12, to: 13 },
    );
    expect(verdict(h)).toBe('linearizable');
  });

  it('accepts an info write that never took effect', () => {
    const h = history(
      { p: 0, f: 'put', v: 'a', from: 0, to: 2, type: 'info' },
      { p: 1, f: 'get', v: null, from: 3, to: 4 },
      { p: 1, f: 'put', v: 'b', from: 5, to: 6 },
      { p: 1, f: 'get', v: 'b', from: 7, to: 8 },
    );
    expect(verdict(h)).toBe('linearizable');
  });

  it('accepts an info cas both when it swapped and when it did not apply', () => {
    const swapped = history(
      { p: 0, f: 'put', v: 'a', from: 0, to: 1 },
      { p: 1, f: 'cas', v: ['a', 'b'], from: 2, to: 3, type: 'info' },
      { p: 2, f: 'get', v: 'b', from: 4, to: 5 },
    );
    const notApplied = history(
      { p: 0, f: 'put', v: 'a', from: 0, to: 1 },
      { p: 1, f: 'cas', v: ['a', 'b'], from: 2, to: 3, type: 'info' },
      { p: 2, f: 'get', v: 'a', from: 4, to: 5 },
      { p: 2, f: 'put', v: 'c', from: 6, to: 7 },
      { p: 2, f: 'get', v: 'c', from: 8, to: 9 },
    );
    expect(verdict(swapped)).toBe('linearizable');
    expect(verdict(notApplied)).toBe('linearizable');
  });

  it('treats a write that never completes like info, and drops an unfinished read', () => {
    const h = history(
      { p: 0, f: 'put', v: 'a', from: 0 },
      { p: 1, f: 'get', v: null, from: 1 },
      { p: 2, f: 'get', v: 'a', from: 5, to: 6 },
    );
    const r = checkHistory(h);
    expect(r.verdict).toBe('linearizable');
    expect(r.operations).toBe(2);
  });

  it('drops an info read', () => {
    const h = history(
      { p: 0, f: 'put', v: 'a', from: 0, to: 1 },
      { p: 1, f: 'get', v: 'nonsense', from: 2, to: 3, type: 'info' },
    );
    const r = checkHistory(h);
    expect(r.verdict).toBe('linearizable');
    expect(r.operations).toBe(1);
  });

  it('checks keys independently', () => {
    const h = history(
      { p: 0, f: 'put', v: 'a', from: 0, to: 1, key: 'x' },
      { p: 1, f: 'put', v: 'b', from: 0, to: 1, key: 'y' },
      { p: 0, f: 'get', v: 'a', from: 2, to: 3, key: 'x' },
      { p: 1, f: 'get', v: 'b', from: 2, to: 3, key: 'y' },
    );
    const r = checkHistory(h);
    expect(r.verdict).toBe('linearizable');
    expect(r.keys.map((k) => k.key)).toEqual(['x', 'y']);
  });
});

describe('checkHistory: violations', () => {
  it('rejects a stale read', () => {
    const h = history(
      { p: 0, f: 'put', v: 'a', from: 0, to: 1 },
      { p: 0, f: 'put', v: 'b', from: 2, to: 3 },
      { p: 1, f: 'get', v: 'a', from: 4, to: 5 },
    );
    const r = checkHistory(h);
    expect(r.verdict).toBe('not-linearizable');
    const key = r.keys[0]!;
    expect(key.verdict).toBe('not-linearizable');
    expect(key.violation?.blocking).toMatchObject({ process: 1, f: 'get', value: 'a', invokeTime: 4, completeTime: 5 });
    expect(key.violation?.stateAfterPrefix).toBe('b');
    expect(key.violation?.prefixLength).toBe(2);
    expect(key.window).toEqual({ from: 0, to: 5 });
    expect(key.detail).toContain('process 1 get -> "a"');
  });

  it('rejects a lost write', () => {
    const h = history(
      { p: 0, f: 'put', v: 'a', from: 0, to: 1 },
      { p: 1, f: 'put', v: 'b', from: 2, to: 3 },
      { p: 2, f: 'get', v: 'a', from: 4, to: 5 },
      { p: 2, f: 'get', v: 'a', from: 6, to: 7 },
    );
    expect(verdict(h)).toBe('not-linearizable');
  });

  it('rejects a read of a value written only later', () => {
    const h = history({ p: 1, f: 'get', v: 'a', from: 0, to: 1 }, { p: 0, f: 'put', v: 'a', from: 2, to: 3 });
    expect(verdict(h)).toBe('not-linearizable');
  });

  it('rejects a cas that swapped from a value that was never current', () => {
    const h = history(
      { p: 0, f: 'put', v: 'a', from: 0, to: 1 },
      { p: 1, f: 'cas', v: ['z', 'b'], from: 2, to: 3 },
    );
    expect(verdict(h)).toBe('not-linearizable');
  });

  it('rejects a cas from absent after a write completed', () => {
    const h = history(
      { p: 0, f: 'put', v: 'a', from: 0, to: 1 },
      { p: 1, f: 'cas', v: [null, 'b'], from: 2, to: 3 },
    );
    expect(verdict(h)).toBe('not-linearizable');
  });

  it('rejects a read of a deleted value', () => {
    const h = history(
      { p: 0, f: 'put', v: 'a', from: 0, to: 1 },
      { p: 0, f: 'cas', v: ['a', null], from: 2, to: 3 },
      { p: 1, f: 'get', v: 'a', from: 4, to: 5 },
    );
    expect(verdict(h)).toBe('not-linearizable');
  });

  it('rejects reads that flip back to an overwritten value', () => {
    // Two concurrent puts, but readers see a, then b, then a again.
    const h = history(
      { p: 0, f: 'put', v: 'a', from: 0, to: 10 },
      { p: 1, f: 'put', v: 'b', from: 0, to: 10 },
      { p: 2, f: 'get', v: 'a', from: 11, to: 12 },
      { p: 2, f: 'get', v: 'b', from: 13, to: 14 },
    );
    expect(verdict(h)).toBe('not-linearizable');
  });

  it('is not-linearizable overall when one key of several is', () => {
    const h = history(
      { p: 0, f: 'put', v: 'a', from: 0, to: 1, key: 'good' },
      { p: 1, f: 'get', v: 'a', from: 2, to: 3, key: 'good' },
      { p: 2, f: 'get', v: 'ghost', from: 0, to: 1, key: 'bad' },
    );
    const r = checkHistory(h);
    expect(r.verdict).toBe('not-linearizable');
    expect(r.keys.find((k) => k.key === 'good')?.verdict).toBe('linearizable');
    expect(r.keys.find((k) => k.key === 'bad')?.verdict).toBe('not-linearizable');
    expect(formatCheckResult(r)).toMatch(/^NOT-LINEARIZABLE: 3 operations over 2 keys/);
    expect(formatCheckResult(r)).toContain('key "bad": not-linearizable');
  });
});

describe('checkHistory: limits', () => {
  const busy = history(
    { p: 0, f: 'put', v: 'a', from: 0, to: 10 },
    { p: 1, f: 'put', v: 'b', from: 0, to: 10 },
    { p: 2, f: 'get', v: 'b', from: 1, to: 10 },
    { p: 3, f: 'get', v: 'a', from: 1, to: 10 },
    { p: 0, f: 'get', v: 'a', from: 11, to: 12 },
  );

  it('says unknown, never linearizable, when the step limit is hit', () => {
    expect(checkHistory(busy).verdict).toBe('linearizable');
    const r = checkHistory(busy, { maxStepsPerKey: 1 });
    expect(r.verdict).toBe('unknown');
    expect(r.keys[0]?.detail).toContain('exceeded 1 steps');
  });

  it('says unknown when the time budget is spent', () => {
    const r = checkHistory(busy, { timeoutMs: -1 });
    expect(r.verdict).toBe('unknown');
  });

  it('prefers not-linearizable over unknown across keys', () => {
    const h = [...busy, ...history({ p: 9, f: 'get', v: 'ghost', from: 0, to: 1, key: 'y' })];
    expect(checkHistory(h, { maxStepsPerKey: 3 }).verdict).toBe('not-linearizable');
  });
});

describe('checkHistory: malformed histories', () => {
  it('rejects a second invoke on a busy process', () => {
    const h = history({ p: 0, f: 'put', v: 'a', from: 0 }, { p: 0, f: 'put', v: 'b', from: 1, to: 2 });
    expect(() => checkHistory(h)).toThrow(HistoryError);
    expect(() => checkHistory(h)).toThrow(/process 0 still has the operation invoked at event #0 outstanding/);
  });

  it('rejects reuse of a process after info', () => {
    const h = history({ p: 0, f: 'put', v: 'a', from: 0, to: 1, type: 'info' }, { p: 0, f: 'get', v: 'a', from: 2, to: 3 });
    expect(() => checkHistory(h)).toThrow(/retired/);
  });

  it('rejects a completion without an invoke and a mismatched completion', () => {
    const orphan: HistoryEvent[] = [{ process: 0, type: 'ok', f: 'get', key: 'x', value: null, time: 0 }];
    expect(() => checkHistory(orphan)).toThrow(/without a matching invoke/);
    const mismatch: HistoryEvent[] = [
      { process: 0, type: 'invoke', f: 'get', key: 'x', value: null, time: 0 },
      { process: 0, type: 'ok', f: 'put', key: 'x', value: 'a', time: 1 },
    ];
    expect(() => checkHistory(mismatch)).toThrow(HistoryError);
  });
});
