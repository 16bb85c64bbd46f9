/**
 * Keeps the client's routing table fresh: loads the shard map on connect,
 * refreshes it after WRONG_SHARD or when a node reports a newer version
 * (one fetch in flight; callers share it), polls it when asked, and refuses
 * malformed maps (remembering why, for error messages).
 */
import { RaftcacheError } from './errors.js';
import type { RequestFrame, ResponseFrame, WireError } from './protocol.js';
import { RoutingTable, ShardMapError, hasShardInfo, parseShardMap } from './shard-map.js';
import type { ShardMapData } from './shard-map.js';

export interface MapKeeperHost {
  /** One attempt of `frame` on `url` (rejects when the node cannot be reached in time). */
  request(url: string, frame: RequestFrame, deadline: number): Promise<ResponseFrame>;
  /** Urls to ask for the map, in preference order. */
  mapSources(): string[];
  /** A map from the server replaced `old` (members and version may have changed). */
  installed(map: ShardMapData, old: RoutingTable): void;
  readonly attemptTimeoutMs: number;
}

export class MapKeeper {
  /** The table the client routes by. */
  table: RoutingTable;
  /** The table came from a server map (not the one-shard fallback). */
  sharded = false;
  /** Why the last map fetched was refused, or null. */
  error: string | null = null;
  /** connect() or a fetch settled what the map is: newer versions seen afterwards trigger refreshes. */
  private known = false;
  private refreshing: Promise<void> | undefined;
  private rr = 0;
  private pollTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly host: MapKeeperHost,
    /** False (`discover: false`): never fetch the map. */
    private readonly enabled: boolean,
    seeds: readonly string[],
    private readonly closedSignal: Promise<void>,
  ) {
    this.table = RoutingTable.single(-1, seeds, null);
  }

  /** connect(): the map from the node that answered `status`. Rejects with BAD_MAP on a malformed map. */
  async load(url: string, deadline: number): Promise<void> {
    if (!this.enabled) return;
    try {
      let res: ResponseFrame;
      try {
        res = await this.host.request(url, { id: 0, op: 'map' }, Math.min(deadline, Date.now() + this.host.attemptTimeoutMs));
      } catch {
        return; // no answer: keep the one-shard view; WRONG_SHARD will fetch the map
      }
      if (!res.ok || !hasShardInfo(res)) return; // a server without `map` or without shards
      let map: ShardMapData;
      try {
        map = parseShardMap(res);
      } catch (e) {
        if (!(e instanceof ShardMapError)) throw e;
        this.error = e.message;
        throw new RaftcacheError({ code: 'BAD_MAP', message: `${url}: ${e.message}`, definite: true });
      }
      this.error = null;
      this.install(map);
    } finally {
      this.known = true;
    }
  }

  /**
   * After WRONG_SHARD: refreshes the map unless the node that answered is
   * behind us. True when the client now routes by a different table.
   */
  async afterWrongShard(err: WireError, deadline: number): Promise<boolean> {
    if (!this.enabled) return false;
    const hinted = typeof err['mapVersion'] === 'number' ? err['mapVersion'] : undefined;
    if (hinted !== undefined && this.sharded && hinted <= this.table.version) return false;
    const before = this.table;
    await this.untilDeadline(this.refresh(hinted, deadline), deadline);
    return this.table !== before;
  }

  /** A node reported map version `v` (hello, status): refresh in the background if it is newer. */
  note(v: number): void {
    if (!this.enabled || !this.known || this.closed || v <= this.table.version) return;
    void this.refresh(v, Date.now() + this.host.attemptTimeoutMs * 2);
  }

  /** Fetches the map; one fetch in flight, later callers share it. Never rejects. */
  refresh(wanted: number | undefined, deadline: number): Promise<void> {
    if (!this.enabled || this.closed) return Promise.resolve();
    if (this.refreshing === undefined) {
      this.refreshing = this.fetch(wanted, deadline)
        .catch(() => {})
        .finally(() => {
          this.refreshing = undefined;
        });
    }
    return this.refreshing;
  }

  /** Waits for `p` (which never rejects), but not past `deadline` nor past close. */
  async untilDeadline(p: Promise<void>, deadline: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      p,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      }),
      this.closedSignal,
    ]);
    clearTimeout(timer);
  }

  /** Re-reads the map every `ms` (servers do not push map changes yet). */
  startPolling(ms: number): void {
    if (ms <= 0 || !this.enabled || this.pollTimer !== undefined || this.closed) return;
    this.pollTimer = setInterval(() => {
      void this.refresh(undefined, Date.now() + this.host.attemptTimeoutMs);
    }, ms);
    this.pollTimer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  /**
   * Asks members in turn for `map` until one answers with version ≥ `wanted`
   * (any valid map when undefined); installs every newer valid map seen. A
   * malformed map is refused (recorded in `error`) and the next member asked.
   */
  private async fetch(wanted: number | undefined, deadline: number): Promise<void> {
    const urls = this.host.mapSources();
    const start = this.rr++;
    for (let i = 0; i < urls.length; i++) {
      if (this.closed || Date.now() >= deadline) return;
      const url = urls[(start + i) % urls.length] as string;
      try {
        const res = await this.host.request(url, { id: 0, op: 'map' }, Math.min(deadline, Date.now() + this.host.attemptTimeoutMs));
        if (!res.ok) continue;
        this.known = true;
        if (!hasShardInfo(res)) return; // a server without shards: keep the one-shard view
        const map = parseShardMap(res);
        this.error = null;
        if (!this.sharded || map.version > this.table.version) this.install(map);
        if (wanted === undefined || this.table.version >= wanted) return;
      } catch (e) {
        if (e instanceof ShardMapError) this.error = e.message;
        // else that node did not answer: ask the next
      }
    }
  }

  /** Routes by `map` from now on; keeps leader hints the map does not contradict. */
  private install(map: ShardMapData): void {
    const old = this.table;
    const table = RoutingTable.fromMap(map);
    for (const r of table.routes) {
      if (r.leaderUrl !== null) continue;
      const prev = old.byShard(r.shard);
      if (prev !== undefined && prev.leaderUrl !== null && r.replicas.includes(prev.leaderUrl)) r.leaderUrl = prev.leaderUrl;
    }
    this.table = table;
    this.sharded = true;
    this.host.installed(map, old);
  }
}
