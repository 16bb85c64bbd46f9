import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CacheStateMachine, encodeCommand, resolveCacheConfig } from '../../src/cache/index.js';
import type { CacheConfig, Command } from '../../src/cache/index.js';
import { commandsArb, configArb } from './arbitraries.js';
import { ModelCache, resultShape } from './model.js';
import { expectSameSessions } from './same-sessions.js';

function observe(sm: CacheStateMachine): unknown {
  const entries = [...sm.keys()].map((k) => ({ key: k, value: [...(sm.peek(k) ?? [])], expiresAt: sm.expiresAt(k) }));
  return {
    entries,
    size: sm.size,
    bytes: sm.bytes,
    now: sm.now,
    lastApplied: sm.lastApplied,
    evictions: sm.stats.evictions,
    expirations: sm.stats.expirations,
    sessions: sm.sessionCount,
  };
}

function observeModel(m: ModelCache): unknown {
  return {
    entries: m.entries.map((e) => ({ key: e.key, value: [...e.value], expiresAt: e.expiresAt === Infinity ? null : e.expiresAt })),
    size: m.entries.length,
    bytes: m.bytes(),
    now: m.now,
    lastApplied: m.lastApplied,
    evictions: m.evictions,
    expirations: m.expirations,
    sessions: m.sessions.length,
  };
}

function snapshotBytes(sm: CacheStateMachine, chunkSize?: number): Uint8Array {
  return sm.snapshotBytes(chunkSize);
}

describe('CacheStateMachine against the reference model', () => {
  it('agrees on every result and on the whole observable state after every command', () => {
    fc.assert(
      fc.property(configArb, commandsArb, (config, cmds) => {
        const sm = new CacheStateMachine(config);
        const model = new ModelCache(resolveCacheConfig(config));
        cmds.forEach((cmd, i) => {
          const got = sm.apply(i + 1, cmd);
          const want = model.apply(i + 1, cmd);
          expect(resultShape(got)).toEqual(resultShape(want));
          // JSON first (fast); expect() only to report a difference.
          if (JSON.stringify(observe(sm)) !== JSON.stringify(observeModel(model))) {
            expect(observe(sm)).toEqual(observeModel(model));
          }
          expectSameSessions(sm, model);
          // Byte bounds hold after every apply.
          expect(sm.size).toBeLessThanOrEqual(config.maxEntries);
          expect(sm.bytes).toBeLessThanOrEqual(config.maxBytes);
        });
      }),
      { seed: 424242, numRuns: 120 },
    );
  }, 30_000);

  it('applyEncoded gives the same results and state as apply', () => {
    fc.assert(
      fc.property(configArb, commandsArb, (config, cmds) => {
        const a = new CacheStateMachine(config);
        const b = new CacheStateMachine(config);
        cmds.forEach((cmd, i) => {
          expect(b.applyEncoded(i + 1, encodeCommand(cmd))).toEqual(a.apply(i + 1, cmd));
        });
        expect(snapshotBytes(b)).toEqual(snapshotBytes(a));
      }),
      { seed: 7, numRuns: 50 },
    );
  }, 30_000);
});

describe('determinism and snapshots', () => {
  it('two replicas fed the same commands hold byte-identical snapshots, whatever reads happen in between', () => {
    fc.assert(
      fc.property(configArb, commandsArb, (config, cmds) => {
        const a = new CacheStateMachine(config);
        const b = new CacheStateMachine(config);
        cmds.forEach((cmd, i) => {
          a.apply(i + 1, cmd);
          // Replica b also serves reads: they must not change its state.
          if ('key' in cmd) {
            b.get(cmd.key);
            b.has(cmd.key);
          }
          b.apply(i + 1, cmd);
        });
        expect(snapshotBytes(b)).toEqual(snapshotBytes(a));
      }),
      { seed: 99, numRuns: 60 },
    );
  }, 30_000);

  it('snapshot, restore, continue equals continue (bytes and query results), for any chunk size', () => {
    fc.assert(
      fc.property(
        configArb,
        commandsArb,
        commandsArb,
        fc.integer({ min: 16, max: 200 }),
        (config: CacheConfig, before: Command[], after: Command[], chunkSize: number) => {
          const original = new CacheStateMachine(config);
          before.forEach((c, i) => original.apply(i + 1, c));
          const chunks = [...original.snapshot(chunkSize)];
          for (const c of chunks) expect(c.length).toBeLessThanOrEqual(chunkSize);
          const restored = CacheStateMachine.restore(config, chunks);
          expect(snapshotBytes(restored)).toEqual(snapshotBytes(original));
          const base = before.length;
          const t0 = original.now;
          after.forEach((c, i) => {
            const shifted = { ...c, ts: c.ts + t0 } as Command;
            expect(restored.apply(base + i + 1, shifted)).toEqual(original.apply(base + i + 1, shifted));
            if ('key' in c) expect(restored.peek(c.key)).toEqual(original.peek(c.key));
          });
          expect(snapshotBytes(restored)).toEqual(snapshotBytes(original));
          expect([...restored.keys()]).toEqual([...original.keys()]);
        },
      ),
      { seed: 2024, numRuns: 60 },
    );
  }, 30_000);
});
