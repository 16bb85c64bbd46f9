/**
 * The authentication handshake between two nodes (layout in docs/protocol.md).
 *
 * The dialer (lower node id) and the acceptor (higher node id) each prove
 * knowledge of the shared cluster secret with an HMAC-SHA256 over both node
 * ids and both fresh nonces, under a label naming the role; the secret never
 * travels. Roles in the label keep one side's proof from being reflected as
 * the other's; fresh nonces keep old proofs from being replayed.
 *
 *   acceptor → dialer   HELLO    tag 0x10, acceptorId u32, acceptorNonce[32]
 *   dialer → acceptor   AUTH     tag 0x11, dialerId u32, acceptorId u32, dialerNonce[32], dialerMac[32]
 *   acceptor → dialer   WELCOME  tag 0x12, acceptorMac[32]
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../raft/types.js';
import { FrameError } from './codec.js';

export const HELLO_TAG = 0x10;
export const AUTH_TAG = 0x11;
export const WELCOME_TAG = 0x12;
export const NONCE_BYTES = 32;
export const MAC_BYTES = 32;

export const HELLO_BYTES = 1 + 4 + NONCE_BYTES;
export const AUTH_BYTES = 1 + 4 + 4 + NONCE_BYTES + MAC_BYTES;
export const WELCOME_BYTES = 1 + MAC_BYTES;

const DIALER_LABEL = Buffer.from('raftcache/1 dialer', 'ascii');
const ACCEPTOR_LABEL = Buffer.from('raftcache/1 acceptor', 'ascii');

export interface Hello {
  readonly acceptorId: NodeId;
  readonly acceptorNonce: Uint8Array;
}

export interface Auth {
  readonly dialerId: NodeId;
  readonly acceptorId: NodeId;
  readonly dialerNonce: Uint8Array;
  readonly dialerMac: Uint8Array;
}

export function newNonce(): Uint8Array {
  return randomBytes(NONCE_BYTES);
}

function u32le(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

/** HMAC-SHA256(secret, label ‖ selfId u32 ‖ otherId u32 ‖ otherNonce ‖ selfNonce). */
function mac(
  secret: Uint8Array,
  label: Buffer,
  selfId: NodeId,
  otherId: NodeId,
  otherNonce: Uint8Array,
  selfNonce: Uint8Array,
): Uint8Array {
  return createHmac('sha256', secret)
    .update(label)
    .update(u32le(selfId))
    .update(u32le(otherId))
    .update(otherNonce)
    .update(selfNonce)
    .digest();
}

/** The dialer's proof: it answers the acceptor's nonce. */
export function dialerMac(
  secret: Uint8Array,
  dialerId: NodeId,
  acceptorId: NodeId,
  acceptorNonce: Uint8Array,
  dialerNonce: Uint8Array,
): Uint8Array {
  return mac(secret, DIALER_LABEL, dialerId, acceptorId, acceptorNonce, dialerNonce);
}

/** The acceptor's proof: it answers the dialer's nonce. */
export function acceptorMac(
  secret: Uint8Array,
  acceptorId: NodeId,
  dialerId: NodeId,
  dialerNonce: Uint8Array,
  acceptorNonce: Uint8Array,
): Uint8Array {
  return mac(secret, ACCEPTOR_LABEL, acceptorId, dialerId, dialerNonce, acceptorNonce);
}

/** Constant-time comparison of two MACs. */
export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function encodeHello(h: Hello): Uint8Array {
  const b = Buffer.alloc(HELLO_BYTES);
  b[0] = HELLO_TAG;
  b.writeUInt32LE(h.acceptorId, 1);
  b.set(h.acceptorNonce, 5);
  return b;
}

export function encodeAuth(a: Auth): Uint8Array {
  const b = Buffer.alloc(AUTH_BYTES);
  b[0] = AUTH_TAG;
  b.writeUInt32LE(a.dialerId, 1);
  b.writeUInt32LE(a.acceptorId, 5);
  b.set(a.dialerNonce, 9);
  b.set(a.dialerMac, 9 + NONCE_BYTES);
  return b;
}

export function encodeWelcome(acceptorMacBytes: Uint8Array): Uint8Array {
  const b = Buffer.alloc(WELCOME_BYTES);
  b[0] = WELCOME_TAG;
  b.set(acceptorMacBytes, 1);
  return b;
}

function expect(frame: Uint8Array, tag: number, size: number, name: string): Buffer {
  if (frame.length !== size || frame[0] !== tag) throw new FrameError(`expected a ${name} frame of ${size} bytes`);
  return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
}

export function decodeHello(frame: Uint8Array): Hello {
  const b = expect(frame, HELLO_TAG, HELLO_BYTES, 'HELLO');
  return { acceptorId: b.readUInt32LE(1), acceptorNonce: b.subarray(5, 5 + NONCE_BYTES) };
}

export function decodeAuth(frame: Uint8Array): Auth {
  const b = expect(frame, AUTH_TAG, AUTH_BYTES, 'AUTH');
  return {
    dialerId: b.readUInt32LE(1),
    acceptorId: b.readUInt32LE(5),
    dialerNonce: b.subarray(9, 9 + NONCE_BYTES),
    dialerMac: b.subarray(9 + NONCE_BYTES, 9 + NONCE_BYTES + MAC_BYTES),
  };
}

/** Returns the acceptor's MAC carried by a WELCOME frame. */
export function decodeWelcome(frame: Uint8Array): Uint8Array {
  return expect(frame, WELCOME_TAG, WELCOME_BYTES, 'WELCOME').subarray(1);
}
