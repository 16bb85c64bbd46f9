/**
 * Group commit: every write made during one event-loop turn (by any group)
 * goes into one synced LevelDB batch. At most one batch is being synced at a
 * time; writes made meanwhile accumulate into the next one (pipelining).
 *
 * A write's promise is the promise of the batch that carries it; all writes of
 * a batch share one promise (no allocation per write). Once a batch fails, or a
 * touched group fails its invariant check before a batch is written, the commit
 * is failed for good: the in-memory view may be ahead of the disk, so every
 * later write throws (fail-stop; reopen from disk).
 */
import type { Entry } from '../raft/types.js';
import { StorageFailedError } from './errors.js';

/**
 * One write of a batch. A `run` (consecutive log entries of one group, keys.ts)
 * is encoded only when its batch is written, into a buffer the writer reuses:
 * no copy of the entries per append, no allocation per run.
 */
export type BatchOp =
  | { readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly key: Uint8Array }
  | RunOp;

/** `entries[from..to)` stored as the run of `group` that begins at index `first`. */
export interface RunOp {
  readonly type: 'run';
  readonly group: number;
  readonly first: number;
  /** Never changed once handed over (the core hands out fresh arrays and never changes an entry). */
  readonly entries: readonly Entry[];
  readonly from: number;
  readonly to: number;
}

/**
 * Writes `ops` atomically and durably (one synced LevelDB batch). It reads
 * every key and value before it returns (the chained batch copies them), so
 * a writer may reuse a value buffer for the next batch once this one started.
 */
export type WriteBatch = (ops: BatchOp[]) => Promise<void>;

/** Something whose on-disk invariants are checked before a batch that touched it is written. */
export interface Checked {
  /** Throws if the state about to be written is one a reopen would reject. */
  checkInvariants(): void;
}

export interface CommitStats {
  /** Synced batches started (one `db.batch` call each). */
  readonly batches: number;
  readonly ops: number;
  readonly bytes: number;
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // The store fails loudly through every later write; an ignored promise must not crash the process.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

const RESOLVED = Promise.resolve();

export class GroupCommit {
  private pending: BatchOp[] = [];
  private pendingBytes = 0;
  private pendingDone: Deferred | null = null;
  private readonly touched = new Set<Checked>();
  private inFlight: Deferred | null = null;
  private scheduled = false;
  private failure: StorageFailedError | null = null;
  private closed = false;
  private batches = 0;
  /** Number of the batch now accumulating (see `accumulating`). */
  private seq = 0;
  private ops = 0;
  private bytes = 0;

  constructor(private readonly write: WriteBatch) {}

  /** The error that failed the commit, or null. */
  get failed(): StorageFailedError | null {
    return this.failure;
  }

  /** Throws if writes are no longer accepted. Writers call it before changing their in-memory view. */
  assertWritable(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error('node store is closed');
  }

  /** Refuses new writes from now on; writes already made still become durable (`durable()`). */
  closeWrites(): void {
    this.closed = true;
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.assertWritable();
    this.pending.push({ type: 'put', key, value });
    this.pendingBytes += key.byteLength + value.byteLength;
    this.schedule();
  }

  /** Stores `entries[from..to)` as the run of `group` beginning at `first` (`bytes`: its key and value size, for the stats). */
  putRun(group: number, first: number, entries: readonly Entry[], from: number, to: number, bytes: number): void {
    this.assertWritable();
    this.pending.push({ type: 'run', group, first, entries, from, to });
    this.pendingBytes += bytes;
    this.schedule();
  }

  del(key: Uint8Array): void {
    this.assertWritable();
    this.pending.push({ type: 'del', key });
    this.pendingBytes += key.byteLength;
    this.schedule();
  }

  /** Marks `c` to be checked before the batch now accumulating is written. */
  touch(c: Checked): void {
    this.touched.add(c);
  }

  /** Resolves once every write made so far is durable; rejects if it cannot be. */
  durable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending.length > 0) {
      this.pendingDone ??= deferred();
      return this.pendingDone.promise;
    }
    return this.inFlight ? this.inFlight.promise : RESOLVED;
  }

  /**
   * Starts the batch now accumulating at once, if none is in flight, instead
   * of at the next setImmediate: for a caller that knows every write of its
   * turn is made (the node's Ready loop calls it through `NodeStore.flush()`),
   * so the fsync does not wait for one more event-loop iteration.
   */
  kick(): void {
    if (this.inFlight || this.pending.length === 0) return;
    this.start();
  }

  /**
   * Identifies the batch now accumulating: it changes when that batch starts
   * being written. A writer whose put is already in it may change the value
   * buffer in place instead of putting again (the batch reads it when it starts).
   */
  get accumulating(): number {
    return this.seq;
  }

  stats(): CommitStats {
    return { batches: this.batches, ops: this.ops, bytes: this.bytes };
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight) return;
    this.scheduled = true;
    // setImmediate, not a microtask: writes made by every callback of this turn's I/O phase join the batch.
    setImmediate(() => this.start());
  }

  private start(): void {
    this.scheduled = false;
    if (this.inFlight || this.failure || this.pending.length === 0) return;
    const ops = this.pending;
    const done = this.pendingDone ?? deferred();
    const bytes = this.pendingBytes;
    this.seq++;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingDone = null;
    try {
      for (const c of this.touched) c.checkInvariants();
    } catch (err) {
      this.touched.clear();
      this.fail(new StorageFailedError(`refusing to write a batch: ${errorMessage(err)}`, { cause: err }), done);
      return;
    }
    this.touched.clear();
    this.inFlight = done;
    this.batches++;
    this.ops += ops.length;
    this.bytes += bytes;
    let written: Promise<void>;
    try {
      written = this.write(ops); // encodes queued runs: a bad entry throws here
    } catch (err) {
      written = Promise.reject(err);
    }
    written.then(
      () => {
        this.inFlight = null;
        // What accumulated during this write starts at once: its writers are done with it.
        if (this.pending.length > 0) this.start();
        done.resolve();
      },
      (err: unknown) => {
        this.inFlight = null;
        this.fail(new StorageFailedError(`batch write failed: ${errorMessage(err)}`, { cause: err }), done);
      },
    );
  }

  private fail(err: StorageFailedError, done: Deferred): void {
    this.failure ??= err;
    done.reject(this.failure);
    this.pendingDone?.reject(this.failure);
    this.pendingDone = null;
    this.pending = [];
    this.pendingBytes = 0;
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
