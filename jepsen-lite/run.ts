/**
 * jepsen-lite command line: `node dist/jepsen-lite/run.js [flags]` (see
 * README.md). Builds nothing: the nodes run from dist/src/cli/main.js.
 *
 * Exit status: 0 linearizable and every node healthy; 1 not linearizable,
 * unknown, or a node unhealthy; 2 usage error; 3 the harness failed;
 * 130 interrupted (SIGINT / SIGTERM), after stopping everything it started.
 */
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNemesisKinds } from './nemesis.js';
import { DEFAULT_OPTIONS, runJepsen, summaryJson } from './runner.js';
import type { JepsenOptions } from './runner.js';

export const USAGE = `usage: jepsen-lite [--nodes 3] [--time 60] [--clients 10] [--keys 5]
         [--nemesis partition,kill,pause,membership,split|none] [--seed S] [--shards 1] [--unsafe-stale-reads]
         [--out DIR] [--json] [--op-timeout-ms 1500] [--recovery-timeout-ms 30000]
         [--check-timeout-ms 120000] [--drain-timeout-ms 30000] [--keep-data] [--log-level warn]
  membership = add-node,remove-node
`;

export class UsageError extends Error {}

function intFlag(name: string, text: string | undefined, min: number, max: number): number {
  if (text === undefined || !/^\d+$/.test(text)) throw new UsageError(`${name} needs an integer`);
  const n = Number(text);
  if (n < min || n > max) throw new UsageError(`${name} must be in [${min}, ${max}]`);
  return n;
}

export interface ParsedArgs {
  readonly options: JepsenOptions;
  readonly json: boolean;
  readonly help: boolean;
}

export function parseArgs(argv: readonly string[], now = new Date()): ParsedArgs {
  let o: { -readonly [K in keyof JepsenOptions]: JepsenOptions[K] } = {
    ...DEFAULT_OPTIONS,
    seed: Math.floor(Math.random() * 0x7fffffff),
    out: '',
  };
  let json = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] as string;
    const eq = raw.indexOf('=');
    const flag = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
    const value = (): string | undefined => (flag !== raw ? raw.slice(eq + 1) : argv[++i]);
    switch (flag) {
      case '--nodes':
        o = { ...o, nodes: intFlag(flag, value(), 1, 9) };
        break;
      case '--time':
        o = { ...o, timeSec: intFlag(flag, value(), 1, 86_400) };
        break;
      case '--clients':
        o = { ...o, clients: intFlag(flag, value(), 1, 200) };
        break;
      case '--keys':
        o = { ...o, keys: intFlag(flag, value(), 1, 10_000) };
        break;
      case '--shards':
        o = { ...o, shards: intFlag(flag, value(), 1, 256) };
        break;
      case '--seed':
        o = { ...o, seed: intFlag(flag, value(), 0, 0xffffffff) };
        break;
      case '--nemesis': {
        const v = value();
        if (v === undefined) throw new UsageError('--nemesis needs a value');
        try {
          o = { ...o, nemesis: parseNemesisKinds(v) };
        } catch (e) {
          throw new UsageError(e instanceof Error ? e.message : String(e));
        }
        break;
      }
      case '--out': {
        const v = value();
        if (v === undefined || v === '') throw new UsageError('--out needs a directory');
        o = { ...o, out: v };
        break;
      }
      case '--op-timeout-ms':
        o = { ...o, opTimeoutMs: intFlag(flag, value(), 100, 60_000) };
        break;
      case '--recovery-timeout-ms':
        o = { ...o, recoveryTimeoutMs: intFlag(flag, value(), 1000, 600_000) };
        break;
      case '--drain-timeout-ms':
        o = { ...o, drainTimeoutMs: intFlag(flag, value(), 1000, 600_000) };
        break;
      case '--check-timeout-ms':
        o = { ...o, checkTimeoutMs: intFlag(flag, value(), 1000, 3_600_000) };
        break;
      case '--log-level': {
        const v = value();
        if (v === undefined) throw new UsageError('--log-level needs a value');
        o = { ...o, logLevel: v };
        break;
      }
      case '--unsafe-stale-reads':
        o = { ...o, unsafeStaleReads: true };
        break;
      case '--keep-data':
        o = { ...o, keepData: true };
        break;
      case '--json':
        json = true;
        break;
      case '--help':
      case '-h':
        help = true;
        break;
      default:
        throw new UsageError(`unknown option '${raw}'`);
    }
  }
  if (o.nemesis.includes('partition') && o.nodes < 2) throw new UsageError('the partition nemesis needs at least 2 nodes');
  if (o.out === '') {
    const stamp = now.toISOString().replace(/[:.]/g, '-');
    o = { ...o, out: join('jepsen-out', `${stamp}-seed${o.seed}`) };
  }
  return { options: o, json, help };
}

export async function main(argv: readonly string[]): Promise<number> {
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`jepsen-lite: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { options, json } = parsed;
  const abort = new AbortController();
  const onSignal = (): void => {
    process.stderr.write('jepsen-lite: interrupted; healing and stopping the nodes\n');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const log = (line: string): void => {
    (json ? process.stderr : process.stdout).write(`${line}\n`);
  };
  try {
    const r = await runJepsen(options, log, abort.signal);
    const verdict = r.verdict === 'linearizable' ? 'linearizable' : r.verdict === 'not-linearizable' ? 'NOT linearizable' : 'UNKNOWN (checker gave up)';
    if (json) process.stdout.write(`${JSON.stringify(summaryJson(options, r))}\n`);
    else {
      process.stdout.write(`\nverdict: ${verdict}; nodes ${r.healthy ? 'healthy' : 'NOT healthy'}\n`);
      process.stdout.write(`history: ${join(r.outDir, 'history.jsonl')}\nreport:  ${join(r.outDir, 'report.html')}\n`);
    }
    if (abort.signal.aborted) return 130;
    return r.verdict === 'linearizable' && r.healthy ? 0 : 1;
  } catch (e) {
    process.stderr.write(`jepsen-lite: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return abort.signal.aborted ? 130 : 3;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const isEntry = ((): boolean => {
  const arg = process.argv[1];
  if (arg === undefined) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();

if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Client sockets may linger briefly; do not let them hold the exit.
      setTimeout(() => process.exit(code), 500).unref();
    },
    (e: unknown) => {
      process.stderr.write(`jepsen-lite: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(3);
    },
  );
}
