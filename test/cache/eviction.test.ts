import { describe, expect, it } from 'vitest';
import { CacheStateMachine, CacheConfigError, ENTRY_OVERHEAD_BYTES, textValue } from '../../src/cache/index.js';
import type { CacheConfig, Command } from '../../src/cache/index.js';

function machine(config: CacheConfig) {
  const sm = new CacheStateMachine(config);
  let index = 0;
  return { sm, run: (cmd: Command) => sm.apply(++index, cmd) };
}

const bytes = (n: number): Uint8Array => new Uint8Array(n).fill(1);

describe('eviction', () => {
  it('entry size is UTF-8 key bytes + value bytes + the constant overhead', () => {
    const { sm, run } = machine({ maxEntries: 10, maxBytes: 10_000 });
    run({ type: 'put', ts: 1, key: '日本', value: bytes(10) });
    expect(sm.bytes).toBe(6 + 10 + ENTRY_OVERHEAD_BYTES);
  });

  it('evicts least recently used entries first when over maxEntries', () => {
    const { sm, run } = machine({ maxEntries: 3, maxBytes: 10_000 });
    for (const k of ['a', 'b', 'c']) run({ type: 'put', ts: 1, key: k, value: bytes(1) });
    run({ type: 'touch', ts: 1, keys: ['a'] });
    run({ type: 'put', ts: 1, key: 'd', value: bytes(1) });
    expect([...sm.keys()]).toEqual(['c', 'a', 'd']);
    expect(sm.stats.evictions).toBe(1);
  });

  it('one big value evicts several small ones, oldest first, and only as many as needed', () => {
    const small = 1 + 10 + ENTRY_OVERHEAD_BYTES; // 59
    const { sm, run } = machine({ maxEntries: 100, maxBytes: small * 5 });
    for (const k of ['a', 'b', 'c', 'd', 'e']) run({ type: 'put', ts: 1, key: k, value: bytes(10) });
    // big needs room for 3 small entries' worth of bytes: a, b and c go.
    run({ type: 'put', ts: 1, key: 'z', value: bytes(small * 3 - 1 - ENTRY_OVERHEAD_BYTES) });
    expect([...sm.keys()]).toEqual(['d', 'e', 'z']);
    expect(sm.stats.evictions).toBe(3);
    expect(sm.bytes).toBeLessThanOrEqual(small * 5);
  });

  it('a growing overwrite can evict others but never the written key', () => {
    const { sm, run } = machine({ maxEntries: 10, maxBytes: 200 });
    run({ type: 'put', ts: 1, key: 'a', value: bytes(10) });
    run({ type: 'put', ts: 1, key: 'b', value: bytes(10) });
    run({ type: 'put', ts: 1, key: 'a', value: bytes(200 - 1 - ENTRY_OVERHEAD_BYTES) });
    expect([...sm.keys()]).toEqual(['a']);
    expect(sm.bytes).toBe(200);
  });

  it('TOO_LARGE is refused and leaves the state unchanged', () => {
    const { sm, run } = machine({ maxEntries: 10, maxBytes: 200 });
    run({ type: 'put', ts: 1, key: 'a', value: bytes(10) });
    run({ type: 'put', ts: 1, key: 'b', value: bytes(10) });
    const before = [...sm.keys()];
    const bytesBefore = sm.bytes;
    const r = run({ type: 'put', ts: 1, key: 'a', value: bytes(200) });
    expect(r).toMatchObject({ ok: false, code: 'TOO_LARGE' });
    expect([...sm.keys()]).toEqual(before);
    expect(sm.bytes).toBe(bytesBefore);
    expect(sm.peek('a')).toEqual(bytes(10));
    const c = run({ type: 'cas', ts: 1, key: 'b', expected: bytes(10), next: bytes(500) });
    expect(c).toMatchObject({ ok: false, code: 'TOO_LARGE' });
    expect(sm.peek('b')).toEqual(bytes(10));
  });
});

describe('cas and incr', () => {
  it('cas with expected null inserts only when absent; next null deletes', () => {
    const { sm, run } = machine({ maxEntries: 10, maxBytes: 10_000 });
    expect(run({ type: 'cas', ts: 1, key: 'k', expected: null, next: textValue('1') })).toEqual({ ok: true, kind: 'cas', swapped: true });
    expect(run({ type: 'cas', ts: 1, key: 'k', expected: null, next: textValue('2') })).toEqual({ ok: true, kind: 'cas', swapped: false });
    expect(run({ type: 'cas', ts: 1, key: 'k', expected: textValue('2'), next: null })).toEqual({ ok: true, kind: 'cas', swapped: false });
    expect(run({ type: 'cas', ts: 1, key: 'k', expected: textValue('1'), next: null })).toEqual({ ok: true, kind: 'cas', swapped: true });
    expect(sm.has('k')).toBe(false);
  });

  it('incr: absent = 0, NOT_INTEGER on text, OUT_OF_RANGE beyond safe integers', () => {
    const { sm, run } = machine({ maxEntries: 10, maxBytes: 10_000 });
    expect(run({ type: 'incr', ts: 1, key: 'n', by: -3 })).toEqual({ ok: true, kind: 'incr', value: -3 });
    expect(sm.getString('n')).toBe('-3');
    run({ type: 'put', ts: 1, key: 's', value: textValue('12a') });
    expect(run({ type: 'incr', ts: 1, key: 's', by: 1 })).toMatchObject({ ok: false, code: 'NOT_INTEGER' });
    run({ type: 'put', ts: 1, key: 'big', value: textValue(String(Number.MAX_SAFE_INTEGER)) });
    expect(run({ type: 'incr', ts: 1, key: 'big', by: 1 })).toMatchObject({ ok: false, code: 'OUT_OF_RANGE' });
    expect(sm.getString('big')).toBe(String(Number.MAX_SAFE_INTEGER));
  });
});

describe('config and apply validation', () => {
  it('rejects invalid configs with clear errors', () => {
    expect(() => new CacheStateMachine({ maxEntries: 0, maxBytes: 10 })).toThrow(CacheConfigError);
    expect(() => new CacheStateMachine({ maxEntries: 1.5, maxBytes: 10 })).toThrow(/maxEntries/);
    expect(() => new CacheStateMachine({ maxEntries: 1, maxBytes: 10, sessionTtlMs: -1 })).toThrow(/sessionTtlMs/);
  });

  it('apply indexes must increase; invalid commands give INVALID_COMMAND', () => {
    const { sm } = machine({ maxEntries: 10, maxBytes: 1000 });
    sm.apply(5, { type: 'clock', ts: 1 });
    expect(() => sm.apply(5, { type: 'clock', ts: 2 })).toThrow(RangeError);
    expect(sm.apply(6, { type: 'put', ts: 1, key: 'k', value: textValue('v'), ttlMs: 0 })).toMatchObject({ code: 'INVALID_COMMAND' });
    expect(sm.apply(7, { type: 'put', ts: -1, key: 'k', value: textValue('v') })).toMatchObject({ code: 'INVALID_COMMAND' });
    expect(sm.apply(8, { type: 'put', ts: 1, key: '\ud800', value: textValue('v') })).toMatchObject({ code: 'INVALID_COMMAND' });
    expect(sm.applyEncoded(9, new Uint8Array([1, 2, 3]))).toMatchObject({ code: 'INVALID_COMMAND' });
    expect(sm.lastApplied).toBe(9);
    expect(sm.size).toBe(0);
  });
});
