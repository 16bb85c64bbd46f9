/**
 * End to end against three real node processes: reads and writes, follower
 * reads, bad frames, kill -9 of the leader, restart and catch-up, and a full
 * cluster restart that must keep every acknowledged write.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftcacheClient, RaftcacheError, endpointUrl } from '../../src/client/index.js';
import { LocalCluster } from '../../src/cli/client-cluster.js';
import { MAIN, SKIP_REASON, eventually, freePorts, serverBuilt, tempDir } from './helpers.js';

if (!serverBuilt) console.warn(SKIP_REASON);

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      done({ code, stdout, stderr });
    });
  });
}

describe.skipIf(!serverBuilt)('a real 3-node cluster', () => {
  let dir = '';
  let cluster: LocalCluster;
  let client: RaftcacheClient;
  const open: RaftcacheClient[] = [];
  /** Every write acknowledged so far: key → value. */
  const acked = new Map<string, string>();

  const newClient = (endpoints: string[], discover = true): RaftcacheClient => {
    const c = new RaftcacheClient({ endpoints, discover, timeoutMs: 10_000, attemptTimeoutMs: 1000 });
    open.push(c);
    return c;
  };
  const urlOf = (id: number): string => endpointUrl(cluster.node(id).endpoint);
  const idOf = (node: string): number => Number(node.replace(/^n/, ''));

  beforeAll(async () => {
    dir = tempDir('raftcache-e2e-');
    cluster = new LocalCluster({ nodes: 3, dir, ports: await freePorts(3), mainPath: MAIN, logLevel: 'warn' });
    cluster.startAll();
    await cluster.waitHealthy(20_000);
    await cluster.waitLeader(20_000);
    client = newClient(cluster.endpoints());
    await client.connect();
  }, 45_000);

  afterAll(async () => {
    for (const c of open) await c.close();
    await cluster?.stop(5000);
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  }, 20_000);

  it('puts, gets, deletes, compares-and-sets and increments', async () => {
    await client.put('greeting', 'hello');
    acked.set('greeting', 'hello');
    expect(await client.get('greeting')).toBe('hello');
    expect(await client.get('missing')).toBeNull();
    expect(await client.cas('lock', null, 'a')).toEqual({ swapped: true, current: 'a' });
    expect((await client.cas('lock', null, 'b')).swapped).toBe(false);
    expect((await client.cas('lock', 'a', 'b')).swapped).toBe(true);
    acked.set('lock', 'b');
    expect(await client.incr('counter')).toBe(1);
    expect(await client.incr('counter', 41)).toBe(42);
    await client.put('gone', 'x');
    expect(await client.delete('gone')).toBe(true);
    expect(await client.delete('gone')).toBe(false);
    await client.mput([
      { key: 'm1', value: 'one' },
      { key: 'm2', value: 'two' },
    ]);
    expect(await client.mget(['m1', 'm2', 'm3'])).toEqual(['one', 'two', null]);
    await client.put('bin', new Uint8Array([0, 1, 254, 255]));
    expect(Array.from((await client.getBytes('bin')) ?? [])).toEqual([0, 1, 254, 255]);
  }, 20_000);

  it('a follower read right after an acknowledged write sees it', async () => {
    const leader = await cluster.waitLeader(10_000);
    const followers = cluster.nodes.filter((n) => n.id !== idOf(leader.node));
    const readers = followers.map((n) => newClient([urlOf(n.id)], false));
    for (let i = 0; i < 20; i++) {
      await client.put(`fr:${i}`, `v${i}`);
      acked.set(`fr:${i}`, `v${i}`);
      for (const r of readers) expect(await r.get(`fr:${i}`)).toBe(`v${i}`);
    }
  }, 20_000);

  it('the command line puts, gets (value alone on stdout) and shows status', async () => {
    const endpoints = cluster.endpoints().join(',');
    const put = await runCli(['put', '--endpoints', endpoints, 'cli-key', 'cli value']);
    expect(put.code).toBe(0);
    acked.set('cli-key', 'cli value');
    const get = await runCli(['get', '--endpoints', endpoints, 'cli-key']);
    expect([get.code, get.stdout]).toEqual([0, 'cli value\n']);
    const absent = await runCli(['get', '--endpoints', endpoints, 'no-such-key']);
    expect([absent.code, absent.stdout]).toEqual([1, '']);
    const status = await runCli(['status', '--endpoints', endpoints, '--json']);
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout) as {
      nodes: { node: string; role: string; pid: number }[];
      shards: { shard: number; replicas: string[]; leader: string | null; applied: Record<string, number> }[];
    };
    const rows = parsed.nodes;
    expect(parsed.shards).toHaveLength(1);
    expect([...(parsed.shards[0]?.replicas ?? [])].sort()).toEqual(['n1', 'n2', 'n3']);
    expect(parsed.shards[0]?.leader).toBe(rows.find((r) => r.role === 'leader')?.node);
    expect(rows.map((r) => r.node).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(rows.filter((r) => r.role === 'leader')).toHaveLength(1);
    expect(rows.map((r) => r.pid).sort()).toEqual(cluster.nodes.map((n) => n.child?.pid).sort());
  }, 20_000);

  it('the cluster benchmark runs and prints one JSON object on its last line', async () => {
    const endpoints = cluster.endpoints().join(',');
    const args = ['bench', '--endpoints', endpoints, '--clients', '8', '--duration', '0.5', '--warmup', '0', '--keys', '50', '--read-ratio', '0.5', '--json'];
    const r = await runCli(args);
    expect(r.code).toBe(0);
    const last = r.stdout.trimEnd().split('\n').at(-1) ?? '';
    const report = JSON.parse(last) as { ops: number; reads: number; writes: number; nodes: number; cpuUsPerOp: { perNode: Record<string, unknown> } };
    expect(report.ops).toBe(report.reads + report.writes);
    expect(report.ops).toBeGreaterThan(0);
    expect(report.nodes).toBe(3);
    expect(Object.keys(report.cpuUsPerOp.perNode).sort()).toEqual(['n1', 'n2', 'n3']);
  }, 30_000);

  it('answers bad frames with errors and keeps serving other clients', async () => {
    const ws = new WebSocket(urlOf(1));
    const frames: Record<string, unknown>[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as Record<string, unknown>));
    await new Promise<void>((ok, fail) => {
      ws.once('open', () => ok());
      ws.once('error', fail);
    });
    const others = Promise.all(Array.from({ length: 20 }, (_, i) => client.put(`bf:${i}`, `v${i}`)));
    ws.send('this is not json');
    ws.send('[1,2,3]');
    ws.send(JSON.stringify({ id: 7, op: 'no-such-op' }));
    ws.send(JSON.stringify({ id: 8, op: 'get' }));
    ws.send(JSON.stringify({ id: 9, op: 'get', key: 'greeting', consistency: 'linearizable' }));
    await eventually(5000, 'answers to the five frames', async () => (frames.length >= 5 ? true : undefined));
    const byId = (id: unknown): Record<string, unknown> | undefined => frames.find((f) => f['id'] === id);
    const nullIds = frames.filter((f) => f['id'] === null);
    expect(nullIds).toHaveLength(2);
    for (const f of [...nullIds, byId(7), byId(8)]) {
      expect(f?.['ok']).toBe(false);
      expect((f?.['error'] as { code: string } | undefined)?.code).toBe('BAD_REQUEST');
    }
    expect(byId(9)).toMatchObject({ ok: true, value: 'hello' });
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
    await others;
    for (let i = 0; i < 20; i++) acked.set(`bf:${i}`, `v${i}`);
    expect(await client.get('bf:19')).toBe('v19');
  }, 20_000);

  let killed = 0;

  it('elects a new leader after kill -9 of the leader and keeps every acknowledged write', async () => {
    // A writer keeps going across the crash; its acknowledged writes must survive.
    let stop = false;
    let i = 0;
    const unknown = new Set<string>();
    const writer = (async () => {
      while (!stop) {
        const key = `kill:${i++}`;
        try {
          await client.put(key, key);
          acked.set(key, key);
        } catch (e) {
          if (!(e instanceof RaftcacheError)) throw e;
          if (!e.definite) unknown.add(key);
        }
      }
    })();
    await eventually(5000, 'some writes before the crash', async () => (i > 20 ? true : undefined));
    const old = await cluster.waitLeader(10_000);
    killed = idOf(old.node);
    await cluster.kill(killed, 'SIGKILL');
    const fresh = await cluster.waitLeader(15_000, [killed]);
    expect(fresh.node).not.toBe(old.node);
    const after = i;
    await eventually(10_000, 'writes after the new leader', async () => (i > after + 20 ? true : undefined));
    stop = true;
    await writer;
    expect(acked.size).toBeGreaterThan(40);
    const keys = [...acked.keys()];
    const values = await Promise.all(keys.map((k) => client.get(k)));
    keys.forEach((k, j) => expect([k, values[j]]).toEqual([k, acked.get(k)]));
  }, 40_000);

  it('a restarted node reloads its log from disk and catches up', async () => {
    expect(killed).toBeGreaterThan(0);
    for (let j = 0; j < 10; j++) {
      await client.put(`missed:${j}`, `m${j}`);
      acked.set(`missed:${j}`, `m${j}`);
    }
    cluster.spawnNode(cluster.node(killed));
    await cluster.waitHealthy(20_000, [killed]);
    const leader = await cluster.waitLeader(15_000);
    const reader = newClient([urlOf(killed)], false);
    await eventually(15_000, `node ${killed} to catch up`, async () => {
      const s = await cluster.health(cluster.node(killed));
      return s !== null && s.applied >= leader.commit ? true : undefined;
    });
    const keys = [...acked.keys()];
    const values = await Promise.all(keys.map((k) => reader.get(k)));
    keys.forEach((k, j) => expect([k, values[j]]).toEqual([k, acked.get(k)]));
  }, 40_000);

  it('a full restart of every node keeps every acknowledged write', async () => {
    await client.close();
    await cluster.stop(5000);
    expect(cluster.nodes.every((n) => n.child === null)).toBe(true);
    cluster.startAll();
    await cluster.waitHealthy(20_000);
    await cluster.waitLeader(20_000);
    client = newClient(cluster.endpoints());
    await client.connect();
    const keys = [...acked.keys()];
    const values = await Promise.all(keys.map((k) => client.get(k)));
    keys.forEach((k, j) => expect([k, values[j]]).toEqual([k, acked.get(k)]));
  }, 45_000);
});
