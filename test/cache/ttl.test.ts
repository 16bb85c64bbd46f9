import { describe, expect, it } from 'vitest';
import { CacheStateMachine, textValue } from '../../src/cache/index.js';
import type { Command } from '../../src/cache/index.js';

const v = textValue;

function machine(): { sm: CacheStateMachine; run: (cmd: Command) => ReturnType<CacheStateMachine['apply']> } {
  const sm = new CacheStateMachine({ maxEntries: 100, maxBytes: 100_000 });
  let index = 0;
  return { sm, run: (cmd) => sm.apply(++index, cmd) };
}

describe('TTL', () => {
  it('an entry is live before expiresAt and expired exactly at it (now >= expiresAt)', () => {
    const { sm, run } = machine();
    run({ type: 'put', ts: 1000, key: 'k', value: v('x'), ttlMs: 100 });
    expect(sm.expiresAt('k')).toBe(1100);
    run({ type: 'clock', ts: 1099 });
    expect(sm.getString('k')).toBe('x');
    run({ type: 'clock', ts: 1100 });
    expect(sm.get('k')).toBeNull();
    expect(sm.size).toBe(0);
    expect(sm.stats.expirations).toBe(1);
  });

  it('an overwrite with a ttl refreshes the expiry from the new write time', () => {
    const { sm, run } = machine();
    run({ type: 'put', ts: 1000, key: 'k', value: v('a'), ttlMs: 100 });
    run({ type: 'put', ts: 1090, key: 'k', value: v('b'), ttlMs: 100 });
    run({ type: 'clock', ts: 1150 });
    expect(sm.getString('k')).toBe('b');
    run({ type: 'clock', ts: 1190 });
    expect(sm.has('k')).toBe(false);
  });

  it('a put without ttl clears a previous ttl', () => {
    const { sm, run } = machine();
    run({ type: 'put', ts: 1000, key: 'k', value: v('a'), ttlMs: 10 });
    run({ type: 'put', ts: 1005, key: 'k', value: v('b') });
    expect(sm.expiresAt('k')).toBeNull();
    run({ type: 'clock', ts: 1_000_000 });
    expect(sm.getString('k')).toBe('b');
  });

  it('incr keeps the existing ttl', () => {
    const { sm, run } = machine();
    run({ type: 'put', ts: 1000, key: 'n', value: v('5'), ttlMs: 50 });
    expect(run({ type: 'incr', ts: 1010, key: 'n', by: 2 })).toEqual({ ok: true, kind: 'incr', value: 7 });
    expect(sm.expiresAt('n')).toBe(1050);
    run({ type: 'clock', ts: 1050 });
    expect(sm.has('n')).toBe(false);
  });

  it('a far time jump expires every due entry in one apply, in deterministic order, leaving the rest', () => {
    const { sm, run } = machine();
    for (let i = 0; i < 50; i++) run({ type: 'put', ts: 1000, key: `t${i}`, value: v('x'), ttlMs: 10 + (i % 5) });
    run({ type: 'put', ts: 1000, key: 'forever', value: v('y') });
    run({ type: 'put', ts: 1000, key: 'later', value: v('z'), ttlMs: 10_000_000 });
    run({ type: 'put', ts: 10_000_000, key: 'new', value: v('w'), ttlMs: 5 });
    expect([...sm.keys()]).toEqual(['forever', 'later', 'new']);
    expect(sm.stats.expirations).toBe(50);
  });

  it('an older leader timestamp does not move time back; the ttl counts from now', () => {
    const { sm, run } = machine();
    run({ type: 'clock', ts: 5000 });
    run({ type: 'put', ts: 4000, key: 'k', value: v('x'), ttlMs: 100 });
    expect(sm.now).toBe(5000);
    expect(sm.expiresAt('k')).toBe(5100);
  });

  it('touch of an expired or absent key does nothing; touch orders present keys', () => {
    const { sm, run } = machine();
    run({ type: 'put', ts: 1000, key: 'a', value: v('1') });
    run({ type: 'put', ts: 1000, key: 'b', value: v('2'), ttlMs: 5 });
    run({ type: 'put', ts: 1000, key: 'c', value: v('3') });
    run({ type: 'touch', ts: 1005, keys: ['b', 'zz', 'a'] });
    expect([...sm.keys()]).toEqual(['c', 'a']);
    run({ type: 'touch', ts: 1005, keys: ['c', 'a', 'c'] });
    expect([...sm.keys()]).toEqual(['a', 'c']);
  });

  it('reads do not change state: no recency change, no removal', () => {
    const { sm, run } = machine();
    run({ type: 'put', ts: 1000, key: 'a', value: v('1') });
    run({ type: 'put', ts: 1000, key: 'b', value: v('2') });
    const before = sm.snapshotBytes();
    sm.get('a');
    sm.peek('a');
    sm.has('zz');
    expect(sm.snapshotBytes()).toEqual(before);
    expect(sm.stats.hits).toBe(1);
    expect(sm.stats.misses).toBe(0);
  });
});
