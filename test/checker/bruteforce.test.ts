/**
 * Differential test: on small random histories (linearizable or not), the
 * checker agrees with a brute-force search over every order of operations.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHistory, operationsByKey, type Operation } from '../../jepsen-lite/checker/index.js';
import type { OpValue, RegisterValue } from '../../jepsen-lite/history.js';
import { history, type OpSpec } from './helpers.js';

/** Every real-time-respecting order; indefinite writes may also be left out; an indefinite cas may swap or not. */
function bruteForceLinearizable(ops: readonly Operation[]): boolean {
  const placed = new Array<boolean>(ops.length).fill(false);
  const search = (state: RegisterValue, left: number): boolean => {
    if (ops.every((op, i) => placed[i] || op.indefinite)) return true;
    if (left === 0) return false;
    for (let i = 0; i < ops.length; i++) {
      if (placed[i]) continue;
      const op = ops[i]!;
      // `op` can go next only if no unplaced operation completed strictly before it was invoked.
      if (ops.some((p, j) => !placed[j] && j !== i && p.completeTime < op.invokeTime)) continue;
      const outcomes: RegisterValue[] = [];
      if (op.kind === 'get') {
        if (op.value === state) outcomes.push(state);
      } else if (op.kind === 'put') {
        outcomes.push(op.value as RegisterValue);
      } else {
        const [expected, update] = op.value as readonly [RegisterValue, RegisterValue];
        if (state === expected) outcomes.push(update);
        if (op.kind === 'cas-maybe') outcomes.push(state);
      }
      for (const next of outcomes) {
        placed[i] = true;
        const ok = search(next, left - 1);
        placed[i] = false;
        if (ok) return true;
      }
    }
    return false;
  };
  return search(null, ops.length);
}

const value = fc.constantFrom<RegisterValue>('a', 'b', null);
const spec = fc
  .record({
    f: fc.constantFrom('get', 'put', 'cas' as const),
    v: value,
    expected: value,
    from: fc.integer({ min: 0, max: 12 }),
    length: fc.integer({ min: 0, max: 6 }),
    type: fc.constantFrom('ok', 'ok', 'ok', 'info', 'fail', 'never' as const),
  })
  .map(({ f, v, expected, from, length, type }) => {
    const opValue: OpValue = f === 'cas' ? [expected, v] : v;
    return { f, v: opValue, from, length, type };
  });

describe('checker vs brute force', () => {
  it('agrees on small random histories', () => {
    let violations = 0;
    let linearizable = 0;
    fc.assert(
      fc.property(fc.array(spec, { minLength: 1, maxLength: 7 }), (specs) => {
        const h = history(
          ...specs.map(
            (s, p): OpSpec =>
              s.type === 'never'
                ? { p, f: s.f, v: s.v, from: s.from }
                : { p, f: s.f, v: s.v, from: s.from, to: s.from + s.length, type: s.type },
          ),
        );
        const ops = operationsByKey(h).get('x') ?? [];
        const expected = bruteForceLinearizable(ops);
        if (expected) linearizable++;
        else violations++;
        expect(checkHistory(h).verdict).toBe(expected ? 'linearizable' : 'not-linearizable');
      }),
      { seed: 0xc0ffee, numRuns: 1000 },
    );
    // The generator must produce both kinds, or the test proves little.
    expect(violations).toBeGreaterThan(100);
    expect(linearizable).toBeGreaterThan(100);
  });
});
