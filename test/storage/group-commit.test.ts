import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/storage/group-commit.js';
import type { BatchOp } from '../../src/storage/group-commit.js';
import { StorageFailedError } from '../../src/storage/errors.js';

/** A fake database whose batches complete only when the test says so. */
function fakeDb(): {
  write(ops: BatchOp[]): Promise<void>;
  calls: BatchOp[][];
  inFlight(): number;
  complete(err?: Error): void;
} {
  const calls: BatchOp[][] = [];
  const waiting: { resolve(): void; reject(e: Error): void }[] = [];
  return {
    calls,
    write(ops) {
      calls.push(ops);
      return new Promise<void>((resolve, reject) => waiting.push({ resolve, reject }));
    },
    inFlight: () => waiting.length,
    complete(err) {
      const w = waiting.shift();
      if (!w) throw new Error('nothing in flight');
      if (err) w.reject(err);
      else w.resolve();
    },
  };
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
/** Lets a completed batch's callbacks run and the next batch start (it starts on the turn after completion). */
const settle = async (): Promise<void> => {
  await nextTurn();
  await nextTurn();
};
const key = (n: number): Uint8Array => Uint8Array.of(n);

describe('GroupCommit', () => {
  it('resolves at once when nothing is pending', async () => {
    const c = new GroupCommit(fakeDb().write);
    await expect(c.durable()).resolves.toBeUndefined();
  });

  it('pipelines: one batch in flight, the writes made meanwhile form exactly one next batch', async () => {
    const db = fakeDb();
    const c = new GroupCommit((ops) => db.write(ops));
    const done: string[] = [];
    c.put(key(1), key(1));
    c.del(key(2));
    void c.durable().then(() => done.push('a'));
    await nextTurn();
    expect(db.calls).toHaveLength(1);
    expect(db.calls[0]).toEqual([
      { type: 'put', key: key(1), value: key(1) },
      { type: 'del', key: key(2) },
    ]);
    // three more turns of writes while the first batch syncs
    for (let t = 3; t < 6; t++) {
      c.put(key(t), key(t));
      void c.durable().then(() => done.push(`b${t}`));
      await nextTurn();
    }
    expect(db.calls).toHaveLength(1);
    expect(db.inFlight()).toBe(1);
    expect(done).toEqual([]);
    db.complete();
    await settle();
    expect(done).toEqual(['a']);
    expect(db.calls).toHaveLength(2);
    expect(db.calls[1]?.map((op) => (op.type === 'run' ? -1 : op.key[0]))).toEqual([3, 4, 5]);
    expect(db.inFlight()).toBe(1);
    db.complete();
    await settle();
    expect(done).toEqual(['a', 'b3', 'b4', 'b5']);
    expect(c.stats()).toEqual({ batches: 2, ops: 5, bytes: 2 + 1 + 6 });
  });

  it('flush while a batch syncs waits for that batch', async () => {
    const db = fakeDb();
    const c = new GroupCommit((ops) => db.write(ops));
    c.put(key(1), key(1));
    await nextTurn();
    let flushed = false;
    void c.durable().then(() => (flushed = true));
    await nextTurn();
    expect(flushed).toBe(false);
    db.complete();
    await settle();
    expect(flushed).toBe(true);
  });

  it('fails stop: a failed batch rejects it and everything after, and later writes throw', async () => {
    const db = fakeDb();
    const c = new GroupCommit((ops) => db.write(ops));
    c.put(key(1), key(1));
    const first = c.durable();
    await nextTurn();
    c.put(key(2), key(2));
    const second = c.durable();
    db.complete(new Error('disk full'));
    await expect(first).rejects.toThrow(/disk full/);
    await expect(second).rejects.toThrow(StorageFailedError);
    expect(() => c.put(key(3), key(3))).toThrow(StorageFailedError);
    await expect(c.durable()).rejects.toThrow(StorageFailedError);
    await nextTurn();
    expect(db.calls).toHaveLength(1);
  });

  it('checks touched writers before writing and refuses the batch if one is broken', async () => {
    const db = fakeDb();
    const c = new GroupCommit((ops) => db.write(ops));
    c.put(key(1), key(1));
    c.touch({
      checkInvariants() {
        throw new Error('commit beyond last index');
      },
    });
    await expect(c.durable()).rejects.toThrow(/commit beyond last index/);
    expect(db.calls).toHaveLength(0);
  });

  it('kick starts the accumulating batch at once, and not while one is in flight', async () => {
    const db = fakeDb();
    const c = new GroupCommit((ops) => db.write(ops));
    c.kick(); // nothing pending: no batch
    expect(db.calls.length).toBe(0);
    c.put(key(1), key(1));
    const first = c.durable();
    c.kick();
    expect(db.calls.length).toBe(1); // started synchronously, not at the next setImmediate
    c.put(key(2), key(2));
    c.kick(); // one in flight: waits
    expect(db.calls.length).toBe(1);
    await nextTurn(); // the stale setImmediate of the first put finds a batch in flight
    expect(db.calls.length).toBe(1);
    db.complete();
    await first;
    await settle();
    expect(db.calls.map((ops) => ops.length)).toEqual([1, 1]);
    db.complete();
    await expect(c.durable()).resolves.toBeUndefined();
  });
});

describe('GroupCommit, a writer that throws', () => {
  it('fails the commit for good instead of throwing out of the event loop', async () => {
    const c = new GroupCommit(() => {
      throw new Error('cannot encode');
    });
    c.put(key(1), key(1));
    await expect(c.durable()).rejects.toBeInstanceOf(StorageFailedError);
    expect(() => c.put(key(2), key(2))).toThrow(StorageFailedError);
  });
});
