/**
 * The simulation's state machine: a Map<string, string> driven by small JSON
 * commands carried in entry data. Deterministic by construction, so every
 * replica that applies the same log reaches the same state (and the same hash).
 */

/** A command in an entry's data. `id` is the client operation id (unique per run). */
export type KvCommand =
  | { readonly op: 'put'; readonly id: number; readonly key: string; readonly value: string }
  | {
      readonly op: 'cas';
      readonly id: number;
      readonly key: string;
      readonly expected: string | null;
      readonly value: string;
    }
  /** A liveness probe: changes nothing. */
  | { readonly op: 'probe'; readonly id: number };

/** What applying one entry did. `swapped` is meaningful for cas only. */
export interface ApplyOutcome {
  readonly id: number;
  readonly swapped: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

/** Entry data travels by reference between simulated nodes, so decode each buffer once. */
const decoded = new WeakMap<Uint8Array, KvCommand>();

/** Decodes entry data; null for the leader's empty no-op. Throws on garbage (a corrupted entry is a bug). */
export function decodeCommand(data: Uint8Array): KvCommand | null {
  if (data.length === 0) return null;
  let cmd = decoded.get(data);
  if (cmd === undefined) {
    cmd = JSON.parse(decoder.decode(data)) as KvCommand;
    decoded.set(data, cmd);
  }
  return cmd;
}

/** FNV-1a over bytes, 32 bits. */
export function hashBytes(data: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    h ^= data[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function hashString(s: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function pairHash(key: string, value: string): number {
  return hashString(value, hashString('\u0000', hashString(key, 0x811c9dc5)));
}

export class KvStateMachine {
  private readonly map = new Map<string, string>();
  /** XOR of pairHash over the contents: order-independent and updated in O(1). */
  private digest = 0;

  private set(key: string, value: string): void {
    const old = this.map.get(key);
    if (old !== undefined) this.digest ^= pairHash(key, old);
    this.map.set(key, value);
    this.digest ^= pairHash(key, value);
  }

  get(key: string): string | null {
    return this.map.get(key) ?? null;
  }

  /** Applies an entry's data; returns null for entries that carry no command. */
  apply(data: Uint8Array): ApplyOutcome | null {
    const cmd = decodeCommand(data);
    if (cmd === null) return null;
    switch (cmd.op) {
      case 'put':
        this.set(cmd.key, cmd.value);
        return { id: cmd.id, swapped: true };
      case 'cas': {
        const current = this.map.get(cmd.key) ?? null;
        if (current !== cmd.expected) return { id: cmd.id, swapped: false };
        this.set(cmd.key, cmd.value);
        return { id: cmd.id, swapped: true };
      }
      case 'probe':
        return { id: cmd.id, swapped: false };
    }
  }

  /** Order-independent digest of the contents. */
  hash(): number {
    return this.digest >>> 0;
  }

  snapshot(): Uint8Array {
    const keys = [...this.map.keys()].sort();
    return encoder.encode(JSON.stringify(keys.map((k) => [k, this.map.get(k)!])));
  }

  restore(data: Uint8Array): void {
    this.map.clear();
    this.digest = 0;
    if (data.length === 0) return;
    const pairs = JSON.parse(decoder.decode(data)) as [string, string][];
    for (const [k, v] of pairs) this.set(k, v);
  }
}
