/**
 * Argument parsing shared by the client-side commands (dev, put/get/del/cas,
 * status, bench): `--name value`, `--name=value`, bare `--flag`, positionals.
 */
import { parseEndpoints } from '../client/index.js';

export interface ParsedArgs {
  readonly flags: Map<string, string | true>;
  readonly positional: string[];
}

/** `booleans` are flags that never take a value (`--json`, `--demo`). */
export function parseArgs(argv: readonly string[], booleans: readonly string[] = []): ParsedArgs {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a.length === 2) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) {
      flags.set(a.slice(2, eq), a.slice(eq + 1));
      continue;
    }
    const name = a.slice(2);
    const next = argv[i + 1];
    if (booleans.includes(name) || next === undefined || (next.startsWith('--') && next.length > 2)) {
      flags.set(name, true);
    } else {
      flags.set(name, next);
      i++;
    }
  }
  return { flags, positional };
}

export class UsageError extends Error {}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return v;
}

export function numberFlag(args: ParsedArgs, name: string, fallback: number, min = -Infinity): number {
  const v = stringFlag(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name}: expected a number >= ${min}, got '${v}'`);
  return n;
}

export function boolFlag(args: ParsedArgs, name: string): boolean {
  const v = args.flags.get(name);
  return v === true || v === 'true' || v === '1';
}

export const DEFAULT_ENDPOINTS = '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003';

/** --endpoints, else $RAFTCACHE_ENDPOINTS, else the `raftcache dev` defaults. */
export function endpointsFlag(args: ParsedArgs): string[] {
  const list = stringFlag(args, 'endpoints') ?? process.env['RAFTCACHE_ENDPOINTS'] ?? DEFAULT_ENDPOINTS;
  const urls = parseEndpoints(list);
  if (urls.length === 0) throw new UsageError('--endpoints: no endpoint given');
  return urls;
}

/** Where a command writes (tests pass a capture). */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

export const processOutput: CliOutput = {
  out: (t) => {
    process.stdout.write(t);
  },
  err: (t) => {
    process.stderr.write(t);
  },
};

/** Runs a command body (or prints the usage for --help), turning UsageError into exit code 2 with the usage text. */
export async function withUsage(usage: string, argv: readonly string[], body: () => Promise<number>, output: CliOutput = processOutput): Promise<number> {
  const end = argv.indexOf('--');
  const options = end < 0 ? argv : argv.slice(0, end);
  if (options.includes('--help') || options.includes('-h')) {
    output.out(usage);
    return 0;
  }
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError) {
      output.err(`raftcache: ${e.message}\n\n${usage}`);
      return 2;
    }
    throw e;
  }
}
