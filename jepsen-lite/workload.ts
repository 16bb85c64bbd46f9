/**
 * The workload: `clients` concurrent logical processes, each with its own
 * client (its own session), doing get / put / cas on a few keys, and the
 * rules by which their operations become history events (../history.ts):
 *
 * - `invoke` is recorded just before the request is sent, the completion just
 *   after the outcome is known, both on one monotonic clock;
 * - get: ok with the value read; any error → `fail` (a read changes nothing);
 * - put: ok; an error with `definite: true` → `fail`; otherwise → `info`;
 * - cas `[expected, new]`: ok when it swapped, `fail` when it did not or the
 *   error was definite, `info` when the outcome is unknown;
 * - after an `info` the process id is retired: the worker closes its client
 *   and continues as a new process id with a fresh client (fresh session).
 */
import type { EventType, HistoryEvent, OpFunction, OpValue, RegisterValue } from './history.js';
import type { Rng } from '../src/util/rng.js';
import { isRaftcacheError } from '../src/client/index.js';

/** The part of RaftcacheClient the workload uses (a fake in unit tests). */
export interface KvClient {
  get(key: string): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
  cas(key: string, expected: string | null, next: string | null): Promise<{ readonly swapped: boolean }>;
  close(): Promise<void>;
}

export type Op =
  | { readonly f: 'get'; readonly key: string }
  | { readonly f: 'put'; readonly key: string; readonly value: string }
  | { readonly f: 'cas'; readonly key: string; readonly expected: RegisterValue; readonly next: string };

/** A nanosecond clock relative to its creation, on process.hrtime (monotonic). */
export function monotonicClock(): () => number {
  const t0 = process.hrtime.bigint();
  return () => Number(process.hrtime.bigint() - t0);
}

export class HistoryRecorder {
  readonly events: HistoryEvent[] = [];

  constructor(readonly now: () => number) {}

  record(process: number, type: EventType, f: OpFunction, key: string, value: OpValue): void {
    this.events.push({ process, type, f, key, value, time: this.now() });
  }
}

function invokeValue(op: Op): OpValue {
  switch (op.f) {
    case 'get':
      return null;
    case 'put':
      return op.value;
    case 'cas':
      return [op.expected, op.next];
  }
}

/** An error whose outcome is known not to have applied. */
function isDefinite(e: unknown): boolean {
  return isRaftcacheError(e) && e.definite;
}

/** How an operation completed, as recorded. */
export interface Completion {
  readonly type: EventType;
  readonly value: OpValue;
}

/**
 * Runs `op` as `process` on `client`, recording the invoke and the
 * completion; returns the completion (`info` = retire the process).
 */
export async function performOp(client: KvClient, history: HistoryRecorder, process: number, op: Op): Promise<Completion> {
  const value = invokeValue(op);
  history.record(process, 'invoke', op.f, op.key, value);
  switch (op.f) {
    case 'get': {
      try {
        const read = await client.get(op.key);
        history.record(process, 'ok', 'get', op.key, read);
        return { type: 'ok', value: read };
      } catch {
        history.record(process, 'fail', 'get', op.key, null);
        return { type: 'fail', value: null };
      }
    }
    case 'put': {
      try {
        await client.put(op.key, op.value);
        history.record(process, 'ok', 'put', op.key, value);
        return { type: 'ok', value };
      } catch (e) {
        const type: EventType = isDefinite(e) ? 'fail' : 'info';
        history.record(process, type, 'put', op.key, value);
        return { type, value };
      }
    }
    case 'cas': {
      try {
        const r = await client.cas(op.key, op.expected, op.next);
        const type: EventType = r.swapped ? 'ok' : 'fail';
        history.record(process, type, 'cas', op.key, value);
        return { type, value };
      } catch (e) {
        const type: EventType = isDefinite(e) ? 'fail' : 'info';
        history.record(process, type, 'cas', op.key, value);
        return { type, value };
      }
    }
  }
}

export interface WorkloadOptions {
  readonly clients: number;
  readonly keys: number;
  readonly rng: Rng;
  readonly history: HistoryRecorder;
  readonly makeClient: () => KvClient;
  readonly stopped: () => boolean;
  /** Fractions of get and put; the rest is cas. Default 0.5 / 0.25. */
  readonly getFraction?: number;
  readonly putFraction?: number;
}

export interface WorkloadResult {
  /** Process ids used (the first `clients` plus one per retirement). */
  readonly processes: number;
}

export function keyName(i: number): string {
  return `k${i}`;
}

/** Runs the workers until `stopped()`; each finishes its current operation. */
export async function runWorkload(o: WorkloadOptions): Promise<WorkloadResult> {
  let nextProcess = o.clients;
  let nextValue = 0;
  const getFraction = o.getFraction ?? 0.5;
  const putFraction = o.putFraction ?? 0.25;
  /** The last value any process saw for a key: cas expects it, so some cas succeed. */
  const lastSeen = new Map<string, RegisterValue>();

  const nextOp = (): Op => {
    const key = keyName(o.rng.int(o.keys));
    const r = o.rng.float();
    if (r < getFraction) return { f: 'get', key };
    const value = `v${nextValue++}`;
    if (r < getFraction + putFraction) return { f: 'put', key, value };
    return { f: 'cas', key, expected: lastSeen.get(key) ?? null, next: value };
  };

  const worker = async (first: number): Promise<void> => {
    let process = first;
    let client = o.makeClient();
    try {
      while (!o.stopped()) {
        const op = nextOp();
        const done = await performOp(client, o.history, process, op);
        if (done.type === 'ok') lastSeen.set(op.key, op.f === 'get' ? (done.value as RegisterValue) : op.f === 'put' ? op.value : op.next);
        if (done.type === 'info') {
          await client.close();
          process = nextProcess++;
          client = o.makeClient();
        }
      }
    } finally {
      await client.close();
    }
  };

  await Promise.all(Array.from({ length: o.clients }, (_, i) => worker(i)));
  return { processes: nextProcess };
}
