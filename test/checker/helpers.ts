import type { EventType, HistoryEvent, OpFunction, OpValue } from '../../jepsen-lite/history.js';

/** One operation as an invoke/completion pair, for hand-written histories. */
export interface OpSpec {
  readonly p: number;
  readonly f: OpFunction;
  /** get: the value read; put: the value written; cas: [expected, new]. */
  readonly v: OpValue;
  readonly from: number;
  /** Completion time; omit for an operation that never completes. */
  readonly to?: number;
  readonly type?: Exclude<EventType, 'invoke'>;
  readonly key?: string;
}

/** Builds a history sorted by time (invokes before completions at equal times). */
export function history(...ops: OpSpec[]): HistoryEvent[] {
  const events: { e: HistoryEvent; rank: number }[] = [];
  for (const o of ops) {
    const key = o.key ?? 'x';
    events.push({ e: { process: o.p, type: 'invoke', f: o.f, key, value: o.f === 'get' ? null : o.v, time: o.from }, rank: 0 });
    if (o.to !== undefined) {
      events.push({ e: { process: o.p, type: o.type ?? 'ok', f: o.f, key, value: o.v, time: o.to }, rank: 1 });
    }
  }
  events.sort((a, b) => a.e.time - b.e.time || a.rank - b.rank);
  return events.map((x) => x.e);
}
