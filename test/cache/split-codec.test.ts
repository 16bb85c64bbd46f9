import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CacheStateMachine, CommandCodecError, decodeCommand, encodeCommand, validateCommand } from '../../src/cache/index.js';
import type { Command, RingRange } from '../../src/cache/index.js';
import { ByteReader, ByteWriter } from '../../src/cache/bytes.js';
import { readResult, writeResult } from '../../src/cache/command.js';
import { RING_SIZE } from '../../src/shard/index.js';
import { splitCommandArb } from './arbitraries.js';

function f64(n: number): number[] {
  return [...new Uint8Array(new Float64Array([n]).buffer)];
}

/** LEB128 as the codec writes it. */
function varuint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

/** A split command's bytes from raw parts (may be malformed on purpose). */
function splitBytes(pairs: readonly (readonly [number, number])[], opts: { count?: number; flags?: number; tail?: number[] } = {}): Uint8Array {
  return Uint8Array.from([
    1, // version
    8, // opcode split
    opts.flags ?? 0,
    ...f64(7),
    ...varuint(opts.count ?? pairs.length),
    ...pairs.flatMap(([s, e]) => [...varuint(s), ...varuint(e)]),
    ...(opts.tail ?? []),
  ]);
}

describe('split command codec', () => {
  it('round-trips split commands canonically', () => {
    fc.assert(
      fc.property(splitCommandArb, (cmd) => {
        const bytes = encodeCommand(cmd);
        const back = decodeCommand(bytes);
        expect(back).toEqual(cmd);
        expect(encodeCommand(back)).toEqual(bytes);
      }),
      { seed: 31, numRuns: 300 },
    );
  });

  it('has the documented layout: version 1, opcode 8, count, (start, end) varuints; end may be 2^32', () => {
    const cmd: Command = { type: 'split', ts: 7, ranges: [{ start: 0, end: 200 }, { start: 200, end: RING_SIZE }] };
    const bytes = encodeCommand(cmd);
    expect(bytes).toEqual(splitBytes([[0, 200], [200, RING_SIZE]]));
    expect([...bytes.subarray(0, 3)]).toEqual([1, 8, 0]);
  });

  it('leaves the encodings of the other commands unchanged (golden bytes)', () => {
    const put = encodeCommand({ type: 'put', ts: 1, key: 'k', value: Uint8Array.from([1, 2]) });
    expect([...put]).toEqual([1, 1, 0, ...f64(1), 1, 0x6b, 2, 1, 2]);
    const incr = encodeCommand({ type: 'incr', ts: 2, key: 'n', by: -3, session: { client: 5, seq: 6 } });
    expect([...incr]).toEqual([1, 4, 2, ...f64(2), 5, 6, 1, 0x6e, ...f64(-3)]);
    expect([...encodeCommand({ type: 'register', ts: 3 })]).toEqual([1, 7, 0, ...f64(3)]);
  });

  it('refuses malformed split bytes with CommandCodecError, and the state machine answers INVALID_COMMAND', () => {
    const malformed: [string, Uint8Array][] = [
      ['no ranges', splitBytes([])],
      ['empty range', splitBytes([[5, 5]])],
      ['reversed range', splitBytes([[9, 5]])],
      ['end beyond 2^32', splitBytes([[0, RING_SIZE + 1]])],
      ['start beyond 2^32', splitBytes([[RING_SIZE + 1, RING_SIZE + 2]])],
      ['out of order', splitBytes([[10, 20], [0, 5]])],
      ['overlapping', splitBytes([[0, 10], [5, 20]])],
      ['count above the input', splitBytes([[0, 10]], { count: 1000 })],
      ['truncated', splitBytes([[0, 10]], { count: 2 })],
      ['trailing bytes', splitBytes([[0, 10]], { tail: [0] })],
      ['unknown flags', splitBytes([[0, 10]], { flags: 2 })],
      ['non-minimal varuint', Uint8Array.from([1, 8, 0, ...f64(7), 1, 0x80, 0x00, 10])],
    ];
    const sm = new CacheStateMachine({ maxEntries: 10, maxBytes: 10_000 });
    let index = 0;
    for (const [what, bytes] of malformed) {
      expect(() => decodeCommand(bytes), what).toThrow(CommandCodecError);
      expect(sm.applyEncoded(++index, bytes), what).toMatchObject({ ok: false, code: 'INVALID_COMMAND' });
    }
    expect(sm.notOwnedRanges()).toEqual([]);
    expect(sm.takeSplit()).toBeNull();
    // Touching ranges are valid.
    expect(decodeCommand(splitBytes([[0, 10], [10, 20]]))).toEqual({ type: 'split', ts: 7, ranges: [{ start: 0, end: 10 }, { start: 10, end: 20 }] });
  });

  it('refuses to encode invalid splits', () => {
    const bad: unknown[] = [
      [],
      [{ start: 1, end: 1 }],
      [{ start: -1, end: 1 }],
      [{ start: 0, end: RING_SIZE + 1 }],
      [{ start: 0, end: 1.5 }],
      [{ start: 3, end: 4 }, { start: 1, end: 2 }],
      [{ start: 0, end: 4 }, { start: 3, end: 5 }],
      [null],
      'not an array',
    ];
    for (const ranges of bad) {
      const cmd = { type: 'split', ts: 1, ranges: ranges as readonly RingRange[] } as const;
      expect(validateCommand(cmd)).not.toBeNull();
      expect(() => encodeCommand(cmd)).toThrow(CommandCodecError);
    }
  });

  it('WRONG_SHARD results round-trip; the older error codes keep their numbers', () => {
    const w = new ByteWriter();
    writeResult(w, { ok: false, code: 'INVALID_COMMAND', message: 'm' });
    writeResult(w, { ok: false, code: 'WRONG_SHARD', message: 'moved' });
    const bytes = w.finish();
    expect([...bytes.subarray(0, 2)]).toEqual([0, 5]);
    expect([...bytes.subarray(4, 6)]).toEqual([0, 6]);
    const r = new ByteReader(bytes);
    expect(readResult(r)).toEqual({ ok: false, code: 'INVALID_COMMAND', message: 'm' });
    expect(readResult(r)).toEqual({ ok: false, code: 'WRONG_SHARD', message: 'moved' });
    r.end();
  });
});
