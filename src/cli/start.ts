/**
 * `raftcache start`: runs one node until SIGTERM/SIGINT, then closes cleanly
 * (client sockets, peer links, storage flushed) and exits 0.
 *
 *   raftcache start --id 1 --data DIR --listen 127.0.0.1:7001 --peer-listen 127.0.0.1:7101 \
 *     --members 1=127.0.0.1:7001/7101,2=127.0.0.1:7002/7102,3=127.0.0.1:7003/7103 --secret S \
 *     [--config FILE.json] [--log-format json|pretty] [--log-level info] [--token T]
 *
 * Flags override the config file; the merged config is validated with zod and
 * a problem is reported with the field's name.
 */
import { readFile } from 'node:fs/promises';
import { startNodeServer } from '../api/index.js';
import { ConfigError, createLogger, nodeName, parseMembersFlag, parseNodeConfig } from '../node/index.js';
import type { NodeConfig } from '../node/index.js';

const FLAGS: Record<string, string> = {
  '--id': 'id',
  '--data': 'data',
  '--listen': 'listen',
  '--peer-listen': 'peerListen',
  '--members': 'members',
  '--secret': 'secret',
  '--token': 'token',
  '--log-format': 'logFormat',
  '--log-level': 'logLevel',
  '--config': 'config',
  '--shards': 'shards',
  '--replication': 'replication',
  '--down-timeout-ms': 'downTimeoutMs',
  '--split-ops-per-sec': 'splitOpsPerSec',
};

/** Flags without a value. */
const SWITCHES: Record<string, string> = {
  '--unsafe-stale-reads': 'unsafeStaleReads',
  '--join': 'join',
};

const USAGE = `usage: raftcache start --id N --data DIR --listen HOST:PORT --peer-listen HOST:PORT
         --members ID=HOST:CLIENTPORT/PEERPORT,... --secret S
         [--config FILE.json] [--log-format json|pretty] [--log-level info] [--token T]
         [--shards S] [--replication R] [--down-timeout-ms MS]   (every node of a cluster must be given the same)
         [--join]   (join a running cluster: --members lists running nodes and this one)
         [--split-ops-per-sec N]   (the meta leader splits a shard whose leader serves more; 0 = off)
         [--unsafe-stale-reads]   (TEST ONLY: reads skip ReadIndex and may be stale)
`;

export class UsageError extends Error {}

const SWITCHES_BY_FIELD: Record<string, true> = Object.fromEntries(Object.values(SWITCHES).map((f) => [f, true]));

/** Parses argv into { field: text }; throws UsageError for unknown flags or missing values. */
export function parseStartFlags(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const switchField = SWITCHES[arg];
    if (switchField !== undefined) {
      out[switchField] = 'true';
      continue;
    }
    const field = FLAGS[flag];
    if (field === undefined) throw new UsageError(`unknown option '${arg}'`);
    let value: string | undefined;
    if (flag !== arg) value = arg.slice(eq + 1);
    else value = argv[++i];
    if (value === undefined) throw new UsageError(`option '${flag}' needs a value`);
    out[field] = value;
  }
  return out;
}

/** Merges the config file (if any) with the flags and validates the result. */
export async function loadStartConfig(argv: readonly string[]): Promise<NodeConfig> {
  const flags = parseStartFlags(argv);
  let base: Record<string, unknown> = {};
  const file = flags['config'];
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new ConfigError([`config: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`]);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new ConfigError([`config: ${file} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`]);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError([`config: ${file} must hold a JSON object`]);
    }
    base = parsed as Record<string, unknown>;
  }
  const merged: Record<string, unknown> = { ...base };
  for (const [field, text] of Object.entries(flags)) {
    if (field === 'config') continue;
    if (field === 'id' || field === 'shards' || field === 'replication' || field === 'downTimeoutMs' || field === 'splitOpsPerSec') merged[field] = /^\d+$/.test(text) ? Number(text) : text;
    else if (field === 'members') merged['members'] = parseMembersFlag(text);
    else if (field in SWITCHES_BY_FIELD) merged[field] = true;
    else merged[field] = text;
  }
  return parseNodeConfig(merged);
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  let config: NodeConfig;
  try {
    config = await loadStartConfig(argv);
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) {
      process.stderr.write(`raftcache start: ${e.message}\n${e instanceof UsageError ? USAGE : ''}`);
      return 2;
    }
    throw e;
  }
  const logger = createLogger({ format: config.logFormat, level: config.logLevel, base: { node: nodeName(config.id) } });
  if (config.unsafeStaleReads) {
    logger.warn(
      'UNSAFE: --unsafe-stale-reads is on. Reads skip ReadIndex and may return stale values. For testing the checker only; never in production.',
    );
  }
  let running: Awaited<ReturnType<typeof startNodeServer>>;
  try {
    running = await startNodeServer(config, logger);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`raftcache start: ${e.message}\n`);
    return 2;
  }
  const peer = running.node.peerAddress;
  logger.info(
    { url: running.api.url, peer: peer === null ? null : `${peer.host}:${peer.port}`, data: config.data, members: config.members.length },
    `raftcache node ${nodeName(config.id)} ready at ${running.api.url}`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'shutting down');
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      resolve();
    };
    const onTerm = (): void => stop('SIGTERM');
    const onInt = (): void => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
  await running.close();
  logger.info('stopped');
  // Anything still holding the loop open after a clean close must not keep the process alive.
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}
