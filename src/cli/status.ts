/**
 * `raftcache status [--endpoints HOST:PORT,…] [--json]`: one row per member
 * (id, role, term, commit, applied, address, pid), from each node's `status`.
 */
import { RaftcacheClient, RaftcacheError } from '../client/index.js';
import type { NodeStatusResult } from '../client/index.js';
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
      if (boolFlag(args, 'json')) process.stdout.write(`${JSON.stringify(rows.map(jsonRow))}\n`);
      else process.stdout.write(renderStatusTable(rows));
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
  const header = ['id', 'role', 'term', 'commit', 'applied', 'address', 'pid'];
  const cells = rows.map((r) =>
    r.ok
      ? [
          r.status.node,
          r.status.role,
          String(r.status.term),
          String(r.status.commit),
          String(r.status.applied),
          r.status.address !== '' ? r.status.address : r.url,
          String(r.status.pid),
        ]
      : ['?', 'unreachable', '-', '-', '-', r.url, `(${r.error})`],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: readonly string[]): string =>
    c
      .map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...cells.map(line)].join('\n')}\n`;
}
