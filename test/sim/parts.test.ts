/** Unit tests of the simulation's parts: state machine, network, fault schedules, CLI arguments. */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/types.js';
import {
  CALM_TICKS,
  encodeCommand,
  KvStateMachine,
  DEFAULT_DISK_LATENCY,
  DEFAULT_MAX_OUTSTANDING,
  parseSimArgs,
  randomSchedule,
  SimNetwork,
} from '../../src/sim/index.js';
import { SeededRng } from '../../src/util/rng.js';

const hb = (from: number, to: number): Message => ({ type: 'heartbeat', from, to, term: 1, commit: 0, context: '' });

describe('KvStateMachine', () => {
  it('applies put and cas, and its hash depends on contents only', () => {
    const a = new KvStateMachine();
    expect(a.apply(encodeCommand({ op: 'put', id: 1, key: 'x', value: '1' }))).toEqual({ id: 1, swapped: true });
    expect(a.apply(encodeCommand({ op: 'cas', id: 2, key: 'x', expected: '0', value: '2' }))).toEqual({ id: 2, swapped: false });
    expect(a.apply(encodeCommand({ op: 'cas', id: 3, key: 'y', expected: null, value: '3' }))).toEqual({ id: 3, swapped: true });
    expect(a.apply(new Uint8Array(0))).toBeNull();
    expect([a.get('x'), a.get('y'), a.get('z')]).toEqual(['1', '3', null]);
    const b = new KvStateMachine();
    b.apply(encodeCommand({ op: 'put', id: 4, key: 'y', value: '3' }));
    b.apply(encodeCommand({ op: 'put', id: 5, key: 'x', value: '0' }));
    expect(b.hash()).not.toBe(a.hash());
    b.apply(encodeCommand({ op: 'put', id: 6, key: 'x', value: '1' }));
    expect(b.hash()).toBe(a.hash());
  });

  it('restores exactly from its snapshot', () => {
    const a = new KvStateMachine();
    a.apply(encodeCommand({ op: 'put', id: 1, key: 'k', value: 'v' }));
    const b = new KvStateMachine();
    b.apply(encodeCommand({ op: 'put', id: 2, key: 'other', value: 'w' }));
    b.restore(a.snapshot());
    expect(b.hash()).toBe(a.hash());
    expect(b.get('other')).toBeNull();
  });
});

describe('SimNetwork', () => {
  it('delivers after one tick when healthy, and never across a blocked link', () => {
    const net = new SimNetwork(new SeededRng(1), 3);
    net.send(hb(1, 2), 0);
    net.setBlocked(1, 3, true);
    net.send(hb(1, 3), 0);
    net.send(hb(3, 1), 0);
    expect(net.takeDue(0)).toEqual([]);
    const due = net.takeDue(1);
    expect(due.map((m) => `${m.from}->${m.to}`).sort()).toEqual(['1->2', '3->1']);
    expect(net.stats.blocked).toBe(1);
  });

  it('cuts messages already in flight when a partition starts', () => {
    const net = new SimNetwork(new SeededRng(2), 2);
    net.send(hb(1, 2), 0);
    net.setBlocked(1, 2, true);
    expect(net.takeDue(1)).toEqual([]);
  });

  it('drops, duplicates and delays as configured', () => {
    const net = new SimNetwork(new SeededRng(3), 2);
    net.setFaults({ dropRate: 0.5, dupRate: 0.5, maxExtraDelay: 5, longDelayRate: 0 });
    for (let i = 0; i < 1000; i++) net.send(hb(1, 2), 0);
    let delivered = 0;
    for (let t = 1; t <= 6; t++) delivered += net.takeDue(t).length;
    expect(delivered).toBe(net.stats.delivered);
    expect(net.stats.dropped).toBeGreaterThan(400);
    expect(net.stats.duplicated).toBeGreaterThan(200);
    expect(net.inFlight()).toBe(0);
  });
});

describe('randomSchedule', () => {
  it('leaves the last calm window free of faults and heals before it', () => {
    const events = randomSchedule(new SeededRng(9), { steps: 5000, nodes: 5, calm: CALM_TICKS, maxChaos: 1000 });
    expect(events.length).toBeGreaterThan(3);
    const last = events[events.length - 1]!;
    expect(last.kind).toBe('heal');
    expect(last.at).toBeLessThanOrEqual(5000 - CALM_TICKS);
    for (let i = 1; i < events.length; i++) expect(events[i]!.at).toBeGreaterThanOrEqual(events[i - 1]!.at);
  });
});

describe('parseSimArgs', () => {
  it('reads the documented flags and rejects others', () => {
    expect(parseSimArgs(['--seeds', '500', '--nodes', '5', '--steps', '20000', '--first-seed', '7', '--verbose'])).toEqual({
      seeds: 500, nodes: 5, steps: 20000, firstSeed: 7, verbose: true, membership: false, compaction: false, quiesce: false, idle: false,
      asyncDisk: false, diskLatency: DEFAULT_DISK_LATENCY, maxOutstanding: DEFAULT_MAX_OUTSTANDING,
    });
    expect(parseSimArgs(['--async-disk', '--disk-latency', '2-9', '--max-outstanding', '8'])).toMatchObject({
      asyncDisk: true, diskLatency: { min: 2, max: 9 }, maxOutstanding: 8,
    });
    expect(typeof parseSimArgs(['--disk-latency', '9-2'])).toBe('string');
    expect(typeof parseSimArgs(['--max-outstanding', '0'])).toBe('string');
    expect(parseSimArgs(['--seeds', '3', '--membership', '--compaction'])).toMatchObject({ seeds: 3, membership: true, compaction: true });
    expect(parseSimArgs(['--quiesce'])).toMatchObject({ quiesce: true, idle: false });
    expect(parseSimArgs(['--idle'])).toMatchObject({ quiesce: false, idle: true });
    expect(parseSimArgs(['--', '--seeds', '2'])).toMatchObject({ seeds: 2 });
    expect(typeof parseSimArgs(['--bogus'])).toBe('string');
    expect(typeof parseSimArgs(['--seeds', 'x'])).toBe('string');
  });
});
