/**
 * `raftcache node add|remove` and `raftcache shard split`: argument parsing
 * and exit codes (0 done, 1 refused or failed, 2 usage), against a fake cluster
 * whose meta leader is n2.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nodeMain, parseNodeAddress, parseNodeId, shardMain } from '../../src/cli/admin.js';
import { UsageError } from '../../src/cli/client-args.js';
import type { CliOutput } from '../../src/cli/client-args.js';
import { FakeCluster, threeShards } from './fake-cluster.js';
import type { Frame } from './fake-server.js';

function capture(): CliOutput & { stdout: string; stderr: string } {
  const c = {
    stdout: '',
    stderr: '',
    out: (t: string) => {
      c.stdout += t;
    },
    err: (t: string) => {
      c.stderr += t;
    },
  };
  return c;
}

describe('argument parsing', () => {
  it('node ids: N or nN, 1…2^32-1', () => {
    expect(parseNodeId('4')).toBe(4);
    expect(parseNodeId('n12')).toBe(12);
    expect(parseNodeId('4294967295')).toBe(0xffffffff);
    for (const bad of ['0', 'n0', '-1', 'x', '4.5', '4294967296', '']) expect(() => parseNodeId(bad), bad).toThrow(UsageError);
  });

  it('addresses: HOST:CLIENTPORT/PEERPORT, IPv6 in brackets', () => {
    expect(parseNodeAddress(4, '10.0.0.4:7004/8004')).toEqual({ id: 4, host: '10.0.0.4', clientPort: 7004, peerPort: 8004 });
    expect(parseNodeAddress(5, 'cache-5.local:1/65535')).toEqual({ id: 5, host: 'cache-5.local', clientPort: 1, peerPort: 65535 });
    expect(parseNodeAddress(6, '[::1]:7006/8006')).toEqual({ id: 6, host: '::1', clientPort: 7006, peerPort: 8006 });
    for (const bad of ['h:7004', 'h/8004', ':1/2', 'h:0/2', 'h:1/65536', 'h:x/2', '::1:1/2', 'a b:1/2']) {
      expect(() => parseNodeAddress(1, bad), bad).toThrow(UsageError);
    }
  });
});

describe('raftcache node / shard', () => {
  let cluster: FakeCluster;
  let endpoints: string;
  const admin: Frame[] = [];
  /** What the meta leader answers next. */
  let answer: (f: Frame) => Record<string, unknown>;

  beforeAll(async () => {
    cluster = await FakeCluster.start(['n1', 'n2', 'n3'], threeShards());
    endpoints = cluster.url('n1');
    cluster.intercept = (n, f, ctx) => {
      if (!['nodeAdd', 'nodeRemove', 'shardSplit', 'join'].includes(f.op)) return false;
      if (n.id !== 'n2') {
        ctx.fail(f, 'NOT_LEADER', true, { leader: 'n2', leaderUrl: cluster.url('n2') });
        return true;
      }
      admin.push(f);
      ctx.socket.send(JSON.stringify({ id: f.id, ...answer(f) }));
      return true;
    };
  });
  beforeEach(() => {
    admin.length = 0;
    answer = () => ({ ok: true, version: 7 });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('node add prints the map version and exits 0', async () => {
    const io = capture();
    expect(await nodeMain(['add', '4', '10.0.0.4:7004/8004', '--endpoints', endpoints], io)).toBe(0);
    expect(io.stdout).toBe('node 4 admitted (map version 7)\n');
    expect(io.stderr).toBe('');
    expect(admin).toEqual([expect.objectContaining({ op: 'nodeAdd', node: { id: 4, host: '10.0.0.4', clientPort: 7004, peerPort: 8004 } })]);
  });

  it('node remove with --json prints {"version"}', async () => {
    answer = () => ({ ok: true, version: 8 });
    const io = capture();
    expect(await nodeMain(['remove', 'n3', '--json', '--endpoints', endpoints], io)).toBe(0);
    expect(JSON.parse(io.stdout)).toEqual({ version: 8 });
    expect(admin).toEqual([expect.objectContaining({ op: 'nodeRemove', node: 3 })]);
  });

  it('shard split prints the new shard and the version; --at is passed on', async () => {
    answer = (f) => ({ ok: true, version: 20, shard: f['at'] === undefined ? 9 : 10 });
    const io = capture();
    expect(await shardMain(['split', '2', '--endpoints', endpoints], io)).toBe(0);
    expect(await shardMain(['split', '2', '--at', '3000000000', '--endpoints', endpoints, '--json'], io)).toBe(0);
    expect(io.stdout).toBe('shard 2 split: new shard 9 (map version 20)\n{"version":20,"shard":10}\n');
    expect(admin.map((f) => [f['shard'], f['at']])).toEqual([
      [2, undefined],
      [2, 3000000000],
    ]);
  });

  it('REJECTED: exit 1 with the cluster’s message on stderr', async () => {
    answer = () => ({ ok: false, error: { code: 'REJECTED', message: 'NODE_EXISTS: node 4 is already active', definite: true, reason: 'NODE_EXISTS' } });
    const io = capture();
    expect(await nodeMain(['add', '4', 'h:1/2', '--endpoints', endpoints], io)).toBe(1);
    expect(io.stdout).toBe('');
    expect(io.stderr).toBe('raftcache node add: REJECTED: NODE_EXISTS: node 4 is already active (not applied)\n');
    expect(admin).toHaveLength(1); // not retried
  });

  it('an outcome-unknown failure: exit 1 and says so', async () => {
    answer = () => ({ ok: false, error: { code: 'TIMEOUT', message: 'no outcome in time', definite: false } });
    const io = capture();
    expect(await shardMain(['split', '1', '--endpoints', endpoints], io)).toBe(1);
    expect(io.stderr).toMatch(/^raftcache shard split: TIMEOUT: .*outcome unknown/);
  });

  it('no reachable endpoint: exit 1', async () => {
    const io = capture();
    // a port nothing listens on: the fake node n1 stopped listening would be slower to set up
    expect(await nodeMain(['remove', '3', '--endpoints', '127.0.0.1:1', '--timeout', '100'], io)).toBe(1);
    expect(io.stderr).toMatch(/^raftcache node remove: UNAVAILABLE: /);
  });

  const usage: [string, (argv: string[], io: CliOutput) => Promise<number>, string[], string][] = [
    ['node without a subcommand', nodeMain, [], 'expected a subcommand'],
    ['node with an unknown subcommand', nodeMain, ['frob', '4'], "unknown subcommand 'frob'"],
    ['node add without an address', nodeMain, ['add', '4'], 'node add: expected 2 argument(s), got 1'],
    ['node add with a bad address', nodeMain, ['add', '4', 'h:7004'], 'address: expected HOST:CLIENTPORT/PEERPORT'],
    ['node add with a bad id', nodeMain, ['add', 'four', 'h:1/2'], 'node id: '],
    ['node remove with two ids', nodeMain, ['remove', '3', '4'], 'node remove: expected 1 argument(s), got 2'],
    ['node remove with id 0', nodeMain, ['remove', '0'], 'node id: '],
    ['shard without a subcommand', shardMain, [], 'expected a subcommand (split)'],
    ['shard merge', shardMain, ['merge', '1'], "unknown subcommand 'merge'"],
    ['shard split without a shard', shardMain, ['split'], 'shard split: expected 1 argument(s), got 0'],
    ['shard split of shard 0', shardMain, ['split', '0'], 'shard: expected a data shard id'],
    ['shard split --at off the ring', shardMain, ['split', '1', '--at', '4294967296'], '--at: expected a ring point'],
    ['shard split --at negative', shardMain, ['split', '1', '--at', '-5'], '--at: expected a ring point'],
    ['shard split --at without a value', shardMain, ['split', '1', '--at'], '--at needs a value'],
    ['a bad --timeout', nodeMain, ['remove', '3', '--timeout', 'soon'], '--timeout: expected a number'],
  ];
  it.each(usage)('%s: exit 2 with the usage, nothing sent', async (_name, main, argv, message) => {
    const io = capture();
    expect(await main([...argv, '--endpoints', endpoints], io)).toBe(2);
    expect(io.stderr).toContain(message);
    expect(io.stderr).toContain('usage: raftcache');
    expect(io.stdout).toBe('');
    expect(admin).toEqual([]);
  });

  it('--help prints the usage and exits 0', async () => {
    const io = capture();
    expect(await shardMain(['--help'], io)).toBe(0);
    expect(io.stdout).toContain('usage: raftcache shard split SHARD [--at POINT]');
  });
});
