/**
 * The demo's client load: a few concurrent clients, each with its own
 * RaftcacheClient (its own session), doing puts with unique values and
 * linearizable gets on a few keys, every operation recorded in the history.
 * A put whose outcome is unknown completes as `info` and retires the client's
 * process id (as in Jepsen); a get that failed completes as `fail`.
 */
import { RaftcacheClient, isRaftcacheError } from '../../client/index.js';
import { SeededRng } from '../../util/rng.js';
import type { HistoryRecorder } from './history-recorder.js';

export interface WorkloadOptions {
  readonly endpoints: readonly string[];
  readonly clients: number;
  readonly keys: readonly string[];
  readonly seed: number;
  /** Share of operations that are puts, in [0, 1]. */
  readonly writeRatio: number;
  /** Deadline of one operation, retries included. */
  readonly timeoutMs: number;
}

/** Cumulative counts, for progress lines. */
export interface WorkloadCounters {
  putOk: number;
  getOk: number;
  fail: number;
  info: number;
}

export class FailoverWorkload {
  readonly counters: WorkloadCounters = { putOk: 0, getOk: 0, fail: 0, info: 0 };
  private readonly clients: RaftcacheClient[] = [];
  private workers: Promise<void>[] = [];
  private stopped = false;
  private nextProcess: number;

  constructor(
    private readonly options: WorkloadOptions,
    private readonly recorder: HistoryRecorder,
  ) {
    this.nextProcess = options.clients;
    for (let i = 0; i < options.clients; i++) {
      this.clients.push(new RaftcacheClient({ endpoints: options.endpoints, timeoutMs: options.timeoutMs, clientName: `demo-failover-${i}` }));
    }
  }

  /** Connects every client (rejects if the cluster cannot be reached). */
  async connect(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.connect()));
  }

  start(): void {
    this.workers = this.clients.map((c, i) => this.worker(c, i));
  }

  /** Lets each client finish its operation in flight, then closes the clients. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.workers);
    await this.close();
  }

  /** Closes the clients at once (operations in flight fail with CLOSED). */
  async close(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.clients.map((c) => c.close()));
  }

  private async worker(client: RaftcacheClient, index: number): Promise<void> {
    const { keys, writeRatio } = this.options;
    const rng = new SeededRng(this.options.seed ^ Math.imul(index + 1, 0x9e3779b1));
    const rec = this.recorder;
    const c = this.counters;
    let processId = index;
    let seq = 0;
    while (!this.stopped) {
      const key = keys[rng.int(keys.length)] as string;
      if (rng.float() < writeRatio) {
        const value = `c${index}-${++seq}`;
        rec.record(processId, 'invoke', 'put', key, value);
        try {
          await client.put(key, value);
          rec.record(processId, 'ok', 'put', key, value);
          c.putOk++;
        } catch (e) {
          if (isRaftcacheError(e) && e.definite) {
            rec.record(processId, 'fail', 'put', key, value);
            c.fail++;
          } else {
            rec.record(processId, 'info', 'put', key, value);
            c.info++;
            processId = this.nextProcess++;
          }
        }
      } else {
        rec.record(processId, 'invoke', 'get', key, null);
        try {
          const value = await client.get(key);
          rec.record(processId, 'ok', 'get', key, value);
          c.getOk++;
        } catch {
          rec.record(processId, 'fail', 'get', key, null); // a read changes nothing
          c.fail++;
        }
      }
    }
  }
}
