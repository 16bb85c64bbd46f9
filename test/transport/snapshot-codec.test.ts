import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SnapChunk, SnapChunkAck } from '../../src/raft/snapshot-transfer.js';
import {
  FrameError,
  SNAP_ACK_FRAME_BYTES,
  decodePeerFrame,
  encodeBatch,
  encodeSnapAck,
  encodeSnapChunk,
  snapChunkFrameBytes,
} from '../../src/transport/index.js';
import { heartbeat } from './helpers.js';

const u32Arb = fc.nat({ max: 0xffffffff });
const nodeIdArb = fc.integer({ min: 1, max: 0xffffffff });
const numArb = fc.oneof(fc.nat({ max: 1000 }), fc.maxSafeNat());

const chunkArb: fc.Arbitrary<SnapChunk> = fc
  .record({
    from: nodeIdArb,
    to: nodeIdArb,
    term: numArb,
    index: numArb,
    snapTerm: numArb,
    voters: fc.array(nodeIdArb, { maxLength: 5 }),
    learners: fc.array(nodeIdArb, { maxLength: 3 }),
    offset: fc.nat({ max: 1 << 20 }),
    extra: fc.nat({ max: 1 << 20 }),
    data: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  })
  .map((r) => ({
    from: r.from,
    to: r.to,
    term: r.term,
    metadata: { index: r.index, term: r.snapTerm, conf: { voters: r.voters, learners: r.learners } },
    total: r.offset + r.data.length + r.extra,
    offset: r.offset,
    data: r.data,
  }));

const ackArb: fc.Arbitrary<SnapChunkAck> = fc.record({
  from: nodeIdArb,
  to: nodeIdArb,
  index: numArb,
  snapTerm: numArb,
  offset: numArb,
});

function frameErrorOf(bytes: Uint8Array): unknown {
  try {
    decodePeerFrame(bytes);
    return null;
  } catch (e) {
    return e;
  }
}

const sample: SnapChunk = {
  from: 1,
  to: 2,
  term: 7,
  metadata: { index: 100, term: 6, conf: { voters: [1, 2, 3], learners: [4] } },
  total: 10,
  offset: 4,
  data: new Uint8Array([9, 8, 7]),
};

describe('snapshot chunk and ack frames', () => {
  it('round-trip chunk frames (data compared as bytes) and report their size', () => {
    fc.assert(
      fc.property(u32Arb, chunkArb, (groupId, chunk) => {
        const bytes = encodeSnapChunk(groupId, chunk);
        expect(bytes.length).toBe(snapChunkFrameBytes(chunk));
        const f = decodePeerFrame(bytes);
        if (f.kind !== 'snap-chunk') throw new Error(`decoded a ${f.kind}`);
        expect(f.groupId).toBe(groupId);
        expect({ ...f.chunk, data: Array.from(f.chunk.data) }).toEqual({ ...chunk, data: Array.from(chunk.data) });
      }),
      { seed: 0x5aa9, numRuns: 300 },
    );
  });

  it('round-trip ack frames', () => {
    fc.assert(
      fc.property(u32Arb, ackArb, (groupId, ack) => {
        const bytes = encodeSnapAck(groupId, ack);
        expect(bytes.length).toBe(SNAP_ACK_FRAME_BYTES);
        expect(decodePeerFrame(bytes)).toEqual({ kind: 'snap-ack', groupId, ack });
      }),
      { seed: 0xacc, numRuns: 300 },
    );
  });

  it('still decode batch frames by their first byte', () => {
    const batch = { groupIds: [3], messages: [heartbeat(1, 2, 'x')] };
    expect(decodePeerFrame(encodeBatch(batch))).toEqual({ kind: 'batch', batch });
  });

  it('reject every truncation, trailing bytes, unknown kinds and an empty frame with FrameError', () => {
    const chunk = encodeSnapChunk(5, sample);
    const ack = encodeSnapAck(5, { from: 2, to: 1, index: 100, snapTerm: 6, offset: 7 });
    for (const full of [chunk, ack]) {
      for (let n = 0; n < full.length; n++) expect(frameErrorOf(full.subarray(0, n))).toBeInstanceOf(FrameError);
      const longer = new Uint8Array(full.length + 1);
      longer.set(full);
      expect(frameErrorOf(longer)).toBeInstanceOf(FrameError);
    }
    for (const kind of [0, 4, 0x10, 0xff]) {
      const bad = chunk.slice();
      bad[0] = kind;
      expect(frameErrorOf(bad)).toBeInstanceOf(FrameError);
    }
  });

  it('reject a chunk that extends past its total, an empty chunk of a non-empty snapshot, and unsafe integers', () => {
    // total at offset 1+4+4+4+8+8+8 = 37, offset at 45, data length after conf lists.
    const past = encodeSnapChunk(5, sample);
    new DataView(past.buffer, past.byteOffset).setUint32(37, 6, true); // total 6 < offset 4 + 3 bytes
    expect(frameErrorOf(past)).toBeInstanceOf(FrameError);

    const empty = encodeSnapChunk(5, { ...sample, data: new Uint8Array(0) });
    expect(frameErrorOf(empty)).toBeInstanceOf(FrameError);

    const unsafe = encodeSnapChunk(5, sample);
    new DataView(unsafe.buffer, unsafe.byteOffset).setUint32(49, 0x0020_0000, true); // offset high word > 2^53
    expect(frameErrorOf(unsafe)).toBeInstanceOf(FrameError);

    expect(() => encodeSnapChunk(5, { ...sample, total: 5 })).toThrow(RangeError);
  });

  it('decode random bytes after a chunk or ack kind byte only to a value or FrameError', () => {
    fc.assert(
      fc.property(fc.constantFrom(2, 3), fc.uint8Array({ maxLength: 120 }), (kind, rest) => {
        const bytes = new Uint8Array(rest.length + 1);
        bytes[0] = kind;
        bytes.set(rest, 1);
        const e = frameErrorOf(bytes);
        if (e !== null && !(e instanceof FrameError)) throw e;
      }),
      { seed: 0x9a7b, numRuns: 2000 },
    );
  });

  it('decode every one-byte corruption of a chunk frame only to a value or FrameError', () => {
    const base = encodeSnapChunk(5, sample);
    for (let i = 0; i < base.length; i++) {
      for (const v of [0, 0x7f, 0xff]) {
        const bad = base.slice();
        bad[i] = v;
        const e = frameErrorOf(bad);
        if (e !== null && !(e instanceof FrameError)) throw e;
      }
    }
  });
});
