/**
 * `raftcache put|get|del|cas --endpoints HOST:PORT,… …`: one operation
 * through the client. `get` prints the value alone (exit 1 when absent), so
 * scripts can use it.
 */
import { RaftcacheClient, RaftcacheError } from '../client/index.js';
import type { Consistency } from '../client/index.js';
import { endpointsFlag, numberFlag, parseArgs, stringFlag, UsageError, withUsage } from './client-args.js';
import type { ParsedArgs } from './client-args.js';

type Verb = 'put' | 'get' | 'del' | 'cas';

const USAGE: Record<Verb, string> = {
  put: 'usage: raftcache put KEY VALUE [--ttl MS] [--endpoints HOST:PORT,…]\n',
  get: 'usage: raftcache get KEY [--consistency linearizable|lease|stale] [--endpoints HOST:PORT,…]\n',
  del: 'usage: raftcache del KEY [--endpoints HOST:PORT,…]\n',
  cas: 'usage: raftcache cas KEY EXPECTED NEW [--expect-absent] [--delete] [--ttl MS] [--endpoints HOST:PORT,…]\n' +
    '  --expect-absent: swap only if KEY is absent (no EXPECTED); --delete: delete on match (no NEW)\n',
};

const COMMON = ['--endpoints HOST:PORT,… (default $RAFTCACHE_ENDPOINTS or 127.0.0.1:7001-7003)', '--timeout MS', '--token T'];

export const putMain = (argv: string[]): Promise<number> => run('put', argv);
export const getMain = (argv: string[]): Promise<number> => run('get', argv);
export const delMain = (argv: string[]): Promise<number> => run('del', argv);
export const casMain = (argv: string[]): Promise<number> => run('cas', argv);

async function run(verb: Verb, argv: string[]): Promise<number> {
  const usage = `${USAGE[verb]}  common: ${COMMON.join(', ')}\n`;
  return withUsage(usage, argv, async () => {
    const args = parseArgs(argv, ['expect-absent', 'delete']);
    const token = stringFlag(args, 'token') ?? process.env['RAFTCACHE_TOKEN'];
    const client = new RaftcacheClient({
      endpoints: endpointsFlag(args),
      timeoutMs: numberFlag(args, 'timeout', 5000, 1),
      ...(token !== undefined ? { token } : {}),
    });
    const operation = plan(verb, args); // usage errors before any connection
    try {
      await client.connect();
      return await operation(client);
    } catch (e) {
      if (!(e instanceof RaftcacheError)) throw e;
      const outcome = e.definite ? 'not applied' : 'outcome unknown';
      process.stderr.write(`raftcache ${verb}: ${e.code}: ${e.message} (${outcome})\n`);
      return 1;
    } finally {
      await client.close();
    }
  });
}

function positional(args: ParsedArgs, count: number): string[] {
  if (args.positional.length !== count) throw new UsageError(`expected ${count} argument(s), got ${args.positional.length}`);
  return args.positional;
}

type Operation = (client: RaftcacheClient) => Promise<number>;

function plan(verb: Verb, args: ParsedArgs): Operation {
  const ttl = stringFlag(args, 'ttl') === undefined ? undefined : numberFlag(args, 'ttl', 0, 1);
  const writeOptions = ttl !== undefined ? { ttlMs: ttl } : undefined;
  switch (verb) {
    case 'put': {
      const [key, value] = positional(args, 2) as [string, string];
      return async (client) => {
        await client.put(key, value, writeOptions);
        process.stdout.write('OK\n');
        return 0;
      };
    }
    case 'get': {
      const [key] = positional(args, 1) as [string];
      const consistency = (stringFlag(args, 'consistency') ?? 'linearizable') as Consistency;
      if (!['linearizable', 'lease', 'stale'].includes(consistency)) throw new UsageError(`--consistency: unknown '${consistency}'`);
      return async (client) => {
        const value = await client.get(key, { consistency });
        if (value === null) {
          process.stderr.write('(absent)\n');
          return 1;
        }
        process.stdout.write(`${value}\n`);
        return 0;
      };
    }
    case 'del': {
      const [key] = positional(args, 1) as [string];
      return async (client) => {
        process.stdout.write((await client.delete(key)) ? 'deleted\n' : 'absent\n');
        return 0;
      };
    }
    case 'cas': {
      const absent = args.flags.has('expect-absent');
      const del = args.flags.has('delete');
      const rest = positional(args, 3 - (absent ? 1 : 0) - (del ? 1 : 0));
      const key = rest[0] as string;
      const expected = absent ? null : (rest[1] as string);
      const next = del ? null : (rest[absent ? 1 : 2] as string);
      return async (client) => {
        const r = await client.cas(key, expected, next, writeOptions);
        if (r.swapped) {
          process.stdout.write('swapped\n');
          return 0;
        }
        process.stdout.write(`not swapped (current: ${r.current === null ? '(absent)' : JSON.stringify(r.current)})\n`);
        return 1;
      };
    }
  }
}
