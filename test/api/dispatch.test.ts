/**
 * dispatch (requests.ts) against a scripted node: every path replies exactly
 * once, with the response the promise-based path gave (same fields), whether
 * the node answers at once, later, or refuses.
 */
import { describe, expect, it } from 'vitest';
import { dispatch } from '../../src/api/index.js';
import type { Limits, NodeRequest, ReplyTo, Response } from '../../src/api/index.js';
import type { CommandResult } from '../../src/cache/index.js';
import { NodeError } from '../../src/node/index.js';
import type { CacheNode, WriteOp, WriteOutcome } from '../../src/node/index.js';

const LIMITS: Limits = { maxKeyBytes: 16, maxValueBytes: 64, maxBatchKeys: 4, cacheMaxBytes: 1 << 20 };

/** How the scripted node answers a write or a read. */
type Script =
  | { readonly kind: 'outcome'; readonly result: CommandResult; readonly current?: Uint8Array | null; readonly sync: boolean }
  | { readonly kind: 'refuse'; readonly error: unknown }
  | { readonly kind: 'values'; readonly values: (Uint8Array | null)[] };

interface Scripted {
  readonly node: CacheNode;
  readonly submitted: WriteOp[];
  /** Runs the answers held back (async scripts). */
  flush(): void;
}

function scriptedNode(script: Script): Scripted {
  const submitted: WriteOp[] = [];
  const held: (() => void)[] = [];
  const fake = {
    mapVersion: 7,
    layout: { version: 7 },
    groupOf: (): number => 1,
    groupOfAll: (): number => 1,
    urlOf: (): string | null => 'ws://127.0.0.1:1/v1',
    submit(_group: number, op: WriteOp, onOutcome: (o: WriteOutcome) => void, onError: (e: unknown) => void): void {
      submitted.push(op);
      if (script.kind === 'refuse') onError(script.error);
      else if (script.kind === 'outcome') {
        const o: WriteOutcome = script.current === undefined ? { result: script.result } : { result: script.result, current: script.current };
        if (script.sync) onOutcome(o);
        else held.push(() => onOutcome(o));
      }
    },
    readWith(_group: number, _keys: readonly string[], _c: unknown, onValues: (v: (Uint8Array | null)[]) => void, onError: (e: unknown) => void): void {
      // Answered on a later turn, like a linearizable read.
      held.push(() => (script.kind === 'refuse' ? onError(script.error) : onValues(script.kind === 'values' ? script.values : [])));
    },
  };
  return {
    node: fake as unknown as CacheNode,
    submitted,
    flush: () => {
      for (const f of held.splice(0)) f();
    },
  };
}

class Replies implements ReplyTo {
  readonly got: Response[] = [];
  reply(r: Response): void {
    this.got.push(r);
  }
}


const put: NodeRequest = { id: 5, op: 'put', key: 'k', value: 'v', session: { client: '3', seq: 2 } };

describe('dispatch', () => {
  it('a write answered later replies once, when the node answers', () => {
    const s = scriptedNode({ kind: 'outcome', result: { ok: true, kind: 'done' }, sync: false });
    const to = new Replies();
    dispatch(s.node, put, LIMITS, to);
    expect(to.got).toEqual([]);
    expect(s.submitted).toHaveLength(1);
    expect(s.submitted[0]).toMatchObject({ type: 'put', key: 'k', session: { client: 3, seq: 2 } });
    const op = s.submitted[0];
    expect(op?.type === 'put' ? Buffer.from(op.value).toString() : null).toBe('v');
    s.flush();
    expect(to.got).toStrictEqual([{ id: 5, ok: true }]);
  });

  it('a write refused inside submit replies once, before dispatch returns', () => {
    const s = scriptedNode({ kind: 'refuse', error: new NodeError('OVERLOADED', 'busy', true) });
    const to = new Replies();
    dispatch(s.node, put, LIMITS, to);
    expect(to.got).toStrictEqual([{ id: 5, ok: false, error: { code: 'OVERLOADED', message: 'busy', definite: true } }]);
  });

  it('a failed command maps to its protocol error', () => {
    const s = scriptedNode({ kind: 'outcome', result: { ok: false, code: 'WRONG_SHARD', message: 'moved' }, sync: true });
    const to = new Replies();
    dispatch(s.node, { id: 1, op: 'delete', key: 'k' }, LIMITS, to);
    expect(to.got).toStrictEqual([{ id: 1, ok: false, error: { code: 'WRONG_SHARD', message: 'moved', definite: true, mapVersion: 7 } }]);
  });

  it('an unexpected result kind is INTERNAL, not a throw into the node', () => {
    const s = scriptedNode({ kind: 'outcome', result: { ok: true, kind: 'done' }, sync: true });
    const to = new Replies();
    dispatch(s.node, { id: 2, op: 'incr', key: 'k' }, LIMITS, to);
    expect(to.got).toHaveLength(1);
    expect(to.got[0]).toMatchObject({ id: 2, ok: false, error: { code: 'INTERNAL', definite: false } });
  });

  it('cas answers with swapped and current in the request encoding', () => {
    const s = scriptedNode({ kind: 'outcome', result: { ok: true, kind: 'cas', swapped: true }, current: new Uint8Array([104, 105]), sync: true });
    const to = new Replies();
    dispatch(s.node, { id: 3, op: 'cas', key: 'k', expected: null, value: 'aGk=', encoding: 'base64' }, LIMITS, to);
    expect(to.got).toStrictEqual([{ id: 3, ok: true, swapped: true, current: 'aGk=' }]);
  });

  it('a bad key replies at once and submits nothing', () => {
    const s = scriptedNode({ kind: 'outcome', result: { ok: true, kind: 'done' }, sync: true });
    const to = new Replies();
    dispatch(s.node, { id: 4, op: 'put', key: 'k'.repeat(17), value: 'v' }, LIMITS, to);
    expect(s.submitted).toEqual([]);
    expect(to.got).toHaveLength(1);
    expect(to.got[0]).toMatchObject({ id: 4, ok: false, error: { code: 'TOO_LARGE', limit: 16 } });
  });

  it('a read replies once with the value, or the mapped error', () => {
    const ok = scriptedNode({ kind: 'values', values: [new Uint8Array([120])] });
    const to = new Replies();
    dispatch(ok.node, { id: 6, op: 'get', key: 'k' }, LIMITS, to);
    expect(to.got).toEqual([]); // not before the node answers
    ok.flush();
    expect(to.got).toStrictEqual([{ id: 6, ok: true, value: 'x' }]);

    const refused = scriptedNode({ kind: 'refuse', error: new NodeError('NOT_LEADER', 'not me', true, 2) });
    const to2 = new Replies();
    dispatch(refused.node, { id: 7, op: 'mget', keys: ['a', 'b'] }, LIMITS, to2);
    refused.flush();
    expect(to2.got).toStrictEqual([{ id: 7, ok: false, error: { code: 'NOT_LEADER', message: 'not me', definite: true, leader: 'n2', leaderUrl: 'ws://127.0.0.1:1/v1' } }]);
  });

  it('replies at once when the node refuses at once, later when it answers later', () => {
    const refused = scriptedNode({ kind: 'refuse', error: new NodeError('CLOSED', 'closing', true) });
    const now = new Replies();
    dispatch(refused.node, put, LIMITS, now);
    expect(now.got).toStrictEqual([{ id: 5, ok: false, error: { code: 'UNAVAILABLE', message: 'closing', definite: true } }]);

    const later = scriptedNode({ kind: 'outcome', result: { ok: true, kind: 'deleted', existed: true }, sync: false });
    const to = new Replies();
    dispatch(later.node, { id: 8, op: 'delete', key: 'k' }, LIMITS, to);
    expect(to.got).toEqual([]);
    later.flush();
    expect(to.got).toStrictEqual([{ id: 8, ok: true, deleted: true }]);
  });
});
