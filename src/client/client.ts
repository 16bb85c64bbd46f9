/**
 * RaftcacheClient: the TypeScript client of the protocol in PROTOCOL.md.
 *
 * - One pipelined socket per node (NodeConnection); members are discovered
 *   from `status`, shards from `map` (see shard-map.ts). Without a map (a
 *   server without shards, or before connect()) the client sees one shard
 *   over the whole ring served by every member.
 * - Every key is routed by its ring position (murmur3 `hashKey`, binary
 *   search over the map's ranges) to its shard: writes to that shard's
 *   leader (NOT_LEADER hints update that shard's leader only; without a hint
 *   the client rotates over the shard's replicas), linearizable and stale
 *   reads round-robin over the shard's replicas (followers serve ReadIndex),
 *   lease reads to the shard's leader.
 * - WRONG_SHARD (or a newer mapVersion seen in a response or hello) refreshes
 *   the map — one refresh in flight, callers coalesce on it — and the
 *   operation retries on the new route within its deadline.
 * - Writes carry a session of the key's shard group (the server keeps
 *   sessions per Raft group), registered lazily on that group. Every retry of
 *   a write re-sends the same (client, seq), so it is applied at most once.
 * - mget/mput over several shards are split per shard, sent in parallel and
 *   gathered in the caller's order.
 * - Failures are retried with capped, jittered backoff up to the operation's
 *   deadline; the final rejection is a RaftcacheError whose `definite` is false
 *   whenever an attempt of the write may have been applied.
 * - Operator commands (nodeAdd, nodeRemove, join, shardSplit) go to the meta
 *   group's leader, following NOT_LEADER hints; they are never repeated once an
 *   attempt may have been applied, and REJECTED (the meta group refused) is final.
 * - watchMap() (or `watchMap: true`) subscribes to map pushes on one node and
 *   refreshes the map whenever a push announces a newer version.
 */
import { hashKey } from '../shard/index.js';
import { NodeConnection } from './connection.js';
import type { ConnectionOptions, ReplyHandler } from './connection.js';
import { ConnectionFailure, RaftcacheError } from './errors.js';
import { NearCache } from './near-cache.js';
import type { NearCacheOptions, NearCacheStats } from './near-cache.js';
import { MapKeeper } from './map-keeper.js';
import { MapWatch } from './map-watch.js';
import { endpointUrl, toNodeStatus } from './protocol.js';
import type { Consistency, NodeAddress, NodeStatus, RequestFrame, ResponseFrame, SessionField, WireError } from './protocol.js';
import { ClientSession } from './session.js';
import { RoutingTable, ShardRoute } from './shard-map.js';
import type { ShardMapData } from './shard-map.js';

export interface RaftcacheClientOptions {
  /** Seed nodes: "host:port" or ws URLs. */
  readonly endpoints: readonly string[];
  /** Overall deadline of one operation, retries included (default 5000). */
  readonly timeoutMs?: number;
  /** Deadline of one attempt on one node (default min(timeoutMs, 2000)). */
  readonly attemptTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** Client token, sent in `hello` (and as a Bearer header). */
  readonly token?: string;
  /** Name sent in `hello` (default "raftcache-ts/1"). */
  readonly clientName?: string;
  /** Default read consistency (default linearizable). */
  readonly consistency?: Consistency;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /**
   * Learn members from `status` and shards from `map` (default true); false =
   * use only the seeds, as one shard, and never fetch the map.
   */
  readonly discover?: boolean;
  readonly maxPayload?: number;
  /**
   * Opt-in near cache for reads with `consistency: 'stale'` and `maxStaleMs`
   * (never used by linearizable or lease reads). Off by default.
   */
  readonly nearCache?: NearCacheOptions;
  /**
   * Re-read the shard map every this many ms while open (0 = never, the
   * default). Servers do not push map changes yet; WRONG_SHARD and newer
   * mapVersions seen in responses refresh it in any case.
   */
  readonly mapPollMs?: number;
  /**
   * Subscribe to map pushes (`watch`) on connect() (default false): the client
   * refreshes its map as soon as a node adopts a newer one. See watchMap().
   */
  readonly watchMap?: boolean;
}

/** The outcome of an operator command: the shard map's version after it. */
export interface AdminResult {
  readonly version: number;
}

/** The outcome of shardSplit: the map version and the new shard's id. */
export interface SplitResult extends AdminResult {
  readonly shard: number;
}

export interface ReadOptions {
  readonly consistency?: Consistency;
  /**
   * With `consistency: 'stale'` and a near cache: a cached result at most this
   * old (ms) may answer the read. Without it the near cache is not used.
   */
  readonly maxStaleMs?: number;
}

export interface WriteOptions {
  readonly ttlMs?: number;
}

export interface CasResult {
  readonly swapped: boolean;
  readonly current: string | null;
}

export interface MputEntry {
  readonly key: string;
  readonly value: string;
  readonly ttlMs?: number;
}

export type NodeStatusResult =
  | { readonly url: string; readonly ok: true; readonly status: NodeStatus }
  | { readonly url: string; readonly ok: false; readonly error: string };

/** One shard as the client routes to it (urls, not node ids). */
export interface ShardView {
  readonly shard: number;
  readonly group: number;
  /** Inclusive [start, end] ring ranges, sorted. */
  readonly ranges: readonly (readonly [number, number])[];
  readonly replicas: readonly string[];
  readonly leader: string | null;
}

/** The client's map: `version` is -1 while no map is known (seeds as one shard). */
export interface ShardMapView {
  readonly version: number;
  /** True when the map came from the server's `map` op (false: the one-shard fallback). */
  readonly fromServer: boolean;
  readonly shards: readonly ShardView[];
}

type Route = 'leader' | 'any';

/** The shard an attempt goes to, re-evaluated before every attempt; null = re-plan the operation. */
type Locate = () => ShardRoute | null;

interface Plan {
  readonly route: Route;
  /** A lost attempt may have changed state. */
  readonly isWrite: boolean;
  /** Without it (a write without a session), an attempt that may have been applied is not repeated. */
  readonly retrySafe: boolean;
  readonly session: { readonly field: SessionField; readonly owner: ClientSession } | null;
  readonly locate: Locate;
  readonly deadline: number;
  /** Only the leader answers ok (operator commands): an ok answer names the leader when none was known. */
  readonly okMeansLeader?: boolean;
}

/**
 * Internal: the operation no longer fits the route it was planned on (its
 * key moved to another group, or a multi-key part now spans shards).
 */
class Rerouted extends Error {
  constructor(readonly maybeApplied: boolean) {
    super('rerouted');
  }
}

/** An operation's first attempt, already sent: the retry loop carries on from its reply. */
interface FirstAttempt {
  readonly shard: ShardRoute;
  readonly url: string;
  readonly reply: Promise<ResponseFrame>;
}

/** A write whose first attempt was sent by the fast path (see FastOp). */
interface WriteResume {
  readonly hash: number;
  readonly group: number;
  readonly session: ClientSession;
  readonly field: SessionField;
  readonly attempt: FirstAttempt;
}

/** What a FastOp needs of its client (made once per client). */
interface OpHost {
  /** What the retry loop does with an ok answer from `url`. */
  answered(url: string, res: ResponseFrame): void;
  /** A local write of the key is settled: drop its near-cache entry. */
  wrote(key: string, hash: number): void;
  /** The first attempt did not end ok: the general retry loop carries on from its reply. */
  resume(op: FirstAttemptOp, reply: Promise<ResponseFrame>): Promise<ResponseFrame>;
}

/** A FastOp as the client sees it, whatever its result type. */
interface FirstAttemptOp extends ReplyHandler {
  readonly frame: RequestFrame;
  readonly key: string;
  readonly hash: number;
  readonly route: Route;
  readonly deadline: number;
  readonly shard: ShardRoute;
  readonly url: string;
  readonly session: ClientSession | null;
  readonly group: number;
  readonly field: SessionField | null;
  /** Hands the operation to the general retry loop from this attempt's `reply`. */
  carryOn(reply: Promise<ResponseFrame>): void;
}

const RETRY_CODES = new Set(['NOT_LEADER', 'WRONG_SHARD', 'OVERLOADED', 'UNAVAILABLE', 'TIMEOUT']);

export class RaftcacheClient {
  private readonly seeds: string[];
  private readonly timeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly defaultConsistency: Consistency;
  private readonly discover: boolean;
  private readonly mapPollMs: number;
  private readonly connOptions: ConnectionOptions;

  private readonly conns = new Map<string, NodeConnection>();
  /** Urls of every known member, in member order. */
  private memberUrls: string[];
  private readonly nodeUrls = new Map<string, string>();
  private readonly downUntil = new Map<string, number>();

  private readonly maps: MapKeeper;
  private readonly watcher: MapWatch;
  private readonly watchOnConnect: boolean;
  /** Where operator commands go: every member, the meta leader as last learned. */
  private meta: ShardRoute | null = null;
  private metaMembers: readonly string[] | null = null;

  /** Sessions per shard group (the server keeps sessions per Raft group). */
  private readonly sessions = new Map<number, ClientSession>();
  private readonly registering = new Map<number, Promise<ClientSession>>();

  private readonly nearCache: NearCache | null;
  private readonly opHost: OpHost;

  private closed = false;
  /** A map fetch was tried (connect() or the first operation). */
  private mapTried = false;
  private firstMapLoad: Promise<void> | null = null;
  private signalClosed: () => void = () => {};
  private readonly closedSignal: Promise<void>;

  constructor(options: RaftcacheClientOptions) {
    if (options.endpoints.length === 0) throw new RangeError('RaftcacheClient: endpoints must not be empty');
    this.seeds = [...new Set(options.endpoints.map(endpointUrl))];
    this.memberUrls = [...this.seeds];
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? Math.min(this.timeoutMs, 2000);
    this.backoffBaseMs = options.backoffBaseMs ?? 10;
    this.backoffMaxMs = options.backoffMaxMs ?? 250;
    this.defaultConsistency = options.consistency ?? 'linearizable';
    this.discover = options.discover ?? true;
    this.mapPollMs = options.mapPollMs ?? 0;
    this.watchOnConnect = options.watchMap ?? false;
    this.nearCache = options.nearCache !== undefined ? new NearCache(options.nearCache) : null;
    const connectTimeoutMs = options.connectTimeoutMs ?? Math.min(this.attemptTimeoutMs, 1000);
    this.connOptions = {
      clientName: options.clientName ?? 'raftcache-ts/1',
      connectTimeoutMs,
      sweepMs: Math.max(5, Math.min(50, Math.floor(this.attemptTimeoutMs / 10))),
      onMapVersion: (v) => this.maps.note(v),
      onPush: (url, push) => this.watcher.onPush(url, push),
      onDrop: (url) => this.watcher.onDrop(url),
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(options.maxPayload !== undefined ? { maxPayload: options.maxPayload } : {}),
    };
    this.closedSignal = new Promise<void>((resolve) => {
      this.signalClosed = resolve;
    });
    this.maps = new MapKeeper(
      {
        request: (url, frame, deadline) => this.conn(url).request(frame, deadline),
        mapSources: () => [...new Set([...this.memberUrls, ...this.seeds])],
        installed: (map, old) => this.installed(map, old),
        attemptTimeoutMs: this.attemptTimeoutMs,
      },
      this.discover,
      this.seeds,
      this.closedSignal,
    );
    this.opHost = {
      answered: (url, res) => this.answered(url, res),
      wrote: (key, hash) => this.nearCache?.invalidate(key, hash),
      resume: (op, reply) => this.resume(op, reply),
    };
    this.watcher = new MapWatch({
      request: (url, frame, deadline) => this.conn(url).request(frame, deadline),
      sources: () => [...new Set([...this.memberUrls, ...this.seeds])],
      note: (v) => this.maps.note(v),
      attemptTimeoutMs: this.attemptTimeoutMs,
      retryMs: Math.max(this.backoffMaxMs, 100),
    });
  }

  /** The routing table in use (the map keeper replaces it on refresh). */
  private get table(): RoutingTable {
    return this.maps.table;
  }

  /** Urls of the known members. */
  get members(): readonly string[] {
    return this.memberUrls;
  }

  /** Url of the first shard's leader as last learned, or null (with one shard: the leader). */
  get leader(): string | null {
    return this.table.routes[0]?.leaderUrl ?? null;
  }

  /** Version of the shard map the client routes by; -1 while none is known. */
  get mapVersion(): number {
    return this.table.version;
  }

  /** A snapshot of the shard map the client routes by. */
  shardMap(): ShardMapView {
    const t = this.table;
    return { version: t.version, fromServer: this.maps.sharded, shards: t.routes.map((r) => viewOf(t, r)) };
  }

  /** The shard `key` routes to under the current map. */
  shardOf(key: string): ShardView {
    const t = this.table;
    return viewOf(t, t.routeOfHash(hashKey(key)));
  }

  /** Hits, misses and size of the near cache, or null without one. */
  nearCacheStats(): NearCacheStats | null {
    return this.nearCache?.stats() ?? null;
  }

  /**
   * Reaches a seed, learns members and leader from its `status`, then the
   * shard map from `map` (a server without shards info: one shard over all
   * members). Retries the seeds until timeoutMs; rejects with UNAVAILABLE
   * when none answers, BAD_MAP when the map is malformed.
   */
  async connect(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    let last = 'no seed answered';
    for (let attempt = 0; ; attempt++) {
      for (const url of this.seeds) {
        this.checkOpen(false);
        try {
          const res = await this.conn(url).request({ id: 0, op: 'status' }, Math.min(deadline, Date.now() + this.attemptTimeoutMs));
          if (res.ok) {
            this.learnStatus(toNodeStatus(res));
            await this.maps.load(url, deadline);
            this.mapTried = true;
            this.maps.startPolling(this.mapPollMs);
            // Failing to subscribe does not fail connect(): it retries in the background.
            if (this.watchOnConnect) this.watcher.ensure();
            return;
          }
          last = `${url}: ${res.error?.code ?? 'error'} ${res.error?.message ?? ''}`;
          if (res.error?.code === 'UNAUTHORIZED') throw this.serverError(res.error, true);
        } catch (e) {
          if (e instanceof RaftcacheError) throw e;
          last = e instanceof Error ? e.message : String(e);
        }
      }
      if (Date.now() >= deadline) {
        throw new RaftcacheError({ code: 'UNAVAILABLE', message: `cannot reach any seed (${last})`, definite: true });
      }
      await this.sleep(this.backoff(attempt));
    }
  }

  /**
   * An operation on a client that was not `connect()`ed: fetch the shard map
   * first (once; coalesced), so keys route to their shard from the start.
   */
  private async firstMap(deadline: number): Promise<void> {
    this.firstMapLoad ??= this.maps.refresh(undefined, deadline).then(() => {
      this.mapTried = true;
    });
    await this.maps.untilDeadline(this.firstMapLoad, deadline);
  }

  /** Fetches the shard map now (coalesced with a refresh in flight); resolves with the version routed by. */
  async refreshMap(): Promise<number> {
    this.checkOpen(false);
    const deadline = Date.now() + this.timeoutMs;
    await this.maps.untilDeadline(this.maps.refresh(undefined, deadline), deadline);
    return this.table.version;
  }

  get(key: string, options?: ReadOptions): Promise<string | null> {
    try {
      const frame: RequestFrame = { id: 0, op: 'get', key };
      const consistency = options?.consistency ?? this.defaultConsistency;
      if (consistency !== 'linearizable') frame['consistency'] = consistency; // the server's default
      const cache = this.nearCache;
      const maxStaleMs = options?.maxStaleMs;
      if (cache === null || consistency !== 'stale' || maxStaleMs === undefined) {
        return this.readFast(frame, hashKey(key), consistency === 'lease' ? 'leader' : 'any', valueOf);
      }
      return this.getNear(frame, key, cache, consistency, maxStaleMs);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** A stale read that the near cache may answer. */
  private async getNear(frame: RequestFrame, key: string, cache: NearCache, consistency: Consistency, maxStaleMs: number): Promise<string | null> {
    const hash = hashKey(key);
    const hit = cache.lookup(key, maxStaleMs);
    if (hit !== undefined) return hit;
    const ticket = cache.ticket(hash);
    const sentAt = Date.now();
    const value = stringOrNull((await this.read(frame, hash, consistency))['value']);
    cache.store(key, hash, value, sentAt, ticket);
    return value;
  }

  /** Like get, but binary-safe (base64 on the wire). Never uses the near cache. */
  async getBytes(key: string, options?: ReadOptions): Promise<Uint8Array | null> {
    const consistency = options?.consistency ?? this.defaultConsistency;
    const res = await this.read({ id: 0, op: 'get', key, consistency, encoding: 'base64' }, hashKey(key), consistency);
    const v = res['value'];
    return typeof v === 'string' ? new Uint8Array(Buffer.from(v, 'base64')) : null;
  }

  put(key: string, value: string | Uint8Array, options?: WriteOptions): Promise<void> {
    try {
      const frame: RequestFrame = { id: 0, op: 'put', key, value: '' };
      if (typeof value === 'string') frame['value'] = value;
      else {
        frame['value'] = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
        frame['encoding'] = 'base64';
      }
      if (options?.ttlMs !== undefined) frame['ttlMs'] = options.ttlMs;
      return this.writeFast(frame, key, nothing);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  delete(key: string): Promise<boolean> {
    return this.writeFast({ id: 0, op: 'delete', key }, key, deletedOf);
  }

  /** Sets `key` to `next` (null = delete) if its value is `expected` (null = absent). */
  cas(key: string, expected: string | null, next: string | null, options?: WriteOptions): Promise<CasResult> {
    const frame: RequestFrame = { id: 0, op: 'cas', key, expected, value: next };
    if (options?.ttlMs !== undefined) frame['ttlMs'] = options.ttlMs;
    return this.writeFast(frame, key, casResultOf);
  }

  incr(key: string, by = 1): Promise<number> {
    return this.writeFast({ id: 0, op: 'incr', key, by }, key, incrValueOf);
  }

  /**
   * Values of `keys` in their order (null where absent). Keys of several
   * shards are split per shard and read in parallel; any part's failure
   * fails the call. Never uses the near cache.
   */
  async mget(keys: readonly string[], options?: ReadOptions): Promise<(string | null)[]> {
    this.checkOpen(false);
    const consistency = options?.consistency ?? this.defaultConsistency;
    const out = new Array<string | null>(keys.length).fill(null);
    if (keys.length === 0) return out;
    const hashes = hashAll(keys);
    await this.mgetSpan(keys, hashes, null, out, consistency, Date.now() + this.timeoutMs);
    return out;
  }

  /**
   * Writes several keys. Per shard, one entry carries a session (retried with
   * the same seq); several entries carry none (the server takes sessions only
   * for one entry), so such a part is not retried once an attempt may have
   * been applied. Parts of different shards go in parallel; if any fails the
   * call fails, `definite` only when no part may have been applied.
   */
  async mput(entries: readonly MputEntry[]): Promise<void> {
    this.checkOpen(false);
    const hashes = new Uint32Array(entries.length);
    for (let i = 0; i < entries.length; i++) hashes[i] = hashKey((entries[i] as MputEntry).key);
    this.invalidateAll(entries, hashes);
    try {
      await this.mputSpan(entries, hashes, null, Date.now() + this.timeoutMs);
    } finally {
      this.invalidateAll(entries, hashes);
    }
  }

  // ---- the map watch ----

  /**
   * Subscribes to shard map pushes on one node (`watch`): from then on the
   * client fetches the map as soon as a push announces a newer version, and
   * re-subscribes on another member when that socket drops. Resolves with the
   * version the node reported. Rejects with BAD_REQUEST when no node supports
   * `watch`, UNAVAILABLE when none answered within timeoutMs.
   */
  async watchMap(): Promise<number> {
    this.checkOpen(false);
    const deadline = Date.now() + this.timeoutMs;
    if (!this.mapTried && this.discover) await this.firstMap(deadline);
    return this.watcher.start(deadline);
  }

  /** Map version pushes received (`{event: "map"}` frames on the watched socket). */
  get mapPushes(): number {
    return this.watcher.pushes;
  }

  // ---- operator commands (the meta group) ----

  /** Admits a node (new, or removed before): the cluster moves replicas onto it. */
  nodeAdd(node: NodeAddress): Promise<AdminResult> {
    return this.admin({ id: 0, op: 'nodeAdd', node: addressField(node) });
  }

  /** Drains node `id`: its replicas move away, then it is `removed` (and may be stopped). */
  nodeRemove(id: number): Promise<AdminResult> {
    return this.admin({ id: 0, op: 'nodeRemove', node: id });
  }

  /** A starting node announces itself (`raftcache start --join`): registered and admitted. */
  join(node: NodeAddress): Promise<AdminResult> {
    return this.admin({ id: 0, op: 'join', node: addressField(node) });
  }

  /** Splits data shard `shard` at ring point `at` (default: the middle of its span) into a new shard. */
  async shardSplit(shard: number, at?: number): Promise<SplitResult> {
    const frame: RequestFrame = { id: 0, op: 'shardSplit', shard };
    if (at !== undefined) frame['at'] = at;
    const r = await this.admin(frame);
    if (r.shard === undefined) throw new RaftcacheError({ code: 'INTERNAL', message: 'shardSplit: no shard id in the response', definite: false });
    return { version: r.version, shard: r.shard };
  }

  /**
   * Sends an operator command to the meta leader: any member answers
   * NOT_LEADER with the meta leader's URL, which the retry loop follows.
   * Not retried once an attempt may have been applied (a repeated nodeAdd
   * would be refused, a repeated split would split again): that ends in
   * TIMEOUT with definite false. REJECTED is thrown as is (definite).
   */
  private async admin(frame: RequestFrame): Promise<{ version: number; shard?: number }> {
    const res = await this.execute(frame, {
      route: 'leader',
      isWrite: true,
      retrySafe: false,
      session: null,
      locate: () => this.metaRoute(),
      deadline: Date.now() + this.timeoutMs,
      okMeansLeader: true,
    });
    const version = res['version'];
    if (typeof version !== 'number') {
      throw new RaftcacheError({ code: 'INTERNAL', message: `${frame.op}: no version in the response`, definite: false });
    }
    this.maps.note(version);
    const shard = res['shard'];
    return typeof shard === 'number' ? { version, shard } : { version };
  }

  /** The meta group's route: every member (any of them redirects), rebuilt when the members change. */
  private metaRoute(): ShardRoute {
    let r = this.meta;
    if (r === null || this.metaMembers !== this.memberUrls) {
      r = new ShardRoute(0, r?.group ?? 0, [...this.memberUrls], r?.leaderUrl ?? null);
      this.meta = r;
      this.metaMembers = this.memberUrls;
    }
    return r;
  }

  /** `status` of one node: the first shard's leader when known, else any of its replicas. */
  async status(): Promise<NodeStatus> {
    const first = (): ShardRoute => this.table.routes[0] as ShardRoute;
    const res = await this.execute(
      { id: 0, op: 'status' },
      {
        route: first().leaderUrl !== null ? 'leader' : 'any',
        isWrite: false,
        retrySafe: true,
        session: null,
        locate: first,
        deadline: Date.now() + this.timeoutMs,
      },
    );
    const s = toNodeStatus(res);
    this.learnStatus(s);
    return s;
  }

  /** `status` of every known member (one round, no retries). */
  async clusterStatus(): Promise<NodeStatusResult[]> {
    this.checkOpen(false);
    const urls = [...this.memberUrls];
    const deadline = Date.now() + this.attemptTimeoutMs;
    return Promise.all(
      urls.map(async (url): Promise<NodeStatusResult> => {
        try {
          const res = await this.conn(url).request({ id: 0, op: 'status' }, deadline);
          if (!res.ok) return { url, ok: false, error: `${res.error?.code ?? 'error'}: ${res.error?.message ?? ''}` };
          const status = toNodeStatus(res);
          return { url, ok: true, status };
        } catch (e) {
          return { url, ok: false, error: e instanceof Error ? e.message : String(e) };
        }
      }),
    );
  }

  /** Closes every socket; operations in flight reject with CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.maps.close();
    this.watcher.close();
    this.signalClosed();
    for (const c of this.conns.values()) c.close();
  }

  // ---- reads and writes ----

  /**
   * A read of one key: the fast path sends the first attempt itself (see
   * FastOp) when nothing stands in its way; otherwise, and for every retry,
   * the general loop (`read` → `execute`) does the work.
   */
  private readFast<T>(frame: RequestFrame, hash: number, route: Route, done: (res: ResponseFrame) => T): Promise<T> {
    if (this.closed || (!this.mapTried && this.discover)) return this.execute(frame, this.readPlan(hash, route, Date.now() + this.timeoutMs)).then(done);
    const now = Date.now();
    const deadline = now + this.timeoutMs;
    const shard = this.table.routeOfHash(hash);
    const url = route === 'leader' && shard.leaderUrl !== null ? shard.leaderUrl : this.nextReplica(shard);
    const op = new FastOp(this.opHost, frame, '', hash, route, deadline, Math.min(deadline, now + this.attemptTimeoutMs), shard, url, done, null, 0, null);
    this.sendFirst(op);
    return op.promise;
  }

  /** A write of one key with a session (see `write`); the fast path as in readFast. */
  private writeFast<T>(frame: RequestFrame, key: string, done: (res: ResponseFrame) => T): Promise<T> {
    try {
      if (this.closed || (!this.mapTried && this.discover) || this.timeoutMs <= 0) return this.write(frame, key).then(done);
      const hash = hashKey(key);
      const shard = this.table.routeOfHash(hash);
      const group = shard.group;
      const session = this.sessions.get(group);
      if (session === undefined) return this.write(frame, key).then(done);
      const now = Date.now();
      const deadline = now + this.timeoutMs;
      this.nearCache?.invalidate(key, hash);
      const field = session.begin();
      frame['session'] = field;
      const url = shard.leaderUrl !== null ? shard.leaderUrl : this.nextReplica(shard);
      field.firstIncomplete = session.lowestIncomplete;
      const op = new FastOp(this.opHost, frame, key, hash, 'leader', deadline, Math.min(deadline, now + this.attemptTimeoutMs), shard, url, done, session, group, field);
      this.sendFirst(op);
      return op.promise;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Sends a FastOp's first attempt: on the open socket with the op as handler, else through request(). */
  private sendFirst(op: FirstAttemptOp): void {
    const conn = this.conn(op.url);
    try {
      if (conn.dispatch(op.frame, op)) return;
    } catch (e) {
      op.carryOn(Promise.reject(e));
      return;
    }
    op.carryOn(conn.request(op.frame, op.attemptDeadline));
  }

  /** The general loop carries on after a FastOp's first attempt. */
  private resume(op: FirstAttemptOp, reply: Promise<ResponseFrame>): Promise<ResponseFrame> {
    const attempt: FirstAttempt = { shard: op.shard, url: op.url, reply };
    if (op.session === null || op.field === null) {
      return this.execute(op.frame, this.readPlan(op.hash, op.route, op.deadline), attempt);
    }
    return this.write(op.frame, op.key, op.deadline, { hash: op.hash, group: op.group, session: op.session, field: op.field, attempt });
  }

  /** What the retry loop does with an ok answer (besides returning it). */
  private answered(url: string, res: ResponseFrame): void {
    if (this.downUntil.size > 0) this.downUntil.delete(url);
    const v = res['mapVersion'];
    if (typeof v === 'number') this.maps.note(v);
  }

  private readPlan(hash: number, route: Route, deadline: number): Plan {
    return { route, isWrite: false, retrySafe: true, session: null, locate: () => this.table.routeOfHash(hash), deadline };
  }

  private read(frame: RequestFrame, hash: number, consistency: Consistency): Promise<ResponseFrame> {
    return this.execute(frame, this.readPlan(hash, consistency === 'lease' ? 'leader' : 'any', Date.now() + this.timeoutMs));
  }

  /**
   * A write of `key` with a session of the key's shard group: registers
   * lazily on that group, numbers the write, retries with the same seq. If
   * the key moves to another group (a shard split) the write starts over
   * under that group's session — unless an attempt may have been applied,
   * which makes the outcome unknown (definite: false). With `resume`, the
   * first iteration carries on from a first attempt writeFast already sent.
   */
  private async write(frame: RequestFrame, key: string, deadline = Date.now() + this.timeoutMs, resume: WriteResume | null = null): Promise<ResponseFrame> {
    if (resume === null) this.checkOpen(false);
    const hash = resume?.hash ?? hashKey(key);
    if (resume === null) this.nearCache?.invalidate(key, hash);
    try {
      for (;;) {
        let group: number;
        let session: ClientSession;
        let field: SessionField;
        let first: FirstAttempt | null = null;
        if (resume !== null) {
          ({ group, session, field } = resume);
          first = resume.attempt;
          resume = null;
        } else {
          this.checkOpen(false);
          if (Date.now() >= deadline) {
            throw new RaftcacheError({ code: 'TIMEOUT', message: `${frame.op}: no outcome within ${this.timeoutMs} ms (the key's shard kept moving)`, definite: true });
          }
          group = this.table.routeOfHash(hash).group;
          try {
            session = this.sessions.get(group) ?? (await this.register(group, deadline));
          } catch (e) {
            if (e instanceof Rerouted) continue; // the group left the map while registering
            throw e;
          }
          field = session.begin();
          frame['session'] = field;
        }
        const inGroup = group;
        try {
          return await this.execute(frame, {
            route: 'leader',
            isWrite: true,
            retrySafe: true,
            session: { field, owner: session },
            locate: () => {
              const r = this.table.routeOfHash(hash);
              return r.group === inGroup ? r : null;
            },
            deadline,
          }, first);
        } catch (e) {
          if (e instanceof Rerouted) {
            if (!e.maybeApplied) continue;
            throw new RaftcacheError({
              code: 'TIMEOUT',
              message: `${frame.op}: the key moved to another shard group while an attempt's outcome was unknown`,
              definite: false,
            });
          }
          // A session the server forgot, on a write certainly not applied:
          // register again and retry the write under the new session.
          if (e instanceof RaftcacheError && e.code === 'SESSION_EXPIRED' && e.definite) {
            if (this.sessions.get(inGroup) === session) this.sessions.delete(inGroup);
            continue;
          }
          throw e;
        } finally {
          session.complete(field.seq);
        }
      }
    } finally {
      this.nearCache?.invalidate(key, hash);
    }
  }

  /** Registers a session on `group` (one registration in flight per group). */
  private register(group: number, deadline: number): Promise<ClientSession> {
    let p = this.registering.get(group);
    if (p === undefined) {
      const frame: RequestFrame = { id: 0, op: 'register' };
      if (this.maps.sharded) frame['group'] = group; // a server without shards has one group
      p = this.execute(frame, {
        route: 'leader',
        isWrite: false,
        retrySafe: true,
        session: null,
        locate: () => this.table.byGroup(group) ?? null,
        deadline,
      })
        .then((res) => {
          const c = res['client'];
          if (typeof c !== 'string' && typeof c !== 'number') {
            throw new RaftcacheError({ code: 'INTERNAL', message: 'register: no client id in the response', definite: true });
          }
          const session = new ClientSession(String(c));
          this.sessions.set(group, session);
          return session;
        })
        .finally(() => {
          this.registering.delete(group);
        });
      this.registering.set(group, p);
    }
    return p;
  }

  /** Reads keys[idx] (idx null = all keys) into `out`, split per shard. */
  private async mgetSpan(
    keys: readonly string[],
    hashes: Uint32Array,
    idx: readonly number[] | null,
    out: (string | null)[],
    consistency: Consistency,
    deadline: number,
  ): Promise<void> {
    const parts = this.splitByShard(hashes, idx);
    if (parts.length === 1) return this.mgetPart(keys, hashes, idx, out, consistency, deadline);
    const settled = await Promise.allSettled(parts.map((part) => this.mgetPart(keys, hashes, part, out, consistency, deadline)));
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
  }

  private async mgetPart(
    keys: readonly string[],
    hashes: Uint32Array,
    part: readonly number[] | null,
    out: (string | null)[],
    consistency: Consistency,
    deadline: number,
  ): Promise<void> {
    const partKeys = part === null ? keys : part.map((i) => keys[i] as string);
    let res: ResponseFrame;
    try {
      res = await this.execute(
        { id: 0, op: 'mget', keys: partKeys, consistency },
        {
          route: consistency === 'lease' ? 'leader' : 'any',
          isWrite: false,
          retrySafe: true,
          session: null,
          locate: this.spanLocator(hashes, part),
          deadline,
        },
      );
    } catch (e) {
      if (!(e instanceof Rerouted)) throw e;
      return this.mgetSpan(keys, hashes, part ?? indices(keys.length), out, consistency, deadline);
    }
    const vs = res['values'];
    if (!Array.isArray(vs)) return;
    for (let j = 0; j < partKeys.length; j++) out[part === null ? j : (part[j] as number)] = stringOrNull(vs[j]);
  }

  private async mputSpan(entries: readonly MputEntry[], hashes: Uint32Array, idx: readonly number[] | null, deadline: number): Promise<void> {
    const parts = this.splitByShard(hashes, idx);
    if (parts.length <= 1) return this.mputPart(entries, hashes, idx, deadline);
    const settled = await Promise.allSettled(parts.map((part) => this.mputPart(entries, hashes, part, deadline)));
    let first: unknown;
    let failed = 0;
    let definite = true;
    for (const s of settled) {
      if (s.status === 'fulfilled') {
        definite = false; // that part was applied
        continue;
      }
      failed++;
      first ??= s.reason;
      if (!(s.reason instanceof RaftcacheError) || !s.reason.definite) definite = false;
    }
    if (failed === 0) return;
    const e = first instanceof RaftcacheError ? first : new RaftcacheError({ code: 'INTERNAL', message: String(first), definite: false });
    throw new RaftcacheError({
      code: e.code,
      message: `mput: ${failed} of ${parts.length} shard parts failed (first: ${e.message})`,
      definite,
      hints: { ...e.hints, parts: parts.length, failedParts: failed },
      cause: e,
    });
  }

  private async mputPart(entries: readonly MputEntry[], hashes: Uint32Array, part: readonly number[] | null, deadline: number): Promise<void> {
    const partEntries = part === null ? entries : part.map((i) => entries[i] as MputEntry);
    const frame: RequestFrame = { id: 0, op: 'mput', entries: partEntries };
    const one = partEntries[0];
    if (partEntries.length === 1 && one !== undefined) {
      await this.write(frame, one.key, deadline); // one entry: with a session
      return;
    }
    try {
      await this.execute(frame, {
        route: 'leader',
        isWrite: true,
        retrySafe: false,
        session: null,
        locate: partEntries.length === 0 ? () => this.table.routes[0] as ShardRoute : this.spanLocator(hashes, part),
        deadline,
      });
    } catch (e) {
      if (!(e instanceof Rerouted)) throw e;
      if (e.maybeApplied) {
        throw new RaftcacheError({ code: 'TIMEOUT', message: 'mput: keys moved between shards while an attempt was unanswered', definite: false });
      }
      await this.mputSpan(entries, hashes, part ?? indices(entries.length), deadline);
    }
  }

  /** Positions (idx, or all) grouped by shard, each group in caller order, groups by first position. */
  private splitByShard(hashes: Uint32Array, idx: readonly number[] | null): number[][] {
    const t = this.table;
    const n = idx === null ? hashes.length : idx.length;
    if (t.routes.length === 1) return [idx === null ? indices(n) : [...idx]];
    const byRoute = new Map<ShardRoute, number[]>();
    for (let j = 0; j < n; j++) {
      const i = idx === null ? j : (idx[j] as number);
      const r = t.routeOfHash(hashes[i] as number);
      const list = byRoute.get(r);
      if (list === undefined) byRoute.set(r, [i]);
      else list.push(i);
    }
    return [...byRoute.values()];
  }

  /** Locates a multi-key part: its shard while all its keys share one, else null. Re-checked only when the map changes. */
  private spanLocator(hashes: Uint32Array, part: readonly number[] | null): Locate {
    let checked: RoutingTable | null = null;
    let route: ShardRoute | null = null;
    return () => {
      const t = this.table;
      if (t === checked) return route;
      checked = t;
      const n = part === null ? hashes.length : part.length;
      const at = (j: number): number => hashes[part === null ? j : (part[j] as number)] as number;
      route = t.routeOfHash(at(0));
      for (let j = 1; j < n && route !== null; j++) if (t.routeOfHash(at(j)) !== route) route = null;
      return route;
    };
  }

  private invalidateAll(entries: readonly MputEntry[], hashes: Uint32Array): void {
    const cache = this.nearCache;
    if (cache === null) return;
    for (let i = 0; i < entries.length; i++) cache.invalidate((entries[i] as MputEntry).key, hashes[i] as number);
  }

  // ---- the retry loop ----

  /**
   * Sends `frame` until a node answers ok, following redirects and retrying
   * retryable failures until `plan.deadline`. The shard is located before
   * every attempt, so a refreshed map reroutes the retry; when the operation
   * no longer fits one shard (plan.locate() is null) it throws Rerouted.
   * With `first`, the first attempt was already sent (by the fast path): the
   * loop starts from its reply, located and routed as that attempt was.
   */
  private async execute(frame: RequestFrame, plan: Plan, first: FirstAttempt | null = null): Promise<ResponseFrame> {
    const deadline = plan.deadline;
    if (first === null) {
      this.checkOpen(false);
      if (!this.mapTried && this.discover) await this.firstMap(deadline);
    }
    let maybeApplied = false;
    let last = '';
    let failures = 0;
    for (;;) {
      let shard: ShardRoute;
      let url: string;
      let reply: Promise<ResponseFrame> | null = null;
      if (first !== null) {
        ({ shard, url, reply } = first);
        first = null;
      } else {
        const located = plan.locate();
        if (located === null) throw new Rerouted(maybeApplied);
        shard = located;
        url = plan.route === 'leader' && shard.leaderUrl !== null ? shard.leaderUrl : this.nextReplica(shard);
        if (plan.session !== null) plan.session.field.firstIncomplete = plan.session.owner.lowestIncomplete;
      }
      let retryNow = false;
      try {
        const res = await (reply ?? this.conn(url).request(frame, Math.min(deadline, Date.now() + this.attemptTimeoutMs)));
        if (res.ok) {
          if (plan.okMeansLeader === true && shard.leaderUrl === null) shard.leaderUrl = url;
          this.answered(url, res);
          return res;
        }
        const err = res.error as WireError;
        last = `${err.code} from ${url}: ${err.message}`;
        if (!err.definite && plan.isWrite) maybeApplied = true;
        if (err.code === 'NOT_LEADER') {
          // Without a server map every key looks like one shard, and a multi-shard
          // cluster answers NOT_LEADER for the other shards' keys: learn the map.
          if (!this.maps.sharded && this.discover) void this.maps.refresh(undefined, deadline);
          const hint = this.hintUrl(err);
          if (hint !== null && hint !== url) {
            this.setLeader(shard, hint);
            retryNow = failures < 3;
          } else if (shard.leaderUrl === url) shard.leaderUrl = null;
        } else if (err.code === 'WRONG_SHARD') {
          retryNow = (await this.maps.afterWrongShard(err, deadline)) && failures < 3;
        } else if (err.code === 'SESSION_EXPIRED' && maybeApplied) {
          throw this.serverError(err, false);
        } else if (!RETRY_CODES.has(err.code)) {
          throw this.serverError(err, err.definite && !maybeApplied);
        } else if (err.code === 'UNAVAILABLE' || err.code === 'TIMEOUT') {
          if (shard.leaderUrl === url) shard.leaderUrl = null;
        }
      } catch (e) {
        if (e instanceof RaftcacheError || e instanceof Rerouted) throw e;
        const f = e instanceof ConnectionFailure ? e : new ConnectionFailure(String(e), true, 'lost');
        if (f.sent && plan.isWrite) maybeApplied = true;
        if (this.closed) {
          throw new RaftcacheError({ code: 'CLOSED', message: 'client closed', definite: !maybeApplied });
        }
        last = f.message;
        if (f.kind !== 'timeout') this.downUntil.set(url, Date.now() + this.backoffMaxMs);
        // A replica that let a read time out (paused, overloaded, cut off) is skipped
        // by reads for a few attempt times; otherwise round-robin keeps feeding it.
        else if (plan.route === 'any') this.downUntil.set(url, Date.now() + Math.max(this.backoffMaxMs, 3 * this.attemptTimeoutMs));
        if (shard.leaderUrl === url) shard.leaderUrl = null;
      }
      failures++;
      if (maybeApplied && !plan.retrySafe) {
        throw new RaftcacheError({ code: 'TIMEOUT', message: `${frame.op}: outcome unknown (${last})`, definite: false });
      }
      const now = Date.now();
      if (now >= deadline) {
        const why = this.maps.error !== null ? `; ${this.maps.error}` : '';
        throw new RaftcacheError({
          code: 'TIMEOUT',
          message: `${frame.op}: no outcome within ${this.timeoutMs} ms (last: ${last}${why})`,
          definite: !maybeApplied,
        });
      }
      if (!retryNow) await this.sleep(Math.min(this.backoff(failures - 1), deadline - now));
      this.checkOpen(maybeApplied);
    }
  }

  private serverError(err: WireError, definite: boolean): RaftcacheError {
    const { code, message, definite: _d, ...hints } = err;
    return new RaftcacheError({ code, message, definite, hints });
  }

  // ---- members and leaders ----

  /** The map keeper installed a server map. */
  private installed(map: ShardMapData, old: RoutingTable): void {
    for (const m of map.members) this.nodeUrls.set(m.node, m.url);
    this.memberUrls = map.members.map((m) => m.url);
    if (map.version !== old.version) this.nearCache?.clear();
    // The map's meta leader is only a hint: a leader an operator command just
    // reached is fresher, and a wrong guess costs one NOT_LEADER redirect.
    const metaLeader = map.meta?.leader ?? null;
    const route = this.metaRoute();
    if (metaLeader !== null && route.leaderUrl === null) route.leaderUrl = this.nodeUrls.get(metaLeader) ?? null;
  }

  private hintUrl(err: WireError): string | null {
    if (typeof err.leaderUrl === 'string' && err.leaderUrl !== '') {
      try {
        return endpointUrl(err.leaderUrl);
      } catch {
        return null;
      }
    }
    if (typeof err.leader === 'string') return this.nodeUrls.get(err.leader) ?? null;
    return null;
  }

  /** A leader hint for one shard. On the one-shard view an unknown leader joins the replicas. */
  private setLeader(shard: ShardRoute, url: string): void {
    shard.leaderUrl = url;
    if (!shard.replicas.includes(url) && !this.maps.sharded) shard.replicas.push(url);
    if (!this.memberUrls.includes(url)) this.memberUrls = [...this.memberUrls, url];
  }

  private learnStatus(s: NodeStatus): void {
    if (this.discover && s.members.length > 0) {
      for (const m of s.members) this.nodeUrls.set(m.node, m.url);
      if (!this.maps.sharded) {
        const urls = s.members.map((m) => m.url);
        this.memberUrls = urls;
        const old = this.table.routes[0];
        this.maps.table = RoutingTable.single(s.mapVersion, urls, old !== undefined && urls.includes(old.leaderUrl ?? '') ? old.leaderUrl : null);
      }
    } else if (s.node !== '' && s.address !== '') {
      this.nodeUrls.set(s.node, s.address);
    }
    const leader = s.leaderUrl ?? (s.leader !== null ? (this.nodeUrls.get(s.leader) ?? null) : null);
    if (leader === null) return;
    if (!this.maps.sharded) this.setLeader(this.table.routes[0] as ShardRoute, leader);
    else {
      const r = this.table.byGroup(s.group);
      if (r !== undefined && r.replicas.includes(leader)) r.leaderUrl = leader;
    }
  }

  /** Round-robin over a shard's replicas, skipping ones that failed recently (unless all did). */
  private nextReplica(shard: ShardRoute): string {
    const list = shard.replicas;
    const n = list.length;
    if (this.downUntil.size === 0) {
      const url = list[shard.rr % n] as string;
      shard.rr = (shard.rr + 1) % n;
      return url;
    }
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const url = list[(shard.rr + i) % n] as string;
      const until = this.downUntil.get(url);
      if (until === undefined || until <= now) {
        shard.rr = (shard.rr + i + 1) % n;
        return url;
      }
    }
    const url = list[shard.rr % n] as string;
    shard.rr = (shard.rr + 1) % n;
    return url;
  }

  private conn(url: string): NodeConnection {
    let c = this.conns.get(url);
    if (c === undefined) {
      c = new NodeConnection(url, this.connOptions);
      this.conns.set(url, c);
    }
    return c;
  }

  private backoff(attempt: number): number {
    const d = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** Math.min(attempt, 20));
    return d / 2 + Math.random() * (d / 2);
  }

  private async sleep(ms: number): Promise<void> {
    if (ms <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
      this.closedSignal,
    ]);
    clearTimeout(timer);
  }

  private checkOpen(maybeApplied: boolean): void {
    if (this.closed) throw new RaftcacheError({ code: 'CLOSED', message: 'client closed', definite: !maybeApplied });
  }
}

/** The wire form of a node address (only the fields the protocol defines). */
function addressField(a: NodeAddress): Record<string, unknown> {
  return { id: a.id, host: a.host, clientPort: a.clientPort, peerPort: a.peerPort };
}

function viewOf(t: RoutingTable, r: ShardRoute): ShardView {
  return { shard: r.shard, group: r.group, ranges: t.rangesOf(r), replicas: [...r.replicas], leader: r.leaderUrl };
}

function hashAll(keys: readonly string[]): Uint32Array {
  const out = new Uint32Array(keys.length);
  for (let i = 0; i < keys.length; i++) out[i] = hashKey(keys[i] as string);
  return out;
}

function indices(n: number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

function stringOrNull(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

// What the public operations make of an ok answer (plain functions: no closure per operation).

function nothing(): void {}

function valueOf(res: ResponseFrame): string | null {
  return stringOrNull(res['value']);
}

function deletedOf(res: ResponseFrame): boolean {
  return res['deleted'] === true;
}

function casResultOf(res: ResponseFrame): CasResult {
  return { swapped: res['swapped'] === true, current: stringOrNull(res['current']) };
}

function incrValueOf(res: ResponseFrame): number {
  const v = res['value'];
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '' && Number.isFinite(Number(v))) return Number(v);
  throw new RaftcacheError({ code: 'INTERNAL', message: `incr: unexpected value ${JSON.stringify(v)}`, definite: false });
}

// new Promise(capture) hands over resolve and reject without a closure per promise.
let capturedResolve: (value: never) => void = nothing;
let capturedReject: (e: unknown) => void = nothing;
function capture(resolve: (value: never) => void, reject: (e: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * One get/put/delete/cas/incr on the fast path: the client sends the first
 * attempt itself, and this object is both the operation's state and the
 * connection's handler for the answer (no async function, plan or closure per
 * operation). An ok answer settles the operation here; anything else goes to
 * the general retry loop (OpHost.resume), which carries on from that attempt
 * exactly as if it had sent it.
 */
class FastOp<T> implements FirstAttemptOp {
  readonly promise: Promise<T>;
  private readonly resolve: (value: T) => void;
  private readonly reject: (e: unknown) => void;

  constructor(
    private readonly host: OpHost,
    readonly frame: RequestFrame,
    readonly key: string,
    readonly hash: number,
    readonly route: Route,
    readonly deadline: number,
    readonly attemptDeadline: number,
    readonly shard: ShardRoute,
    readonly url: string,
    private readonly done: (res: ResponseFrame) => T,
    /** A write's session (null for reads), its group and its field in the frame. */
    readonly session: ClientSession | null,
    readonly group: number,
    readonly field: SessionField | null,
  ) {
    this.promise = new Promise<T>(capture);
    this.resolve = capturedResolve as (value: T) => void;
    this.reject = capturedReject;
  }

  onReply(res: ResponseFrame): void {
    if (!res.ok) {
      this.carryOn(Promise.resolve(res));
      return;
    }
    let threw = false;
    let error: unknown;
    try {
      this.host.answered(this.url, res);
    } catch (e) {
      threw = true; // the operation rejects with it, as an async execute() would
      error = e;
    }
    if (this.session !== null && this.field !== null) {
      this.session.complete(this.field.seq);
      this.host.wrote(this.key, this.hash);
    }
    if (threw) this.reject(error);
    else this.finish(res);
  }

  onFailure(e: Error): void {
    this.carryOn(Promise.reject(e));
  }

  /** The first attempt failed (`reply` rejects) or did not end ok: retry in the general loop. */
  carryOn(reply: Promise<ResponseFrame>): void {
    this.host.resume(this, reply).then(
      (res) => this.finish(res),
      (e: unknown) => this.reject(e),
    );
  }

  private finish(res: ResponseFrame): void {
    let out: T;
    try {
      out = this.done(res);
    } catch (e) {
      this.reject(e);
      return;
    }
    this.resolve(out);
  }
}
