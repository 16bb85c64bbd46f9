/**
 * Explains a violation from the longest linearizable prefix the search found:
 * which operations could not be placed after it, in what state, and the window
 * of time around them (for a report's timeline).
 */
import type { RegisterValue } from '../history.js';
import type { Operation } from './operations.js';

export interface Violation {
  /** Operations of the longest linearizable prefix found (at most the last `PREFIX_TAIL`), in order. */
  readonly prefixTail: readonly Operation[];
  /** Length of that prefix. */
  readonly prefixLength: number;
  /** The register's value after the prefix. */
  readonly stateAfterPrefix: RegisterValue;
  /** The operation with the earliest completion outside the prefix: it had to be placed next, and could not. */
  readonly blocking: Operation;
  /** Every operation that could have come next (invoked before `blocking` completed); none led to a full linearization. */
  readonly unplaced: readonly Operation[];
  readonly window: { readonly from: number; readonly to: number };
}

const PREFIX_TAIL = 8;
const MAX_LISTED = 20;

export function explainViolation(
  ops: readonly Operation[],
  longestPrefix: readonly number[],
  stateAfterPrefix: RegisterValue,
): Violation {
  const inPrefix = new Uint8Array(ops.length);
  for (const id of longestPrefix) inPrefix[id] = 1;
  let blocking: Operation | undefined;
  for (const op of ops) {
    if (inPrefix[op.id] === 1) continue;
    if (blocking === undefined || deadlineOf(op) < deadlineOf(blocking)) blocking = op;
  }
  if (blocking === undefined) throw new Error('explainViolation: every operation is in the prefix');
  const deadline = deadlineOf(blocking);
  const unplaced = ops
    .filter((op) => inPrefix[op.id] !== 1 && op.invokeTime <= deadline)
    .sort((a, b) => a.invokeTime - b.invokeTime || a.id - b.id);
  const prefixTail = longestPrefix.slice(-PREFIX_TAIL).map((id) => ops[id]!);

  let from = blocking.invokeTime;
  let to = deadline;
  for (const op of [...unplaced, ...prefixTail.slice(-3)]) {
    from = Math.min(from, op.invokeTime);
    if (Number.isFinite(op.completeTime)) to = Math.max(to, op.completeTime);
  }
  return {
    prefixTail,
    prefixLength: longestPrefix.length,
    stateAfterPrefix,
    blocking,
    unplaced,
    window: { from, to },
  };
}

/** When an operation must have taken effect by, for the search. */
function deadlineOf(op: Operation): number {
  return op.effectDeadline ?? op.completeTime;
}

export function describeOperation(op: Operation): string {
  const v = op.value;
  const value = Array.isArray(v)
    ? `${JSON.stringify(v[0])} -> ${JSON.stringify(v[1])}`
    : op.f === 'get'
      ? `-> ${JSON.stringify(v)}`
      : JSON.stringify(v);
  const outcome = op.indefinite ? ' (outcome unknown)' : '';
  const done = Number.isFinite(op.completeTime) ? String(op.completeTime) : 'never';
  const bound = op.effectDeadline === undefined ? '' : ` (if at all, took effect by ${op.effectDeadline})`;
  return `process ${op.process} ${op.f} ${value}${outcome}, invoked ${op.invokeTime}, completed ${done}${bound}`;
}

export function describeViolation(v: Violation, operations: number): string {
  const lines: string[] = [];
  lines.push(
    `longest linearizable prefix: ${v.prefixLength} of ${operations} operations, leaving the value ${JSON.stringify(v.stateAfterPrefix)}`,
  );
  if (v.prefixTail.length > 0) {
    lines.push(`  it ends with:`);
    for (const op of v.prefixTail) lines.push(`    ${describeOperation(op)}`);
  }
  lines.push(`  must take effect next but cannot: ${describeOperation(v.blocking)}`);
  lines.push(`  operations that could not be placed after the prefix (${v.unplaced.length}):`);
  for (const op of v.unplaced.slice(0, MAX_LISTED)) lines.push(`    ${describeOperation(op)}`);
  if (v.unplaced.length > MAX_LISTED) lines.push(`    … and ${v.unplaced.length - MAX_LISTED} more`);
  lines.push(`  window: ${v.window.from} .. ${v.window.to}`);
  return lines.join('\n');
}
