/** fast-check generators of configs and command sequences for the cache tests. */
import fc from 'fast-check';
import type { CacheConfig, Command, RingRange, SessionRef, SplitCommand } from '../../src/cache/index.js';
import { hashKey, RING_SIZE } from '../../src/shard/index.js';

const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'é', '日本', 'long-key-0123456789'];

export const keyArb = fc.constantFrom(...KEYS);

export const valueArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.integer({ min: -1000, max: 1000 }).map((n) => new TextEncoder().encode(String(n))),
  fc.constant(new Uint8Array(0)),
);

export const configArb: fc.Arbitrary<CacheConfig> = fc.record({
  maxEntries: fc.integer({ min: 1, max: 6 }),
  maxBytes: fc.integer({ min: 50, max: 400 }),
  maxResultsPerSession: fc.integer({ min: 1, max: 4 }),
  sessionTtlMs: fc.integer({ min: 10, max: 3000 }),
  maxSessions: fc.integer({ min: 1, max: 4 }),
});

const ttlArb = fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined });

const sessionArb: fc.Arbitrary<SessionRef | undefined> = fc.option(
  fc.record(
    {
      // Resolved by withTimes: 0..3 = the n-th most recent register, 4 = an id never registered.
      client: fc.integer({ min: 0, max: 4 }),
      seq: fc.integer({ min: 0, max: 8 }),
      firstIncomplete: fc.integer({ min: 0, max: 8 }),
    },
    { requiredKeys: ['client', 'seq'] },
  ),
  { nil: undefined, freq: 3 },
);

/**
 * A command with a relative time step, or a retry of an earlier step (same
 * session and seq); `withTimes` turns steps into commands with absolute ts.
 */
export type Step = { dt: number; cmd: Command } | { dt: number; retry: number };

function withSession<T extends Command>(cmd: T, s: SessionRef | undefined): T {
  return s === undefined ? cmd : { ...cmd, session: s };
}

function withTtl<T extends Command>(cmd: T, ttl: number | undefined): T {
  return ttl === undefined ? cmd : { ...cmd, ttlMs: ttl };
}

const dtArb = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 15 }) },
  { weight: 1, arbitrary: fc.integer({ min: -20, max: -1 }) }, // an older leader timestamp
  { weight: 1, arbitrary: fc.integer({ min: 60, max: 2000 }) }, // a far jump
);

/** Steps over keys drawn from `keyArb`. */
export function stepArbOf(keyArb: fc.Arbitrary<string>): fc.Arbitrary<Step> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.tuple(dtArb, keyArb, valueArb, ttlArb, sessionArb).map(([dt, key, value, ttl, s]): Step => ({ dt, cmd: withSession(withTtl({ type: 'put', ts: 0, key, value }, ttl), s) })) },
    { weight: 3, arbitrary: fc.tuple(dtArb, keyArb, sessionArb).map(([dt, key, s]): Step => ({ dt, cmd: withSession({ type: 'delete', ts: 0, key }, s) })) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(dtArb, keyArb, fc.option(valueArb, { nil: null }), fc.option(valueArb, { nil: null }), ttlArb, sessionArb)
        .map(([dt, key, expected, next, ttl, s]): Step => ({ dt, cmd: withSession(withTtl({ type: 'cas', ts: 0, key, expected, next }, ttl), s) })),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(dtArb, keyArb, fc.oneof(fc.integer({ min: -50, max: 50 }), fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER)), sessionArb)
        .map(([dt, key, by, s]): Step => ({ dt, cmd: withSession({ type: 'incr', ts: 0, key, by }, s) })),
    },
    { weight: 2, arbitrary: fc.tuple(dtArb, fc.array(keyArb, { maxLength: 4 })).map(([dt, keys]): Step => ({ dt, cmd: { type: 'touch', ts: 0, keys } })) },
    { weight: 1, arbitrary: dtArb.map((dt): Step => ({ dt, cmd: { type: 'clock', ts: 0 } })) },
    { weight: 2, arbitrary: dtArb.map((dt): Step => ({ dt, cmd: { type: 'register', ts: 0 } })) },
    { weight: 3, arbitrary: fc.tuple(dtArb, fc.integer({ min: 1, max: 6 })).map(([dt, retry]): Step => ({ dt, retry })) },
  );
}

export const stepArb: fc.Arbitrary<Step> = stepArbOf(keyArb);

/** Absolute timestamps from relative steps (never negative; may go below the max seen). */
export function withTimes(steps: readonly Step[], start = 1000): Command[] {
  let t = start;
  const registers: number[] = [];
  const out: Command[] = [];
  steps.forEach((step, i) => {
    const ts = Math.max(0, t + step.dt);
    t = Math.max(t, ts);
    let cmd: Command;
    if ('retry' in step) {
      // Retry the n-th most recent write that carried a session.
      const withSessions = out.filter((c) => 'session' in c && c.session !== undefined);
      const earlier = withSessions[Math.max(0, withSessions.length - step.retry)];
      cmd = earlier === undefined ? { type: 'clock', ts } : { ...earlier, ts };
    } else {
      cmd = { ...step.cmd, ts };
      if ('session' in cmd && cmd.session !== undefined) {
        const pick = cmd.session.client;
        const client = registers[registers.length - 1 - pick] ?? 100_000 + pick;
        cmd = { ...cmd, session: { ...cmd.session, client } };
      }
    }
    if (cmd.type === 'register') registers.push(i + 1);
    out.push(cmd);
  });
  return out;
}

export const commandsArb: fc.Arbitrary<Command[]> = fc.array(stepArb, { minLength: 5, maxLength: 80, size: 'max' }).map((s) => withTimes(s));

/**
 * Valid split ranges: sorted, disjoint (sometimes touching) [start, end) built
 * from cut points that are often a key's ring position (±1) or the ring's ends,
 * so key boundaries are hit exactly.
 */
export function ringRangesArb(keys: readonly string[] = KEYS): fc.Arbitrary<RingRange[]> {
  const pointArb = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: RING_SIZE }) },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...keys), fc.integer({ min: -1, max: 1 })).map(([k, d]) => Math.min(RING_SIZE, Math.max(0, hashKey(k) + d))) },
    { weight: 1, arbitrary: fc.constantFrom(0, RING_SIZE) },
  );
  return fc
    .tuple(fc.uniqueArray(pointArb, { minLength: 2, maxLength: 10 }), fc.boolean())
    .map(([points, touching]) => {
      const sorted = [...points].sort((a, b) => a - b);
      const ranges: RingRange[] = [];
      // Pairs (p0,p1),(p2,p3)… or, when touching, consecutive (p0,p1),(p1,p2)…
      for (let i = 0; i + 1 < sorted.length; i += touching ? 1 : 2) {
        ranges.push({ start: sorted[i] as number, end: sorted[i + 1] as number });
      }
      return ranges;
    });
}

export const splitCommandArb: fc.Arbitrary<SplitCommand> = fc
  .tuple(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), ringRangesArb())
  .map(([ts, ranges]) => ({ type: 'split', ts, ranges }));

/** Any valid single command (for codec properties), with wide field ranges. */
export const anyCommandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 12, arbitrary: singleCommandArb() },
  { weight: 1, arbitrary: splitCommandArb },
);

function singleCommandArb(): fc.Arbitrary<Command> {
  return fc
    .tuple(
      stepArb,
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      fc.string({ unit: 'grapheme', maxLength: 12 }),
    )
    .map(([step, ts, key]) => {
      let c: Command = 'cmd' in step ? { ...step.cmd, ts } : { type: 'clock', ts };
      if ('session' in c && c.session !== undefined) {
        c = { ...c, session: { ...c.session, client: 1 + c.session.client * 1_000_003 } };
      }
      if (c.type === 'touch') return { ...c, keys: [...c.keys, key] };
      return 'key' in c ? { ...c, key } : c;
    });
}
