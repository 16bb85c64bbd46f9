/**
 * Shrinks the search space that writes with unknown outcome create. Such a
 * write completes at +infinity, so it is concurrent with everything invoked
 * after it, and after a violation the search would try it in every position:
 * exponential in the number of them. Two sound reductions:
 *
 * 1. An indefinite write whose new value nobody observes (no `get` returns it,
 *    no cas expects it) is dropped. Placing it can only leave the register
 *    holding a value that nothing after it accepts until the next write;
 *    treating it as "never applied" instead keeps every other operation
 *    placeable (an indefinite cas that would then be seeing a different value
 *    can itself move to the end, where its effect is unobservable).
 * 2. An indefinite write that is the only writer of a (non-null) value that an
 *    acknowledged operation observes must, if the history is linearizable,
 *    take effect before the earliest such observer completes: that becomes its
 *    effect deadline, so it is no longer open-ended.
 */
import type { RegisterValue } from '../history.js';
import type { Operation } from './operations.js';

function written(op: Operation): RegisterValue {
  return Array.isArray(op.value) ? (op.value[1] as RegisterValue) : (op.value as RegisterValue);
}

/** Returns the operations to search (ids renumbered 0..n-1) and how many were dropped. */
export function pruneIndefiniteWrites(ops: readonly Operation[]): { readonly ops: Operation[]; readonly dropped: number } {
  if (!ops.some((op) => op.indefinite)) return { ops: [...ops], dropped: 0 };
  // Who observes each value: any get or cas expectation; and the earliest acknowledged observer's completion.
  const observed = new Set<RegisterValue>();
  const earliestAckedObserver = new Map<RegisterValue, number>();
  const writers = new Map<RegisterValue, number>();
  for (const op of ops) {
    if (op.kind === 'get' || op.kind === 'cas' || op.kind === 'cas-maybe') {
      const seen = op.kind === 'get' ? (op.value as RegisterValue) : ((op.value as readonly RegisterValue[])[0] ?? null);
      observed.add(seen);
      if (!op.indefinite) {
        const prev = earliestAckedObserver.get(seen);
        if (prev === undefined || op.completeTime < prev) earliestAckedObserver.set(seen, op.completeTime);
      }
    }
    if (op.kind !== 'get') {
      const v = written(op);
      writers.set(v, (writers.get(v) ?? 0) + 1);
    }
  }
  const kept: Operation[] = [];
  let dropped = 0;
  for (const op of ops) {
    if (!op.indefinite) {
      kept.push({ ...op, id: kept.length });
      continue;
    }
    const v = written(op);
    if (!observed.has(v)) {
      dropped++;
      continue;
    }
    const by = earliestAckedObserver.get(v);
    if (v !== null && writers.get(v) === 1 && by !== undefined) {
      // If it took effect after `by`, the observer could not have seen v; if it never did, nobody wrote v.
      kept.push({ ...op, id: kept.length, effectDeadline: Math.max(by, op.invokeTime) });
    } else {
      kept.push({ ...op, id: kept.length });
    }
  }
  return { ops: kept, dropped };
}
