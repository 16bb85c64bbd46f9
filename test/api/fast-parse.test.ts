/**
 * The hand-written validator of the hot ops (src/api/fast-parse.ts) against
 * zod (the schemas of schema.ts) on random valid and near-valid frames:
 * whenever the fast path accepts, zod accepts too and returns the same object
 * (same fields, same key order, same values); on frames JSON can carry, the
 * fast path accepts every frame zod accepts (so it is not just always
 * answering "not sure").
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastParse, parseRequest, requestSchemas } from '../../src/api/schema.js';
import type { Op } from '../../src/api/schema.js';

const HOT_OPS = ['get', 'put', 'delete', 'cas', 'mget'] as const;
const SEED = 20261128;

/** Numbers at and around every bound of the schemas, and values of other types. */
const numberish = fc.oneof(
  fc.constantFrom(-1, 0, -0, 1, 2, 1.5, 0.5, -1.5, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e21, Infinity, -Infinity, NaN),
  fc.integer({ min: -5, max: 1_000_000 }),
  fc.double(),
);
const stringish = fc.oneof(
  fc.constantFrom('', 'a', 'k', 'key', '1', '0', 'null', ' ', '\u00e9', '\ud800', 'utf8', 'base64', 'UTF8', 'stale', 'lease', 'linearizable'),
  fc.string({ maxLength: 6 }),
);
const junk = fc.oneof(fc.constant(null), fc.boolean(), fc.constant([]), fc.constant({}), fc.constant(['a']), numberish, stringish);
/** Anything, weighted toward the valid values of the field, then values just past its bounds. */
const fieldOf = <T>(valid: fc.Arbitrary<T>, near?: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  near === undefined
    ? fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: junk, weight: 1 })
    : fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: near, weight: 1 }, { arbitrary: junk, weight: 1 });

const clientId = fc.oneof(
  fc.constantFrom('1', '9', '10', '1234567890123456', '12345678901234567', '0', '01', '-1', '1.0', '1e3', ' 1', '1 ', '1\n', '', 'x', '١'),
  fc.bigInt({ min: 1n, max: 10n ** 16n - 1n }).map(String),
  fc.string({ maxLength: 4 }),
);
const validInt = (min: number): fc.Arbitrary<number> => fc.oneof(fc.integer({ min, max: min + 3 }), fc.constant(2 ** 53 - 1), fc.integer({ min, max: 2 ** 31 }));
/** Just outside an integer field's range, or not an integer. */
const nearInt = (min: number): fc.Arbitrary<number> => fc.constantFrom(min - 1, min - 0.5, min + 0.5, 2 ** 53, -(2 ** 53));
const intField = (min: number): fc.Arbitrary<unknown> => fieldOf(validInt(min), nearInt(min));
const session = fc.record(
  {
    client: fieldOf(clientId),
    seq: intField(1),
    firstIncomplete: intField(0),
    extra: junk,
  },
  { requiredKeys: [] },
);
const sessionField = fieldOf(session);

/** A frame with any subset of the hot ops' fields (and an extra unknown one), each valid or not. */
const frame = fc.record(
  {
    id: intField(0),
    op: fieldOf(fc.constantFrom(...HOT_OPS, 'incr', 'hello')),
    key: fieldOf(fc.constantFrom('a', 'k', 'key:1', '\ud800'), fc.constantFrom('', null)),
    keys: fieldOf(fc.array(fieldOf(fc.constantFrom('a', 'b', 'c')), { maxLength: 4 })),
    value: fieldOf(fc.oneof(fc.constantFrom('', 'v', 'aGVsbG8='), fc.constant(null))),
    expected: fieldOf(fc.oneof(fc.constantFrom('', 'v'), fc.constant(null))),
    ttlMs: intField(1),
    session: sessionField,
    encoding: fieldOf(fc.constantFrom('utf8', 'base64'), fc.constantFrom('hex', 'UTF8', '', null)),
    consistency: fieldOf(fc.constantFrom('linearizable', 'lease', 'stale'), fc.constantFrom('eventual', 'Stale', '', null)),
    extra: junk,
  },
  { requiredKeys: [] },
);

/** Valid values of every field of the hot ops (optional ones may be left out). */
const validFields = fc.record(
  {
    id: validInt(0),
    key: fc.constantFrom('a', 'k', 'key:1', '\u00e9'),
    keys: fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 4 }),
    value: fc.constantFrom('', 'v', 'aGVsbG8='),
    expected: fc.oneof(fc.constantFrom('', 'v'), fc.constant(null)),
    ttlMs: validInt(1),
    session: fc.record({ client: fc.bigInt({ min: 1n, max: 10n ** 16n - 1n }).map(String), seq: validInt(1), firstIncomplete: validInt(0) }, { requiredKeys: ['client', 'seq'] }),
    encoding: fc.constantFrom('utf8', 'base64'),
    consistency: fc.constantFrom('linearizable', 'lease', 'stale'),
  },
  { requiredKeys: ['id', 'key', 'keys', 'value', 'expected'] },
);
const FIELD_NAMES = ['id', 'op', 'key', 'keys', 'value', 'expected', 'ttlMs', 'session', 'encoding', 'consistency', 'extra', 'session.client', 'session.seq', 'session.firstIncomplete', 'session.extra'] as const;
/** One change to a valid frame: a field (maybe of the session) set to a random value, or removed. */
const mutation = fc.tuple(fc.constantFrom(...FIELD_NAMES), fc.option(fc.oneof(frame, junk, clientId, nearInt(0), nearInt(1)), { nil: undefined }));

function mutate(f: Record<string, unknown>, [name, v]: [string, unknown]): Record<string, unknown> {
  const out = { ...f };
  if (name.startsWith('session.')) {
    const s = typeof out['session'] === 'object' && out['session'] !== null ? { ...(out['session'] as Record<string, unknown>) } : {};
    if (v === undefined) delete s[name.slice(8)];
    else s[name.slice(8)] = v;
    out['session'] = s;
  } else if (v === undefined) delete out[name];
  else out[name] = v;
  return out;
}

/** A valid frame for the op with 0-2 changes (near-valid), or a frame of random fields. */
const caseArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.tuple(fc.constantFrom<Op>(...HOT_OPS), validFields, fc.array(mutation, { maxLength: 2 })).map(([op, f, muts]) => {
      let fr: Record<string, unknown> = { ...f, op };
      for (const m of muts) fr = mutate(fr, m);
      return { op, frame: fr };
    }),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom<Op>(...HOT_OPS), frame, fc.boolean()).map(([op, f, matchOp]) => ({ op, frame: matchOp ? { ...f, op } : { ...f } })),
  },
);

/** What the server hands to parseRequest: JSON.parse output (Infinity/NaN become null, -0 stays -0 only via JSON numbers). */
function viaJson(f: Record<string, unknown>): unknown {
  return JSON.parse(JSON.stringify(f));
}

function keysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(keysDeep);
  if (typeof v === 'object' && v !== null) return Object.entries(v).map(([k, x]) => [k, keysDeep(x)]);
  return v;
}

describe('fast-parse agrees with zod', () => {
  it('accepts only what zod accepts, returning the same object', () => {
    let fastAccepted = 0;
    fc.assert(
      fc.property(caseArb, ({ op, frame: f }) => {
        const fast = fastParse(op, f);
        const z = requestSchemas[op].safeParse(f);
        if (fast !== null) {
          fastAccepted++;
          expect(z.success).toBe(true);
          expect(fast).toStrictEqual(z.data);
          // same keys in the same order, nested too (toStrictEqual ignores order)
          expect(keysDeep(fast)).toStrictEqual(keysDeep(z.data));
        }
      }),
      { seed: SEED, numRuns: 3000 },
    );
    // The generator must reach the accepting branch often, or this proves nothing.
    expect(fastAccepted).toBeGreaterThan(1000);
  });

  it('on JSON frames, accepts exactly what zod accepts', () => {
    let zodAccepted = 0;
    fc.assert(
      fc.property(caseArb, ({ op, frame: f }) => {
        const json = viaJson(f);
        const fast = fastParse(op, json);
        const z = requestSchemas[op].safeParse(json);
        expect(fast !== null).toBe(z.success);
        if (z.success) {
          zodAccepted++;
          expect(fast).toStrictEqual(z.data);
          expect(keysDeep(fast)).toStrictEqual(keysDeep(z.data));
        }
      }),
      { seed: SEED + 1, numRuns: 3000 },
    );
    expect(zodAccepted).toBeGreaterThan(1000);
  });

  it('parseRequest answers as zod alone does (errors are zod messages)', () => {
    fc.assert(
      fc.property(caseArb, ({ op, frame: f }) => {
        const json = viaJson(f);
        const got = parseRequest(op, json);
        const z = requestSchemas[op].safeParse(json);
        expect(got.ok).toBe(z.success);
        if (got.ok && z.success) expect(got.req).toStrictEqual(z.data);
        if (!got.ok) expect(got.message).toMatch(/^[a-zA-Z[\]0-9.]+: /);
      }),
      { seed: SEED + 2, numRuns: 1000 },
    );
  });

  // Cases a random run might miss, each next to its reason.
  const table: [string, Op, Record<string, unknown>, boolean][] = [
    ['ttlMs 0 is below the minimum', 'put', { id: 1, op: 'put', key: 'a', value: 'v', ttlMs: 0 }, false],
    ['ttlMs 2^53 is not a safe integer', 'put', { id: 1, op: 'put', key: 'a', value: 'v', ttlMs: 2 ** 53 }, false],
    ['id -0 is accepted as zod does', 'get', { id: -0, op: 'get', key: 'a' }, true],
    ['client id of 17 digits', 'put', { id: 1, op: 'put', key: 'a', value: 'v', session: { client: '12345678901234567', seq: 1 } }, false],
    ['client id with a trailing newline', 'delete', { id: 1, op: 'delete', key: 'a', session: { client: '5\n', seq: 1 } }, false],
    ['firstIncomplete 0', 'delete', { id: 1, op: 'delete', key: 'a', session: { client: '5', seq: 1, firstIncomplete: 0 } }, true],
    ['cas without expected', 'cas', { id: 1, op: 'cas', key: 'a', value: 'v' }, false],
    ['cas with null expected and value', 'cas', { id: 1, op: 'cas', key: 'a', expected: null, value: null }, true],
    ['mget with an empty key', 'mget', { id: 1, op: 'mget', keys: ['a', ''] }, false],
    ['op of another request', 'get', { id: 1, op: 'put', key: 'a' }, false],
  ];
  for (const [name, op, f, accepted] of table) {
    it(name, () => {
      const z = requestSchemas[op].safeParse(f);
      expect(z.success).toBe(accepted);
      const fast = fastParse(op, f);
      expect(fast !== null).toBe(accepted);
      if (z.success) expect(fast).toStrictEqual(z.data);
    });
  }

  it('leaves a field present but undefined to zod (zod keeps the key)', () => {
    const f = { id: 1, op: 'put', key: 'a', value: 'v', ttlMs: undefined };
    expect(fastParse('put', f)).toBeNull();
    expect(parseRequest('put', f)).toStrictEqual({ ok: true, req: { id: 1, op: 'put', key: 'a', value: 'v', ttlMs: undefined } });
  });
});
