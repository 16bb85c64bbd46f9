import { describe, expect, it } from 'vitest';
import { Network, bytes } from './network.js';

describe('raft core smoke', () => {
  it('elects a leader, replicates and commits', () => {
    const net = new Network([1, 2, 3]);
    expect(net.elect(1)).toBe(1);
    const r = net.raw(1).propose(bytes('x=1'));
    expect(r.ok).toBe(true);
    net.stabilize();
    for (const id of [1, 2, 3]) {
      expect(net.get(id).kv.get('x')).toBe('1');
      expect(net.status(id).commit).toBe(2);
    }
  });

  it('single voter elects itself and commits', () => {
    const net = new Network([1]);
    net.tickAll(30);
    expect(net.leader()).toBe(1);
    net.raw(1).propose(bytes('a=b'));
    net.stabilize();
    expect(net.get(1).kv.get('a')).toBe('b');
  });
});

describe('read index smoke', () => {
  it('serves leader and follower reads after confirmation', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.raw(1).propose(bytes('x=1'));
    net.stabilize();
    expect(net.raw(1).readIndex('r1')).toEqual({ ok: true });
    expect(net.raw(2).readIndex('r2')).toEqual({ ok: true });
    net.stabilize();
    expect(net.get(1).reads.map((r) => [r.context, r.index, r.kv.get('x')])).toEqual([['r1', 2, '1']]);
    expect(net.get(2).reads.map((r) => [r.context, r.index, r.kv.get('x')])).toEqual([['r2', 2, '1']]);
  });
});
