#!/usr/bin/env node
/**
 * The `raftcache` command. Each subcommand lives in its own module and is
 * loaded on demand, so `raftcache sim` does not pay for the benchmarks.
 */
type Entry = (argv: string[]) => Promise<number>;

const commands: Record<string, { summary: string; load: () => Promise<Entry> }> = {
  demo: {
    summary: 'an in-process 3-replica cluster with the cache state machine: writes, reads, a leader crash and failover',
    load: async () => (await import('./demo.js')).main,
  },
  sim: {
    summary: 'the deterministic Raft simulation: --seeds N --nodes 3|5 --steps N [--first-seed S] [--verbose]',
    load: async () => (await import('../sim/cli.js')).main,
  },
  bench: {
    summary: 'benchmarks: bench lru | ring | checker [--json]',
    load: async () => benchMain,
  },
};

const benches: Record<string, () => Promise<Entry>> = {
  lru: async () => (await import('../bench/lru.js')).main,
  ring: async () => (await import('../bench/ring.js')).main,
  checker: async () => (await import('../bench/checker.js')).main,
};

async function benchMain(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const load = name === undefined ? undefined : benches[name];
  if (load === undefined) {
    process.stderr.write(`usage: raftcache bench <${Object.keys(benches).join('|')}> [--json]\n`);
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
