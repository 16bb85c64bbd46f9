/**
 * Turns a flat event history into per-key operations: each invocation paired
 * with its completion by process, `fail` operations and unknown-outcome reads
 * dropped, unknown-outcome writes given a completion time of +infinity.
 */
import type { HistoryEvent, OpFunction, OpValue, RegisterValue } from '../history.js';

/** How an operation acts on the register; `cas-maybe` is a cas whose outcome is unknown. */
export type OpKind = 'get' | 'put' | 'cas' | 'cas-maybe';

export interface Operation {
  /** Index among the operations of its key (0, 1, 2, …). */
  readonly id: number;
  readonly process: number;
  readonly f: OpFunction;
  readonly kind: OpKind;
  readonly key: string;
  /** get: the value read; put: the value written; cas: [expected, new]. */
  readonly value: OpValue;
  readonly invokeTime: number;
  /** +Infinity for a write whose outcome is unknown (`info` or never completed). */
  readonly completeTime: number;
  /** Index of the invoke event in the input history. */
  readonly invokeIndex: number;
  /** True when the outcome is unknown (an `info` completion or no completion at all). */
  readonly indefinite: boolean;
  /**
   * For an indefinite write the search may bound: the time by which it must
   * have taken effect if it did at all (see prune.ts). Defaults to completeTime.
   */
  readonly effectDeadline?: number;
}

/** A history that cannot be interpreted (bad matching, malformed values). */
export class HistoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HistoryError';
  }
}

interface Pending {
  readonly event: HistoryEvent;
  readonly index: number;
}

function describe(event: HistoryEvent, index: number): string {
  return `event #${index} (process ${event.process}, ${event.type} ${event.f} key ${JSON.stringify(event.key)} at time ${event.time})`;
}

function isRegisterValue(v: unknown): v is RegisterValue {
  return v === null || typeof v === 'string';
}

/** Checks that `value` has the shape `f` needs at this point; throws HistoryError otherwise. */
function checkValueShape(event: HistoryEvent, index: number): void {
  const v: unknown = event.value;
  if (event.f === 'cas') {
    if (!Array.isArray(v) || v.length !== 2 || !isRegisterValue(v[0]) || !isRegisterValue(v[1])) {
      throw new HistoryError(`${describe(event, index)}: a cas value must be [expected, new] of string | null`);
    }
  } else if (event.f === 'put' || (event.f === 'get' && event.type === 'ok')) {
    if (!isRegisterValue(v)) {
      throw new HistoryError(`${describe(event, index)}: value must be a string or null`);
    }
  }
}

/**
 * Pairs events into operations grouped by key (keys in first-seen order).
 * Throws HistoryError when a process invokes with an operation still
 * outstanding, completes without one, completes a different function or key,
 * reuses its id after an `info`, or completes before it invoked.
 */
export function operationsByKey(events: readonly HistoryEvent[]): Map<string, Operation[]> {
  const byKey = new Map<string, Operation[]>();
  const pending = new Map<number, Pending>();
  const retired = new Map<number, number>();

  const add = (invoke: Pending, kind: OpKind, value: OpValue, completeTime: number, indefinite: boolean): void => {
    const key = invoke.event.key;
    let list = byKey.get(key);
    if (list === undefined) {
      list = [];
      byKey.set(key, list);
    }
    list.push({
      id: list.length,
      process: invoke.event.process,
      f: invoke.event.f,
      kind,
      key,
      value,
      invokeTime: invoke.event.time,
      completeTime,
      invokeIndex: invoke.index,
      indefinite,
    });
  };

  const addIndefinite = (invoke: Pending): void => {
    // A read with unknown outcome changes nothing: drop it.
    if (invoke.event.f === 'get') return;
    add(invoke, invoke.event.f === 'cas' ? 'cas-maybe' : 'put', invoke.event.value, Number.POSITIVE_INFINITY, true);
  };

  for (let index = 0; index < events.length; index++) {
    const event = events[index]!;
    if (!Number.isFinite(event.time)) {
      throw new HistoryError(`${describe(event, index)}: time must be a finite number`);
    }
    checkValueShape(event, index);
    const retiredAt = retired.get(event.process);
    if (retiredAt !== undefined) {
      throw new HistoryError(
        `${describe(event, index)}: process ${event.process} was retired by the info at event #${retiredAt} and must not be used again`,
      );
    }
    const open = pending.get(event.process);
    if (event.type === 'invoke') {
      if (open !== undefined) {
        throw new HistoryError(
          `${describe(event, index)}: process ${event.process} still has the operation invoked at event #${open.index} outstanding`,
        );
      }
      pending.set(event.process, { event, index });
      continue;
    }
    if (open === undefined) {
      throw new HistoryError(`${describe(event, index)}: completion without a matching invoke`);
    }
    if (open.event.f !== event.f || open.event.key !== event.key) {
      throw new HistoryError(
        `${describe(event, index)}: completes ${event.f} ${JSON.stringify(event.key)} but event #${open.index} invoked ${open.event.f} ${JSON.stringify(open.event.key)}`,
      );
    }
    if (event.time < open.event.time) {
      throw new HistoryError(`${describe(event, index)}: completes before its invoke at time ${open.event.time}`);
    }
    pending.delete(event.process);
    switch (event.type) {
      case 'fail':
        break; // certainly no effect
      case 'info':
        retired.set(event.process, index);
        addIndefinite(open);
        break;
      case 'ok':
        // A read's result is on its completion; a write's argument on its invocation.
        add(open, event.f, event.f === 'get' ? event.value : open.event.value, event.time, false);
        break;
    }
  }
  // Operations never completed have an unknown outcome, like `info`.
  for (const open of pending.values()) addIndefinite(open);
  return byKey;
}
