/**
 * Shared set-up of the client tests that run against a FakeCluster: clusters
 * and clients made here are closed after each test (call `registerCleanup()`
 * once per file).
 */
import { afterEach } from 'vitest';
import { RaftcacheClient, RaftcacheError } from '../../src/client/index.js';
import type { RaftcacheClientOptions } from '../../src/client/index.js';
import { FakeCluster, threeShards } from './fake-cluster.js';
import type { FakeShard } from './fake-cluster.js';

const clusters: FakeCluster[] = [];
const clients: RaftcacheClient[] = [];

export function registerCleanup(more: () => Promise<void> = async () => undefined): void {
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await more();
    for (const c of clusters.splice(0)) await c.stop();
  });
}

export async function cluster(shards: FakeShard[] = threeShards(), ids = ['n1', 'n2', 'n3']): Promise<FakeCluster> {
  const c = await FakeCluster.start(ids, shards);
  clusters.push(c);
  return c;
}

/** Closes `client` after the test. */
export function track(client: RaftcacheClient): RaftcacheClient {
  clients.push(client);
  return client;
}

/** A client of `c` (seeded with n1), connected; closed after the test. */
export async function connected(c: FakeCluster, extra: Partial<RaftcacheClientOptions> = {}): Promise<RaftcacheClient> {
  const client = new RaftcacheClient({ endpoints: [c.url('n1')], backoffBaseMs: 1, backoffMaxMs: 5, ...extra });
  clients.push(client);
  await client.connect();
  return client;
}

/** The RaftcacheError `p` rejects with (fails if it resolves or rejects with something else). */
export async function rejection(p: Promise<unknown>): Promise<RaftcacheError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RaftcacheError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

/** Waits (bounded) until `cond` holds; fails the test otherwise. */
export async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
