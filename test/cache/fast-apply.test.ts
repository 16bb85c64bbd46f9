/**
 * The apply hot path (CommandDecoder + applyEncoded/applyDecoded, values copied
 * into cache-owned memory and overwritten in place) against the general path
 * (decodeCommand + apply): same bytes accepted, same results, same state.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CacheStateMachine, CommandDecoder, decodeCommand, encodeCommand, textValue } from '../../src/cache/index.js';
import type { Command, CommandResult } from '../../src/cache/index.js';
import { tryDecodeUtf8 } from '../../src/cache/bytes.js';
import { anyCommandArb, commandsArb, configArb, keyArb, ringRangesArb } from './arbitraries.js';

function decodeBoth(bytes: Uint8Array): { slow: Command | string; fast: Command | string } {
  let slow: Command | string;
  let fast: Command | string;
  try {
    slow = decodeCommand(bytes);
  } catch (e) {
    slow = `error: ${(e as Error).message}`;
  }
  const d = new CommandDecoder();
  try {
    d.decode(bytes);
    fast = d.toCommand();
  } catch (e) {
    fast = `error: ${(e as Error).message}`;
  }
  return { slow, fast };
}

describe('tryDecodeUtf8', () => {
  it('is strict UTF-8 (as a fatal TextDecoder) on any bytes, ASCII or not', () => {
    const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    const byteArb = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0, max: 255 }), fc.constantFrom(0xc3, 0xa9, 0xe6, 0x97, 0xa5, 0xed, 0xa0, 0x80, 0xef, 0xbb, 0xbf, 0xf0, 0x9f));
    fc.assert(
      fc.property(fc.array(byteArb, { maxLength: 50 }), fc.nat(5), fc.nat(5), (bytes, pre, post) => {
        const buf = new Uint8Array(pre + bytes.length + post).fill(0x41);
        buf.set(bytes, pre);
        let want: string | null;
        try {
          want = strict.decode(buf.subarray(pre, pre + bytes.length));
        } catch {
          want = null;
        }
        expect(tryDecodeUtf8(buf, pre, pre + bytes.length)).toBe(want);
      }),
      { seed: 13, numRuns: 2000 },
    );
  });
});

describe('CommandDecoder', () => {
  it('decodes every valid command as decodeCommand does; a put without a command object', () => {
    fc.assert(
      fc.property(anyCommandArb, (cmd) => {
        const bytes = encodeCommand(cmd);
        const d = new CommandDecoder();
        d.decode(bytes);
        expect(d.toCommand()).toEqual(decodeCommand(bytes));
        expect(d.type).toBe(cmd.type);
        expect(d.ts).toBe(cmd.ts);
        expect(d.ttlMs).toBe(cmd.type === 'put' || cmd.type === 'cas' ? cmd.ttlMs : undefined);
        if (cmd.type === 'put') {
          expect(d.command).toBeNull();
          expect(d.keyBytes).toBe(new TextEncoder().encode(cmd.key).length);
          expect(d.client).toBe(cmd.session?.client ?? 0);
        }
      }),
      { seed: 11, numRuns: 400 },
    );
  });

  it('accepts and refuses exactly the bytes decodeCommand does, with the same error (mutated encodings)', () => {
    const mutatedArb = fc
      .tuple(anyCommandArb, fc.array(fc.tuple(fc.nat(), fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0xff), fc.integer({ min: 0, max: 255 }))), { maxLength: 3 }), fc.nat(), fc.boolean())
      .map(([cmd, edits, cut, truncate]) => {
        const bytes = encodeCommand(cmd).slice();
        for (const [at, b] of edits) bytes[at % bytes.length] = b;
        return truncate ? bytes.subarray(0, cut % (bytes.length + 1)) : bytes;
      });
    fc.assert(
      fc.property(mutatedArb, (bytes) => {
        const { slow, fast } = decodeBoth(bytes);
        expect(fast).toEqual(slow);
      }),
      { seed: 12, numRuns: 1500 },
    );
  });

  it('refuses malformed keys and numbers in puts', () => {
    const put = encodeCommand({ type: 'put', ts: 5, key: 'abc', value: textValue('v'), ttlMs: 3, session: { client: 2, seq: 1 } });
    // Layout: header 11 bytes, client, seq, key length, key...
    const badUtf8 = put.slice();
    badUtf8[14] = 0xff;
    const zeroClient = put.slice();
    zeroClient[11] = 0;
    const zeroTtl = put.slice();
    zeroTtl[put.length - 1] = 0;
    const trailing = new Uint8Array([...put, 0]);
    for (const bytes of [badUtf8, zeroClient, zeroTtl, trailing]) {
      const { slow, fast } = decodeBoth(bytes);
      expect(typeof slow).toBe('string');
      expect(fast).toEqual(slow);
    }
  });

  it('decodes non-ASCII keys strictly', () => {
    for (const key of ['é', '日本', '\u{1F600}', '\uFEFFbom', 'a'.repeat(40) + 'é']) {
      const d = new CommandDecoder();
      d.decode(encodeCommand({ type: 'put', ts: 1, key, value: new Uint8Array(1) }));
      expect(d.key).toBe(key);
    }
  });
});

/** Puts of same-length values to few keys (in-place overwrites), with sessions; some reads in between. */
const overwriteStepArb = fc.tuple(keyArb, fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 3 }), fc.boolean());

describe('applyEncoded (fast path) against apply(decodeCommand(...))', () => {
  it('same results, same snapshots, and values handed out by reads never change', () => {
    fc.assert(
      fc.property(
        configArb,
        commandsArb,
        fc.array(overwriteStepArb, { maxLength: 60 }),
        fc.option(ringRangesArb(), { nil: undefined }),
        fc.integer({ min: 0, max: 200 }),
        (config, mixed, overwrites, split, readEvery) => {
          const cfg = { ...config, maxEntries: config.maxEntries + 4, maxBytes: config.maxBytes + 400 };
          // Interleave: the mixed commands, then a split (maybe), then many same-size overwrites with reads.
          const cmds: Command[] = [...mixed];
          let ts = (mixed.at(-1)?.ts ?? 0) + 1;
          cmds.push({ type: 'register', ts });
          const client = cmds.length;
          let seq = 0;
          if (split !== undefined) cmds.push({ type: 'split', ts, ranges: split, group: 2 });
          for (const [key, value, dt, withSession] of overwrites) {
            ts += dt;
            seq++;
            cmds.push(
              withSession
                ? { type: 'put', ts, key, value, session: { client, seq, firstIncomplete: Math.max(0, seq - 2) } }
                : { type: 'put', ts, key, value },
            );
          }
          const slow = new CacheStateMachine(cfg);
          const fast = new CacheStateMachine(cfg);
          const held: { value: Uint8Array; copy: number[] }[] = [];
          cmds.forEach((cmd, i) => {
            const bytes = encodeCommand(cmd);
            const want: CommandResult = slow.apply(i + 1, decodeCommand(bytes));
            expect(fast.applyEncoded(i + 1, bytes)).toEqual(want);
            if ('key' in cmd && readEvery > 0 && i % readEvery === 0) {
              const v = fast.get(cmd.key);
              expect(v).toEqual(slow.get(cmd.key));
              if (v !== null) held.push({ value: v, copy: [...v] });
            }
            if (cmd.type === 'split') expect(fast.takeSplit()?.snapshotBytes()).toEqual(slow.takeSplit()?.snapshotBytes());
          });
          expect(fast.snapshotBytes()).toEqual(slow.snapshotBytes());
          for (const h of held) expect([...h.value]).toEqual(h.copy);
        },
      ),
      { seed: 31, numRuns: 150 },
    );
  }, 30_000);

  it('overwrites a private value in place, but never one a read handed out, and never pins the entry buffer', () => {
    const sm = new CacheStateMachine({ maxEntries: 10, maxBytes: 10_000 });
    const frame = new Uint8Array(1000);
    const put = (index: number, value: string): void => {
      const bytes = encodeCommand({ type: 'put', ts: index, key: 'k', value: textValue(value) });
      frame.set(bytes, 100);
      expect(sm.applyEncoded(index, frame.subarray(100, 100 + bytes.length))).toEqual({ ok: true, kind: 'done' });
    };
    put(1, 'aaaa');
    const first = sm.peek('k');
    expect(first?.buffer).not.toBe(frame.buffer);
    expect(first?.buffer.byteLength).toBe(4);
    put(2, 'bbbb');
    expect(first).toEqual(textValue('aaaa')); // handed out: a new array took the write
    const second = sm.peek('k');
    expect(second).not.toBe(first);
    expect(second).toEqual(textValue('bbbb'));
    put(3, 'cccc');
    put(4, 'dddd');
    expect(second).toEqual(textValue('bbbb'));
    expect(sm.getString('k')).toBe('dddd');
    expect(sm.bytes).toBe(1 + 4 + 48);
    put(5, 'eeeeee'); // another length: a new array, size accounted
    expect(sm.getString('k')).toBe('eeeeee');
    expect(sm.bytes).toBe(1 + 6 + 48);
  });

  it('applyDecoded leaves the decoder as it was (the driver reads type and ttlMs after apply)', () => {
    const sm = new CacheStateMachine({ maxEntries: 10, maxBytes: 10_000 });
    const d = new CommandDecoder();
    d.decode(encodeCommand({ type: 'put', ts: 7, key: 'k', value: textValue('v'), ttlMs: 50 }));
    expect(sm.applyDecoded(1, d)).toEqual({ ok: true, kind: 'done' });
    expect(d.type).toBe('put');
    expect(d.ttlMs).toBe(50);
    expect(sm.expiresAt('k')).toBe(57);
    d.decode(encodeCommand({ type: 'split', ts: 8, ranges: [{ start: 0, end: 2 ** 32 }], group: 3 }));
    expect(sm.applyDecoded(2, d)).toEqual({ ok: true, kind: 'done' });
    expect(d.type).toBe('split');
    expect(d.command).toMatchObject({ type: 'split', group: 3 });
    expect(sm.takeSplit()?.getString('k')).toBe('v');
    expect(() => sm.applyDecoded(2, d)).toThrow(RangeError);
  });
});

describe('encodeCommand', () => {
  it('round-trips, and an encoding never changes when more are made', () => {
    fc.assert(
      fc.property(fc.array(anyCommandArb, { minLength: 1, maxLength: 400 }), (cmds) => {
        const encoded = cmds.map((c) => encodeCommand(c));
        const copies = encoded.map((b) => [...b]);
        // Enough further encodings to fill several shared chunks.
        for (let i = 0; i < 2000; i++) encodeCommand({ type: 'put', ts: i, key: `k${i}`, value: new Uint8Array(100).fill(i & 0xff) });
        encoded.forEach((b, i) => {
          expect([...b]).toEqual(copies[i]);
          expect(decodeCommand(b)).toEqual(cmds[i]);
        });
      }),
      { seed: 41, numRuns: 40 },
    );
  });

  it('puts of large values get a buffer of their own', () => {
    const big = encodeCommand({ type: 'put', ts: 1, key: 'k', value: new Uint8Array(10_000) });
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBe(big.length);
  });
});
