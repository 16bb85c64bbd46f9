import { describe, expect, it } from 'vitest';
import { Network, bytes } from './network.js';

describe('snapshots', () => {
  it('a follower behind the compacted log catches up from a snapshot', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 20; i++) net.raw(1).propose(bytes(`k${i}=${i}`));
    net.stabilize();
    net.compact(1);
    expect(net.get(1).storage.firstIndex()).toBe(22);
    net.heal();
    net.tickAll(3);
    net.stabilize();
    expect(net.delivered.get('snap')).toBe(1);
    const s3 = net.status(3);
    expect(s3.commit).toBe(21);
    expect(net.get(3).kv.get('k19')).toBe('19');
    // and replication continues past the snapshot
    net.raw(1).propose(bytes('after=1'));
    net.stabilize();
    expect(net.get(3).kv.get('after')).toBe('1');
    expect(net.get(3).storage.firstIndex()).toBe(22);
  });
});
