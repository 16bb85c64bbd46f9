import { describe, expect, it } from 'vitest';
import { JsonWriter, appendJsonFrame, frameHeaderSize, writeFrameHeader } from '../../src/protocol/index.js';

function header(len: number, masked: boolean): number[] {
  const buf = Buffer.alloc(14, 0xee);
  const end = writeFrameHeader(buf, 0, len, masked);
  expect(end).toBe(frameHeaderSize(len, masked));
  return [...buf.subarray(0, end)];
}

describe('frame headers (RFC 6455 §5.2)', () => {
  it('FIN + text, 7/16/64-bit lengths; the mask bit and an all-zero key only when masked', () => {
    expect(header(0, false)).toEqual([0x81, 0]);
    expect(header(125, false)).toEqual([0x81, 125]);
    expect(header(126, false)).toEqual([0x81, 126, 0, 126]);
    expect(header(65535, false)).toEqual([0x81, 126, 0xff, 0xff]);
    expect(header(65536, false)).toEqual([0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
    expect(header(2 ** 32 + 5, false)).toEqual([0x81, 127, 0, 0, 0, 1, 0, 0, 0, 5]);
    expect(header(125, true)).toEqual([0x81, 0x80 | 125, 0, 0, 0, 0]);
    expect(header(126, true)).toEqual([0x81, 0x80 | 126, 0, 126, 0, 0, 0, 0]);
  });
});

describe('appendJsonFrame', () => {
  it('appends header + JSON after what is there, at each length class', () => {
    for (const masked of [false, true]) {
      const w = new JsonWriter(16);
      w.value('x');
      for (const n of [0, 100, 130, 70_000]) {
        const start = w.len;
        const v = { v: 'é'.repeat(n) };
        appendJsonFrame(w, v, masked);
        const payload = Buffer.from(JSON.stringify(v));
        const expected = Buffer.alloc(frameHeaderSize(payload.length, masked) + payload.length);
        payload.copy(expected, writeFrameHeader(expected, 0, payload.length, masked));
        expect(w.buf.subarray(start, w.len).equals(expected)).toBe(true);
      }
      expect(w.buf.subarray(0, 3).toString()).toBe('"x"');
    }
  });

  it('appends nothing when the value cannot be written (what JSON.stringify throws)', () => {
    const w = new JsonWriter();
    appendJsonFrame(w, { id: 1, ok: true }, false);
    const len = w.len;
    expect(() => appendJsonFrame(w, { id: 2, n: 1n }, false)).toThrow(TypeError);
    expect(w.len).toBe(len);
  });
});
