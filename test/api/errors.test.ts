import { describe, expect, it } from 'vitest';
import { fromResult, fromThrown } from '../../src/api/index.js';
import { NodeError } from '../../src/node/index.js';

describe('error mapping', () => {
  it.each([
    [new NodeError('OVERLOADED', 'full', true), 'OVERLOADED', true],
    [new NodeError('TIMEOUT', 'slow', false), 'TIMEOUT', false],
    [new NodeError('UNAVAILABLE', 'no leader', true), 'UNAVAILABLE', true],
    [new NodeError('UNAVAILABLE', 'snapshot', false), 'UNAVAILABLE', false],
    [new NodeError('CLOSED', 'bye', false), 'UNAVAILABLE', false],
    [new NodeError('BAD_REQUEST', 'key', true), 'BAD_REQUEST', true],
    [new Error('bug'), 'INTERNAL', false],
  ] as const)('%s → %s (definite %s)', (err, code, definite) => {
    expect(fromThrown(null, err)).toMatchObject({ code, definite });
  });

  it('NOT_LEADER carries the leader name, or null when unknown', () => {
    expect(fromThrown(null, new NodeError('NOT_LEADER', 'x', true, 2))).toMatchObject({ code: 'NOT_LEADER', definite: true, leader: 'n2' });
    expect(fromThrown(null, new NodeError('NOT_LEADER', 'x', true, 0))).toMatchObject({ leader: null, leaderUrl: null });
  });

  it('REJECTED (an admin command the meta group refused) is definite, with the code as reason', () => {
    expect(fromThrown(null, new NodeError('REJECTED', 'SHARD_UNKNOWN: no shard 9', true))).toEqual({
      code: 'REJECTED',
      message: 'SHARD_UNKNOWN: no shard 9',
      definite: true,
      reason: 'SHARD_UNKNOWN',
    });
    expect(fromThrown(null, new NodeError('REJECTED', 'refused', true))).toMatchObject({ code: 'REJECTED', reason: null });
  });

  it('maps cache results: session errors, a stale sequence is not definite', () => {
    expect(fromResult({ ok: false, code: 'SESSION_EXPIRED', message: 'gone' }, 10)).toMatchObject({ code: 'SESSION_EXPIRED', definite: true });
    expect(fromResult({ ok: false, code: 'STALE_SEQUENCE', message: 'old' }, 10)).toMatchObject({ code: 'SESSION_EXPIRED', definite: false });
    expect(fromResult({ ok: false, code: 'TOO_LARGE', message: 'big' }, 10)).toMatchObject({ code: 'TOO_LARGE', definite: true, limit: 10 });
    expect(fromResult({ ok: false, code: 'OUT_OF_RANGE', message: 'big' }, 10)).toMatchObject({ code: 'OUT_OF_RANGE', definite: true });
    expect(fromResult({ ok: false, code: 'WRONG_SHARD', message: 'split off' }, 10, 7)).toEqual({ code: 'WRONG_SHARD', message: 'split off', definite: true, mapVersion: 7 });
  });
});
