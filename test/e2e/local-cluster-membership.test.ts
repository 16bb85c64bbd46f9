/**
 * LocalCluster's membership helpers without a real cluster: addNode's
 * arguments (next id, --join, members = the nodes not retired plus itself),
 * restarts with the same arguments, stopNode/retire, and fetchMap against
 * an in-process stand-in.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalCluster } from '../../src/cli/client-cluster.js';
import { eventually, freePorts, tempDir } from './helpers.js';

/** A stand-in for main.js: writes its argv to ARGS_DIR/<id>.<n>.json and sleeps until signalled. */
const FAKE_MAIN = `
const fs = require('node:fs');
const args = process.argv.slice(2);
const id = args[args.indexOf('--id') + 1];
const dir = args[args.indexOf('--data') + 1];
fs.mkdirSync(dir, { recursive: true });
let n = 0;
while (fs.existsSync(dir + '/argv.' + n + '.json')) n++;
fs.writeFileSync(dir + '/argv.' + n + '.json', JSON.stringify(args));
setInterval(() => {}, 1000);
`;

describe('LocalCluster membership helpers', () => {
  let dir = '';
  let cluster: LocalCluster | null = null;
  const servers: WebSocketServer[] = [];

  afterEach(async () => {
    await cluster?.stop(2000);
    cluster = null;
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  const argvOf = (c: LocalCluster, id: number, run = 0): string[] => JSON.parse(readFileSync(join(c.node(id).dataDir, `argv.${run}.json`), 'utf8')) as string[];
  const flag = (argv: readonly string[], name: string): string | undefined => argv[argv.indexOf(name) + 1];

  it('adds nodes with --join and the members not retired plus themselves; restarts and retires them', async () => {
    dir = tempDir('raftcache-lc-');
    const main = join(dir, 'fake-main.cjs');
    writeFileSync(main, FAKE_MAIN);
    const c = (cluster = new LocalCluster({ nodes: 2, dir, ports: await freePorts(2), mainPath: main }));
    const exits: number[] = [];
    c.onUnexpectedExit = (n) => exits.push(n.id);
    c.startAll();
    const n3 = await c.addNode();
    expect(n3.id).toBe(3);
    await eventually(5000, 'node 3 wrote its argv', () => Promise.resolve(argvOf(c, 3).length > 0 ? true : undefined));
    const a3 = argvOf(c, 3);
    expect(a3).toContain('--join');
    expect(flag(a3, '--members')).toBe([1, 2, 3].map((id) => c.memberEntry(c.node(id))).join(','));
    expect(flag(a3, '--listen')).toBe(n3.endpoint);
    await eventually(5000, 'node 1 wrote its argv', () => Promise.resolve(argvOf(c, 1).length > 0 ? true : undefined));
    expect(argvOf(c, 1)).not.toContain('--join');
    expect(flag(argvOf(c, 1), '--members')).toBe([1, 2].map((id) => c.memberEntry(c.node(id))).join(','));

    // Node 2 leaves: the next node's members leave it out, and it is out of endpoints().
    await c.stopNode(2, { retire: true });
    expect(c.node(2).child).toBeNull();
    const n4 = await c.addNode();
    expect(n4.id).toBe(4);
    await eventually(5000, 'node 4 wrote its argv', () => Promise.resolve(argvOf(c, 4).length > 0 ? true : undefined));
    expect(flag(argvOf(c, 4), '--members')).toBe([1, 3, 4].map((id) => c.memberEntry(c.node(id))).join(','));
    expect(c.endpoints()).toEqual([1, 3, 4].map((id) => c.node(id).endpoint));

    // A killed added node restarts with the same arguments; startAll leaves the retired one down.
    await c.kill(3);
    expect(exits).toEqual([3]);
    c.startAll();
    expect(c.node(2).child).toBeNull();
    await eventually(5000, 'node 3 restarted', () => Promise.resolve(c.node(3).child !== null ? true : undefined));
    await eventually(5000, 'node 3 wrote its argv again', () => {
      try {
        return Promise.resolve(argvOf(c, 3, 1).length > 0 ? true : undefined);
      } catch {
        return Promise.resolve(undefined);
      }
    });
    expect(argvOf(c, 3, 1)).toEqual(a3);
    expect(exits).toEqual([3]); // stopNode's exit was expected
  });

  /** A stand-in node answering `map` and operator commands over WebSocket. */
  const fakeNode = async (answer: (frame: Record<string, unknown>) => Record<string, unknown>): Promise<number> => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1' });
    servers.push(wss);
    await new Promise((r) => wss.once('listening', r));
    wss.on('connection', (ws) =>
      ws.on('message', (data) => {
        const f = JSON.parse(data.toString()) as Record<string, unknown>;
        ws.send(JSON.stringify({ id: f['id'], ...answer(f) }));
      }),
    );
    return (wss.address() as AddressInfo).port;
  };

  it('fetchMap parses the map one node serves; an error answer or no answer is null', async () => {
    dir = tempDir('raftcache-lc-');
    const map = {
      version: 3,
      shards: [{ shard: 1, group: 1, ranges: [[0, 0xffffffff]], replicas: ['n1', 'n2'], learners: [], leader: 'n2' }],
      members: [
        { node: 'n1', url: 'ws://127.0.0.1:1/v1', state: 'up' },
        { node: 'n2', url: 'ws://127.0.0.1:2/v1', state: 'up' },
      ],
    };
    const p1 = await fakeNode((f) => (f['op'] === 'map' ? { ok: true, ...map } : { ok: false, error: { code: 'BAD_REQUEST', message: 'op', definite: true } }));
    const p2 = await fakeNode(() => ({ ok: false, error: { code: 'UNAVAILABLE', message: 'starting', definite: true } }));
    const [free] = await freePorts(1);
    const c = (cluster = new LocalCluster({ nodes: 3, dir, ports: [{ client: p1, peer: 1 }, { client: p2, peer: 2 }, { client: free!.client, peer: 3 }] }));
    const m = await c.fetchMap(c.node(1));
    expect(m?.version).toBe(3);
    expect(m?.shards[0]?.replicas).toEqual(['n1', 'n2']);
    expect(await c.fetchMap(c.node(2))).toBeNull();
    expect(await c.fetchMap(c.node(3), 500)).toBeNull();
  });
});
