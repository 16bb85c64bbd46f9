/**
 * Shard split on real in-process nodes: 3 nodes, 2 shards. Keys are written,
 * shard 1 is split while writers keep writing, and afterwards: the map has a
 * third shard owning the upper part of shard 1's ranges; every node hosts the
 * new shard's replica with exactly the keys the map routes to it; shard 1 no
 * longer serves them (WRONG_SHARD); every acknowledged write reads back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftcacheClient } from '../../src/client/index.js';
import { startCluster, waitFor } from './harness.js';
import type { Cluster } from './harness.js';

describe('shard split: 3 nodes, 2 shards', () => {
  let cluster: Cluster;
  let client: RaftcacheClient;

  beforeAll(async () => {
    cluster = await startCluster(3, { shards: 2 });
    await waitFor(
      'a leader in every shard',
      () => [1, 2].every((g) => cluster.nodes.some((n) => n !== null && n.node.status(g).role === 'leader' && n.node.status(g).commit > 0)),
      10_000,
      20,
    );
    client = new RaftcacheClient({ endpoints: [cluster.url(0), cluster.url(1), cluster.url(2)], timeoutMs: 8000, backoffBaseMs: 5, backoffMaxMs: 100 });
    await client.connect();
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await cluster?.close();
  });

  it('moves the upper half of a shard into a new group on the same nodes; no acknowledged write is lost', async () => {
    const acked = new Map<string, string>();
    for (let i = 0; i < 200; i++) {
      await client.put(`k${i}`, `v${i}`);
      acked.set(`k${i}`, `v${i}`);
    }
    const n0 = cluster.nodes[0]!.node;
    const before = n0.layout.version;
    // writers keep going while the split happens
    let stop = false;
    let seq = 0;
    const writer = (async () => {
      while (!stop) {
        const k = `w${seq % 50}`;
        const v = `x${seq++}`;
        try {
          await client.put(k, v);
          acked.set(k, v);
        } catch {
          // an unacknowledged write may or may not have happened: a later acked one for the key replaces it
        }
      }
    })();
    const r = await client.shardSplit(1);
    stop = true;
    await writer;
    expect(r.shard).toBe(3);
    expect(r.version).toBeGreaterThan(before);

    // the map records the split first; the executor then has shard 1's leader append the split entry,
    // every replica creates group 3, and its first leader report completes the split in the map
    await waitFor(
      'the split done in the map, on every node',
      () => cluster.nodes.every((n) => n!.node.layout.shard(3) !== undefined && n!.node.layout.shard(3)!.parent === undefined),
      10_000,
      20,
    );
    for (const n of cluster.nodes) expect(n!.node.hostedGroups).toEqual([1, 2, 3]);
    const moved = [...acked.keys()].filter((k) => n0.groupOf(k) === 3);
    const stayed = [...acked.keys()].filter((k) => n0.groupOf(k) === 1);
    expect(moved.length).toBeGreaterThan(0);
    expect(stayed.length).toBeGreaterThan(0);
    // the split-off keys are in the new group's state machine, and gone from shard 1's
    await waitFor('a leader of shard 3', () => cluster.nodes.some((n) => n!.node.status(3).role === 'leader'), 5000, 20);
    for (const n of cluster.nodes) {
      await waitFor('shard 3 applied', () => n!.node.status(3).applied >= 1, 5000, 20);
    }
    for (const k of moved) {
      await expect(n0.read(1, [k], 'stale')).rejects.toMatchObject({ code: 'WRONG_SHARD' });
    }
    // every acknowledged write reads back (linearizable), through the client's refreshed map
    for (const [k, v] of acked) expect(await client.get(k)).toBe(v);
    // and the new shard takes writes
    await client.put(moved[0] as string, 'after-split');
    expect(await client.get(moved[0] as string)).toBe('after-split');
  }, 60_000);
});

describe('automatic split: splitOpsPerSec', () => {
  let cluster: Cluster;
  afterAll(async () => {
    await cluster?.close();
  });

  it('the meta leader splits a shard whose leader serves more than the limit, and only that one', async () => {
    cluster = await startCluster(3, { shards: 2, splitOpsPerSec: 40 });
    const client = new RaftcacheClient({ endpoints: [cluster.url(0), cluster.url(1), cluster.url(2)], timeoutMs: 8000, backoffBaseMs: 5, backoffMaxMs: 100 });
    try {
      await client.connect();
      const n0 = cluster.nodes[0]!.node;
      const shard1Ranges = n0.layout.state.ranges.filter((r) => r.shard === 1);
      // load only keys of shard 2 (well above 40 ops/s), until the map shows a third shard
      const hotKeys = Array.from({ length: 400 }, (_, i) => `hot-${i}`).filter((k) => n0.groupOf(k) === 2).slice(0, 20);
      expect(hotKeys.length).toBe(20);
      let i = 0;
      const deadline = Date.now() + 30_000;
      while (n0.layout.shard(3) === undefined && Date.now() < deadline) {
        await Promise.all(hotKeys.map((k) => client.put(k, `v${i}`)));
        i++;
      }
      const map = n0.layout.state;
      expect(map.shards.map((s) => s.id)).toEqual([0, 1, 2, 3]);
      // the new shard took its ranges from the hot shard 2; shard 1's ranges did not change
      const span = (id: number): number => map.ranges.filter((r) => r.shard === id).reduce((n, r) => n + (r.end - r.start), 0);
      expect(span(1) + span(2) + span(3)).toBe(2 ** 32);
      expect(span(3)).toBeGreaterThan(0);
      expect(map.ranges.filter((r) => r.shard === 1)).toEqual(shard1Ranges);
      for (const k of hotKeys) expect(await client.get(k)).toBe(`v${i - 1}`);
    } finally {
      await client.close();
    }
  }, 60_000);
});
