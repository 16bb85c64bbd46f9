/**
 * History recording rules of the workload, against fake clients: ok / fail /
 * info per function, retirement of a process after info (with a fresh
 * client), and a full workload on an in-memory register that the checker
 * must find linearizable.
 */
import { describe, expect, it } from 'vitest';
import { checkHistory } from '../../jepsen-lite/checker/index.js';
import type { HistoryEvent } from '../../jepsen-lite/history.js';
import { HistoryRecorder, performOp, runWorkload } from '../../jepsen-lite/workload.js';
import type { KvClient } from '../../jepsen-lite/workload.js';
import { RaftcacheError } from '../../src/client/index.js';
import { SeededRng } from '../../src/util/rng.js';

const indefinite = (): RaftcacheError => new RaftcacheError({ code: 'TIMEOUT', message: 'unknown', definite: false });
const definite = (): RaftcacheError => new RaftcacheError({ code: 'UNAVAILABLE', message: 'not applied', definite: true });

/** A client whose every call throws `error` (or answers from `store`). */
function fakeClient(store: Map<string, string>, error?: () => unknown): KvClient & { closed: boolean } {
  const c = {
    closed: false,
    get: (key: string) => (error ? Promise.reject(error()) : Promise.resolve(store.get(key) ?? null)),
    put: (key: string, value: string) => {
      if (error) return Promise.reject(error());
      store.set(key, value);
      return Promise.resolve();
    },
    cas: (key: string, expected: string | null, next: string | null) => {
      if (error) return Promise.reject(error());
      const cur = store.get(key) ?? null;
      if (cur !== expected) return Promise.resolve({ swapped: false });
      if (next === null) store.delete(key);
      else store.set(key, next);
      return Promise.resolve({ swapped: true });
    },
    close: () => {
      c.closed = true;
      return Promise.resolve();
    },
  };
  return c;
}

function tickClock(): () => number {
  let t = 0;
  return () => (t += 10);
}

const strip = (es: readonly HistoryEvent[]): unknown[] => es.map(({ process, type, f, key, value }) => [process, type, f, key, value]);

describe('performOp', () => {
  it('records ok with the value read or written', async () => {
    const store = new Map([['k', 'a']]);
    const h = new HistoryRecorder(tickClock());
    const c = fakeClient(store);
    expect(await performOp(c, h, 1, { f: 'get', key: 'k' })).toEqual({ type: 'ok', value: 'a' });
    expect(await performOp(c, h, 1, { f: 'put', key: 'k', value: 'b' })).toEqual({ type: 'ok', value: 'b' });
    expect((await performOp(c, h, 1, { f: 'cas', key: 'k', expected: 'b', next: 'c' })).type).toBe('ok');
    expect((await performOp(c, h, 1, { f: 'cas', key: 'k', expected: 'b', next: 'd' })).type).toBe('fail');
    expect(strip(h.events)).toEqual([
      [1, 'invoke', 'get', 'k', null],
      [1, 'ok', 'get', 'k', 'a'],
      [1, 'invoke', 'put', 'k', 'b'],
      [1, 'ok', 'put', 'k', 'b'],
      [1, 'invoke', 'cas', 'k', ['b', 'c']],
      [1, 'ok', 'cas', 'k', ['b', 'c']],
      [1, 'invoke', 'cas', 'k', ['b', 'd']],
      [1, 'fail', 'cas', 'k', ['b', 'd']],
    ]);
    // Invoke before completion, on one increasing clock.
    for (let i = 1; i < h.events.length; i++) expect(h.events[i]!.time).toBeGreaterThan(h.events[i - 1]!.time);
  });

  it('a failed read is fail, even when its outcome was "unknown"', async () => {
    const h = new HistoryRecorder(tickClock());
    expect((await performOp(fakeClient(new Map(), indefinite), h, 2, { f: 'get', key: 'k' })).type).toBe('fail');
    expect((await performOp(fakeClient(new Map(), () => new Error('socket')), h, 2, { f: 'get', key: 'k' })).type).toBe('fail');
  });

  it('a write error is fail when definite, info otherwise (also for errors that are not RaftcacheError)', async () => {
    const h = new HistoryRecorder(tickClock());
    const put = { f: 'put', key: 'k', value: 'v' } as const;
    const cas = { f: 'cas', key: 'k', expected: null, next: 'w' } as const;
    expect((await performOp(fakeClient(new Map(), definite), h, 1, put)).type).toBe('fail');
    expect((await performOp(fakeClient(new Map(), indefinite), h, 1, put)).type).toBe('info');
    expect((await performOp(fakeClient(new Map(), definite), h, 2, cas)).type).toBe('fail');
    expect((await performOp(fakeClient(new Map(), indefinite), h, 3, cas)).type).toBe('info');
    expect((await performOp(fakeClient(new Map(), () => new Error('bug')), h, 4, put)).type).toBe('info');
    expect(h.events.filter((e) => e.type !== 'invoke').map((e) => [e.f, e.type, e.value])).toEqual([
      ['put', 'fail', 'v'],
      ['put', 'info', 'v'],
      ['cas', 'fail', [null, 'w']],
      ['cas', 'info', [null, 'w']],
      ['put', 'info', 'v'],
    ]);
  });
});

describe('runWorkload', () => {
  it('retires a process after info and continues as a new one with a fresh client', async () => {
    const store = new Map<string, string>();
    const h = new HistoryRecorder(tickClock());
    const made: (KvClient & { closed: boolean })[] = [];
    let writes = 0;
    const result = await runWorkload({
      clients: 2,
      keys: 2,
      rng: new SeededRng(3),
      history: h,
      // Every third write of any client has an unknown outcome.
      makeClient: () => {
        const base = fakeClient(store);
        const c = {
          ...base,
          put: (k: string, v: string) => (++writes % 3 === 0 ? Promise.reject(indefinite()) : base.put(k, v)),
          cas: (k: string, e: string | null, n: string | null) => (++writes % 3 === 0 ? Promise.reject(indefinite()) : base.cas(k, e, n)),
          close: () => {
            c.closed = true;
            return Promise.resolve();
          },
          closed: false,
        };
        made.push(c);
        return c;
      },
      stopped: () => h.events.length >= 400,
    });
    const infos = h.events.filter((e) => e.type === 'info');
    expect(infos.length).toBeGreaterThan(3);
    expect(result.processes).toBe(2 + infos.length);
    expect(made.length).toBe(2 + infos.length);
    expect(made.every((c) => c.closed)).toBe(true);
    // No event of a process after its info.
    for (const info of infos) {
      const at = h.events.indexOf(info);
      expect(h.events.slice(at + 1).some((e) => e.process === info.process)).toBe(false);
    }
    // Every write value is unique.
    const written = h.events.filter((e) => e.type === 'invoke' && e.f !== 'get').map((e) => (Array.isArray(e.value) ? e.value[1] : e.value));
    expect(new Set(written).size).toBe(written.length);
    // The checker accepts the history (no reuse of a retired process) and finds it linearizable.
    expect(checkHistory(h.events).verdict).toBe('linearizable');
  });

  it('a stale read on one client is caught by the checker', async () => {
    const store = new Map<string, string>();
    const h = new HistoryRecorder(tickClock());
    let n = 0;
    let frozen: Map<string, string> | null = null;
    await runWorkload({
      clients: 2,
      keys: 1,
      rng: new SeededRng(9),
      history: h,
      makeClient: () => {
        const client = fakeClient(store);
        const mine = n++;
        // Client 1 freezes its view after a while: its reads go stale.
        return {
          ...client,
          get: (key: string) => {
            if (mine === 1 && h.events.length > 100) frozen ??= new Map(store);
            return mine === 1 && frozen !== null ? Promise.resolve(frozen.get(key) ?? null) : client.get(key);
          },
        };
      },
      stopped: () => h.events.length >= 400,
    });
    expect(checkHistory(h.events).verdict).toBe('not-linearizable');
  });
});
