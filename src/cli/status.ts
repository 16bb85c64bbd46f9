/**
 * `raftcache status [--endpoints HOST:PORT,…] [--json]`: one row per member
 * (id, state in the shard map, role, term, commit, applied, address, pid), from each node's `status`,
 * then one row per shard (ring span, replicas, leader, term, applied index on
 * each replica), from the shard map and the nodes' per-shard status.
 * `--json`: `{nodes: [...], shards: [...]}`.
 */
import { RaftcacheClient, RaftcacheError } from '../client/index.js';
import type { NodeStatusResult, ShardMapView } from '../client/index.js';
import { endpointsFlag, numberFlag, boolFlag, parseArgs, withUsage } from './client-args.js';

const USAGE = 'usage: raftcache status [--endpoints HOST:PORT,…] [--json] [--timeout MS]\n';

export async function main(argv: string[]): Promise<number> {
  return withUsage(USAGE, argv, async () => {
    const args = parseArgs(argv, ['json']);
    const endpoints = endpointsFlag(args);
    const client = new RaftcacheClient({ endpoints, timeoutMs: numberFlag(args, 'timeout', 3000, 1) });
    try {
      try {
        await client.connect();
      } catch (e) {
        // no seed reachable: still show one row per seed with its error
        if (!(e instanceof RaftcacheError)) throw e;
      }
      const rows = await client.clusterStatus();
      const shards = shardRows(rows, client.shardMap());
      if (boolFlag(args, 'json')) process.stdout.write(`${JSON.stringify({ nodes: rows.map(jsonRow), shards })}\n`);
      else process.stdout.write(`${renderStatusTable(rows)}\n${renderShardTable(shards)}`);
      return rows.some((r) => r.ok) ? 0 : 1;
    } finally {
      await client.close();
    }
  });
}

function jsonRow(r: NodeStatusResult): Record<string, unknown> {
  return r.ok ? { ...r.status } : { url: r.url, error: r.error };
}

/** A fixed-width table of node statuses (also used by `dev --demo`). */
export function renderStatusTable(rows: readonly NodeStatusResult[]): string {
  // each node's state in the shard map (up / down / draining), as the answering nodes see it
  const stateOf = new Map<string, string>();
  for (const r of rows) if (r.ok) for (const m of r.status.members) if (m.state !== undefined && !stateOf.has(m.node)) stateOf.set(m.node, m.state);
  const withState = stateOf.size > 0;
  const header = ['id', ...(withState ? ['state'] : []), 'role', 'term', 'commit', 'applied', 'address', 'pid'];
  const cells = rows.map((r) =>
    r.ok
      ? [
          r.status.node,
          ...(withState ? [stateOf.get(r.status.node) ?? '-'] : []),
          r.status.role,
          String(r.status.term),
          String(r.status.commit),
          String(r.status.applied),
          r.status.address !== '' ? r.status.address : r.url,
          String(r.status.pid),
        ]
      : ['?', ...(withState ? ['-'] : []), 'unreachable', '-', '-', '-', r.url, `(${r.error})`],
  );
  return renderTable(header, cells);
}

export interface ShardRow {
  readonly shard: number;
  readonly group: number;
  /** Inclusive ring ranges. */
  readonly ranges: readonly (readonly [number, number])[];
  /** Share of the ring, 0..1. */
  readonly span: number;
  readonly replicas: readonly string[];
  readonly leader: string | null;
  readonly term: number;
  /** Applied index per replica that answered. */
  readonly applied: Readonly<Record<string, number>>;
}

/** One row per shard of the map, with leader, term and applied indexes from the nodes' status. */
export function shardRows(rows: readonly NodeStatusResult[], map: ShardMapView): ShardRow[] {
  const nameOfUrl = new Map<string, string>();
  for (const r of rows) if (r.ok) nameOfUrl.set(r.status.address !== '' ? r.status.address : r.url, r.status.node);
  return map.shards.map((s) => {
    let leader: string | null = null;
    let term = 0;
    const applied: Record<string, number> = {};
    for (const r of rows) {
      if (!r.ok) continue;
      for (const e of r.status.shards ?? []) {
        if (e.group !== s.group) continue;
        applied[r.status.node] = e.applied;
        if (e.role === 'leader' && e.term >= term) {
          leader = r.status.node;
          term = e.term;
        }
        if (leader === null) term = Math.max(term, e.term);
      }
    }
    let span = 0;
    for (const [a, b] of s.ranges) span += b - a + 1;
    return {
      shard: s.shard,
      group: s.group,
      ranges: s.ranges,
      span: span / 2 ** 32,
      replicas: s.replicas.map((u) => nameOfUrl.get(u) ?? u),
      leader,
      term,
      applied,
    };
  });
}

/** A fixed-width table of shards. */
export function renderShardTable(shards: readonly ShardRow[]): string {
  const header = ['shard', 'ring', 'ranges', 'replicas', 'leader', 'term', 'applied'];
  const cells = shards.map((s) => [
    String(s.shard),
    `${(s.span * 100).toFixed(1)}%`,
    String(s.ranges.length),
    s.replicas.join(','),
    s.leader ?? '-',
    String(s.term),
    s.replicas.map((n) => `${n}:${s.applied[n] ?? '-'}`).join(' '),
  ]);
  return renderTable(header, cells);
}

/** Columns padded to their widest cell, two spaces apart (the last column unpadded). */
function renderTable(header: readonly string[], cells: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: readonly string[]): string =>
    c
      .map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...cells.map(line)].join('\n')}\n`;
}
