/**
 * Operator commands on the cluster's shape, carried out by the meta group:
 *   raftcache node add ID HOST:CLIENTPORT/PEERPORT --endpoints E
 *   raftcache node remove ID --endpoints E
 *   raftcache shard split SHARD [--at POINT] --endpoints E
 * Each prints the shard map version the command produced (and the new shard
 * for a split; `--json` prints `{"version":…,"shard":…}` instead). Exit code
 * 0 on success, 1 when the cluster refused (REJECTED) or the command failed
 * (message on stderr), 2 on a usage error.
 */
import { RaftcacheClient, RaftcacheError } from '../client/index.js';
import type { NodeAddress } from '../client/index.js';
import { endpointsFlag, numberFlag, parseArgs, processOutput, stringFlag, UsageError, withUsage } from './client-args.js';
import type { CliOutput, ParsedArgs } from './client-args.js';

const COMMON = '  common: --endpoints HOST:PORT,… (default $RAFTCACHE_ENDPOINTS or 127.0.0.1:7001-7003), --timeout MS, --token T, --json\n';

const NODE_USAGE =
  'usage: raftcache node add ID HOST:CLIENTPORT/PEERPORT [--endpoints HOST:PORT,…]\n' +
  '       raftcache node remove ID [--endpoints HOST:PORT,…]\n' +
  '  add: admit a node (new, or removed before); the cluster moves replicas onto it\n' +
  '  remove: drain a node; it is removed once its replicas have moved (then stop it)\n' +
  COMMON;

const SHARD_USAGE =
  'usage: raftcache shard split SHARD [--at POINT] [--endpoints HOST:PORT,…]\n' +
  '  split SHARD in two: a new shard takes its ring positions from POINT up\n' +
  '  (0…4294967295; default: the point that halves the shard\'s span)\n' +
  COMMON;

const MAX_ID = 0xffffffff;

/** A node id: "4" or "n4", 1…2^32-1. */
export function parseNodeId(text: string): number {
  const m = /^n?(\d+)$/.exec(text);
  const id = m === null ? NaN : Number(m[1]);
  if (!Number.isSafeInteger(id) || id < 1 || id > MAX_ID) throw new UsageError(`node id: expected an integer 1…${MAX_ID} (or nN), got '${text}'`);
  return id;
}

/** "HOST:CLIENTPORT/PEERPORT" (an IPv6 host in brackets) → the address of node `id`. */
export function parseNodeAddress(id: number, text: string): NodeAddress {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s/[\]]+):(\d+)\/(\d+)$/.exec(text);
  if (m === null) throw new UsageError(`address: expected HOST:CLIENTPORT/PEERPORT, got '${text}'`);
  const port = (s: string, what: string): number => {
    const p = Number(s);
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new UsageError(`address: ${what} must be 1…65535, got '${s}'`);
    return p;
  };
  const host = (m[1] as string).replace(/^\[(.*)\]$/, '$1');
  return { id, host, clientPort: port(m[2] as string, 'client port'), peerPort: port(m[3] as string, 'peer port') };
}

/** A ring point for --at: an integer 0…2^32-1. */
function ringPoint(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n > MAX_ID) throw new UsageError(`--at: expected a ring point 0…${MAX_ID}, got '${text}'`);
  return n;
}

/** What a command does once connected; returns the line to print. */
type Operation = (client: RaftcacheClient, json: boolean) => Promise<string>;

/** A parsed `node …` / `shard …` command: the label for messages and the operation. */
export interface AdminCommand {
  readonly label: string;
  readonly run: Operation;
}

function expectArgs(args: ParsedArgs, count: number, what: string): string[] {
  if (args.positional.length !== count) throw new UsageError(`${what}: expected ${count - 1} argument(s), got ${args.positional.length - 1}`);
  return args.positional;
}

/** Parses `node add|remove …` (after `node`). Throws UsageError. */
export function parseNodeCommand(args: ParsedArgs): AdminCommand {
  const verb = args.positional[0];
  switch (verb) {
    case 'add': {
      const [, idText, addressText] = expectArgs(args, 3, 'node add') as [string, string, string];
      const node = parseNodeAddress(parseNodeId(idText), addressText);
      return {
        label: 'node add',
        run: async (client, json) => {
          const r = await client.nodeAdd(node);
          return json ? JSON.stringify({ version: r.version }) : `node ${node.id} admitted (map version ${r.version})`;
        },
      };
    }
    case 'remove': {
      const [, idText] = expectArgs(args, 2, 'node remove') as [string, string];
      const id = parseNodeId(idText);
      return {
        label: 'node remove',
        run: async (client, json) => {
          const r = await client.nodeRemove(id);
          return json ? JSON.stringify({ version: r.version }) : `node ${id} draining: removed once its replicas have moved (map version ${r.version})`;
        },
      };
    }
    case undefined:
      throw new UsageError('node: expected a subcommand (add or remove)');
    default:
      throw new UsageError(`node: unknown subcommand '${verb}' (add or remove)`);
  }
}

/** Parses `shard split …` (after `shard`). Throws UsageError. */
export function parseShardCommand(args: ParsedArgs): AdminCommand {
  const verb = args.positional[0];
  if (verb === undefined) throw new UsageError('shard: expected a subcommand (split)');
  if (verb !== 'split') throw new UsageError(`shard: unknown subcommand '${verb}' (split)`);
  const [, shardText] = expectArgs(args, 2, 'shard split') as [string, string];
  const shard = /^\d+$/.test(shardText) ? Number(shardText) : NaN;
  if (!Number.isSafeInteger(shard) || shard < 1 || shard > MAX_ID) throw new UsageError(`shard: expected a data shard id 1…${MAX_ID}, got '${shardText}'`);
  const atText = stringFlag(args, 'at');
  const at = atText === undefined ? undefined : ringPoint(atText);
  return {
    label: 'shard split',
    run: async (client, json) => {
      const r = await client.shardSplit(shard, at);
      return json ? JSON.stringify({ version: r.version, shard: r.shard }) : `shard ${shard} split: new shard ${r.shard} (map version ${r.version})`;
    },
  };
}

export const nodeMain = (argv: string[], output: CliOutput = processOutput): Promise<number> => run(NODE_USAGE, argv, parseNodeCommand, output);
export const shardMain = (argv: string[], output: CliOutput = processOutput): Promise<number> => run(SHARD_USAGE, argv, parseShardCommand, output);

async function run(usage: string, argv: string[], parse: (args: ParsedArgs) => AdminCommand, output: CliOutput): Promise<number> {
  return withUsage(usage, argv, async () => {
    const args = parseArgs(argv, ['json']);
    const command = parse(args); // usage errors before any connection
    const json = args.flags.has('json');
    const token = stringFlag(args, 'token') ?? process.env['RAFTCACHE_TOKEN'];
    const client = new RaftcacheClient({
      endpoints: endpointsFlag(args),
      timeoutMs: numberFlag(args, 'timeout', 10_000, 1),
      ...(token !== undefined ? { token } : {}),
    });
    try {
      await client.connect();
      output.out(`${await command.run(client, json)}\n`);
      return 0;
    } catch (e) {
      if (!(e instanceof RaftcacheError)) throw e;
      const outcome = e.definite ? 'not applied' : 'outcome unknown: check `raftcache status` before retrying';
      output.err(`raftcache ${command.label}: ${e.code}: ${e.message} (${outcome})\n`);
      return 1;
    } finally {
      await client.close();
    }
  }, output);
}
