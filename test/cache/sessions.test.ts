import { describe, expect, it } from 'vitest';
import { CacheStateMachine, textValue } from '../../src/cache/index.js';
import type { CacheConfig, Command, CommandResult } from '../../src/cache/index.js';

function machine(config: Partial<CacheConfig> = {}) {
  const sm = new CacheStateMachine({ maxEntries: 100, maxBytes: 100_000, ...config });
  let index = 0;
  const run = (cmd: Command): CommandResult => sm.apply(++index, cmd);
  const register = (ts: number): number => {
    const r = run({ type: 'register', ts });
    if (!r.ok || r.kind !== 'registered') throw new Error('register failed');
    return r.clientId;
  };
  return { sm, run, register };
}

describe('client sessions', () => {
  it('register hands out the entry index as client id', () => {
    const { run } = machine();
    run({ type: 'clock', ts: 1 });
    expect(run({ type: 'register', ts: 2 })).toEqual({ ok: true, kind: 'registered', clientId: 2 });
  });

  it('a duplicate seq returns the first result without applying again', () => {
    const { sm, run, register } = machine();
    const client = register(1000);
    const first = run({ type: 'incr', ts: 1001, key: 'n', by: 5, session: { client, seq: 1 } });
    expect(first).toEqual({ ok: true, kind: 'incr', value: 5 });
    const again = run({ type: 'incr', ts: 1002, key: 'n', by: 5, session: { client, seq: 1 } });
    expect(again).toEqual(first);
    expect(sm.getString('n')).toBe('5');
    expect(run({ type: 'incr', ts: 1003, key: 'n', by: 5, session: { client, seq: 2 } })).toEqual({ ok: true, kind: 'incr', value: 10 });
  });

  it('errors are remembered too (a retried TOO_LARGE stays TOO_LARGE)', () => {
    const { run, register } = machine({ maxBytes: 100 });
    const client = register(1);
    const big = { type: 'put', ts: 2, key: 'k', value: new Uint8Array(500), session: { client, seq: 0 } } as const;
    const r1 = run(big);
    expect(r1.ok).toBe(false);
    expect(run(big)).toBe(r1);
  });

  it('a seq below the retained window gets STALE_SEQUENCE and is not applied', () => {
    const { sm, run, register } = machine({ maxResultsPerSession: 2 });
    const client = register(1);
    for (let seq = 1; seq <= 3; seq++) run({ type: 'incr', ts: 2, key: 'n', by: 1, session: { client, seq } });
    // seq 1 was dropped (bound 2): it may have been applied, so it must not apply again.
    const r = run({ type: 'incr', ts: 3, key: 'n', by: 1, session: { client, seq: 1 } });
    expect(r).toMatchObject({ ok: false, code: 'STALE_SEQUENCE' });
    expect(sm.getString('n')).toBe('3');
    expect(sm.session(client)?.seqs).toEqual([2, 3]);
  });

  it('firstIncomplete drops acknowledged results and raises the floor', () => {
    const { sm, run, register } = machine();
    const client = register(1);
    for (let seq = 1; seq <= 4; seq++) run({ type: 'put', ts: 2, key: `k${seq}`, value: textValue('v'), session: { client, seq } });
    run({ type: 'delete', ts: 3, key: 'k1', session: { client, seq: 5, firstIncomplete: 4 } });
    expect(sm.session(client)?.seqs).toEqual([4, 5]);
    expect(run({ type: 'delete', ts: 3, key: 'k2', session: { client, seq: 3 } })).toMatchObject({ code: 'STALE_SEQUENCE' });
    expect(sm.has('k2')).toBe(true);
  });

  it('sessions expire after sessionTtlMs of log time without activity, exactly at the boundary', () => {
    const { sm, run, register } = machine({ sessionTtlMs: 100 });
    const client = register(1000);
    run({ type: 'put', ts: 1050, key: 'a', value: textValue('1'), session: { client, seq: 1 } }); // active at 1050
    run({ type: 'clock', ts: 1149 });
    expect(sm.session(client)).toBeDefined();
    run({ type: 'clock', ts: 1150 });
    expect(sm.session(client)).toBeUndefined();
    const r = run({ type: 'put', ts: 1151, key: 'a', value: textValue('2'), session: { client, seq: 2 } });
    expect(r).toMatchObject({ ok: false, code: 'SESSION_EXPIRED' });
    expect(sm.getString('a')).toBe('1');
  });

  it('an unknown client id gets SESSION_EXPIRED', () => {
    const { run } = machine();
    expect(run({ type: 'delete', ts: 1, key: 'a', session: { client: 77, seq: 0 } })).toMatchObject({ code: 'SESSION_EXPIRED' });
  });

  it('registering beyond maxSessions expires the least recently active session', () => {
    const { sm, run, register } = machine({ maxSessions: 2 });
    const a = register(1);
    const b = register(2);
    run({ type: 'delete', ts: 3, key: 'x', session: { client: a, seq: 0 } }); // a is now more recent than b
    const c = register(4);
    expect(sm.sessionCount).toBe(2);
    expect(sm.session(a)).toBeDefined();
    expect(sm.session(b)).toBeUndefined();
    expect(sm.session(c)).toBeDefined();
  });
});
