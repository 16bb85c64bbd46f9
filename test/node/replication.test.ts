import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, startCluster, waitFor } from '../api/harness.js';
import type { Cluster } from '../api/harness.js';

function metric(cluster: Cluster, i: number, name: string): number {
  const text = cluster.nodes[i]?.node.metricsText().toString() ?? '';
  const m = new RegExp(`^${name}\\{group="1"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

describe('snapshots, compaction and catch-up by InstallSnapshot', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(3, { raft: { tickMs: 25, electionTicks: 20, heartbeatTicks: 1, snapshotEntries: 20 } });
  });
  afterAll(async () => {
    await cluster.close();
  });

  it('a follower behind the compacted log gets a snapshot, then restarts from its own', async () => {
    const leader = await cluster.leader();
    const victim = (leader + 1) % 3;
    await cluster.stop(victim);
    const c = await RawClient.connect(cluster.url(leader));
    for (let i = 0; i < 70; i++) expect((await c.request({ op: 'put', key: `k${i}`, value: `v${i}` })).ok).toBe(true);
    expect(metric(cluster, leader, 'raftcache_snapshots_taken_total')).toBeGreaterThanOrEqual(2);

    await cluster.restart(victim);
    const target = cluster.nodes[leader]?.node.status().commit ?? 0;
    await waitFor('follower to catch up', () => (cluster.nodes[victim]?.node.status().applied ?? 0) >= target);
    expect(metric(cluster, victim, 'raftcache_snapshots_installed_total')).toBe(1);

    // restart again: state comes back from the snapshot it installed plus its log
    await cluster.stop(victim);
    await cluster.restart(victim);
    await waitFor('follower to catch up again', () => (cluster.nodes[victim]?.node.status().applied ?? 0) >= target);
    const f = await RawClient.connect(cluster.url(victim));
    const r = await f.request({ op: 'mget', keys: ['k0', 'k35', 'k69'], consistency: 'stale' });
    expect(r).toMatchObject({ ok: true, values: ['v0', 'v35', 'v69'] });
    f.close();
    c.close();
  });
});

describe('replicated time and recency', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(3, { clockIntervalMs: 40 });
  });
  afterAll(async () => {
    await cluster.close();
  });

  it('a TTL key expires on every replica through clock entries, without further writes', async () => {
    const leader = await cluster.leader();
    const c = await RawClient.connect(cluster.url(leader));
    expect((await c.request({ op: 'put', key: 'ttl', value: 'soon', ttlMs: 150 })).ok).toBe(true);
    expect((await c.request({ op: 'put', key: 'forever', value: 'here' })).ok).toBe(true);
    await waitFor('expiry on all replicas', () =>
      cluster.nodes.every((n) => n !== null && n.node.status().applied > 0 && isExpired(n.node.metricsText().toString())),
    );
    expect(metric(cluster, leader, 'raftcache_clock_entries_total')).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) {
      const f = await RawClient.connect(cluster.url(i));
      expect(await f.request({ op: 'mget', keys: ['ttl', 'forever'] })).toMatchObject({ ok: true, values: [null, 'here'] });
      f.close();
    }
    c.close();
  });

  it('reads on the leader are replicated as touch entries', async () => {
    const leader = await cluster.leader();
    const c = await RawClient.connect(cluster.url(leader));
    const before = metric(cluster, leader, 'raftcache_touch_entries_total');
    expect(await c.request({ op: 'get', key: 'forever' })).toMatchObject({ value: 'here' });
    await waitFor('a touch entry', () => metric(cluster, leader, 'raftcache_touch_entries_total') > before);
    c.close();
  });

  it('reads on a follower are reported to the leader and replicated as touch entries', async () => {
    const leader = await cluster.leader();
    const before = metric(cluster, leader, 'raftcache_touch_entries_total');
    const f = await RawClient.connect(cluster.url((leader + 1) % 3));
    expect(await f.request({ op: 'get', key: 'forever', consistency: 'stale' })).toMatchObject({ value: 'here' });
    await waitFor('a touch entry from the follower report', () => metric(cluster, leader, 'raftcache_touch_entries_total') > before);
    f.close();
  });
});

function isExpired(metricsText: string): boolean {
  const m = /^raftcache_cache_expirations_total\{group="1"\} (\S+)$/m.exec(metricsText);
  return m !== null && Number(m[1]) >= 1;
}
