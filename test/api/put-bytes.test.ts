/**
 * parsePutBytes reads put frames from their bytes: whenever it answers, the
 * answer must be exactly fastPut(JSON.parse(text)) (same fields, same order),
 * and it must answer for the frames clients really send.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fastPut } from '../../src/api/fast-parse.js';
import { parsePutBytes } from '../../src/api/put-bytes.js';
import { JsonWriter } from '../../src/protocol/index.js';

/** What the general path makes of the text (JSON.parse, then the hand-written validator), or null. */
function general(text: string): unknown {
  try {
    return fastPut(JSON.parse(text));
  } catch {
    return null;
  }
}

const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary-ascii', maxLength: 12 }),
  fc.constantFrom('', 'k', 'utf8', 'base64', '12', '0', '007', 'ключ ✓ 😀'),
);
const anyNumber = fc.oneof(
  fc.nat({ max: 30 }),
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom(0, 1, 2 ** 31, 999_999_999_999_999, 1_000_000_000_000_000, 2 ** 53 - 1, 2 ** 53, 1e21, 0.5, -0, 1.5e3),
);
const anyField = fc.oneof(anyString, anyNumber, fc.constant(null), fc.boolean());
/** Mostly valid, sometimes anything. */
const mostly = <T,>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ arbitrary: valid, weight: 5 }, { arbitrary: anyField, weight: 1 });
const goodNumber = fc.oneof(fc.nat({ max: 1000 }), fc.constantFrom(1, 999_999_999_999_999, 1_000_000_000_000_000, 2 ** 53 - 1));
const goodString = fc.oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), anyString);
const session = fc.record(
  {
    client: mostly(fc.constantFrom('1', '4711', '1234567890123456', '12345678901234567', '0', '01')),
    seq: mostly(goodNumber),
    firstIncomplete: mostly(goodNumber),
    other: anyField,
  },
  { requiredKeys: ['client', 'seq'] },
).map(({ other, ...s }) => (typeof other === 'boolean' ? { ...s, other } : s));
const fields = {
  id: mostly(goodNumber),
  op: fc.oneof({ arbitrary: fc.constant('put'), weight: 5 }, { arbitrary: fc.constantFrom('get', 'Put', 'put '), weight: 1 }),
  key: mostly(goodString),
  value: mostly(goodString),
  ttlMs: mostly(goodNumber),
  session: mostly(session),
  encoding: mostly(fc.constantFrom('utf8', 'base64')),
  extra: anyField,
};
const frame = fc.oneof(
  { arbitrary: fc.record(fields, { requiredKeys: ['id', 'op', 'key', 'value'] }).map(({ extra, ...f }) => (typeof extra === 'boolean' ? { ...f, extra } : f)), weight: 5 },
  { arbitrary: fc.record(fields, { requiredKeys: [] }), weight: 1 },
);
/** The frame's fields in the canonical order or shuffled, then written as text in one of several ways. */
const text = fc.tuple(frame, fc.boolean(), fc.nat(), fc.constantFrom('plain', 'plain', 'spaced', 'duplicate', 'trailing')).map(([f, shuffle, seed, how]) => {
  const entries = Object.entries(f);
  if (shuffle) entries.sort((a, b) => ((a[0].charCodeAt(0) * 31 + seed) % 7) - ((b[0].charCodeAt(0) * 31 + seed) % 7));
  const obj = Object.fromEntries(entries);
  const t = JSON.stringify(obj);
  switch (how) {
    case 'spaced':
      return JSON.stringify(obj, null, 1);
    case 'duplicate':
      return t.replace(/}$/, ',"ttlMs":5}').replace(/^{}$/, '{"ttlMs":5}');
    case 'trailing':
      return `${t} `;
    default:
      return t;
  }
});

describe('parsePutBytes', () => {
  it('answers only what the general path answers, field for field (property)', () => {
    let answered = 0;
    fc.assert(
      fc.property(text, (t) => {
        const got = parsePutBytes(Buffer.from(t, 'utf8'));
        if (got === null) return;
        answered++;
        const want = general(t);
        expect(want).not.toBeNull();
        expect(JSON.stringify(got)).toBe(JSON.stringify(want)); // same fields, same order, same values
        expect(got).toEqual(want);
      }),
      { seed: 20261128, numRuns: 3000 },
    );
    expect(answered).toBeGreaterThan(10); // the property is not vacuous
  });

  it('answers for the put frames clients write (JsonWriter), at every shape', () => {
    const plain = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((s) => !/["\\\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(s) && JSON.stringify(s) === `"${s}"`);
    const clientFrame = fc.record(
      {
        id: fc.nat({ max: 999_999_999_999_999 }),
        op: fc.constant('put'),
        key: plain,
        value: fc.oneof(plain, fc.constant('')),
        encoding: fc.constantFrom('utf8', 'base64'),
        ttlMs: fc.integer({ min: 1, max: 2 ** 40 }),
        session: fc.record({ client: fc.constantFrom('1', '42', '9007199254740991'), seq: fc.integer({ min: 1, max: 2 ** 40 }), firstIncomplete: fc.nat({ max: 2 ** 40 }) }, { requiredKeys: ['client', 'seq'] }),
      },
      { requiredKeys: ['id', 'op', 'key', 'value'] },
    );
    const w = new JsonWriter();
    fc.assert(
      fc.property(clientFrame, (f) => {
        w.reset();
        w.value(f);
        const bytes = Buffer.from(w.buf.subarray(0, w.len));
        const got = parsePutBytes(bytes);
        expect(got).not.toBeNull();
        expect(JSON.stringify(got)).toBe(JSON.stringify(general(bytes.toString('utf8'))));
      }),
      { seed: 11282026, numRuns: 500 },
    );
  });

  it('leaves the unusual to the general path', () => {
    const no = [
      '{"id":1,"op":"put","key":"","value":"v"}', // empty key: zod's message
      '{"id":1,"op":"put","key":"k","value":"a\\"b"}', // an escape
      '{"id":01,"op":"put","key":"k","value":"v"}', // not JSON
      '{"id":1.5,"op":"put","key":"k","value":"v"}',
      '{"id":1e2,"op":"put","key":"k","value":"v"}',
      '{"id":9007199254740991,"op":"put","key":"k","value":"v"}', // 16 digits: left to the general path
      '{"id":1,"op":"put","key":"k","value":"v","ttlMs":0}',
      '{"id":1,"op":"put","key":"k","value":"v","ttlMs":1,"ttlMs":2}',
      '{"id":1,"op":"put","key":"k","value":"v","other":1}',
      '{"id":1,"op":"put","key":"k","value":"v","session":{"client":"01","seq":1}}',
      '{"id":1,"op":"put","key":"k","value":"v","session":{"client":"1","seq":0}}',
      '{"id":1,"op":"put","key":"k","value":"v","encoding":"hex"}',
      '{"id":1,"op":"put","key":"k","value":"v"} ',
      '{"id":1,"op":"put","key":"k","value":"v"',
      '{"id":1, "op":"put","key":"k","value":"v"}',
    ];
    for (const t of no) expect(parsePutBytes(Buffer.from(t)), t).toBeNull();
    expect(parsePutBytes(Buffer.from('{"id":0,"op":"put","key":"ключ","value":"","session":{"client":"7","seq":3,"firstIncomplete":0},"ttlMs":10}'))).toEqual({
      id: 0,
      op: 'put',
      key: 'ключ',
      value: '',
      ttlMs: 10,
      session: { client: '7', seq: 3, firstIncomplete: 0 },
    });
  });
});
