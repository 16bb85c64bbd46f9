import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { MetaFormatError, decodeMetaCommand, encodeMetaCommand, parseMetaCommand } from '../../src/meta/index.js';
import type { MetaCommand } from '../../src/meta/index.js';
import { CONFIG, addr } from './helpers.js';

const ts = fc.nat({ max: 2 ** 40 });
const id = fc.integer({ min: 1, max: 0xffffffff });
const shard = fc.nat({ max: 0xffffffff });
const address = fc.record({
  id,
  host: fc.string({ minLength: 1, maxLength: 30 }),
  clientPort: fc.integer({ min: 1, max: 65535 }),
  peerPort: fc.integer({ min: 1, max: 65535 }),
});
const ev = fc.option(fc.nat(), { nil: undefined });
const withEv = <T extends object>(c: T, v: number | undefined): T => (v === undefined ? c : { ...c, expectVersion: v });

const commandArb: fc.Arbitrary<MetaCommand> = fc.oneof(
  fc.record({ ts, nodes: fc.uniqueArray(address, { minLength: 1, maxLength: 5, selector: (a) => a.id }), shards: fc.integer({ min: 1, max: 100 }) }).map(
    (r) => ({ type: 'bootstrap', ...r, config: CONFIG }) as const,
  ),
  fc.tuple(ts, address).map(([t, node]) => ({ type: 'joinNode', ts: t, node }) as const),
  fc.tuple(ts, address, ev).map(([t, node, v]) => withEv({ type: 'addNode', ts: t, node } as const, v)),
  fc.tuple(ts, id, ev).map(([t, node, v]) => withEv({ type: 'removeNode', ts: t, node } as const, v)),
  fc.tuple(ts, id).map(([t, node]) => ({ type: 'heartbeat', ts: t, node }) as const),
  ts.map((t) => ({ type: 'tick', ts: t }) as const),
  fc.tuple(ts, shard, id, fc.nat()).map(([t, s, node, term]) => ({ type: 'leaderReport', ts: t, shard: s, node, term }) as const),
  fc.tuple(ts, shard, id, fc.option(id), ev).map(([t, s, add, remove, v]) =>
    withEv({ type: 'beginMove', ts: t, shard: s, add, remove: remove === add ? null : remove } as const, v),
  ),
  fc.tuple(fc.constantFrom('learnerAdded', 'promoted', 'replicaRemoved') , ts, shard, id).map(([type, t, s, node]) => ({ type, ts: t, shard: s, node }) as MetaCommand),
  fc.tuple(ts, shard).map(([t, s]) => ({ type: 'abortMove', ts: t, shard: s }) as const),
  fc.tuple(ts, shard, fc.integer({ min: 1, max: 0xffffffff }), shard, ev).map(([t, s, at, n, v]) => withEv({ type: 'splitShard', ts: t, shard: s, at, newShard: n } as const, v)),
);

function fieldOf(x: unknown): string {
  try {
    parseMetaCommand(x);
  } catch (e) {
    if (e instanceof MetaFormatError) return e.field;
    throw e;
  }
  return '(accepted)';
}

describe('meta command codec', () => {
  it('round-trips every valid command, with canonical bytes', () => {
    fc.assert(
      fc.property(commandArb, (c) => {
        const bytes = encodeMetaCommand(c);
        const back = decodeMetaCommand(bytes);
        expect(back).toEqual(c);
        expect(Buffer.compare(encodeMetaCommand(back), bytes)).toBe(0);
      }),
      { seed: 7301, numRuns: 300 },
    );
  });

  it('names the bad field', () => {
    const cases: [unknown, string][] = [
      [null, 'command'],
      [{ type: 'bogus', ts: 1 }, 'type'],
      [{ type: 'tick', ts: -1 }, 'ts'],
      [{ type: 'tick', ts: 1.5 }, 'ts'],
      [{ type: 'tick', ts: 1, extra: true }, 'extra'],
      [{ type: 'heartbeat', ts: 1, node: 0 }, 'node'],
      [{ type: 'heartbeat', ts: 1, node: '1' }, 'node'],
      [{ type: 'joinNode', ts: 1, node: { ...addr(1), host: '' } }, 'node.host'],
      [{ type: 'joinNode', ts: 1, node: { ...addr(1), clientPort: 70000 } }, 'node.clientPort'],
      [{ type: 'joinNode', ts: 1, node: { ...addr(1), color: 'red' } }, 'node.color'],
      [{ type: 'bootstrap', ts: 1, nodes: [], shards: 1, config: CONFIG }, 'nodes'],
      [{ type: 'bootstrap', ts: 1, nodes: [addr(1), addr(1)], shards: 1, config: CONFIG }, 'nodes[1].id'],
      [{ type: 'bootstrap', ts: 1, nodes: [addr(1)], shards: 0, config: CONFIG }, 'shards'],
      [{ type: 'bootstrap', ts: 1, nodes: [addr(1)], shards: 1, config: { ...CONFIG, loadFactor: 1 } }, 'config.loadFactor'],
      [{ type: 'bootstrap', ts: 1, nodes: [addr(1)], shards: 1, config: { ...CONFIG, replication: 0 } }, 'config.replication'],
      [{ type: 'leaderReport', ts: 1, shard: 1, node: 1 }, 'term'],
      [{ type: 'beginMove', ts: 1, shard: 1, add: null, remove: null }, 'add'],
      [{ type: 'beginMove', ts: 1, shard: 1, add: 2, remove: 2 }, 'remove'],
      [{ type: 'beginMove', ts: 1, shard: 1, add: 2, remove: null, expectVersion: 'x' }, 'expectVersion'],
      [{ type: 'splitShard', ts: 1, shard: 1, at: 0, newShard: 2 }, 'at'],
      [{ type: 'splitShard', ts: 1, shard: 2 ** 32, at: 5, newShard: 2 }, 'shard'],
    ];
    for (const [x, field] of cases) expect(fieldOf(x), JSON.stringify(x)).toBe(field);
  });

  it('rejects undecodable bytes and a wrong version with MetaFormatError', () => {
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
    expect(() => decodeMetaCommand(new Uint8Array([0xc3, 0x28]))).toThrow(MetaFormatError);
    expect(() => decodeMetaCommand(enc('{"v":1,'))).toThrow(MetaFormatError);
    expect(() => decodeMetaCommand(enc('{"v":2,"type":"tick","ts":1}'))).toThrow(/v: must be 1/);
    expect(decodeMetaCommand(enc('{"v":1,"type":"tick","ts":1}'))).toEqual({ type: 'tick', ts: 1 });
  });

  it('never throws anything but MetaFormatError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), commandArb.chain((c) => fc.tuple(fc.constant(c), fc.string(), fc.jsonValue()).map(([c2, k, v]) => ({ ...c2, [k]: v })))), (x) => {
        try {
          const c = parseMetaCommand(x);
          expect(decodeMetaCommand(encodeMetaCommand(c))).toEqual(c);
        } catch (e) {
          expect(e).toBeInstanceOf(MetaFormatError);
        }
      }),
      { seed: 7302, numRuns: 400 },
    );
  });

  it('refuses to encode an invalid command', () => {
    expect(() => encodeMetaCommand({ type: 'heartbeat', ts: 1, node: -3 })).toThrow(MetaFormatError);
  });
});
