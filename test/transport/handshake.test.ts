import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/util/rng.js';
import { FrameError, backoffDelay } from '../../src/transport/index.js';
import {
  AUTH_BYTES,
  acceptorMac,
  decodeAuth,
  decodeHello,
  decodeWelcome,
  dialerMac,
  encodeAuth,
  encodeHello,
  encodeWelcome,
  macEquals,
  newNonce,
} from '../../src/transport/handshake.js';

const key = Buffer.from('k'.repeat(32));

describe('handshake', () => {
  it('frames round-trip', () => {
    const n1 = newNonce();
    const n2 = newNonce();
    const mac = dialerMac(key, 1, 2, n1, n2);
    expect(decodeHello(encodeHello({ acceptorId: 7, acceptorNonce: n1 }))).toEqual({ acceptorId: 7, acceptorNonce: Buffer.from(n1) });
    const auth = decodeAuth(encodeAuth({ dialerId: 1, acceptorId: 2, dialerNonce: n2, dialerMac: mac }));
    expect(auth.dialerId).toBe(1);
    expect(auth.acceptorId).toBe(2);
    expect(macEquals(auth.dialerNonce, n2)).toBe(true);
    expect(macEquals(auth.dialerMac, mac)).toBe(true);
    expect(macEquals(decodeWelcome(encodeWelcome(mac)), mac)).toBe(true);
  });

  it('binds the MAC to the secret, both ids, both nonces and the role', () => {
    const a = newNonce();
    const d = newNonce();
    const base = dialerMac(key, 1, 2, a, d);
    expect(macEquals(base, dialerMac(key, 1, 2, a, d))).toBe(true);
    const others = [
      dialerMac(Buffer.from('x'.repeat(32)), 1, 2, a, d),
      dialerMac(key, 3, 2, a, d),
      dialerMac(key, 1, 3, a, d),
      dialerMac(key, 1, 2, newNonce(), d),
      dialerMac(key, 1, 2, a, newNonce()),
      // The acceptor's proof over the same values is different: no reflection.
      acceptorMac(key, 1, 2, a, d),
    ];
    for (const o of others) expect(macEquals(base, o)).toBe(false);
  });

  it('refuses malformed handshake frames with FrameError', () => {
    const auth = encodeAuth({ dialerId: 1, acceptorId: 2, dialerNonce: newNonce(), dialerMac: newNonce() });
    expect(() => decodeAuth(auth.subarray(0, AUTH_BYTES - 1))).toThrow(FrameError);
    expect(() => decodeHello(auth)).toThrow(FrameError);
    expect(() => decodeWelcome(auth)).toThrow(FrameError);
    expect(() => decodeAuth(Uint8Array.of(1, 0, 0, 0, 0))).toThrow(FrameError);
  });
});

describe('backoffDelay', () => {
  it('is exponential with equal jitter, capped, and replays from the seed', () => {
    fc.assert(
      fc.property(fc.nat({ max: 100 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 100_000 }), fc.nat(), (attempt, base, max, seed) => {
        const d = backoffDelay(attempt, { baseMs: base, maxMs: max }, new SeededRng(seed));
        const cap = Math.min(max, base * 2 ** attempt);
        expect(d).toBeGreaterThanOrEqual(Math.floor(cap / 2));
        expect(d).toBeLessThanOrEqual(cap);
        expect(backoffDelay(attempt, { baseMs: base, maxMs: max }, new SeededRng(seed))).toBe(d);
      }),
      { seed: 0xb0ff, numRuns: 300 },
    );
  });
});
