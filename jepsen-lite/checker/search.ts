/**
 * Linearizability search for one key's register: Wing & Gong's algorithm with
 * Lowe's memoization, in the shape Porcupine uses.
 *
 * Each operation contributes a call and a return entry to a doubly linked list
 * sorted by time. The search walks the list: at a call it tries to linearize
 * that operation now (the model accepts it and the resulting (linearized set,
 * state) pair is new), lifting its call and return out of the list; at a return
 * it has found an operation that must already have taken effect but could not
 * be placed, so it backtracks. All linearized ⇒ linearizable; nothing left to
 * undo ⇒ not linearizable.
 *
 * Ties: at equal times, calls sort before returns, so an operation invoked at
 * the instant another completes counts as concurrent with it (the permissive,
 * conservative choice: never report a violation that rests on a tie).
 *
 * Unknown outcomes: a write with unknown outcome completes at +infinity. A cas
 * with unknown outcome is modelled as "swap if the expected value is current,
 * else no effect", which together with "placed after everything" covers both
 * "swapped" and "never applied". Once the walk reaches the return of such an
 * operation, every finitely-completing operation is linearized, and the rest
 * can always be placed at the end, so the search stops with success.
 */
import type { RegisterValue } from '../history.js';
import type { Operation } from './operations.js';
import { ADDED, FULL, VisitedSet } from './visited.js';

const KIND_GET = 0;
const KIND_PUT = 1;
const KIND_CAS = 2;
const KIND_CAS_MAYBE = 3;

export interface SearchLimits {
  readonly maxSteps: number;
  /** Absolute Date.now() after which the search gives up. */
  readonly deadline: number;
  /** Memory budget of the memo, in bytes. */
  readonly maxMemoBytes: number;
}

export type SearchOutcome =
  | { readonly kind: 'linearizable'; readonly steps: number; readonly memoEntries: number }
  | {
      readonly kind: 'not-linearizable';
      readonly steps: number;
      readonly memoEntries: number;
      /** Operation ids of the longest linearizable prefix found, in linearization order. */
      readonly longestPrefix: readonly number[];
      /** Register value after that prefix. */
      readonly stateAfterPrefix: RegisterValue;
    }
  | { readonly kind: 'unknown'; readonly steps: number; readonly memoEntries: number; readonly reason: string };

/** Interns register values as small integers; null is 0. */
class ValueTable {
  private readonly ids = new Map<string, number>();
  private readonly values: RegisterValue[] = [null];

  id(v: RegisterValue): number {
    if (v === null) return 0;
    let id = this.ids.get(v);
    if (id === undefined) {
      id = this.values.length;
      this.ids.set(v, id);
      this.values.push(v);
    }
    return id;
  }

  value(id: number): RegisterValue {
    return this.values[id] ?? null;
  }
}

/** A deterministic 32-bit hash per operation; a set's hash is the XOR of its members'. */
function operationHashes(n: number): Int32Array {
  const out = new Int32Array(n);
  let s = 0x2545f491;
  for (let i = 0; i < n; i++) {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    out[i] = z ^ (z >>> 16);
  }
  return out;
}

export function searchKey(ops: readonly Operation[], limits: SearchLimits): SearchOutcome {
  const n = ops.length;
  if (n === 0) return { kind: 'linearizable', steps: 0, memoEntries: 0 };

  // Model inputs as integers.
  const values = new ValueTable();
  const kind = new Uint8Array(n);
  const argA = new Int32Array(n);
  const argB = new Int32Array(n);
  const openEnded = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    if (op.id !== i) throw new Error(`operation ids must be 0..n-1 in order (got ${op.id} at ${i})`);
    const completeTime = op.effectDeadline ?? op.completeTime;
    openEnded[i] = completeTime === Number.POSITIVE_INFINITY ? 1 : 0;
    const v = op.value;
    switch (op.kind) {
      case 'get':
        kind[i] = KIND_GET;
        argA[i] = values.id(v as RegisterValue);
        break;
      case 'put':
        kind[i] = KIND_PUT;
        argA[i] = values.id(v as RegisterValue);
        break;
      case 'cas':
      case 'cas-maybe': {
        const [expected, next] = v as readonly [RegisterValue, RegisterValue];
        kind[i] = op.kind === 'cas' ? KIND_CAS : KIND_CAS_MAYBE;
        argA[i] = values.id(expected);
        argB[i] = values.id(next);
        break;
      }
    }
  }

  // Entry e: 2*op is the call, 2*op+1 the return. HEAD and TAIL are sentinels.
  const entryCount = 2 * n;
  const order = new Int32Array(entryCount);
  const entryTime = new Float64Array(entryCount);
  for (let i = 0; i < n; i++) {
    order[2 * i] = 2 * i;
    order[2 * i + 1] = 2 * i + 1;
    entryTime[2 * i] = ops[i]!.invokeTime;
    entryTime[2 * i + 1] = ops[i]!.effectDeadline ?? ops[i]!.completeTime;
  }
  // By time; at equal times calls (even) before returns (odd); then by operation.
  order.sort((x, y) => entryTime[x]! - entryTime[y]! || (x & 1) - (y & 1) || x - y);
  const HEAD = entryCount;
  const TAIL = entryCount + 1;
  const next = new Int32Array(entryCount + 2);
  const prev = new Int32Array(entryCount + 2);
  let last = HEAD;
  for (let k = 0; k < entryCount; k++) {
    const e = order[k]!;
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  next[last] = TAIL;
  prev[TAIL] = last;

  const words = (n + 31) >>> 5;
  const bits = new Uint32Array(words);
  const opHash = operationHashes(n);
  const visited = new VisitedSet(limits.maxMemoBytes, Math.min(n * 2, 1 << 16));
  // bits[0, lo) are all ones; bits[hi, words) all zeros (see VisitedSet).
  let lo = 0;
  let hi = 0;
  const stackOp = new Int32Array(n);
  const stackState = new Int32Array(n);
  let depth = 0;
  let hash = 0;
  let state = 0;
  let steps = 0;

  // The longest prefix so far, saved lazily (when the search first backtracks
  // from it) and incrementally: stack slots below `stableDepth` have not
  // changed since the last save, so only the slots above it are copied.
  let bestDepth = 0;
  let bestSaved = true;
  const bestOps = new Int32Array(n);
  let stableDepth = 0;
  let stateAfterPrefix = 0;
  const saveBest = (): void => {
    bestOps.set(stackOp.subarray(stableDepth, depth), stableDepth);
    stableDepth = depth;
    stateAfterPrefix = state;
    bestSaved = true;
  };

  let entry = next[HEAD]!;
  while (next[HEAD] !== TAIL) {
    if (++steps > limits.maxSteps) {
      return { kind: 'unknown', steps: steps - 1, memoEntries: visited.size, reason: `search exceeded ${limits.maxSteps} steps` };
    }
    if ((steps & 0x3ff) === 0 && Date.now() > limits.deadline) {
      return { kind: 'unknown', steps, memoEntries: visited.size, reason: 'time budget exhausted' };
    }
    const op = entry >> 1;
    if ((entry & 1) === 0) {
      // A call: try to linearize `op` now.
      let ok = true;
      let newState = state;
      switch (kind[op]) {
        case KIND_GET:
          ok = state === argA[op];
          break;
        case KIND_PUT:
          newState = argA[op]!;
          break;
        case KIND_CAS:
          ok = state === argA[op];
          newState = argB[op]!;
          break;
        default: // KIND_CAS_MAYBE
          if (state === argA[op]) newState = argB[op]!;
      }
      if (ok) {
        const w = op >>> 5;
        const m = 1 << (op & 31);
        const oldLo = lo;
        const oldHi = hi;
        bits[w] = bits[w]! | m;
        if (w >= hi) hi = w + 1;
        while (lo < words && bits[lo] === 0xffffffff) lo++;
        const newHash = hash ^ opHash[op]!;
        const added = visited.addIfAbsent(bits, lo, hi, newHash, newState);
        if (added === ADDED) {
          stackOp[depth] = op;
          stackState[depth] = state;
          depth++;
          if (depth > bestDepth) {
            bestDepth = depth;
            bestSaved = false;
          }
          state = newState;
          hash = newHash;
          // Lift the call and its return out of the list.
          const ret = entry + 1;
          next[prev[entry]!] = next[entry]!;
          prev[next[entry]!] = prev[entry]!;
          next[prev[ret]!] = next[ret]!;
          prev[next[ret]!] = prev[ret]!;
          entry = next[HEAD]!;
          continue;
        }
        bits[w] = bits[w]! & ~m;
        lo = oldLo;
        hi = oldHi;
        if (added === FULL) {
          return { kind: 'unknown', steps, memoEntries: visited.size, reason: `memo exceeded ${limits.maxMemoBytes} bytes` };
        }
      }
      entry = next[entry]!;
    } else {
      // A return: `op` had to be linearized by now.
      if (openEnded[op] === 1) break; // only open-ended operations remain (see above)
      if (!bestSaved) saveBest();
      if (depth === 0) {
        return {
          kind: 'not-linearizable',
          steps,
          memoEntries: visited.size,
          longestPrefix: Array.from(bestOps.subarray(0, bestDepth)),
          stateAfterPrefix: values.value(stateAfterPrefix),
        };
      }
      depth--;
      if (depth < stableDepth) stableDepth = depth;
      const undone = stackOp[depth]!;
      state = stackState[depth]!;
      hash ^= opHash[undone]!;
      const w = undone >>> 5;
      bits[w] = bits[w]! & ~(1 << (undone & 31));
      if (w < lo) lo = w;
      while (hi > 0 && bits[hi - 1] === 0) hi--;
      // Unlift: put the return back, then the call (reverse order of lifting).
      const call = undone * 2;
      const ret = call + 1;
      next[prev[ret]!] = ret;
      prev[next[ret]!] = ret;
      next[prev[call]!] = call;
      prev[next[call]!] = call;
      entry = next[call]!;
    }
  }
  return { kind: 'linearizable', steps, memoEntries: visited.size };
}
