import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/types.js';
import { FrameEncoder, FrameError, decodeBatch, encodeBatch } from '../../src/transport/index.js';
import { batchArb, messageArb, nonEmptyBatchArb } from './arbitraries.js';

/** Runs `f` and returns what it threw (or null). */
function thrown(f: () => unknown): unknown {
  try {
    f();
    return null;
  } catch (e) {
    return e;
  }
}

/**
 * Decoding either succeeds on a canonical frame (re-encodes to the same bytes)
 * or throws FrameError. Plain checks, not expect(): this runs thousands of times.
 */
function decodesCanonicallyOrFrameError(bytes: Uint8Array): void {
  let batch;
  try {
    batch = decodeBatch(bytes);
  } catch (e) {
    if (e instanceof FrameError) return;
    throw e;
  }
  if (Buffer.compare(encodeBatch(batch), bytes) !== 0) throw new Error('decoded a frame that does not re-encode to itself');
}

describe('batch codec', () => {
  it('round-trips every message type', () => {
    fc.assert(
      fc.property(batchArb, (batch) => {
        expect(decodeBatch(encodeBatch(batch))).toEqual(batch);
      }),
      { seed: 0x7a11, numRuns: 300 },
    );
  });

  it('a reused encoder produces the same frames as fresh ones', () => {
    const enc = new FrameEncoder(64);
    fc.assert(
      fc.property(batchArb, (batch) => {
        enc.begin();
        for (let i = 0; i < batch.messages.length; i++) enc.add(batch.groupIds[i]!, batch.messages[i]!);
        expect(enc.count).toBe(batch.messages.length);
        const frame = enc.finish();
        expect(frame).toEqual(encodeBatch(batch));
        expect(decodeBatch(frame)).toEqual(batch);
      }),
      { seed: 0x7a12, numRuns: 200 },
    );
  });

  it('decodes entry data as views into the frame (no copy)', () => {
    const msg: Message = {
      type: 'app',
      from: 1,
      to: 2,
      term: 3,
      index: 4,
      logTerm: 3,
      commit: 4,
      entries: [{ term: 3, index: 5, type: 'normal', data: Uint8Array.of(9, 8, 7) }],
    };
    const frame = encodeBatch({ groupIds: [7], messages: [msg] });
    const decoded = decodeBatch(frame).messages[0]!;
    if (decoded.type !== 'app') throw new Error('expected app');
    const data = decoded.entries[0]!.data;
    expect(data.buffer).toBe(frame.buffer);
    frame[frame.length - 1] = 42;
    expect(Array.from(data)).toEqual([9, 8, 42]);
  });

  it('matches the documented layout (docs/protocol.md example)', () => {
    const frame = encodeBatch({
      groupIds: [5],
      messages: [{ type: 'heartbeat', from: 1, to: 2, term: 7, commit: 300, context: 'r1' }],
    });
    expect(Buffer.from(frame).toString('hex')).toBe(
      '01' + '01000000' + // version 1, one message
        '05000000' + '07' + '01000000' + '02000000' + '0700000000000000' + // group 5, heartbeat, 1 → 2, term 7
        '2c01000000000000' + '02000000' + '7231', // commit 300, context "r1"
    );
  });

  it('throws FrameError for every truncation and for trailing bytes', () => {
    fc.assert(
      fc.property(nonEmptyBatchArb, (batch) => {
        const frame = encodeBatch(batch);
        const notFrameErrors: number[] = [];
        for (let len = 0; len < frame.length; len++) {
          if (!(thrown(() => decodeBatch(frame.subarray(0, len))) instanceof FrameError)) notFrameErrors.push(len);
        }
        expect(notFrameErrors).toEqual([]);
        const longer = new Uint8Array(frame.length + 1);
        longer.set(frame);
        expect(thrown(() => decodeBatch(longer))).toBeInstanceOf(FrameError);
      }),
      { seed: 0x7a13, numRuns: 60 },
    );
  });

  it('random garbage is refused with FrameError or decodes canonically', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => decodesCanonicallyOrFrameError(bytes)),
      { seed: 0x7a14, numRuns: 1000 },
    );
    // Garbage that starts like a frame gets past the header and exercises the message parsers.
    fc.assert(
      fc.property(fc.nat({ max: 4 }), fc.uint8Array({ maxLength: 200 }), (count, tail) => {
        const bytes = new Uint8Array(5 + tail.length);
        bytes[0] = 1;
        bytes[1] = count;
        bytes.set(tail, 5);
        decodesCanonicallyOrFrameError(bytes);
      }),
      { seed: 0x7a15, numRuns: 2000 },
    );
  });

  it('corrupted valid frames are refused with FrameError or decode canonically', () => {
    fc.assert(
      fc.property(
        nonEmptyBatchArb,
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }),
        (batch, flips) => {
          const frame = encodeBatch(batch);
          for (const [at, value] of flips) frame[at % frame.length] = value;
          decodesCanonicallyOrFrameError(frame);
        },
      ),
      { seed: 0x7a16, numRuns: 600 },
    );
  });

  it('refuses huge counts without allocating for them', () => {
    const frame = Uint8Array.of(1, 0xff, 0xff, 0xff, 0xff);
    expect(thrown(() => decodeBatch(frame))).toBeInstanceOf(FrameError);
    expect(thrown(() => decodeBatch(Uint8Array.of(2, 0, 0, 0, 0)))).toBeInstanceOf(FrameError);
    expect(decodeBatch(Uint8Array.of(1, 0, 0, 0, 0))).toEqual({ groupIds: [], messages: [] });
  });

  it('refuses unsafe integers on the wire', () => {
    const frame = encodeBatch({ groupIds: [1], messages: [{ type: 'timeout-now', from: 1, to: 2, term: 0 }] });
    frame[frame.length - 1] = 0x20; // term high byte: 2^61
    expect(thrown(() => decodeBatch(frame))).toBeInstanceOf(FrameError);
  });

  it('refuses to encode what would not round-trip, leaving the frame intact', () => {
    const ok: Message = { type: 'timeout-now', from: 1, to: 2, term: 1 };
    const bad: Message[] = [
      { type: 'timeout-now', from: 1, to: 2, term: 2 ** 53 },
      { type: 'timeout-now', from: 0x1_0000_0000, to: 2, term: 1 },
      { type: 'timeout-now', from: 1, to: 2, term: -1 },
      { type: 'timeout-now', from: 1, to: 2, term: 1.5 },
      { type: 'read-index', from: 1, to: 2, term: 1, context: 'a\ud800b' },
    ];
    const enc = new FrameEncoder(64);
    enc.begin();
    enc.add(3, ok);
    for (const m of bad) expect(thrown(() => enc.add(3, m))).toBeInstanceOf(RangeError);
    expect(thrown(() => enc.add(-1, ok))).toBeInstanceOf(RangeError);
    enc.add(4, ok);
    expect(decodeBatch(enc.finish())).toEqual({ groupIds: [3, 4], messages: [ok, ok] });
  });

  it('grows from a tiny buffer for large payloads', () => {
    const data = new Uint8Array(100_000).map((_, i) => i & 0xff);
    const msg: Message = {
      type: 'snap',
      from: 1,
      to: 2,
      term: 9,
      snapshot: { metadata: { index: 10, term: 9, conf: { voters: [1, 2, 3], learners: [] } }, data },
    };
    const enc = new FrameEncoder(64);
    enc.begin();
    enc.add(0, msg);
    const back = decodeBatch(enc.finish()).messages[0];
    if (back?.type !== 'snap') throw new Error('expected snap');
    expect(Buffer.compare(back.snapshot.data, data)).toBe(0);
    expect({ ...back, snapshot: { ...back.snapshot, data: null } }).toEqual({ ...msg, snapshot: { ...msg.snapshot, data: null } });
  });

  it('single messages of each type round-trip through a shared encoder', () => {
    const enc = new FrameEncoder(64);
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), messageArb, (g, m) => {
        enc.begin();
        enc.add(g, m);
        expect(decodeBatch(enc.finish())).toEqual({ groupIds: [g], messages: [m] });
      }),
      { seed: 0x7a17, numRuns: 500 },
    );
  });
});
