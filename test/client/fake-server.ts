/**
 * A small fake raftcache node for client tests: a ws server on 127.0.0.1 with
 * a pluggable handler. The default handler is a tiny KV store that speaks the
 * protocol (hello, status, register, get, put, delete, cas, incr, mget, mput).
 */
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import type { AddressInfo } from 'node:net';

export type Frame = Record<string, unknown> & { id: number; op: string };

export interface FakeContext {
  readonly node: FakeNode;
  readonly socket: WebSocket;
  reply(frame: Frame, fields?: Record<string, unknown>): void;
  fail(frame: Frame, code: string, definite: boolean, hints?: Record<string, unknown>): void;
}

/** Returns true when it handled the frame; false falls through to the KV. */
export type Handler = (frame: Frame, ctx: FakeContext) => boolean;

export class FakeNode {
  readonly received: Frame[] = [];
  readonly store = new Map<string, string>();
  connections = 0;
  leaderUrl: string | null = null;
  members: { node: string; url: string }[] = [];
  handler: Handler = () => false;
  private server!: WebSocketServer;
  private nextClient = 1;
  url = '';

  constructor(readonly id: string) {}

  /** Listens on `port` (0 = any free port). */
  async start(listenPort = 0): Promise<this> {
    this.server = new WebSocketServer({ host: '127.0.0.1', port: listenPort, path: '/v1' });
    await new Promise<void>((resolve) => this.server.once('listening', () => resolve()));
    const port = (this.server.address() as AddressInfo).port;
    this.url = `ws://127.0.0.1:${port}/v1`;
    this.server.on('connection', (socket) => {
      this.connections++;
      socket.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as Frame;
        this.received.push(frame);
        const ctx: FakeContext = {
          node: this,
          socket,
          reply: (f, fields = {}) => socket.send(JSON.stringify({ id: f.id, ok: true, ...fields })),
          fail: (f, code, definite, hints = {}) =>
            socket.send(JSON.stringify({ id: f.id, ok: false, error: { code, message: code, definite, ...hints } })),
        };
        if (!this.handler(frame, ctx)) this.kv(frame, ctx);
      });
    });
    return this;
  }

  /** Frames received with the given op. */
  ops(op: string): Frame[] {
    return this.received.filter((f) => f.op === op);
  }

  async stop(): Promise<void> {
    for (const c of this.server.clients) c.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private kv(f: Frame, ctx: FakeContext): void {
    const key = String(f['key']);
    switch (f.op) {
      case 'hello':
        return ctx.reply(f, { node: this.id, version: 1, mapVersion: 1 });
      case 'status':
        return ctx.reply(f, {
          node: this.id,
          role: this.leaderUrl === this.url ? 'leader' : 'follower',
          term: 1,
          commit: 1,
          applied: 1,
          leader: null,
          leaderUrl: this.leaderUrl,
          pid: process.pid,
          address: this.url,
          group: 1,
          members: this.members.length > 0 ? this.members : [{ node: this.id, url: this.url }],
          mapVersion: 1,
        });
      case 'register':
        return ctx.reply(f, { client: `c${this.nextClient++}` });
      case 'get':
        return ctx.reply(f, { value: this.store.get(key) ?? null });
      case 'mget':
        return ctx.reply(f, { values: (f['keys'] as string[]).map((k) => this.store.get(k) ?? null) });
      case 'put':
        this.store.set(key, String(f['value']));
        return ctx.reply(f);
      case 'mput':
        for (const e of f['entries'] as { key: string; value: string }[]) this.store.set(e.key, e.value);
        return ctx.reply(f);
      case 'delete':
        return ctx.reply(f, { deleted: this.store.delete(key) });
      case 'cas': {
        const current = this.store.get(key) ?? null;
        if (current !== f['expected']) return ctx.reply(f, { swapped: false, current });
        if (f['value'] === null) this.store.delete(key);
        else this.store.set(key, String(f['value']));
        return ctx.reply(f, { swapped: true, current: f['value'] });
      }
      case 'incr': {
        const v = Number(this.store.get(key) ?? '0') + Number(f['by'] ?? 1);
        this.store.set(key, String(v));
        return ctx.reply(f, { value: v });
      }
      default:
        return ctx.fail(f, 'BAD_REQUEST', true);
    }
  }
}
