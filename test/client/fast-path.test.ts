/**
 * Operations on the client's fast path (a session already registered, the
 * socket open: the first attempt is sent without the general retry loop) must
 * behave exactly like the general loop when that attempt does not end ok:
 * same (client, seq) on every retry, redirects followed, typed errors. And the
 * outbox must put on the wire exactly the bytes ws would.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { RaftcacheClient } from '../../src/client/index.js';
import { Outbox } from '../../src/client/outbox.js';
import { frameHeaderSize, writeFrameHeader } from '../../src/protocol/index.js';
import { FakeNode } from './fake-server.js';
import type { Frame } from './fake-server.js';
import { rejection } from './fake-setup.js';

const nodes: FakeNode[] = [];
const clients: RaftcacheClient[] = [];

async function leaderNode(id = 'n1'): Promise<FakeNode> {
  const n = await new FakeNode(id).start();
  n.leaderUrl = n.url;
  nodes.push(n);
  return n;
}

/** A connected client whose session is registered (one put done): later writes take the fast path. */
async function warmClient(endpoints: string[], extra: Partial<ConstructorParameters<typeof RaftcacheClient>[0]> = {}): Promise<RaftcacheClient> {
  const c = new RaftcacheClient({ endpoints, backoffBaseMs: 1, backoffMaxMs: 5, ...extra });
  clients.push(c);
  await c.connect();
  await c.put('warm', 'up');
  return c;
}

const seqOf = (f: Frame): [string, number] => {
  const s = f['session'] as { client: string; seq: number };
  return [s.client, s.seq];
};

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const n of nodes.splice(0)) await n.stop();
});

describe('fast path: first attempt not ok', () => {
  it('a lost socket after sending: retried with the same seq, then numbering goes on', async () => {
    const n = await leaderNode();
    const c = await warmClient([n.url]);
    let drops = 0;
    n.handler = (f, ctx) => {
      if (f.op === 'put' && f['key'] === 'k' && drops < 2) {
        drops++;
        ctx.socket.terminate();
        return true;
      }
      return false;
    };
    await c.put('k', 'v');
    await c.put('k2', 'v2');
    expect(n.ops('put').map(seqOf)).toEqual([
      ['c1', 1],
      ['c1', 2],
      ['c1', 2],
      ['c1', 2],
      ['c1', 3],
    ]);
    expect(n.store.get('k')).toBe('v');
    expect(n.ops('register')).toHaveLength(1);
  });

  it('NOT_LEADER with a hint: the write follows it with the same seq', async () => {
    const a = await leaderNode('n1');
    const b = await leaderNode('n2');
    const members = [
      { node: 'n1', url: a.url },
      { node: 'n2', url: b.url },
    ];
    a.members = members;
    b.members = members;
    const c = await warmClient([a.url]);
    a.handler = (f, ctx) => {
      if (f.op !== 'put') return false;
      ctx.fail(f, 'NOT_LEADER', true, { leader: 'n2', leaderUrl: b.url });
      return true;
    };
    b.handler = (f, ctx) => {
      if (f.op !== 'put') return false;
      ctx.reply(f); // n2 took over the group: it knows the session
      return true;
    };
    await c.put('k', 'v');
    expect(a.ops('put').map(seqOf).slice(-1)).toEqual([['c1', 2]]);
    expect(b.ops('put').map(seqOf)).toEqual([['c1', 2]]);
    expect(c.leader).toBe(b.url);
  });

  it('no answer: TIMEOUT, definite false, every attempt with one seq', async () => {
    const n = await leaderNode();
    const c = await warmClient([n.url], { timeoutMs: 150, attemptTimeoutMs: 40 });
    n.handler = (f) => f.op === 'put' || f.op === 'get';
    const e = await rejection(c.put('k', 'v'));
    expect([e.code, e.definite]).toEqual(['TIMEOUT', false]);
    const late = n.ops('put').slice(1);
    expect(late.length).toBeGreaterThan(1);
    expect(new Set(late.map((f) => seqOf(f)[1]))).toEqual(new Set([2]));
    const r = await rejection(c.get('k'));
    expect([r.code, r.definite]).toEqual(['TIMEOUT', true]);
  });

  it('a non-retryable error is thrown at once with its hints', async () => {
    const n = await leaderNode();
    const c = await warmClient([n.url]);
    n.handler = (f, ctx) => {
      if (f.op !== 'put') return false;
      ctx.fail(f, 'TOO_LARGE', true, { limit: 10 });
      return true;
    };
    const e = await rejection(c.put('k', 'a long value'));
    expect([e.code, e.definite, e.hints['limit']]).toEqual(['TOO_LARGE', true, 10]);
    expect(n.ops('put')).toHaveLength(2);
  });

  it('an ok answer the operation cannot read rejects (INTERNAL), it does not throw elsewhere', async () => {
    const n = await leaderNode();
    const c = await warmClient([n.url]);
    n.handler = (f, ctx) => {
      if (f.op !== 'incr') return false;
      ctx.reply(f, { value: 'not a number' });
      return true;
    };
    const e = await rejection(c.incr('n'));
    expect(e.code).toBe('INTERNAL');
  });

  it('delete, cas and incr answer as before on the fast path', async () => {
    const n = await leaderNode();
    const c = await warmClient([n.url]);
    expect(await c.incr('n', 4)).toBe(4);
    expect(await c.cas('n', '4', '7')).toEqual({ swapped: true, current: '7' });
    expect(await c.cas('n', '4', '9')).toEqual({ swapped: false, current: '7' });
    expect(await c.delete('n')).toBe(true);
    expect(await c.delete('n')).toBe(false);
    expect(await c.get('n')).toBeNull();
    expect(n.ops('delete').map(seqOf)).toEqual([
      ['c1', 5],
      ['c1', 6],
    ]);
  });

  it('close() while a fast-path write and read are unanswered: CLOSED (the write not definite)', async () => {
    const n = await leaderNode();
    const c = await warmClient([n.url], { timeoutMs: 10_000 });
    n.handler = (f) => f.op === 'get' || f.op === 'put';
    const pendingGet = rejection(c.get('k'));
    const pendingPut = rejection(c.put('k', 'v'));
    while (n.ops('get').length === 0 || n.ops('put').length < 2) await new Promise((r) => setTimeout(r, 2));
    await c.close();
    const [g, p] = await Promise.all([pendingGet, pendingPut]);
    expect([g.code, g.definite]).toEqual(['CLOSED', true]);
    expect([p.code, p.definite]).toEqual(['CLOSED', false]);
  });
});

describe('outbox', () => {
  function ourBytes(text: string): Buffer {
    const len = Buffer.byteLength(text, 'utf8');
    const buf = Buffer.alloc(frameHeaderSize(len, true) + len);
    const off = writeFrameHeader(buf, 0, len, true);
    buf.write(text, off, 'utf8');
    return buf;
  }

  it('frame headers: FIN + text, mask bit, 7/16/64-bit lengths, zero mask key (RFC 6455 §5.2)', () => {
    expect([...ourBytes('').subarray(0, 6)]).toEqual([0x81, 0x80, 0, 0, 0, 0]);
    expect([...ourBytes('a'.repeat(125)).subarray(0, 6)]).toEqual([0x81, 0x80 | 125, 0, 0, 0, 0]);
    expect([...ourBytes('a'.repeat(126)).subarray(0, 8)]).toEqual([0x81, 0x80 | 126, 0, 126, 0, 0, 0, 0]);
    expect([...ourBytes('a'.repeat(65536)).subarray(0, 14)]).toEqual([0x81, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(ourBytes('ключ').length).toBe(6 + 8);
  });

  it('a ws server receives the frames of one turn, in order, at every length class', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const got: string[] = [];
    server.on('connection', (s) => s.on('message', (d, isBinary) => got.push(isBinary ? 'BINARY' : d.toString())));
    const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      // payloads of 0…70 000 bytes: each frame is {"v":"…"} (8 bytes) around the string
      const frames: object[] = [0, 1, 125 - 8, 126 - 8, 127 - 8, 65535 - 8, 65536 - 8, 70000].map((n) => ({ v: 'a'.repeat(Math.max(0, n)) }));
      frames.push({ id: 1, op: 'put', key: 'ключ ✓ 😀', value: 'a "quoted"\n line', session: { client: 'c1', seq: 2, firstIncomplete: 1 } });
      const texts = frames.map((f) => JSON.stringify(f));
      const box = new Outbox();
      for (const f of frames) box.push(ws, f);
      const end = Date.now() + 3000;
      while (got.length < texts.length && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
      expect(got).toEqual(texts);
    } finally {
      ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('writes the frames of one turn in one socket write, in order, and nothing once the socket is not open', () => {
    const writes: Buffer[] = [];
    const socket = { destroyed: false, writable: true, write: (b: Buffer) => writes.push(Buffer.from(b)) };
    const ws = { readyState: WebSocket.OPEN, _socket: socket, send: () => expect.fail('ws.send used') } as unknown as WebSocket;
    const box = new Outbox();
    box.push(ws, { id: 1, op: 'get', key: 'one' });
    const second = { id: 2, op: 'put', key: 'two 😀', value: 'v' };
    box.push(ws, second);
    second.value = 'changed after push'; // encoded at push: later changes do not matter
    box.flush();
    expect(writes).toHaveLength(1);
    const expected = Buffer.concat([ourBytes('{"id":1,"op":"get","key":"one"}'), ourBytes('{"id":2,"op":"put","key":"two 😀","value":"v"}')]);
    expect(writes[0]?.equals(expected)).toBe(true);
    (ws as unknown as { readyState: number }).readyState = WebSocket.CLOSING;
    box.push(ws, { id: 3, op: 'get', key: 'three' });
    box.flush();
    expect(writes).toHaveLength(1);
  });
});
