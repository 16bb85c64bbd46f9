import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  CacheStateMachine,
  CommandCodecError,
  decodeCommand,
  encodeCommand,
  SnapshotError,
  textValue,
} from '../../src/cache/index.js';
import type { CacheConfig } from '../../src/cache/index.js';
import { anyCommandArb, commandsArb } from './arbitraries.js';

describe('command codec', () => {
  it('round-trips every valid command, canonically', () => {
    fc.assert(
      fc.property(anyCommandArb, (cmd) => {
        const bytes = encodeCommand(cmd);
        const back = decodeCommand(bytes);
        expect(back).toEqual(cmd);
        expect(encodeCommand(back)).toEqual(bytes);
      }),
      { seed: 11, numRuns: 500 },
    );
  });

  it('garbage never crashes: it decodes to a valid command or throws CommandCodecError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const cmd = decodeCommand(bytes);
          expect(encodeCommand(cmd)).toEqual(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(CommandCodecError);
        }
      }),
      { seed: 12, numRuns: 2000 },
    );
  });

  it('mutated and truncated encodings never crash', () => {
    fc.assert(
      fc.property(anyCommandArb, fc.nat(), fc.nat(255), fc.boolean(), (cmd, at, byte, truncate) => {
        const bytes = encodeCommand(cmd).slice();
        const i = at % bytes.length;
        const input = truncate ? bytes.subarray(0, i) : (bytes.set([byte], i), bytes);
        try {
          decodeCommand(input);
        } catch (e) {
          expect(e).toBeInstanceOf(CommandCodecError);
        }
      }),
      { seed: 13, numRuns: 1000 },
    );
  });

  it('refuses to encode invalid commands', () => {
    expect(() => encodeCommand({ type: 'put', ts: 1.5, key: 'k', value: new Uint8Array() })).toThrow(CommandCodecError);
    expect(() => encodeCommand({ type: 'incr', ts: 1, key: 'k', by: 2 ** 60 })).toThrow(CommandCodecError);
  });
});

const config: CacheConfig = { maxEntries: 6, maxBytes: 400, maxResultsPerSession: 3, sessionTtlMs: 500, maxSessions: 3 };

function filled(): CacheStateMachine {
  const sm = new CacheStateMachine({ maxEntries: 1000, maxBytes: 1_000_000 });
  let i = 0;
  const r = sm.apply(++i, { type: 'register', ts: 10 });
  const client = r.ok && r.kind === 'registered' ? r.clientId : 0;
  for (let k = 0; k < 50; k++) {
    sm.apply(++i, { type: 'put', ts: 10 + k, key: `key${k}`, value: new Uint8Array(k * 7).fill(k), ttlMs: k % 3 === 0 ? 10_000 : undefined, session: { client, seq: k } } as never);
  }
  return sm;
}

describe('snapshot', () => {
  it('chunks never exceed the chunk size and restore from any chunking', () => {
    const sm = filled();
    const whole = sm.snapshotBytes();
    for (const size of [16, 17, 100, 4096]) {
      const chunks = [...sm.snapshot(size)];
      expect(chunks.every((c) => c.length <= size)).toBe(true);
      const restored = CacheStateMachine.restore({ maxEntries: 1000, maxBytes: 1_000_000 }, chunks);
      expect(restored.snapshotBytes()).toEqual(whole);
    }
    // Arbitrary re-chunking of the same byte stream (even empty chunks) restores too.
    const odd = [whole.subarray(0, 3), new Uint8Array(0), whole.subarray(3, 200), whole.subarray(200)];
    expect(CacheStateMachine.restore({ maxEntries: 1000, maxBytes: 1_000_000 }, odd).snapshotBytes()).toEqual(whole);
  });

  it('any single-byte corruption or truncation is detected with SnapshotError', () => {
    const whole = filled().snapshotBytes();
    const cfg = { maxEntries: 1000, maxBytes: 1_000_000 };
    fc.assert(
      fc.property(fc.nat(whole.length - 1), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, flip, truncate) => {
        const bad = truncate ? whole.slice(0, at) : whole.slice();
        if (!truncate) bad[at] = (bad[at] as number) ^ flip;
        expect(() => CacheStateMachine.restore(cfg, [bad])).toThrow(SnapshotError);
      }),
      { seed: 21, numRuns: 300 },
    );
    expect(() => CacheStateMachine.restore(cfg, [new Uint8Array([...whole, 0])])).toThrow(SnapshotError);
    expect(() => CacheStateMachine.restore(cfg, [textValue('hello')])).toThrow(/magic/);
  });

  it('a snapshot that does not fit the config is refused', () => {
    const whole = filled().snapshotBytes();
    expect(() => CacheStateMachine.restore({ maxEntries: 10, maxBytes: 1_000_000 }, [whole])).toThrow(SnapshotError);
  });

  it('garbage input never crashes restore', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(() => CacheStateMachine.restore(config, [bytes])).toThrow(SnapshotError);
      }),
      { seed: 22, numRuns: 500 },
    );
  });

  it('reading a snapshot while applying throws instead of producing a torn snapshot', () => {
    const sm = filled();
    const it = sm.snapshot(16);
    it.next();
    sm.apply(sm.lastApplied + 1, { type: 'clock', ts: 1 });
    expect(() => [...it]).toThrow(/changed/);
  });

  it('restored state continues like the original (sampled histories)', () => {
    fc.assert(
      fc.property(commandsArb, (cmds) => {
        const sm = new CacheStateMachine(config);
        cmds.forEach((c, i) => sm.apply(i + 1, c));
        const restored = CacheStateMachine.restore(config, sm.snapshot(32));
        expect(restored.now).toBe(sm.now);
        expect(restored.lastApplied).toBe(sm.lastApplied);
        expect(restored.stats.evictions).toBe(sm.stats.evictions);
        expect(restored.sessionCount).toBe(sm.sessionCount);
      }),
      { seed: 23, numRuns: 50 },
    );
  });
});
