/**
 * The server writes its response frames itself (staged per socket, one socket
 * write per turn): the bytes on the wire must be exactly those ws.send writes
 * for the same responses, and the rules of ws.send still hold (nothing on a
 * closing socket, 1013 for a client that does not read, errors for bad frames).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { ApiServer } from '../../src/api/index.js';
import type { ApiServerOptions, Response } from '../../src/api/index.js';
import { silentLogger } from '../../src/node/index.js';
import { socketOf } from '../../src/protocol/index.js';

interface Peer {
  readonly ws: WebSocket;
  /** Every byte the client's socket received after the handshake. */
  readonly raw: Buffer[];
  /** The text messages ws decoded, in order. */
  readonly messages: string[];
  readonly closed: Promise<number>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function connect(url: string): Promise<Peer> {
  const ws = new WebSocket(url);
  const raw: Buffer[] = [];
  const messages: string[] = [];
  ws.on('message', (d, isBinary) => messages.push(isBinary ? 'BINARY' : (d as Buffer).toString('utf8')));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      socketOf(ws)?.on('data', (b: Buffer) => raw.push(b));
      resolve();
    });
    ws.once('error', reject);
  });
  cleanups.push(async () => {
    ws.terminate();
    await closed;
  });
  return ws.readyState === WebSocket.OPEN ? { ws, raw, messages, closed } : expect.fail('not open');
}

async function until(what: () => boolean): Promise<void> {
  const end = Date.now() + 5000;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
  await new Promise((r) => setImmediate(r)); // (the raw listener runs after ws's in the same 'data' event)
}

async function apiServer(extra: Partial<ApiServerOptions> = {}): Promise<ApiServer> {
  const api = await ApiServer.listen({
    host: '127.0.0.1',
    port: 0,
    maxFrameBytes: 1 << 20,
    limits: { maxKeyBytes: 64, maxValueBytes: 1 << 20, maxBatchKeys: 8, cacheMaxBytes: 1 << 24 },
    logger: silentLogger(),
    ...extra,
  });
  cleanups.push(() => api.close());
  return api;
}

/** The server side of the (only) client socket: where dispatch replies, the ws and its TCP socket (white box). */
function serverSide(api: ApiServer): { ws: WebSocket; reply(r: Response): void; countWrites(): () => number } {
  const clients = (api as unknown as { clients: Map<WebSocket, { reply(r: Response): void; socket: { write(...a: unknown[]): boolean } }> }).clients;
  const [entry] = [...clients];
  if (entry === undefined) throw new Error('no client socket');
  const [ws, state] = entry;
  return {
    ws,
    reply: (r) => state.reply(r),
    countWrites() {
      const socket = state.socket;
      const write = socket.write.bind(socket);
      let n = 0;
      socket.write = (...a: unknown[]) => {
        n++;
        return write(...a);
      };
      return () => n;
    },
  };
}

/** The bytes a plain ws server puts on the wire for ws.send(text) of each text, as its client receives them. */
async function wsSendBytes(texts: readonly string[]): Promise<Buffer> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.on('connection', (s) => {
    for (const t of texts) s.send(t);
  });
  const peer = await connect(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  await until(() => peer.messages.length === texts.length);
  return Buffer.concat(peer.raw);
}

/** `{"id":…,"ok":true,"value":"xx…"}` with a payload of exactly `bytes` bytes. */
function sized(id: number, bytes: number): Response {
  const empty = JSON.stringify({ id, ok: true, value: '' }).length;
  return { id, ok: true, value: 'x'.repeat(bytes - empty) };
}

describe('response frames', () => {
  it('are byte for byte what ws.send writes, at every length class, all of one turn in one socket write', async () => {
    const api = await apiServer();
    const peer = await connect(api.url);
    const server = serverSide(api);
    const writes = server.countWrites();
    const responses: Response[] = [
      { id: 1, ok: true },
      sized(2, 125),
      sized(3, 126),
      sized(4, 65535),
      sized(5, 65536),
      sized(6, 70000),
      { id: 7, ok: true, value: 'ключ ✓ 😀 "quoted" \\ \n\t\u0001 \ud800' },
      { id: 8, ok: true, values: ['a', null, 'b'] }, // mget: an array
      { id: 9, ok: false, error: { code: 'NOT_LEADER', message: 'not the leader', definite: true, leader: 'n2', leaderUrl: 'ws://127.0.0.1:1/v1' } },
      { id: 10, ok: true, swapped: false, current: null, n: -12.5, big: 2 ** 53 },
      { id: null, ok: false, error: { code: 'BAD_REQUEST', message: 'frame: invalid JSON', definite: true } },
    ];
    for (const r of responses) server.reply(r);
    const texts = responses.map((r) => JSON.stringify(r));
    await until(() => peer.messages.length === texts.length);
    expect(peer.messages).toEqual(texts);
    expect(writes()).toBe(1);
    expect(Buffer.concat(peer.raw).equals(await wsSendBytes(texts))).toBe(true);
  });

  it('answers bad frames with their errors, in order, as ws.send would', async () => {
    const api = await apiServer();
    const peer = await connect(api.url);
    const bigOp = 'o'.repeat(70_000);
    peer.ws.send('{nope');
    peer.ws.send(Buffer.from('{}'), { binary: true });
    peer.ws.send('[1]');
    peer.ws.send('{"id":-1,"op":"get"}');
    peer.ws.send(JSON.stringify({ id: 1, op: bigOp }));
    peer.ws.send(JSON.stringify({ id: 2, op: 'ключ' }));
    peer.ws.send(JSON.stringify({ id: 3, op: 'get' }));
    peer.ws.send(JSON.stringify({ id: 4, op: 'hello' }));
    await until(() => peer.messages.length === 8);
    const got = peer.messages.map((m) => JSON.parse(m) as { id: number | null; ok: boolean; error?: { code: string; message: string } });
    expect(got.map((r) => [r.id, r.ok, r.error?.code])).toEqual([
      [null, false, 'BAD_REQUEST'],
      [null, false, 'BAD_REQUEST'],
      [null, false, 'BAD_REQUEST'],
      [null, false, 'BAD_REQUEST'],
      [1, false, 'BAD_REQUEST'],
      [2, false, 'BAD_REQUEST'],
      [3, false, 'BAD_REQUEST'],
      [4, true, undefined],
    ]);
    expect(got[4]?.error?.message).toBe(`op: unknown op ${JSON.stringify(bigOp)}`);
    expect(got[5]?.error?.message).toBe('op: unknown op "ключ"');
    expect(Buffer.concat(peer.raw).equals(await wsSendBytes(peer.messages))).toBe(true);
  });

  it('nothing goes out once ws is closing or closed, not even what was staged before', async () => {
    const api = await apiServer();
    const peer = await connect(api.url);
    const server = serverSide(api);
    server.reply({ id: 1, ok: true }); // staged, not yet written
    server.ws.close(1000, 'bye'); // ws's close frame goes out now: the staged frame must not follow it
    server.reply({ id: 2, ok: true });
    expect(await peer.closed).toBe(1000);
    server.reply({ id: 3, ok: true }); // closed: ignored, no throw
    await new Promise((r) => setImmediate(r));
    expect(peer.messages).toEqual([]);
    // on the wire: the close frame alone (ws's client would not decode a data frame after it)
    expect([...Buffer.concat(peer.raw)]).toEqual([0x88, 5, 0x03, 0xe8, ...Buffer.from('bye')]);
  });

  it('the responses of the turn precede the close frame when the server closes a socket (unauthorized)', async () => {
    const api = await apiServer({ token: 'sesame' });
    const peer = await connect(api.url);
    peer.ws.send(JSON.stringify({ id: 1, op: 'put', key: 'a', value: 'v' })); // (the put read from bytes waits for hello too)
    expect(await peer.closed).toBe(1008);
    expect(peer.messages.map((m) => JSON.parse(m) as unknown)).toEqual([
      { id: 1, ok: false, error: expect.objectContaining({ code: 'UNAUTHORIZED' }) as unknown },
    ]);
  });

  it('closes a client with too many unread response bytes (1013), after what it was sent', async () => {
    const api = await apiServer({ maxBufferedBytes: 1000 });
    const peer = await connect(api.url);
    const server = serverSide(api);
    for (let id = 1; id <= 20; id++) server.reply(sized(id, 120)); // 122 bytes a frame: the 9th would pass 1000
    server.reply({ id: 21, ok: true });
    expect(await peer.closed).toBe(1013);
    expect(peer.messages.length).toBeGreaterThan(0);
    expect(peer.messages.length).toBeLessThan(20);
    expect(peer.messages).toEqual(Array.from({ length: peer.messages.length }, (_, i) => JSON.stringify(sized(i + 1, 120))));
  });
});
