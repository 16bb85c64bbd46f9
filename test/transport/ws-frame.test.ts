import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Writable } from 'node:stream';
import * as wsModule from 'ws';
import type { Entry, Message } from '../../src/raft/types.js';
import { FrameEncoder, FrameError, decodeBatch, encodeBatch } from '../../src/transport/index.js';
import { WS_MAX_HEADER_BYTES, wsHeaderBytes, writeWsHeaderBefore } from '../../src/transport/ws-frame.js';
import { batchArb } from './arbitraries.js';

/** ws's frame parser and writer (exported by ws, not described by @types/ws). */
interface WsInternals {
  Receiver: new (opts: { isServer: boolean; maxPayload?: number }) => Writable;
  Sender: { frame(data: Buffer, opts: object): Buffer[] };
}
const { Receiver, Sender } = wsModule as unknown as WsInternals;

const zeroMask = (mask: Buffer): void => {
  mask.fill(0);
};

/** The header ws itself writes for a final binary frame of `len` bytes (client: all-zero mask). */
function wsHeader(len: number, masked: boolean): Buffer {
  const parts = Sender.frame(Buffer.alloc(len), { fin: true, opcode: 2, mask: masked, generateMask: zeroMask, readOnly: false, rsv1: false });
  return parts[0]!;
}

function ourHeader(len: number, masked: boolean): Uint8Array {
  const buf = new Uint8Array(WS_MAX_HEADER_BYTES + 3).fill(0xee);
  const start = writeWsHeaderBefore(buf, WS_MAX_HEADER_BYTES, len, masked);
  expect(buf[WS_MAX_HEADER_BYTES]).toBe(0xee); // nothing written at or past `end`
  expect(WS_MAX_HEADER_BYTES - start).toBe(wsHeaderBytes(len, masked));
  return buf.subarray(start, WS_MAX_HEADER_BYTES);
}

/**
 * Feeds `bytes` to a ws Receiver in the given role, in pieces of `step` bytes;
 * resolves with the messages it emitted and the codes of its errors (reported a tick later).
 */
async function receive(bytes: Uint8Array, isServer: boolean, step: number): Promise<{ messages: Buffer[]; errors: string[] }> {
  const messages: Buffer[] = [];
  const errors: string[] = [];
  const r = new Receiver({ isServer, maxPayload: 0 });
  r.on('message', (data: Buffer) => messages.push(Buffer.from(data)));
  r.on('error', (e: Error & { code?: string }) => errors.push(e.code ?? e.message));
  for (let i = 0; i < bytes.length; i += step) r.write(Buffer.from(bytes.subarray(i, i + step)));
  await new Promise((resolve) => setImmediate(resolve));
  return { messages, errors };
}

function app(n: number, dataBytes: number): Message {
  const entries: Entry[] = [];
  for (let i = 0; i < n; i++) {
    entries.push({ term: 3, index: 10 + i, type: i % 7 === 3 ? 'conf' : 'normal', data: new Uint8Array(dataBytes).fill(i & 0xff) });
  }
  return { type: 'app', from: 1, to: 2, term: 3, index: 9, logTerm: 3, commit: 9, entries };
}

describe('WebSocket headers written by the transport', () => {
  it('are byte for byte what ws writes, at every length boundary, masked (zero key) and not', () => {
    for (const len of [0, 1, 125, 126, 127, 65535, 65536, 70000, 0x1_0000_0005]) {
      for (const masked of [false, true]) {
        // ws needs a payload buffer; for the 4 GiB case compare our header with the spec directly below.
        if (len > 1 << 24) continue;
        expect(Buffer.from(ourHeader(len, masked))).toEqual(wsHeader(len, masked));
      }
    }
    // A 64-bit length above 2^32: high word first, big-endian.
    expect([...ourHeader(0x1_0000_0005, false)]).toEqual([0x82, 127, 0, 0, 0, 1, 0, 0, 0, 5]);
  });

  it("finishFramed(): ws's receiver reads the frame back, whole or split at any byte, as server and as client", async () => {
    const enc = new FrameEncoder(64);
    for (const size of [0, 1, 10, 110, 700, 70_000]) {
      const msg = size === 0 ? ({ type: 'timeout-now', from: 1, to: 2, term: 1 } as Message) : app(size > 1000 ? 1 : 3, size);
      const frame = encodeBatch({ groupIds: [7], messages: [msg] });
      for (const masked of [true, false]) {
        enc.add(7, msg);
        const framed = Uint8Array.from(enc.finishFramed(masked));
        expect(framed.length).toBe(wsHeaderBytes(frame.length, masked) + frame.length);
        for (const step of framed.length < 5000 ? [framed.length, 1, 5, 13] : [framed.length, 4093, 65539]) {
          // A server requires masked frames (the dialer's); a client refuses them (the acceptor's).
          const got = await receive(framed, masked, step);
          expect(got.errors).toEqual([]);
          expect(got.messages.length).toBe(1);
          expect(Buffer.compare(got.messages[0]!, frame)).toBe(0);
        }
      }
    }
  });

  it('a server-side ws refuses the frame without the mask bit, a client-side one refuses it with', async () => {
    const enc = new FrameEncoder(64);
    enc.add(1, { type: 'timeout-now', from: 1, to: 2, term: 1 });
    const unmasked = Uint8Array.from(enc.finishFramed(false));
    enc.add(1, { type: 'timeout-now', from: 1, to: 2, term: 1 });
    const masked = Uint8Array.from(enc.finishFramed(true));
    expect((await receive(unmasked, true, unmasked.length)).errors).toEqual(['WS_ERR_EXPECTED_MASK']);
    expect((await receive(masked, false, masked.length)).errors).toEqual(['WS_ERR_UNEXPECTED_MASK']);
  });
});

describe('FrameEncoder buffer hand-off', () => {
  it('after detach() the handed-away frame is never overwritten; without it the buffer is reused', () => {
    const enc = new FrameEncoder(4096);
    const a = app(5, 100);
    const b = app(5, 90);
    enc.add(1, a);
    const first = enc.finishFramed(true);
    const copy = Uint8Array.from(first);
    enc.detach();
    enc.add(2, b);
    enc.finishFramed(true);
    expect(Buffer.compare(first, copy)).toBe(0);
    expect(first.buffer).not.toBe(enc.finishFramed(true).buffer);

    // Control: without detach() the same memory is written again (what detach() protects against).
    enc.add(1, a);
    const second = enc.finishFramed(true);
    const before = Uint8Array.from(second);
    enc.add(2, b);
    enc.finishFramed(true);
    expect(Buffer.compare(second, before)).not.toBe(0);
  });

  it('detach() of an unfinished frame is refused', () => {
    const enc = new FrameEncoder(64);
    enc.add(1, { type: 'timeout-now', from: 1, to: 2, term: 1 });
    expect(() => enc.detach()).toThrow();
  });

  it('frames from a detaching encoder equal fresh encodings', () => {
    const enc = new FrameEncoder(64);
    fc.assert(
      fc.property(batchArb, fc.boolean(), (batch, detach) => {
        enc.begin();
        for (let i = 0; i < batch.messages.length; i++) enc.add(batch.groupIds[i]!, batch.messages[i]!);
        const framed = enc.finishFramed(false);
        const frame = encodeBatch(batch);
        expect(Buffer.compare(framed.subarray(framed.length - frame.length), frame)).toBe(0);
        if (detach) enc.detach();
      }),
      { seed: 0x3e7a, numRuns: 200 },
    );
  });
});

describe('entry decoding', () => {
  const msg = app(3, 5);
  const frame = (): Uint8Array => encodeBatch({ groupIds: [1], messages: [msg] });
  /** Offset of entry `i` (each: 21 bytes of prefix + 5 of data) after the 5-byte frame header and 49 bytes of app fields. */
  const entryAt = (i: number): number => 5 + 21 + 24 + 4 + i * 26;

  it('round-trips terms and indexes up to 2^53 - 1 and both entry types', () => {
    const big: Message = {
      type: 'app',
      from: 1,
      to: 2,
      term: 3,
      index: 9,
      logTerm: 3,
      commit: 9,
      entries: [
        { term: 2 ** 53 - 1, index: 2 ** 32, type: 'conf', data: new Uint8Array(0) },
        { term: 2 ** 32 + 7, index: 2 ** 53 - 1, type: 'normal', data: Uint8Array.of(1, 2, 3) },
      ],
    };
    expect(decodeBatch(encodeBatch({ groupIds: [1], messages: [big] }))).toEqual({ groupIds: [1], messages: [big] });
  });

  it('refuses an unsafe entry term or index, an unknown entry type, and data running past the frame', () => {
    const cases: Array<(f: Uint8Array) => void> = [
      (f) => (f[entryAt(1) + 7] = 0x20), // term high byte of entry 1
      (f) => (f[entryAt(2) + 15] = 0x01), // index high byte of entry 2
      (f) => (f[entryAt(0) + 16] = 2), // entry type
      (f) => (f[entryAt(2) + 17] = 6), // entry 2's data length: one past the end
      (f) => (f[entryAt(0) + 20] = 0x80), // a 2 GiB length
    ];
    for (const corrupt of cases) {
      const f = frame();
      expect(() => decodeBatch(f)).not.toThrow();
      corrupt(f);
      expect(() => decodeBatch(f)).toThrow(FrameError);
    }
  });

  it('refuses a frame cut inside an entry prefix or its data', () => {
    const f = frame();
    for (let cut = entryAt(0); cut < f.length; cut++) {
      const g = Uint8Array.from(f.subarray(0, cut));
      expect(() => decodeBatch(g)).toThrow(FrameError);
    }
  });
});
