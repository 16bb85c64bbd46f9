import { murmur3Bytes, murmur3String } from './murmur3.js';

/**
 * The one hash that places keys and virtual nodes on the 32-bit ring. Every
 * component that routes keys (client, api, node) must use these, so the seed
 * is a fixed part of the protocol, not an option.
 */
export const RING_HASH_SEED = 0;

/** Ring position of a string key (hash of its UTF-8 bytes). */
export function hashKey(key: string): number {
  return murmur3String(key, RING_HASH_SEED);
}

/** Ring position of a binary key. */
export function hashKeyBytes(key: Uint8Array): number {
  return murmur3Bytes(key, RING_HASH_SEED);
}

/** The label hashed to place virtual node `vnode` of shard `shard`. */
export function vnodeLabel(shard: number, vnode: number): string {
  return `shard:${shard}#${vnode}`;
}

/** Size of the ring: positions are integers in [0, RING_SIZE). */
export const RING_SIZE = 0x1_0000_0000;
