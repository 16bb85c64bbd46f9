/**
 * Records a jepsen-lite history (../../../jepsen-lite/history.ts) on one
 * monotonic clock: nanoseconds since the recorder was created. The demo's
 * timeline uses the same clock, so history times and fault times compare.
 */
import type { EventType, HistoryEvent, OpFunction, OpValue } from '../../../jepsen-lite/history.js';

export class HistoryRecorder {
  readonly events: HistoryEvent[] = [];
  private origin: bigint;

  constructor() {
    this.origin = process.hrtime.bigint();
  }

  /** Moves time 0 to now (before the first event: the load's start). */
  resetOrigin(): void {
    if (this.events.length > 0) throw new Error('HistoryRecorder.resetOrigin: events already recorded');
    this.origin = process.hrtime.bigint();
  }

  /** Nanoseconds since the origin (creation or resetOrigin). */
  nowNs(): number {
    return Number(process.hrtime.bigint() - this.origin);
  }

  /** Appends one event stamped now; returns its time. */
  record(processId: number, type: EventType, f: OpFunction, key: string, value: OpValue): number {
    const time = this.nowNs();
    this.events.push({ process: processId, type, f, key, value, time });
    return time;
  }
}
