/**
 * Node configuration: one zod schema for the config file and the `start`
 * flags (flags override the file). A wrong value is reported with its field
 * path and the problem ("raft.tickMs: Too small: expected number to be >=1").
 */
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().min(1);

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s/]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:7001')
  .transform((s, ctx) => {
    const at = s.lastIndexOf(':');
    const host = s.slice(0, at).replace(/^\[(.*)\]$/, '$1');
    const p = Number(s.slice(at + 1));
    if (p > 65535) ctx.addIssue({ code: 'custom', message: `port ${p} is out of range` });
    return { host, port: p };
  });

export const memberSchema = z
  .object({
    id: positiveInt.max(0xffffffff),
    host: z.string().min(1),
    clientPort: port,
    peerPort: port,
  })
  .strict();

export type Member = z.infer<typeof memberSchema>;

/** Parses "1=127.0.0.1:7001/7101,2=…" (id=host:clientPort/peerPort). */
export function parseMembersFlag(text: string): unknown[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((item) => {
      const m = /^(\d+)=(\[[0-9a-fA-F:.]+\]|[^:\s/]+):(\d+)\/(\d+)$/.exec(item);
      if (m === null) return { invalid: item };
      return {
        id: Number(m[1]),
        host: (m[2] ?? '').replace(/^\[(.*)\]$/, '$1'),
        clientPort: Number(m[3]),
        peerPort: Number(m[4]),
      };
    });
}

export const nodeConfigSchema = z
  .object({
    id: positiveInt.max(0xffffffff),
    data: z.string().min(1),
    listen: hostPort,
    peerListen: hostPort,
    members: z.array(memberSchema).min(1),
    /** Shared cluster secret for node-to-node authentication (≥ 16 bytes). */
    secret: z.string().min(16, 'must be at least 16 characters (use 32 random bytes)'),
    /** Client token: when set, clients must send it in `hello` (or an Authorization: Bearer header). */
    token: z.string().min(1).optional(),
    logFormat: z.enum(['json', 'pretty']).default('json'),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    raft: z
      .object({
        tickMs: positiveInt.max(10_000).default(100),
        electionTicks: z.number().int().min(2).default(10),
        heartbeatTicks: positiveInt.default(1),
        maxSizePerMsg: positiveInt.default(1 << 20),
        maxInflightMsgs: positiveInt.default(256),
        maxInflightBytes: z.number().int().min(0).default(0),
        maxUncommittedBytes: z.number().int().min(0).default(64 << 20),
        preVote: z.boolean().default(true),
        checkQuorum: z.boolean().default(true),
        /** Idle groups stop heartbeating (one liveness heartbeat per node pair watches the peers instead). */
        quiesce: z.boolean().default(true),
        /**
         * Snapshot the state machine and compact the log every this many applied
         * entries. A snapshot serializes the whole cache and blocks the event loop
         * while it does (~25–75 ms for 10,000 keys of 100 bytes), so its cost per
         * write is its cost / snapshotEntries; the log holds up to twice this
         * many entries in memory (compaction keeps one interval behind).
         */
        snapshotEntries: positiveInt.default(50_000),
      })
      .strict()
      .prefault({}),
    cache: z
      .object({
        maxEntries: positiveInt.default(1_000_000),
        maxBytes: positiveInt.default(256 << 20),
        sessionTtlMs: positiveInt.default(3_600_000),
        maxSessions: positiveInt.default(10_000),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        maxKeyBytes: positiveInt.default(1024),
        maxValueBytes: positiveInt.default(1 << 20),
        /** Largest client WebSocket frame; a larger one closes the socket with 1009. */
        maxFrameBytes: positiveInt.default(4 << 20),
        /** Keys in one mget / entries in one mput. */
        maxBatchKeys: positiveInt.default(1000),
        /** Client requests waiting for the log or a ReadIndex, per node; beyond: OVERLOADED. */
        maxPending: positiveInt.default(10_000),
        requestTimeoutMs: positiveInt.default(5000),
      })
      .strict()
      .prefault({}),
    /** Data shards (Raft groups 1..shards), laid out over the members by consistent hashing. */
    shards: positiveInt.max(4096).default(1),
    /** Replicas (voters) per shard; capped at the number of members. Default: every member with one shard, else 3 (see effectiveReplication). */
    replication: positiveInt.max(9).optional(),
    /**
     * This node joins a running cluster instead of bootstrapping one: `members`
     * then only says where to find the cluster (at least one running node). The
     * node announces itself to the meta group (`join`), receives the shard map
     * and hosts whatever the meta leader moves onto it.
     */
    join: z.boolean().default(false),
    /**
     * Automatic split: the meta leader splits a data shard whose leader served
     * more than this many client operations per second (writes + reads served
     * by the leader), measured over 5 s. 0 = off (the default).
     */
    splitOpsPerSec: z.number().int().min(0).default(0),
    /** Most data shards automatic splits may create. */
    maxShards: positiveInt.max(4096).default(256),
    /** The meta group marks a node down after this long without a heartbeat; its replicas are then re-placed. Same on every node (bootstrap). */
    downTimeoutMs: positiveInt.default(30_000),
    /** The leader proposes a clock entry when TTL keys are pending and no entry carried time for this long. */
    clockIntervalMs: positiveInt.default(1000),
    /** Most keys in one touch entry. */
    touchMaxKeys: positiveInt.default(1024),
    /**
     * TEST ONLY, UNSAFE: every read is answered from local state without
     * ReadIndex, so followers and deposed leaders serve stale values. Exists so
     * jepsen-lite can show that it catches a broken cache.
     */
    unsafeStaleReads: z.boolean().default(false),
  })
  .strict()
  .superRefine((c, ctx) => {
    const ids = new Set<number>();
    c.members.forEach((m, i) => {
      if (ids.has(m.id)) ctx.addIssue({ code: 'custom', path: ['members', i, 'id'], message: `duplicate member id ${m.id}` });
      ids.add(m.id);
    });
    if (!ids.has(c.id)) ctx.addIssue({ code: 'custom', path: ['members'], message: `must include this node's id ${c.id}` });
    if (c.raft.heartbeatTicks >= c.raft.electionTicks) {
      ctx.addIssue({ code: 'custom', path: ['raft', 'heartbeatTicks'], message: 'must be below raft.electionTicks' });
    }
    if (c.limits.maxFrameBytes < c.limits.maxValueBytes + c.limits.maxKeyBytes) {
      ctx.addIssue({
        code: 'custom',
        path: ['limits', 'maxFrameBytes'],
        message: 'must be at least limits.maxValueBytes + limits.maxKeyBytes',
      });
    }
  });

export type NodeConfig = z.output<typeof nodeConfigSchema>;
export type NodeConfigInput = z.input<typeof nodeConfigSchema>;

/** A config that failed validation; `message` lists every problem as "field: problem". */
export class ConfigError extends Error {
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(`invalid config: ${issues.join('; ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

function issuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? '(root)' : out;
}

/** Validates a config object (file merged with flags). Throws ConfigError naming each bad field. */
export function parseNodeConfig(input: unknown): NodeConfig {
  const r = nodeConfigSchema.safeParse(input);
  if (r.success) return r.data;
  throw new ConfigError(r.error.issues.map((i) => `${issuePath(i.path)}: ${i.message}`));
}

/**
 * Voters per shard: as configured (capped at the member count); by default
 * every member when there is one shard (a single Raft group of the whole
 * cluster), else 3.
 */
export function effectiveReplication(c: Pick<NodeConfig, 'replication' | 'shards' | 'members'>): number {
  const r = c.replication ?? (c.shards === 1 ? c.members.length : 3);
  return Math.min(r, c.members.length);
}

/** This node's entry in the member table. */
export function selfMember(c: NodeConfig): Member {
  const m = c.members.find((x) => x.id === c.id);
  if (m === undefined) throw new ConfigError([`members: must include this node's id ${c.id}`]);
  return m;
}

/** "n2" for node 2 (the client protocol's node names). */
export function nodeName(id: number): string {
  return `n${id}`;
}

/** The client WebSocket URL of a member. */
export function memberUrl(m: Pick<Member, 'host' | 'clientPort'>): string {
  const host = m.host.includes(':') ? `[${m.host}]` : m.host;
  return `ws://${host}:${m.clientPort}/v1`;
}
