import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { HashRing, hashKey, vnodeLabel } from '../../src/shard/index.js';
import type { ShardSpec } from '../../src/shard/index.js';
import { hashArb, probeHashes, ringArb, shardSpecsArb } from './arbitraries.js';

type Vnode = readonly [token: number, shard: number, vnode: number];

function allVnodes(specs: readonly ShardSpec[]): Vnode[] {
  const out: Vnode[] = [];
  for (const s of specs) for (let v = 0; v < (s.vnodes ?? 64); v++) out.push([hashKey(vnodeLabel(s.id, v)), s.id, v]);
  return out;
}

/**
 * Brute-force owner straight from the vnode definitions: the vnode with the
 * smallest token ≥ hash (ties: lowest shard id, then vnode index), else the
 * smallest token overall.
 */
function bruteOwner(vnodes: readonly Vnode[], hash: number): number {
  let best: Vnode | undefined;
  let first: Vnode | undefined;
  const better = (a: Vnode, b: Vnode | undefined): boolean =>
    b === undefined || a[0] < b[0] || (a[0] === b[0] && (a[1] < b[1] || (a[1] === b[1] && a[2] < b[2])));
  for (const cand of vnodes) {
    if (better(cand, first)) first = cand;
    if (cand[0] >= hash && better(cand, best)) best = cand;
  }
  return (best ?? first)![1];
}

describe('HashRing', () => {
  it('keeps tokens sorted and distinct, with valid owners', () => {
    fc.assert(
      fc.property(shardSpecsArb, (specs) => {
        const ring = HashRing.build(specs);
        const ids = new Set(specs.map((s) => s.id));
        expect(ring.tokens.length).toBe(ring.owners.length);
        for (let i = 1; i < ring.tokens.length; i++) expect(ring.tokens[i]!).toBeGreaterThan(ring.tokens[i - 1]!);
        for (const o of ring.owners) expect(ids.has(o)).toBe(true);
        expect(ring.shardIds()).toEqual([...ids].sort((a, b) => a - b));
      }),
      { seed: 201, numRuns: 100 },
    );
  });

  it('lookup equals a brute-force scan over all virtual nodes', () => {
    fc.assert(
      fc.property(shardSpecsArb, fc.array(fc.string(), { maxLength: 20 }), fc.array(hashArb, { maxLength: 20 }), (specs, keys, hashes) => {
        const ring = HashRing.build(specs);
        const vnodes = allVnodes(specs);
        for (const key of keys) expect(ring.lookup(key)).toBe(bruteOwner(vnodes, hashKey(key)));
        for (const h of probeHashes(ring, hashes)) expect(ring.lookupHash(h)).toBe(bruteOwner(vnodes, h));
      }),
      { seed: 202, numRuns: 100 },
    );
  });

  it('finds the owning token in large rings (bucketed search) like a plain binary search', () => {
    // 20,000 tokens: a 2^15-bucket jump table.
    const ring = HashRing.build(Array.from({ length: 40 }, (_, i) => i), { defaultVnodes: 500 });
    const tokens = ring.tokens;
    const plain = (h: number): number => {
      let lo = 0;
      let hi = tokens.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (tokens[mid]! < h) lo = mid + 1;
        else hi = mid;
      }
      return lo === tokens.length ? 0 : lo;
    };
    const probes = probeHashes(ring, []);
    for (let b = 1; b < 1 << 15; b++) probes.push(b * 2 ** 17, b * 2 ** 17 - 1);
    const wrong = probes.filter((h) => ring.tokenIndexOf(h) !== plain(h));
    expect(wrong).toEqual([]);
    expect(probes.length).toBeGreaterThan(100_000);
  });

  it('lookupBytes equals lookup of the same UTF-8 text', () => {
    const ring = HashRing.build([1, 2, 3, 4]);
    const enc = new TextEncoder();
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (k) => ring.lookupBytes(enc.encode(k)) === ring.lookup(k)),
      { seed: 203, numRuns: 300 },
    );
  });

  it('resolves a token collision in favour of the lowest shard id, whatever the insertion order', () => {
    // Found by search: vnode 56092 of shard 0 and vnode 16504 of shard 1 hash to the same token.
    const token = 1263043861;
    expect(hashKey(vnodeLabel(0, 56092))).toBe(token);
    expect(hashKey(vnodeLabel(1, 16504))).toBe(token);
    const a = HashRing.build([{ id: 0, vnodes: 56093 }, { id: 1, vnodes: 16505 }]);
    const b = HashRing.build([{ id: 1, vnodes: 16505 }]).withShard(0, 56093);
    for (const ring of [a, b]) {
      const i = ring.tokenIndexOf(token);
      expect(ring.tokens[i]).toBe(token);
      expect(ring.owners[i]).toBe(0);
      expect(ring.lookupHash(token)).toBe(0);
      expect(ring.tokens.length).toBeLessThan(56093 + 16505);
    }
    expect(Array.from(a.tokens)).toEqual(Array.from(b.tokens));
    expect(Array.from(a.owners)).toEqual(Array.from(b.owners));
    expect(a.withoutShard(0).lookupHash(token)).toBe(1);
  });

  it('adding a shard moves only keys that now belong to the new shard', () => {
    fc.assert(
      fc.property(ringArb, fc.nat({ max: 2000 }), fc.integer({ min: 1, max: 32 }), fc.array(hashArb, { maxLength: 50 }), (ring, newId, vnodes, hashes) => {
        fc.pre(!ring.hasShard(newId));
        const grown = ring.withShard(newId, vnodes);
        for (const h of probeHashes(grown, hashes)) {
          const before = ring.lookupHash(h);
          const after = grown.lookupHash(h);
          if (before !== after) expect(after).toBe(newId);
        }
        // The new shard owns every position at or just below its tokens that it won.
        for (let i = 0; i < grown.tokens.length; i++) {
          if (grown.owners[i] === newId) expect(grown.lookupHash(grown.tokens[i]!)).toBe(newId);
        }
      }),
      { seed: 204, numRuns: 100 },
    );
  });

  it('removing a shard moves only its keys', () => {
    fc.assert(
      fc.property(ringArb, fc.nat({ max: 7 }), fc.array(hashArb, { maxLength: 50 }), (ring, pick, hashes) => {
        fc.pre(ring.shardCount > 1);
        const ids = ring.shardIds();
        const gone = ids[pick % ids.length]!;
        const shrunk = ring.withoutShard(gone);
        expect(shrunk.hasShard(gone)).toBe(false);
        for (const h of probeHashes(ring, hashes)) {
          const before = ring.lookupHash(h);
          const after = shrunk.lookupHash(h);
          if (before === gone) expect(after).not.toBe(gone);
          else expect(after).toBe(before);
        }
      }),
      { seed: 205, numRuns: 100 },
    );
  });

  it('spreads keys over shards and moves about 1/(n+1) of them when one is added', () => {
    const ring = HashRing.build([0, 1, 2, 3], { defaultVnodes: 128 });
    const grown = ring.withShard(4);
    const counts = new Map<number, number>();
    let moved = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const key = `key-${i}`;
      const owner = ring.lookup(key);
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
      if (grown.lookup(key) !== owner) moved++;
    }
    for (const id of ring.shardIds()) expect(counts.get(id) ?? 0).toBeGreaterThan(n / 4 / 1.5);
    expect(moved / n).toBeGreaterThan(0.1);
    expect(moved / n).toBeLessThan(0.3);
  });

  it('rejects bad input', () => {
    expect(() => HashRing.build([])).toThrow(RangeError);
    expect(() => HashRing.build([1, 1])).toThrow(/duplicate/);
    expect(() => HashRing.build([-1])).toThrow(RangeError);
    expect(() => HashRing.build([1.5])).toThrow(RangeError);
    expect(() => HashRing.build([{ id: 1, vnodes: 0 }])).toThrow(RangeError);
    const ring = HashRing.build([1]);
    expect(() => ring.withShard(1)).toThrow(/already/);
    expect(() => ring.withoutShard(2)).toThrow(/not on the ring/);
    expect(() => ring.withoutShard(1)).toThrow(/last/);
  });

  it('is immutable: add and remove return new rings', () => {
    const ring = HashRing.build([1, 2], { defaultVnodes: 8 });
    const tokens = Array.from(ring.tokens);
    ring.withShard(3);
    ring.withoutShard(1);
    expect(Array.from(ring.tokens)).toEqual(tokens);
    expect(ring.shardIds()).toEqual([1, 2]);
    expect(ring.withShard(3).vnodesOf(3)).toBe(8);
  });
});
