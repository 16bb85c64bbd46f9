/**
 * The async disk driver mode (src/sim/async-disk.ts): drivers keep taking
 * Readies while earlier writes are in flight, send early only what claims
 * nothing about their disk, advance in order once writes are durable, and lose
 * in-flight writes and held messages in a crash. Every invariant of the
 * simulation is checked (linearizability included), and a driver that breaks
 * the message rule is caught.
 *
 * Latencies stay well below the election timeout (10 ticks): a disk slower than
 * that makes elections livelock (each round waits for two durable writes), which
 * the liveness check reports.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AsyncDisk,
  type AsyncDiskOptions,
  CALM_TICKS,
  type FaultEvent,
  runSimulation,
  type SimOptions,
} from '../../src/sim/index.js';
import type { Entry, Message, Ready } from '../../src/raft/types.js';
import { SeededRng } from '../../src/util/rng.js';
import { scheduleBefore } from './arbitraries.js';
import { explain, wrappingCore } from './helpers.js';

/** A broken core: every Ready with entries hands out the previous Ready's last entry again. */
const rehandingCore = wrappingCore(() => {
  let prev: Entry | undefined;
  return (rd: Ready): Ready => {
    const last = rd.entries[rd.entries.length - 1];
    const again = prev;
    if (last !== undefined) prev = last;
    const first = rd.entries[0];
    return again !== undefined && first !== undefined && first.index === again.index + 1 ? { ...rd, entries: [again, ...rd.entries] } : rd;
  };
});

/** Readies outstanding per node (the core hands out several: decision 27). */
const BOUND = 8;
const STEPS = 400;
const LAST_FAULT = STEPS - CALM_TICKS;

const asyncDisk: fc.Arbitrary<AsyncDiskOptions> = fc.record({
  nodes: fc.option(fc.subarray([1, 2, 3, 4, 5], { minLength: 1 }), { nil: undefined }),
  latency: fc.integer({ min: 0, max: 2 }).chain((min) => fc.integer({ min, max: 6 }).map((max) => ({ min, max }))),
  maxOutstanding: fc.constantFrom(1, 2, BOUND, BOUND),
});

/** Crash-heavy: every 30 ticks a node crashes, the leader is cut off, a node restarts, all heal. */
function crashEvery30(until: number): FaultEvent[] {
  const s: FaultEvent[] = [];
  for (let t = 40; t < until; t += 30) {
    s.push(
      { at: t, kind: 'crash', target: 'random' },
      { at: t + 1, kind: 'partition', shape: { kind: 'isolate-leader' } },
      { at: t + 12, kind: 'restart', target: 'random' },
      { at: t + 25, kind: 'heal' },
    );
  }
  s.push({ at: until + 50, kind: 'heal' });
  return s;
}

/**
 * Overwrites while writes are in flight: the leader and the slow-disk node are
 * cut off together (the leader's new entries reach only the slow node), then the
 * leader is isolated and another node campaigns; the new leader's first append
 * replaces the slow node's entries that are still being written.
 */
function overwriteInFlight(until: number, slow: number): FaultEvent[] {
  const s: FaultEvent[] = [];
  for (let t = 60; t < until; t += 80) {
    s.push(
      { at: t, kind: 'partition', shape: { kind: 'group', members: ['leader', slow] } },
      { at: t + 4, kind: 'partition', shape: { kind: 'isolate-leader' } },
      { at: t + 5, kind: 'campaign', target: 'random' },
      { at: t + 40, kind: 'heal' },
    );
  }
  s.push({ at: until, kind: 'heal' });
  return s;
}

describe('AsyncDisk (the queue of writes in flight)', () => {
  it('makes writes durable in order, a Ready without a write as soon as those before it, and loses them in a crash', () => {
    let now = 0;
    const disk = new AsyncDisk(new SeededRng(1), () => now, { latency: { min: 3, max: 9 }, maxOutstanding: 4 });
    const hs = { term: 1, vote: 0, commit: 0 };
    const hb: Message = { type: 'heartbeat', from: 1, to: 2, term: 1, commit: 0, context: '' };
    const base = { snapshot: null, entries: [], termChange: false, role: 'follower' as const, held: [] };
    disk.push({ ...base, hardState: hs });
    disk.push({ ...base, hardState: null }); // persists nothing: waits only for the first
    disk.push({ ...base, hardState: hs, held: [hb] });
    expect(disk.due()).toBeNull();
    let durable = 0;
    const order: number[] = [];
    for (now = 0; now <= 20; now++) {
      for (let w = disk.due(); w !== null; w = disk.due()) {
        disk.shift();
        order.push(now);
        durable++;
      }
    }
    expect(durable).toBe(3);
    expect(order[0]).toBeGreaterThanOrEqual(3);
    expect(order[1]).toBe(order[0]); // the empty Ready: right after the first
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    disk.push({ ...base, hardState: hs, held: [] });
    disk.clear();
    expect(disk.outstanding).toBe(0);
    expect(disk.stats.writesLost).toBe(1);
  });
});

describe('async disk simulation', () => {
  it('generated schedules with async disks break no invariant, and the cluster recovers', { timeout: 300_000 }, () => {
    let overlapped = 0;
    let lostWrites = 0;
    let early = 0;
    let held = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.constantFrom(3, 5),
        scheduleBefore(LAST_FAULT, 8),
        asyncDisk,
        (seed, nodes, events, disk) => {
          const r = runSimulation({ seed, nodes, steps: STEPS, schedule: events, asyncDisk: disk });
          expect(explain(r, nodes, STEPS)).toBe('ok');
          expect(r.stats.livenessChecks).toBeGreaterThan(0);
          const s = r.stats.asyncDisk!;
          overlapped += s.readiesOverlapped;
          lostWrites += s.writesLost;
          early += s.earlyMessages;
          held += s.heldMessages;
        },
      ),
      { seed: 20261128, numRuns: 150 },
    );
    // The mode was exercised: Readies overlapped, messages left early and were held, crashes lost writes.
    expect(overlapped).toBeGreaterThan(5_000);
    expect(early).toBeGreaterThan(5_000);
    expect(held).toBeGreaterThan(5_000);
    expect(lostWrites).toBeGreaterThan(10);
  });

  it('random seeds with membership changes and compaction break no invariant', { timeout: 120_000 }, () => {
    for (let seed = 1; seed <= 6; seed++) {
      const nodes = seed % 2 === 0 ? 5 : 3;
      const r = runSimulation({
        seed, nodes, steps: 2000, membership: true, compaction: true,
        asyncDisk: { latency: { min: 0, max: 5 }, maxOutstanding: BOUND },
      });
      expect(explain(r, nodes, 2000)).toBe('ok');
      expect(r.stats.asyncDisk!.maxOutstanding).toBeGreaterThan(1);
    }
  });

  it('entries replaced while still being written (a slow disk, a new leader) break no invariant', { timeout: 60_000 }, () => {
    let replaced = 0;
    // Seeds until at least one run replaced entries in flight (seed 12 today; 3 of the first 30 do).
    for (let seed = 1; seed <= 30 && !(seed > 6 && replaced > 0); seed++) {
      const r = runSimulation({
        seed, nodes: 5, steps: 1500, schedule: overwriteInFlight(1200, 5),
        asyncDisk: { latency: { min: 0, max: 3 }, latencyOf: { 5: { min: 10, max: 30 } }, maxOutstanding: BOUND },
      });
      expect(explain(r, 5, 1500)).toBe('ok');
      replaced += r.stats.asyncDisk!.replacedInFlight;
    }
    expect(replaced).toBeGreaterThan(0);
  });

  it('draws no number from the run: a seed keeps its fault schedule and Raft knobs', () => {
    const a = runSimulation({ seed: 7, nodes: 3, steps: 300, checkLinearizability: false });
    const b = runSimulation({ seed: 7, nodes: 3, steps: 300, checkLinearizability: false, asyncDisk: { maxOutstanding: BOUND } });
    expect(b.schedule).toEqual(a.schedule);
    expect(b.tuning).toEqual(a.tuning);
    expect(a.stats.asyncDisk).toBeNull();
    const c = runSimulation({ seed: 7, nodes: 3, steps: 300, checkLinearizability: false, asyncDisk: { maxOutstanding: BOUND } });
    expect(c.history).toEqual(b.history); // and replays exactly
  });

  const crashy: Omit<SimOptions, 'seed'> = {
    nodes: 3,
    steps: 1000,
    schedule: crashEvery30(900),
    asyncDisk: { latency: { min: 2, max: 10 }, maxOutstanding: BOUND },
  };

  it('a correct driver survives the crash-heavy schedule', { timeout: 60_000 }, () => {
    for (let seed = 1; seed <= 4; seed++) {
      const r = runSimulation({ ...crashy, seed });
      expect(explain(r, 3, 1000)).toBe('ok');
      expect(r.stats.asyncDisk!.writesLost).toBeGreaterThan(0);
    }
  });

  it('a driver that answers appends before its write is durable loses acknowledged entries', { timeout: 60_000 }, () => {
    let caught: string | null = null;
    for (let seed = 1; seed <= 10 && caught === null; seed++) {
      const r = runSimulation({ ...crashy, seed, mutations: { earlyTypes: ['app-resp'] }, checkLiveness: false });
      caught = r.violation?.invariant ?? null;
    }
    expect(['leader-completeness', 'state-machine-safety', 'log-matching', 'linearizability']).toContain(caught);
  });

  it('a core that hands out an entry twice breaks the Ready contract', { timeout: 60_000 }, () => {
    const r = runSimulation({ seed: 1, nodes: 3, steps: 300, factory: rehandingCore, asyncDisk: { maxOutstanding: BOUND }, checkLiveness: false });
    expect(r.violation?.invariant).toBe('ready-contract');
  });
});
