import { describe, expect, it } from 'vitest';
import { CacheStateMachine, SnapshotError, textValue } from '../../src/cache/index.js';
import type { CacheConfig, Command, CommandResult, RingRange } from '../../src/cache/index.js';
import { writeSnapshot } from '../../src/cache/snapshot.js';
import type { SnapshotSource } from '../../src/cache/snapshot.js';
import { hashKey, RING_SIZE } from '../../src/shard/index.js';

const v = textValue;
const HALF = RING_SIZE / 2;
/** Split off the lower half of the ring. */
const LOWER: RingRange[] = [{ start: 0, end: HALF }];

const KEYS = Array.from({ length: 40 }, (_, i) => `key${i}`);
const low = KEYS.filter((k) => hashKey(k) < HALF);
const high = KEYS.filter((k) => hashKey(k) >= HALF);

const CONFIG: CacheConfig = { maxEntries: 100, maxBytes: 100_000, sessionTtlMs: 10_000 };

function machine(config: CacheConfig = CONFIG) {
  const sm = new CacheStateMachine(config);
  let index = 0;
  const run = (cmd: Command): CommandResult => sm.apply(++index, cmd);
  const register = (ts: number): number => {
    const r = run({ type: 'register', ts });
    if (!r.ok || r.kind !== 'registered') throw new Error('register failed');
    return r.clientId;
  };
  const split = (ts: number, ranges: readonly RingRange[]): CacheStateMachine => {
    expect(run({ type: 'split', ts, ranges })).toEqual({ ok: true, kind: 'done' });
    const taken = sm.takeSplit();
    if (taken === null) throw new Error('split produced nothing');
    return taken;
  };
  return { sm, run, register, split, index: () => index };
}

/** A runner for the split-off machine, continuing after its lastApplied. */
function runner(sm: CacheStateMachine): (cmd: Command) => CommandResult {
  let index = sm.lastApplied;
  return (cmd) => sm.apply(++index, cmd);
}

describe('split', () => {
  it('the test keys fall on both halves of the ring', () => {
    expect(low.length).toBeGreaterThan(5);
    expect(high.length).toBeGreaterThan(5);
  });

  it('keeps the relative LRU order on both sides', () => {
    const { sm, run, split } = machine();
    KEYS.forEach((k, i) => run({ type: 'put', ts: 10 + i, key: k, value: v(k) }));
    // Reorder: touch every third key, then overwrite one.
    run({ type: 'touch', ts: 100, keys: KEYS.filter((_, i) => i % 3 === 0) });
    run({ type: 'put', ts: 101, key: 'key5', value: v('five') });
    const order = [...sm.keys()];
    const taken = split(102, LOWER);
    expect([...taken.keys()]).toEqual(order.filter((k) => hashKey(k) < HALF));
    expect([...sm.keys()]).toEqual(order.filter((k) => hashKey(k) >= HALF));
    for (const k of low) expect(taken.getString(k)).toBe(k === 'key5' ? 'five' : k);
    // Sizes are accounted on both sides.
    expect(taken.size + sm.size).toBe(KEYS.length);
    expect(taken.bytes + sm.bytes).toBe(sumBytes(order));
    expect(taken.now).toBe(102);
    expect(taken.lastApplied).toBe(sm.lastApplied);
  });

  it('moves TTL expiries with their keys; they expire on both sides at the same log time', () => {
    const { sm, run, split } = machine();
    KEYS.forEach((k, i) => run({ type: 'put', ts: 1000, key: k, value: v('x'), ttlMs: i % 2 === 0 ? 100 + i : undefined }));
    const expiries = new Map(KEYS.map((k) => [k, sm.expiresAt(k)]));
    const taken = split(1010, LOWER);
    for (const k of low) expect(taken.expiresAt(k)).toBe(expiries.get(k));
    for (const k of high) expect(sm.expiresAt(k)).toBe(expiries.get(k));
    const runTaken = runner(taken);
    run({ type: 'clock', ts: 1120 });
    runTaken({ type: 'clock', ts: 1120 });
    for (const k of KEYS) {
      const alive = (expiries.get(k) ?? Infinity) > 1120;
      expect((hashKey(k) < HALF ? taken : sm).has(k)).toBe(alive);
    }
    const expiring = KEYS.filter((k) => (expiries.get(k) ?? Infinity) <= 1120);
    expect(taken.stats.expirations + sm.stats.expirations).toBe(expiring.length);
    expect(taken.stats.expirations).toBeGreaterThan(0);
    expect(sm.stats.expirations).toBeGreaterThan(0);
  });

  it('entries already expired when the split applies move nowhere', () => {
    const { sm, run, split } = machine();
    run({ type: 'put', ts: 1000, key: low[0] as string, value: v('x'), ttlMs: 5 });
    run({ type: 'put', ts: 1000, key: low[1] as string, value: v('y') });
    const taken = split(1005, LOWER);
    expect([...taken.keys()]).toEqual([low[1]]);
    expect(sm.size).toBe(0);
  });

  it('copies the sessions: a retried write is recognised on either side', () => {
    const { sm, run, register, split } = machine();
    const client = register(1);
    const lowKey = low[0] as string;
    const highKey = high[0] as string;
    const first = run({ type: 'incr', ts: 2, key: lowKey, by: 5, session: { client, seq: 1 } });
    run({ type: 'incr', ts: 2, key: highKey, by: 7, session: { client, seq: 2 } });
    const taken = split(3, LOWER);
    const runTaken = runner(taken);
    expect(taken.session(client)).toEqual(sm.session(client));
    expect(taken.session(client)).not.toBe(sm.session(client));
    // The retry of seq 1 (its key moved) is answered from memory on the new side: not applied twice.
    expect(runTaken({ type: 'incr', ts: 4, key: lowKey, by: 5, session: { client, seq: 1 } })).toEqual(first);
    expect(taken.getString(lowKey)).toBe('5');
    // The retry of seq 2 on the old side, too.
    expect(run({ type: 'incr', ts: 4, key: highKey, by: 7, session: { client, seq: 2 } })).toEqual({ ok: true, kind: 'incr', value: 7 });
    expect(sm.getString(highKey)).toBe('7');
    // New writes continue on both sides independently.
    expect(runTaken({ type: 'incr', ts: 5, key: lowKey, by: 1, session: { client, seq: 3 } })).toEqual({ ok: true, kind: 'incr', value: 6 });
    expect(run({ type: 'incr', ts: 5, key: highKey, by: 1, session: { client, seq: 4 } })).toEqual({ ok: true, kind: 'incr', value: 8 });
    // Session tables are separate copies: a write on one side is not recorded on the other.
    expect(sm.session(client)?.seqs).toEqual([1, 2, 4]);
    expect(taken.session(client)?.seqs).toEqual([1, 2, 3]);
  });

  it('WRONG_SHARD for every write to a key split off, changing nothing (not the clock, not the session)', () => {
    const writes = (key: string, ts: number, session: { client: number; seq: number; firstIncomplete?: number }): Command[] => [
      { type: 'put', ts, key, value: v('new'), ttlMs: 5, session },
      { type: 'delete', ts, key, session },
      { type: 'cas', ts, key, expected: v('x'), next: v('y'), session },
      { type: 'cas', ts, key, expected: null, next: v('y'), session },
      { type: 'incr', ts, key, by: 1, session },
      { type: 'put', ts, key, value: v('new') },
    ];
    for (const cmdIndex of [0, 1, 2, 3, 4, 5]) {
      // Two replicas with the same history; one gets the refused write, the other a no-op clock entry.
      const a = machine();
      const b = machine();
      const clients = [a, b].map((m) => {
        const client = m.register(1);
        m.run({ type: 'put', ts: 2, key: high[0] as string, value: v('x'), ttlMs: 50, session: { client, seq: 1 } });
        m.run({ type: 'put', ts: 2, key: high[1] as string, value: v('x'), session: { client, seq: 2 } });
        m.run({ type: 'put', ts: 2, key: low[0] as string, value: v('x'), session: { client, seq: 3 } });
        m.split(3, LOWER);
        return client;
      });
      const client = clients[0] as number;
      // A later ts (would expire high[0] and advance the clock) and a firstIncomplete (would drop results).
      const cmd = writes(low[0] as string, 1000, { client, seq: 9, firstIncomplete: 3 })[cmdIndex] as Command;
      const r = a.run(cmd);
      expect(r).toMatchObject({ ok: false, code: 'WRONG_SHARD' });
      b.run({ type: 'clock', ts: 0 });
      expect(a.sm.snapshotBytes()).toEqual(b.sm.snapshotBytes());
      expect(a.sm.now).toBe(3);
      expect(a.sm.session(client)?.seqs).toEqual([1, 2, 3]);
      // Owned keys still work.
      expect(a.run({ type: 'put', ts: 1001, key: high[1] as string, value: v('z'), session: { client, seq: 10 } })).toEqual({ ok: true, kind: 'done' });
    }
  });

  it('the refused write, retried with the same seq on the new shard, applies there once', () => {
    const { run, register, split } = machine();
    const client = register(1);
    const taken = split(2, LOWER);
    const runTaken = runner(taken);
    const cmd: Command = { type: 'incr', ts: 3, key: low[0] as string, by: 2, session: { client, seq: 1 } };
    expect(run(cmd)).toMatchObject({ ok: false, code: 'WRONG_SHARD' });
    expect(runTaken(cmd)).toEqual({ ok: true, kind: 'incr', value: 2 });
    expect(runTaken(cmd)).toEqual({ ok: true, kind: 'incr', value: 2 });
    expect(taken.getString(low[0] as string)).toBe('2');
  });

  it('touch skips keys it does not own; the new shard refuses the keys it did not get', () => {
    const { sm, run, split } = machine();
    for (const k of [...low.slice(0, 3), ...high.slice(0, 3)]) run({ type: 'put', ts: 1, key: k, value: v(k) });
    const taken = split(2, LOWER);
    const before = sm.snapshotBytes();
    const twin = CacheStateMachine.restore(CONFIG, [before]);
    expect(run({ type: 'touch', ts: 2, keys: low.slice(0, 3) })).toEqual({ ok: true, kind: 'done' });
    twin.apply(sm.lastApplied, { type: 'clock', ts: 0 });
    expect(sm.snapshotBytes()).toEqual(twin.snapshotBytes());
    expect(runner(taken)({ type: 'put', ts: 3, key: high[0] as string, value: v('x') })).toMatchObject({ ok: false, code: 'WRONG_SHARD' });
  });

  it('owns() follows the ranges, boundaries included; a second split adds ranges', () => {
    const k = low[0] as string;
    const h = hashKey(k);
    const { sm, split } = machine();
    expect(KEYS.every((key) => sm.owns(key))).toBe(true);
    expect(sm.notOwnedRanges()).toEqual([]);
    expect(sm.takeSplit()).toBeNull();
    // [h+1, h+2) does not hold h; [h, h+1) does.
    const first = split(1, [{ start: h + 1, end: h + 2 }]);
    expect(sm.owns(k)).toBe(true);
    expect(first.owns(k)).toBe(false);
    expect(first.notOwnedRanges()).toEqual([
      { start: 0, end: h + 1 },
      { start: h + 2, end: RING_SIZE },
    ]);
    const second = split(2, [{ start: h, end: h + 1 }, { start: h + 1, end: h + 5 }]);
    expect(sm.owns(k)).toBe(false);
    expect(second.owns(k)).toBe(true);
    expect(sm.notOwnedRanges()).toEqual([{ start: h, end: h + 5 }]);
    // The second split-off owns only what the first one did not take.
    expect(second.notOwnedRanges()).toEqual([
      { start: 0, end: h },
      { start: h + 1, end: h + 2 },
      { start: h + 5, end: RING_SIZE },
    ]);
    expect(sm.takeSplit()).toBeNull();
    const third = split(3, [{ start: 0, end: RING_SIZE }]);
    expect(KEYS.some((key) => sm.owns(key))).toBe(false);
    expect(sm.notOwnedRanges()).toEqual([{ start: 0, end: RING_SIZE }]);
    expect(third.owns(k)).toBe(false);
    expect(KEYS.filter((key) => third.owns(key)).length).toBe(KEYS.length - 1);
  });

  it('takeSplit returns the split of the last applied split only', () => {
    const { sm, run } = machine();
    run({ type: 'put', ts: 1, key: low[0] as string, value: v('a') });
    run({ type: 'split', ts: 2, ranges: [{ start: 0, end: 1 }] });
    run({ type: 'split', ts: 3, ranges: LOWER });
    const taken = sm.takeSplit();
    expect(taken?.has(low[0] as string)).toBe(true);
    expect(sm.takeSplit()).toBeNull();
  });

  it('an invalid split is INVALID_COMMAND and changes nothing', () => {
    const { sm, run } = machine();
    run({ type: 'put', ts: 1, key: low[0] as string, value: v('a') });
    const before = sm.snapshotBytes();
    for (const ranges of [[], [{ start: 5, end: 5 }], [{ start: 0, end: RING_SIZE + 1 }], [{ start: 9, end: 20 }, { start: 0, end: 3 }], [{ start: 0.5, end: 3 }]]) {
      expect(run({ type: 'split', ts: 2, ranges })).toMatchObject({ ok: false, code: 'INVALID_COMMAND' });
    }
    expect(sm.takeSplit()).toBeNull();
    expect(sm.notOwnedRanges()).toEqual([]);
    const twin = CacheStateMachine.restore(CONFIG, [before]);
    twin.apply(sm.lastApplied, { type: 'clock', ts: 0 });
    expect(sm.snapshotBytes()).toEqual(twin.snapshotBytes());
  });
});

describe('snapshots with not-owned ranges', () => {
  it('round-trip: ranges, entries, sessions; WRONG_SHARD still after restore', () => {
    const { sm, run, register, split } = machine();
    const client = register(1);
    KEYS.forEach((k, i) => run({ type: 'put', ts: 2, key: k, value: v(k), ttlMs: i % 2 === 0 ? 500 : undefined, session: { client, seq: i } }));
    const taken = split(3, [{ start: 0, end: 1000 }, { start: HALF, end: RING_SIZE }]);
    for (const side of [sm, taken]) {
      const bytes = side.snapshotBytes();
      expect(bytes[4]).toBe(2); // version 2: carries the ranges
      const restored = CacheStateMachine.restore(CONFIG, [bytes]);
      expect(restored.snapshotBytes()).toEqual(bytes);
      expect(restored.notOwnedRanges()).toEqual(side.notOwnedRanges());
      expect([...restored.keys()]).toEqual([...side.keys()]);
      expect(restored.session(client)).toEqual(side.session(client));
      for (const k of KEYS) expect(restored.owns(k)).toBe(side.owns(k));
      const foreign = KEYS.find((k) => !side.owns(k)) as string;
      expect(restored.apply(restored.lastApplied + 1, { type: 'put', ts: 4, key: foreign, value: v('x') })).toMatchObject({ ok: false, code: 'WRONG_SHARD' });
    }
  });

  it('a state machine that never split writes version 1, byte-identical to before; version 1 restores owning everything', () => {
    const { sm, run } = machine();
    run({ type: 'put', ts: 1, key: 'a', value: v('b') });
    const bytes = sm.snapshotBytes();
    // Golden bytes of the version 1 format (unchanged by this feature).
    const expected = [
      ...[0x52, 0x43, 0x53, 0x4d, 1], // magic, version 1
      ...f64(1), ...f64(1), ...f64(0), ...f64(0), ...f64(0), // lastApplied, now, writeSeq, evictions, expirations
      1, 1, 0x61, 1, 0x62, 0, // one entry: key "a", value "b", no expiry
      0, // no sessions
      ...[0x52, 0x43, 0x53, 0x45],
    ];
    expect([...bytes.subarray(0, bytes.length - 4)]).toEqual(expected);
    const restored = CacheStateMachine.restore(CONFIG, [bytes]);
    expect(restored.notOwnedRanges()).toEqual([]);
    expect(KEYS.every((k) => restored.owns(k))).toBe(true);
  });

  it('refuses ranges that are not canonical, and keys inside a not-owned range', () => {
    const make = (notOwned: RingRange[], keys: string[]): Uint8Array[] => {
      const source: SnapshotSource = {
        header: { lastApplied: 1, now: 1, writeSeq: 0, evictions: 0, expirations: 0, notOwned },
        entryCount: keys.length,
        firstEntry: () => (keys.length > 0 ? 0 : -1),
        nextEntry: (i) => (i + 1 < keys.length ? i + 1 : -1),
        key: (i) => keys[i] as string,
        value: () => v('x'),
        expiresAt: () => Infinity,
        expirySeq: () => 0,
        sessionCount: 0,
        sessions: () => [],
        checkUnchanged: () => undefined,
      };
      return [...writeSnapshot(source)];
    };
    const h = hashKey(low[0] as string);
    // Well-formed: restores.
    expect(CacheStateMachine.restore(CONFIG, make([{ start: 0, end: 10 }, { start: 11, end: RING_SIZE }], [])).notOwnedRanges()).toHaveLength(2);
    expect(CacheStateMachine.restore(CONFIG, make([{ start: h + 1, end: RING_SIZE }], [low[0] as string])).has(low[0] as string)).toBe(true);
    for (const bad of [
      [{ start: 0, end: 10 }, { start: 10, end: 20 }], // touching: not merged
      [{ start: 10, end: 20 }, { start: 0, end: 5 }], // out of order
      [{ start: 5, end: 5 }], // empty
      [{ start: 0, end: RING_SIZE + 1 }], // beyond the ring
    ]) {
      expect(() => CacheStateMachine.restore(CONFIG, make(bad, []))).toThrow(SnapshotError);
    }
    expect(() => CacheStateMachine.restore(CONFIG, make([{ start: h, end: h + 1 }], [low[0] as string]))).toThrow(/does not own/);
  });
});

function f64(n: number): number[] {
  return [...new Uint8Array(new Float64Array([n]).buffer)];
}

function sumBytes(keys: readonly string[]): number {
  // Every value above is the key itself except key5 ('five'); 48 bytes of overhead each.
  return keys.reduce((n, k) => n + k.length + (k === 'key5' ? 4 : k.length) + 48, 0);
}
