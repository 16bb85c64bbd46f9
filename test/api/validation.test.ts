import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiServer } from '../../src/api/index.js';
import { silentLogger } from '../../src/node/index.js';
import { RawClient, startCluster } from './harness.js';
import type { Cluster } from './harness.js';

const LIMITS = { maxKeyBytes: 16, maxValueBytes: 64, maxFrameBytes: 4096, maxBatchKeys: 4 };

describe('request validation (single node)', () => {
  let cluster: Cluster;
  let url: string;

  beforeAll(async () => {
    cluster = await startCluster(1, { limits: LIMITS });
    await cluster.leader();
    url = cluster.url(0);
  });
  afterAll(async () => {
    await cluster.close();
  });

  // [name, frame, expected code, field the message must name]
  const table: [string, Record<string, unknown>, string, string][] = [
    ['unknown op', { op: 'frobnicate', key: 'a' }, 'BAD_REQUEST', 'op'],
    ['missing op', { key: 'a' }, 'BAD_REQUEST', 'op'],
    ['key of wrong type', { op: 'get', key: 7 }, 'BAD_REQUEST', 'key'],
    ['missing key', { op: 'put', value: 'v' }, 'BAD_REQUEST', 'key'],
    ['empty key', { op: 'get', key: '' }, 'BAD_REQUEST', 'key'],
    ['value of wrong type', { op: 'put', key: 'a', value: 5 }, 'BAD_REQUEST', 'value'],
    ['ttl not an integer', { op: 'put', key: 'a', value: 'v', ttlMs: 1.5 }, 'BAD_REQUEST', 'ttlMs'],
    ['ttl negative', { op: 'put', key: 'a', value: 'v', ttlMs: -1 }, 'BAD_REQUEST', 'ttlMs'],
    ['bad consistency', { op: 'get', key: 'a', consistency: 'eventual' }, 'BAD_REQUEST', 'consistency'],
    ['session client not decimal', { op: 'put', key: 'a', value: 'v', session: { client: 'x', seq: 1 } }, 'BAD_REQUEST', 'session.client'],
    ['session seq missing', { op: 'incr', key: 'a', session: { client: '5' } }, 'BAD_REQUEST', 'session.seq'],
    ['incr by not integer', { op: 'incr', key: 'a', by: 'one' }, 'BAD_REQUEST', 'by'],
    ['cas missing expected', { op: 'cas', key: 'a', value: 'v' }, 'BAD_REQUEST', 'expected'],
    ['mget keys not array', { op: 'mget', keys: 'a' }, 'BAD_REQUEST', 'keys'],
    ['mput entry without value', { op: 'mput', entries: [{ key: 'a' }] }, 'BAD_REQUEST', 'entries[0].value'],
    ['lone surrogate key', { op: 'get', key: '\ud800x' }, 'BAD_REQUEST', 'key'],
    ['bad base64', { op: 'put', key: 'a', value: '!!!', encoding: 'base64' }, 'BAD_REQUEST', 'value'],
    ['key too large', { op: 'get', key: 'k'.repeat(17) }, 'TOO_LARGE', 'key'],
    ['value too large', { op: 'put', key: 'a', value: 'v'.repeat(65) }, 'TOO_LARGE', 'value'],
    ['mput value too large', { op: 'mput', entries: [{ key: 'a', value: 'v' }, { key: 'b', value: 'v'.repeat(65) }] }, 'TOO_LARGE', 'entries[1].value'],
    ['too many mget keys', { op: 'mget', keys: ['a', 'b', 'c', 'd', 'e'] }, 'TOO_LARGE', 'keys'],
  ];

  it.each(table)('%s → %s naming the field', async (_name, frame, code, field) => {
    const c = await RawClient.connect(url);
    const r = await c.request(frame);
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe(code);
    expect(r.error?.definite).toBe(true);
    expect(r.error?.message.startsWith(`${field}:`)).toBe(true);
    if (code === 'TOO_LARGE') expect(typeof r.error?.['limit']).toBe('number');
    // the socket keeps serving
    const ok = await c.request({ op: 'put', key: 'after', value: 'x' });
    expect(ok.ok).toBe(true);
    c.close();
  });

  it('answers frames that are not requests with id null and keeps the socket open', async () => {
    const c = await RawClient.connect(url);
    for (const [text, field] of [
      ['{not json', 'frame'],
      ['[1,2]', 'frame'],
      ['42', 'frame'],
      ['{"op":"get","key":"a"}', 'id'],
      ['{"id":-1,"op":"get","key":"a"}', 'id'],
    ] as const) {
      const r = await c.sendRaw(text);
      expect(r).toMatchObject({ id: null, ok: false, error: { code: 'BAD_REQUEST', definite: true } });
      expect(r.error?.message.startsWith(`${field}:`)).toBe(true);
    }
    const bin = await c.sendRaw(Buffer.from('{"id":1,"op":"status"}'), true);
    expect(bin.error?.code).toBe('BAD_REQUEST');
    const s = await c.request({ op: 'status' });
    expect(s).toMatchObject({ ok: true, node: 'n1', role: 'leader', group: 1 });
    expect(s['mapVersion']).toBeGreaterThanOrEqual(1);
    c.close();
  });

  it('closes a socket that sends an oversized frame with 1009; other clients keep working', async () => {
    const big = await RawClient.connect(url);
    const other = await RawClient.connect(url);
    big.ws.send(JSON.stringify({ id: 1, op: 'put', key: 'a', value: 'x'.repeat(5000) }));
    expect(await big.closed).toBe(1009);
    const r = await other.request({ op: 'put', key: 'still', value: 'here' });
    expect(r.ok).toBe(true);
    const g = await other.request({ op: 'get', key: 'still' });
    expect(g).toMatchObject({ ok: true, value: 'here' });
    other.close();
  });

  it('pipelines many requests on one socket and answers each by id', async () => {
    const c = await RawClient.connect(url);
    const puts = Array.from({ length: 50 }, (_, i) => c.request({ op: 'put', key: `p${i}`, value: `v${i}` }));
    const done = await Promise.all(puts);
    expect(done.every((r) => r.ok)).toBe(true);
    const gets = await Promise.all(Array.from({ length: 50 }, (_, i) => c.request({ op: 'get', key: `p${i}` })));
    expect(gets.map((g) => g['value'])).toEqual(Array.from({ length: 50 }, (_, i) => `v${i}`));
    c.close();
  });

  it('round-trips binary values with encoding base64', async () => {
    const c = await RawClient.connect(url);
    const bytes = Buffer.from([0, 255, 1, 254, 128]);
    const b64 = bytes.toString('base64');
    expect((await c.request({ op: 'put', key: 'bin', value: b64, encoding: 'base64' })).ok).toBe(true);
    expect(await c.request({ op: 'get', key: 'bin', encoding: 'base64' })).toMatchObject({ ok: true, value: b64 });
    c.close();
  });

  it('refuses OVERLOADED beyond the pending-request limit', async () => {
    const small = await startCluster(1, { limits: { maxPending: 2 } });
    try {
      const i = await small.leader();
      const node = small.nodes[i]?.node;
      if (!node) throw new Error('no node');
      const value = new Uint8Array([1]);
      // Proposed in one synchronous burst: none can be applied before the flush.
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, (_, k) => node.write(1, { type: 'put', key: `o${k}`, value })),
      );
      expect(results.slice(0, 2).every((r) => r.status === 'fulfilled')).toBe(true);
      for (const r of results.slice(2)) {
        expect(r.status).toBe('rejected');
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'OVERLOADED', definite: true });
      }
      // After the queue drains, requests are accepted again.
      await expect(node.write(1, { type: 'put', key: 'later', value })).resolves.toMatchObject({ result: { ok: true } });
    } finally {
      await small.close();
    }
  });
});

describe('client token', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(1, { token: 'sesame' });
    await cluster.leader();
  });
  afterAll(async () => {
    await cluster.close();
  });

  it('requires a hello with the token as the first frame', async () => {
    const c = await RawClient.connect(cluster.url(0));
    const r = await c.request({ op: 'get', key: 'a' });
    expect(r.error).toMatchObject({ code: 'UNAUTHORIZED', definite: true });
    expect(await c.closed).toBe(1008);

    const bad = await RawClient.connect(cluster.url(0));
    expect((await bad.request({ op: 'hello', token: 'nope' })).error?.code).toBe('UNAUTHORIZED');
    expect(await bad.closed).toBe(1008);

    const good = await RawClient.connect(cluster.url(0));
    expect(await good.request({ op: 'hello', token: 'sesame', client: 'test/1' })).toMatchObject({ ok: true, node: 'n1', version: 1, mapVersion: 1 });
    expect((await good.request({ op: 'put', key: 'a', value: 'b' })).ok).toBe(true);
    good.close();
  });

  it('accepts an Authorization: Bearer header instead', async () => {
    const c = await RawClient.connect(cluster.url(0), { authorization: 'Bearer sesame' });
    expect((await c.request({ op: 'status' })).ok).toBe(true);
    c.close();
  });
});

describe('before the node is attached', () => {
  it('answers /health 503 and requests UNAVAILABLE (definite)', async () => {
    const api = await ApiServer.listen({
      host: '127.0.0.1',
      port: 0,
      maxFrameBytes: 1 << 16,
      limits: { maxKeyBytes: 16, maxValueBytes: 64, maxBatchKeys: 4, cacheMaxBytes: 1 << 20 },
      logger: silentLogger(),
    });
    try {
      const h = await fetch(`http://127.0.0.1:${api.port}/health`);
      expect(h.status).toBe(503);
      expect(await h.json()).toEqual({ status: 'starting' });
      const c = await RawClient.connect(api.url);
      expect((await c.request({ op: 'get', key: 'a' })).error).toMatchObject({ code: 'UNAVAILABLE', definite: true });
      expect(await c.request({ op: 'hello' })).toMatchObject({ ok: true, node: null, version: 1 });
      c.close();
      expect((await fetch(`http://127.0.0.1:${api.port}/nope`)).status).toBe(404);
    } finally {
      await api.close();
    }
  });
});
