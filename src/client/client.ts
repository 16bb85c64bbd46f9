/**
 * RaftcacheClient: the TypeScript client of the protocol in PROTOCOL.md.
 *
 * - One pipelined socket per node (NodeConnection); members are discovered
 *   from `status`.
 * - Writes go to the leader; NOT_LEADER hints are followed, and without a hint
 *   the client rotates over the members.
 * - Linearizable and stale reads are spread round-robin over all replicas
 *   (followers serve linearizable reads through ReadIndex); lease reads go to
 *   the leader.
 * - Writes carry a lazily registered session (client, seq). Every retry of a
 *   write re-sends the same (client, seq), so the write is applied at most
 *   once; the server answers a duplicate with the first result.
 * - Failures are retried with capped, jittered backoff up to the operation's
 *   deadline; the final rejection is a RaftcacheError whose `definite` is false
 *   whenever an attempt of the write may have been applied.
 */
import { NodeConnection } from './connection.js';
import type { ConnectionOptions } from './connection.js';
import { ConnectionFailure, RaftcacheError } from './errors.js';
import { endpointUrl, toNodeStatus } from './protocol.js';
import type { Consistency, NodeStatus, RequestFrame, ResponseFrame, SessionField, WireError } from './protocol.js';

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
  /** Learn the member list from `status` (default true); false = use only the seeds. */
  readonly discover?: boolean;
  readonly maxPayload?: number;
}

export interface ReadOptions {
  readonly consistency?: Consistency;
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

type Route = 'leader' | 'any';

const RETRY_CODES = new Set(['NOT_LEADER', 'WRONG_SHARD', 'OVERLOADED', 'UNAVAILABLE', 'TIMEOUT']);

export class RaftcacheClient {
  private readonly seeds: string[];
  private readonly timeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly defaultConsistency: Consistency;
  private readonly discover: boolean;
  private readonly connOptions: ConnectionOptions;

  private readonly conns = new Map<string, NodeConnection>();
  /** Urls of the replicas, in member order. */
  private replicas: string[];
  private readonly nodeUrls = new Map<string, string>();
  private readonly downUntil = new Map<string, number>();
  private leaderUrl: string | null = null;
  private rr = 0;

  private session: ClientSession | null = null;
  private registering: Promise<ClientSession> | undefined;

  private closed = false;
  private signalClosed: () => void = () => {};
  private readonly closedSignal: Promise<void>;

  constructor(options: RaftcacheClientOptions) {
    if (options.endpoints.length === 0) throw new RangeError('RaftcacheClient: endpoints must not be empty');
    this.seeds = [...new Set(options.endpoints.map(endpointUrl))];
    this.replicas = [...this.seeds];
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? Math.min(this.timeoutMs, 2000);
    this.backoffBaseMs = options.backoffBaseMs ?? 10;
    this.backoffMaxMs = options.backoffMaxMs ?? 250;
    this.defaultConsistency = options.consistency ?? 'linearizable';
    this.discover = options.discover ?? true;
    const connectTimeoutMs = options.connectTimeoutMs ?? Math.min(this.attemptTimeoutMs, 1000);
    this.connOptions = {
      clientName: options.clientName ?? 'raftcache-ts/1',
      connectTimeoutMs,
      sweepMs: Math.max(5, Math.min(50, Math.floor(this.attemptTimeoutMs / 10))),
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(options.maxPayload !== undefined ? { maxPayload: options.maxPayload } : {}),
    };
    this.closedSignal = new Promise<void>((resolve) => {
      this.signalClosed = resolve;
    });
  }

  /** Urls of the known replicas. */
  get members(): readonly string[] {
    return this.replicas;
  }

  /** Url of the leader as last learned, or null. */
  get leader(): string | null {
    return this.leaderUrl;
  }

  /**
   * Reaches a seed, learns members and leader from its `status`. Retries the
   * seeds until timeoutMs; rejects with UNAVAILABLE when none answers.
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

  async get(key: string, options?: ReadOptions): Promise<string | null> {
    const frame: RequestFrame = { id: 0, op: 'get', key };
    const consistency = options?.consistency ?? this.defaultConsistency;
    if (consistency !== 'linearizable') frame['consistency'] = consistency; // the server's default
    const res = await this.read(frame);
    return stringOrNull(res['value']);
  }

  /** Like get, but binary-safe (base64 on the wire). */
  async getBytes(key: string, options?: ReadOptions): Promise<Uint8Array | null> {
    const res = await this.read({
      id: 0,
      op: 'get',
      key,
      consistency: options?.consistency ?? this.defaultConsistency,
      encoding: 'base64',
    });
    const v = res['value'];
    return typeof v === 'string' ? new Uint8Array(Buffer.from(v, 'base64')) : null;
  }

  async put(key: string, value: string | Uint8Array, options?: WriteOptions): Promise<void> {
    const frame: RequestFrame = { id: 0, op: 'put', key, value: '' };
    if (typeof value === 'string') frame['value'] = value;
    else {
      frame['value'] = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
      frame['encoding'] = 'base64';
    }
    if (options?.ttlMs !== undefined) frame['ttlMs'] = options.ttlMs;
    await this.write(frame);
  }

  async delete(key: string): Promise<boolean> {
    const res = await this.write({ id: 0, op: 'delete', key });
    return res['deleted'] === true;
  }

  /** Sets `key` to `next` (null = delete) if its value is `expected` (null = absent). */
  async cas(key: string, expected: string | null, next: string | null, options?: WriteOptions): Promise<CasResult> {
    const frame: RequestFrame = { id: 0, op: 'cas', key, expected, value: next };
    if (options?.ttlMs !== undefined) frame['ttlMs'] = options.ttlMs;
    const res = await this.write(frame);
    return { swapped: res['swapped'] === true, current: stringOrNull(res['current']) };
  }

  async incr(key: string, by = 1): Promise<number> {
    const res = await this.write({ id: 0, op: 'incr', key, by });
    const v = res['value'];
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && v !== '' && Number.isFinite(Number(v))) return Number(v);
    throw new RaftcacheError({ code: 'INTERNAL', message: `incr: unexpected value ${JSON.stringify(v)}`, definite: false });
  }

  async mget(keys: readonly string[], options?: ReadOptions): Promise<(string | null)[]> {
    const res = await this.read({ id: 0, op: 'mget', keys, consistency: options?.consistency ?? this.defaultConsistency });
    const vs = res['values'];
    return Array.isArray(vs) ? vs.map(stringOrNull) : keys.map(() => null);
  }

  /**
   * Writes several keys in one command. The server takes a session only for a
   * single entry, so a multi-entry mput has none: it is not retried once an
   * attempt may have been applied (it rejects with definite: false instead).
   */
  async mput(entries: readonly MputEntry[]): Promise<void> {
    if (entries.length <= 1) {
      await this.write({ id: 0, op: 'mput', entries });
      return;
    }
    await this.execute({ id: 0, op: 'mput', entries }, 'leader', null, true, false);
  }

  /** `status` of one node: the leader when known, else any replica. */
  async status(): Promise<NodeStatus> {
    const res = await this.execute({ id: 0, op: 'status' }, this.leaderUrl !== null ? 'leader' : 'any', null, false);
    const s = toNodeStatus(res);
    this.learnStatus(s);
    return s;
  }

  /** `status` of every known member (one round, no retries). */
  async clusterStatus(): Promise<NodeStatusResult[]> {
    this.checkOpen(false);
    const urls = [...this.replicas];
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
    this.signalClosed();
    for (const c of this.conns.values()) c.close();
  }

  // ---- internals ----

  private read(frame: RequestFrame): Promise<ResponseFrame> {
    return this.execute(frame, frame['consistency'] === 'lease' ? 'leader' : 'any', null, false);
  }

  /** A write with a session: registers lazily, numbers it, retries with the same seq. */
  private async write(frame: RequestFrame): Promise<ResponseFrame> {
    this.checkOpen(false);
    let session = this.session ?? (await this.register());
    let field = session.begin();
    frame['session'] = field;
    try {
      for (;;) {
        try {
          return await this.execute(frame, 'leader', field, true);
        } catch (e) {
          // A session the server forgot, on a write certainly not applied:
          // register again and retry the write under the new session.
          if (!(e instanceof RaftcacheError) || e.code !== 'SESSION_EXPIRED' || !e.definite) throw e;
          if (this.session === session) this.session = null;
          session.complete(field.seq);
          session = this.session ?? (await this.register());
          field = session.begin();
          frame['session'] = field;
        }
      }
    } finally {
      session.complete(field.seq);
    }
  }

  private register(): Promise<ClientSession> {
    if (this.registering === undefined) {
      this.registering = this.execute({ id: 0, op: 'register' }, 'leader', null, false)
        .then((res) => {
          const c = res['client'];
          if (typeof c !== 'string' && typeof c !== 'number') {
            throw new RaftcacheError({ code: 'INTERNAL', message: 'register: no client id in the response', definite: true });
          }
          this.session = new ClientSession(String(c));
          return this.session;
        })
        .finally(() => {
          this.registering = undefined;
        });
    }
    return this.registering;
  }

  /**
   * Sends `frame` until a node answers ok, following redirects and retrying
   * retryable failures until the operation deadline. `session` is non-null
   * for session writes (its firstIncomplete is refreshed before each send);
   * `isWrite` says whether a lost attempt may have changed state; without
   * `retrySafe` (a write without a session) such an attempt is not repeated.
   */
  private async execute(
    frame: RequestFrame,
    route: Route,
    session: SessionField | null,
    isWrite: boolean,
    retrySafe = true,
  ): Promise<ResponseFrame> {
    this.checkOpen(false);
    const deadline = Date.now() + this.timeoutMs;
    let maybeApplied = false;
    let last = '';
    let failures = 0;
    for (;;) {
      const url = route === 'leader' && this.leaderUrl !== null ? this.leaderUrl : this.nextReplica();
      if (session !== null) session.firstIncomplete = this.session?.firstIncompleteFor(session) ?? session.firstIncomplete;
      let retryNow = false;
      try {
        const res = await this.conn(url).request(frame, Math.min(deadline, Date.now() + this.attemptTimeoutMs));
        if (res.ok) {
          if (this.downUntil.size > 0) this.downUntil.delete(url);
          return res;
        }
        const err = res.error as WireError;
        last = `${err.code} from ${url}: ${err.message}`;
        if (!err.definite && isWrite) maybeApplied = true;
        if (err.code === 'NOT_LEADER') {
          const hint = this.hintUrl(err);
          if (hint !== null && hint !== url) {
            this.setLeader(hint);
            retryNow = failures < 3;
          } else if (this.leaderUrl === url) this.leaderUrl = null;
        } else if (err.code === 'SESSION_EXPIRED' && maybeApplied) {
          throw this.serverError(err, false);
        } else if (!RETRY_CODES.has(err.code)) {
          throw this.serverError(err, err.definite && !maybeApplied);
        } else if (err.code === 'UNAVAILABLE' || err.code === 'TIMEOUT') {
          if (this.leaderUrl === url) this.leaderUrl = null;
        }
      } catch (e) {
        if (e instanceof RaftcacheError) throw e;
        const f = e instanceof ConnectionFailure ? e : new ConnectionFailure(String(e), true, 'lost');
        if (f.sent && isWrite) maybeApplied = true;
        if (this.closed) {
          throw new RaftcacheError({ code: 'CLOSED', message: 'client closed', definite: !maybeApplied });
        }
        last = f.message;
        if (f.kind !== 'timeout') this.downUntil.set(url, Date.now() + this.backoffMaxMs);
        if (this.leaderUrl === url) this.leaderUrl = null;
      }
      failures++;
      if (maybeApplied && !retrySafe) {
        throw new RaftcacheError({ code: 'TIMEOUT', message: `${frame.op}: outcome unknown (${last})`, definite: false });
      }
      const now = Date.now();
      if (now >= deadline) {
        throw new RaftcacheError({
          code: 'TIMEOUT',
          message: `${frame.op}: no outcome within ${this.timeoutMs} ms (last: ${last})`,
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

  private setLeader(url: string): void {
    this.leaderUrl = url;
    if (!this.replicas.includes(url)) this.replicas = [...this.replicas, url];
  }

  private learnStatus(s: NodeStatus): void {
    if (this.discover && s.members.length > 0) {
      for (const m of s.members) this.nodeUrls.set(m.node, m.url);
      this.replicas = s.members.map((m) => m.url);
    } else if (s.node !== '' && s.address !== '') {
      this.nodeUrls.set(s.node, s.address);
    }
    const leader = s.leaderUrl ?? (s.leader !== null ? (this.nodeUrls.get(s.leader) ?? null) : null);
    if (leader !== null) this.setLeader(leader);
  }

  /** Round-robin over replicas, skipping ones that failed recently (unless all did). */
  private nextReplica(): string {
    const n = this.replicas.length;
    if (this.downUntil.size === 0) {
      const url = this.replicas[this.rr % n] as string;
      this.rr = (this.rr + 1) % n;
      return url;
    }
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const url = this.replicas[(this.rr + i) % n] as string;
      const until = this.downUntil.get(url);
      if (until === undefined || until <= now) {
        this.rr = (this.rr + i + 1) % n;
        return url;
      }
    }
    const url = this.replicas[this.rr % n] as string;
    this.rr = (this.rr + 1) % n;
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

/**
 * One registered session: numbers writes 1, 2, 3, … and tracks the lowest seq
 * without an outcome (sent as firstIncomplete so the server can forget older
 * results).
 */
class ClientSession {
  private nextSeq = 1;
  private firstIncomplete = 1;
  private readonly doneAbove = new Set<number>();

  constructor(readonly client: string) {}

  begin(): SessionField {
    return { client: this.client, seq: this.nextSeq++, firstIncomplete: this.firstIncomplete };
  }

  /** The current firstIncomplete, if `field` belongs to this session. */
  firstIncompleteFor(field: SessionField): number | undefined {
    return field.client === this.client ? this.firstIncomplete : undefined;
  }

  /** Marks a seq as finished (answered or given up). */
  complete(seq: number): void {
    if (seq < this.firstIncomplete) return;
    if (seq !== this.firstIncomplete) {
      this.doneAbove.add(seq);
      return;
    }
    this.firstIncomplete++;
    while (this.doneAbove.delete(this.firstIncomplete)) this.firstIncomplete++;
  }
}

function stringOrNull(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}
