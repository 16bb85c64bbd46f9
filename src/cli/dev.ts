/**
 * `raftcache dev [--nodes 3] [--shards S] [--replication R] [--dir DIR] [--base-port N] [--demo [--exit]]`:
 * a local cluster in one command. Spawns N `raftcache start` children (node i:
 * client port base+i-1, peer port base+100+i-1, data in DIR/nI, log in
 * DIR/nI.log, a random cluster secret), waits for /health and a leader, prints
 * the endpoints, and on Ctrl-C or SIGTERM stops exactly its children.
 * `--demo` runs a short client demo first; `--exit` stops after the demo.
 */
import { RaftcacheClient } from '../client/index.js';
import { LocalCluster, exitText, logTail } from './client-cluster.js';
import { boolFlag, numberFlag, parseArgs, stringFlag, withUsage } from './client-args.js';
import { renderStatusTable } from './status.js';

const USAGE =
  'usage: raftcache dev [--nodes 3] [--shards 1] [--replication R] [--dir ./data] [--base-port 7001] [--log-level info] [--demo] [--exit]\n';

export async function main(argv: string[]): Promise<number> {
  return withUsage(USAGE, argv, async () => {
    const args = parseArgs(argv, ['demo', 'exit']);
    const cluster = new LocalCluster({
      nodes: numberFlag(args, 'nodes', 3, 1),
      dir: stringFlag(args, 'dir') ?? './data',
      basePort: numberFlag(args, 'base-port', 7001, 1),
      logLevel: stringFlag(args, 'log-level') ?? 'info',
      extraArgs: devNodeArgs(numberFlag(args, 'shards', 1, 1), stringFlag(args, 'replication')),
    });
    const demo = boolFlag(args, 'demo');
    const exitAfter = boolFlag(args, 'exit');
    const out = (s: string): boolean => process.stdout.write(s);

    let stopping: Promise<number> | undefined;
    const stop = (why: string): Promise<number> => {
      stopping ??= (async () => {
        out(`\n${why}: stopping ${cluster.nodes.length} node(s)…\n`);
        await cluster.stop(5000);
        out('stopped.\n');
        return 0;
      })();
      return stopping;
    };
    let signalled: ((code: number) => void) | undefined;
    const untilSignal = new Promise<number>((r) => {
      signalled = r;
    });
    const onSignal = (sig: NodeJS.Signals): void => {
      void stop(sig).then((code) => signalled?.(code));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    cluster.onUnexpectedExit = (n) => {
      const tail = logTail(n);
      process.stderr.write(`raftcache dev: node ${n.id} exited (${exitText(n)}); see ${n.logPath}\n${tail === '' ? '' : `${tail}\n`}`);
    };

    try {
      out(`starting ${cluster.nodes.length} node(s), data under ${cluster.nodes[0]?.dataDir.replace(/\/n1$/, '')}\n`);
      cluster.startAll();
      await Promise.race([cluster.waitHealthy(30_000), untilSignal]);
      if (stopping !== undefined) return await stopping;
      const leader = await Promise.race([cluster.waitLeader(30_000), untilSignal]);
      if (stopping !== undefined) return await stopping;
      const endpoints = cluster.endpoints().join(',');
      const leaderNode = typeof leader === 'object' ? leader.node : '?';
      out(`cluster up: ${cluster.nodes.length} node(s), leader ${leaderNode}\n`);
      for (const n of cluster.nodes) out(`  n${n.id}  ws://${n.endpoint}/v1  pid ${n.child?.pid ?? '-'}  log ${n.logPath}\n`);
      out(`\nendpoints: ${endpoints}\ntry:  raftcache status --endpoints ${endpoints}\n`);
      out(`      raftcache put --endpoints ${endpoints} hello world\n`);
      if (demo) await runDemo(cluster.endpoints(), out);
      if (exitAfter) return await stop('demo done');
      out('\nCtrl-C to stop.\n');
      return await untilSignal;
    } catch (e) {
      if (stopping !== undefined) return await stopping; // interrupted by a signal
      if (!(e instanceof Error && / exited \(/.test(e.message))) {
        process.stderr.write(`raftcache dev: ${e instanceof Error ? e.message : String(e)}\n`);
      }
      await stop('failure');
      return 1;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}

/** A short tour of the client against the fresh cluster. */
export async function runDemo(endpoints: string[], out: (s: string) => unknown): Promise<void> {
  const client = new RaftcacheClient({ endpoints, timeoutMs: 10_000 });
  const step = (s: string): unknown => out(`  ${s}\n`);
  try {
    out('\ndemo:\n');
    await client.connect();
    const t0 = performance.now();
    for (let i = 1; i <= 5; i++) await client.put(`user:${i}`, `name-${i}`);
    step(`put user:1..5 (${(performance.now() - t0).toFixed(1)} ms for 5 sequential writes)`);
    step(`get user:3 -> ${JSON.stringify(await client.get('user:3'))}`);
    const first = await client.cas('lock', null, 'owner-a');
    const second = await client.cas('lock', null, 'owner-b');
    step(`cas lock absent->owner-a: swapped=${first.swapped}; absent->owner-b: swapped=${second.swapped} (current ${JSON.stringify(second.current)})`);
    await client.incr('visits');
    step(`incr visits by 1, then by 10 -> ${await client.incr('visits', 10)}`);
    await client.put('session:tmp', 'short-lived', { ttlMs: 300 });
    step(`put session:tmp with ttl 300 ms -> get ${JSON.stringify(await client.get('session:tmp'))}`);
    const expired = await waitFor(3000, async () => ((await client.get('session:tmp')) === null ? true : undefined));
    step(`after the ttl: get session:tmp -> ${expired === true ? 'null (expired on log time)' : 'still there after 3 s'}`);
    const rows = await client.clusterStatus();
    for (const r of rows) {
      if (!r.ok || r.status.role === 'leader') continue;
      const follower = new RaftcacheClient({ endpoints: [r.url], discover: false, timeoutMs: 5000 });
      try {
        step(`linearizable read on follower ${r.status.node}: get user:5 -> ${JSON.stringify(await follower.get('user:5'))}`);
      } finally {
        await follower.close();
      }
    }
    out('\n');
    out(renderStatusTable(await client.clusterStatus()));
  } finally {
    await client.close();
  }
}

async function waitFor<T>(ms: number, probe: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined || Date.now() >= deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `start` flags for the layout: --replication only when given (the node's default depends on the shard count). */
function devNodeArgs(shards: number, replication: string | undefined): string[] {
  const out = ['--shards', String(shards)];
  if (replication !== undefined) out.push('--replication', replication);
  return out;
}
