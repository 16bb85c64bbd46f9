import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { JsonWriter } from '../../src/protocol/json-writer.js';

function written(v: unknown): Buffer {
  const w = new JsonWriter();
  w.value(v);
  return Buffer.from(w.buf.subarray(0, w.len));
}

/** What the writer must produce: the UTF-8 of JSON.stringify. */
function expected(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v) ?? 'null', 'utf8');
}

// Strings of any UTF-16 code units (lone surrogates, controls, quotes, backslashes, non-ASCII),
// short (copied by the writer's loop) and long (one native write), and plain ASCII of both kinds.
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'binary', minLength: 45, maxLength: 120 }),
  fc.string({ unit: 'binary-ascii', maxLength: 120 }),
);
const anyNumber = fc.oneof(
  fc.integer({ min: -0x7fffffff, max: 0x7fffffff }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 2 ** 31, -(2 ** 31), 2 ** 53, 1e21, 0.1, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER),
);
const { value: anyValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    anyString,
    anyNumber,
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(anyString, tie('value'), { maxKeys: 5 }),
  ),
}));

describe('JsonWriter', () => {
  it('writes exactly the UTF-8 of JSON.stringify for any plain data (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(anyString, anyValue, { maxKeys: 6 }), (o) => {
        expect(written(o).equals(expected(o))).toBe(true);
      }),
      { seed: 4242, numRuns: 600 },
    );
  });

  it('request frames, numbers at the edges, left-out members, objects it hands to JSON.stringify', () => {
    const cases: unknown[] = [
      { id: 7, op: 'put', key: 'bench:1', value: 'x'.repeat(100), session: { client: '12', seq: 3, firstIncomplete: 1 } },
      { id: 0x3fffffff, op: 'get', key: 'k"\\\u0000\u007f\u00e9\ud800', consistency: 'stale' },
      { a: -0, b: -2147483647, c: 2147483647, d: 2147483648, e: -1.5e-7, f: 1e21, g: NaN },
      { skipped: undefined, fn: () => 1, sym: Symbol('s'), kept: 1 },
      { date: new Date(0), map: new Map([[1, 2]]), arr: [undefined, () => 1, { x: [1, 'two'] }] },
      Object.assign(Object.create(null) as object, { bare: true }),
      { 2: 'b', 1: 'a', z: 'z', y: 'y' },
      {},
    ];
    for (const c of cases) expect(written(c).toString('utf8')).toBe(JSON.stringify(c));
  });

  it('grows past its first buffer, and a reset lets go of an outsized one', () => {
    const w = new JsonWriter();
    const big = { v: 'é'.repeat(600_000) };
    w.value(big);
    expect(Buffer.from(w.buf.subarray(0, w.len)).equals(expected(big))).toBe(true);
    expect(w.buf.length).toBeGreaterThan(1 << 20);
    w.reset();
    expect([w.len, w.buf.length]).toEqual([0, 4096]);
  });

  it('throws what JSON.stringify throws (BigInt, cycles)', () => {
    expect(() => written({ n: 1n })).toThrow(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(() => written(cyclic)).toThrow(TypeError);
  });

  it('after a write that threw, the next value is written whole (deeply nested included)', () => {
    const w = new JsonWriter();
    const deep: Record<string, unknown> = { leaf: 'x' };
    let nested: Record<string, unknown> = deep;
    for (let i = 0; i < 60; i++) nested = { n: nested };
    for (let i = 0; i < 3; i++) {
      w.reset();
      expect(() => w.value({ a: { b: { c: 1n } } })).toThrow(TypeError);
      w.reset();
      w.value(nested);
      expect(Buffer.from(w.buf.subarray(0, w.len)).toString('utf8')).toBe(JSON.stringify(nested));
    }
  });
});
