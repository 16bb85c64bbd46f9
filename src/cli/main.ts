#!/usr/bin/env node
/**
 * The `raftcache` command. Each subcommand lives in its own module and is
 * loaded on demand, so `raftcache sim` does not pay for the benchmarks.
 */
type Entry = (argv: string[]) => Promise<number>;

const commands: Record<string, { summary: string; load: () => Promise<Entry> }> = {
  demo: {
    summary: 'an in-process simulated 3-replica cluster [--seed N]; demo failover: real nodes, load, kill -9 the leader, checked timeline',
    load: async () => demoMain,
  },
  sim: {
    summary: 'the deterministic Raft simulation: --seeds N --nodes 3|5 --steps N [--first-seed S] [--verbose]',
    load: async () => (await import('../sim/cli.js')).main,
  },
  start: {
    summary: 'run one node: --id N --data DIR --listen H:P --peer-listen H:P --members ID=H:P/PP,... --secret S',
    load: async () => (await import('./start.js')).main,
  },
  dev: {
    summary: 'a local cluster in one command: [--nodes 3] [--dir ./data] [--base-port 7001] [--demo [--exit]]',
    load: async () => (await import('./dev.js')).main,
  },
  put: {
    summary: 'put KEY VALUE [--ttl MS] --endpoints HOST:PORT,...',
    load: async () => (await import('./kv.js')).putMain,
  },
  get: {
    summary: 'get KEY [--consistency linearizable|lease|stale] --endpoints HOST:PORT,... (prints the value alone)',
    load: async () => (await import('./kv.js')).getMain,
  },
  del: {
    summary: 'del KEY --endpoints HOST:PORT,...',
    load: async () => (await import('./kv.js')).delMain,
  },
  cas: {
    summary: 'cas KEY EXPECTED NEW [--expect-absent] [--delete] --endpoints HOST:PORT,...',
    load: async () => (await import('./kv.js')).casMain,
  },
  node: {
    summary: 'node add ID HOST:CLIENTPORT/PEERPORT | node remove ID --endpoints HOST:PORT,... (prints the map version)',
    load: async () => (await import('./admin.js')).nodeMain,
  },
  shard: {
    summary: 'shard split SHARD [--at POINT] --endpoints HOST:PORT,... (prints the new shard and the map version)',
    load: async () => (await import('./admin.js')).shardMain,
  },
  status: {
    summary: 'a table of the nodes (id, role, term, commit, applied, address, pid): --endpoints HOST:PORT,... [--json]',
    load: async () => (await import('./status.js')).main,
  },
  bench: {
    summary: 'benchmarks: bench lru | ring | checker [--json]; bench --endpoints HOST:PORT,... | --dev (cluster load)',
    load: async () => benchMain,
  },
};

const benches: Record<string, () => Promise<Entry>> = {
  lru: async () => (await import('../bench/lru.js')).main,
  ring: async () => (await import('../bench/ring.js')).main,
  checker: async () => (await import('../bench/checker.js')).main,
};

/** `demo` alone: the in-process simulation; `demo failover …`: real processes (demo-failover.ts). */
async function demoMain(argv: string[]): Promise<number> {
  if (argv[0] === 'failover') return (await import('./demo-failover.js')).main(argv.slice(1));
  return (await import('./demo.js')).main(argv);
}

async function benchMain(argv: string[]): Promise<number> {
  // `bench --endpoints …` / `bench --dev …`: the cluster benchmark
  if (argv[0]?.startsWith('--') === true) return (await import('../bench/cluster.js')).main(argv);
  const [name, ...rest] = argv;
  const load = name === undefined ? undefined : benches[name];
  if (load === undefined) {
    process.stderr.write(`usage: raftcache bench <${Object.keys(benches).join('|')}> [--json]\n       raftcache bench --endpoints HOST:PORT,... [--clients 64] [--duration 10] ... | --dev\n`);
    return 2;
  }
  return (await load())(rest);
}

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return `usage: raftcache <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (command === undefined) {
    process.stderr.write(`raftcache: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  return (await command.load())(rest);
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`raftcache: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
