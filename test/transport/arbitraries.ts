import fc from 'fast-check';
import type { Entry, Message } from '../../src/raft/types.js';
import type { Batch } from '../../src/transport/index.js';

const u32Arb = fc.nat({ max: 0xffffffff });
const nodeIdArb = fc.integer({ min: 1, max: 0xffffffff });
/** Terms and indexes: mostly small, sometimes up to 2^53 - 1 (the wire's limit). */
const numArb = fc.oneof(fc.nat({ max: 1000 }), fc.maxSafeNat());
const ctxArb = fc.string({ unit: 'binary', maxLength: 24 });
const dataArb = fc.uint8Array({ maxLength: 64 });

const entryArb: fc.Arbitrary<Entry> = fc.record({
  term: numArb,
  index: numArb,
  type: fc.constantFrom('normal' as const, 'conf' as const),
  data: dataArb,
});

const env = { from: nodeIdArb, to: nodeIdArb, term: numArb };

export const messageArb: fc.Arbitrary<Message> = fc.oneof(
  fc.record({
    ...env,
    type: fc.constantFrom('vote' as const, 'pre-vote' as const),
    index: numArb,
    logTerm: numArb,
    transfer: fc.boolean(),
  }),
  fc.record({ ...env, type: fc.constantFrom('vote-resp' as const, 'pre-vote-resp' as const), reject: fc.boolean() }),
  fc.record({
    ...env,
    type: fc.constant('app' as const),
    index: numArb,
    logTerm: numArb,
    entries: fc.array(entryArb, { maxLength: 8 }),
    commit: numArb,
  }),
  fc.record({
    ...env,
    type: fc.constant('app-resp' as const),
    index: numArb,
    reject: fc.boolean(),
    rejectHint: numArb,
    logTerm: numArb,
  }),
  fc.record({ ...env, type: fc.constant('heartbeat' as const), commit: numArb, context: ctxArb }),
  fc.record({ ...env, type: fc.constant('heartbeat-resp' as const), context: ctxArb }),
  fc.record({ ...env, type: fc.constant('read-index' as const), context: ctxArb }),
  fc.record({ ...env, type: fc.constant('read-index-resp' as const), context: ctxArb, index: numArb }),
  fc.record({ ...env, type: fc.constant('timeout-now' as const) }),
  fc.record({
    ...env,
    type: fc.constant('snap' as const),
    snapshot: fc.record({
      metadata: fc.record({
        index: numArb,
        term: numArb,
        conf: fc.record({
          voters: fc.array(nodeIdArb, { maxLength: 7 }),
          learners: fc.array(nodeIdArb, { maxLength: 3 }),
        }),
      }),
      data: fc.uint8Array({ maxLength: 256 }),
    }),
  }),
);

export const batchArb: fc.Arbitrary<Batch> = fc
  .array(fc.tuple(u32Arb, messageArb), { maxLength: 12 })
  .map((pairs) => ({ groupIds: pairs.map((p) => p[0]), messages: pairs.map((p) => p[1]) }));

export const nonEmptyBatchArb: fc.Arbitrary<Batch> = batchArb.filter((b) => b.messages.length > 0);
