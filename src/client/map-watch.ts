/**
 * The client's subscription to shard map pushes: `watch` on one node, then
 * `{event: "map", version}` frames on that socket tell the map keeper a newer
 * map exists (it fetches it). When the socket drops, the watch moves on to
 * the next member (after a short pause); the `watch` answer carries the
 * node's current version, so a change missed while unsubscribed is noticed.
 */
import { RaftcacheError } from './errors.js';
import type { PushFrame, RequestFrame, ResponseFrame } from './protocol.js';

export interface MapWatchHost {
  /** One attempt of `frame` on `url` (rejects when the node cannot be reached in time). */
  request(url: string, frame: RequestFrame, deadline: number): Promise<ResponseFrame>;
  /** Urls that may be watched, in preference order. */
  sources(): string[];
  /** A node reported map version `v`: the keeper refreshes when it is newer. */
  note(v: number): void;
  readonly attemptTimeoutMs: number;
  /** Pause before watching again after the socket dropped or no node took the watch. */
  readonly retryMs: number;
}

export class MapWatch {
  /** The url whose socket carries the subscription, or null. */
  private watching: string | null = null;
  /**
   * The url a `watch` was sent to and not yet answered: a push can arrive in
   * the same read as the answer, before the answer's continuation runs.
   */
  private subscribing: string | null = null;
  private starting: Promise<number> | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private rr = 0;
  private closed = false;
  /** Pushes that announced a version (for tests and stats). */
  pushes = 0;

  constructor(private readonly host: MapWatchHost) {}

  /** The url watched, or null while (re)subscribing. */
  get url(): string | null {
    return this.watching;
  }

  /**
   * Subscribes (once; concurrent callers share the attempt): asks sources in
   * turn until one answers `watch`; resolves with the version it reported.
   * Rejects with BAD_REQUEST when every node refused the op (a server without
   * `watch`), UNAVAILABLE when none answered before `deadline`.
   */
  start(deadline: number): Promise<number> {
    this.starting ??= this.subscribe(deadline).finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  /** Subscribes in the background, retrying until subscribed or closed (gives up only when no node supports `watch`). */
  ensure(): void {
    if (this.closed || this.watching !== null) return;
    this.start(Date.now() + this.host.attemptTimeoutMs * 2).catch((e: unknown) => {
      if (!(e instanceof RaftcacheError && e.code === 'BAD_REQUEST')) this.retryLater();
    });
  }

  /** A push from `url` (the connection calls it for every push frame). */
  onPush(url: string, push: PushFrame): void {
    if ((url !== this.watching && url !== this.subscribing) || push.event !== 'map') return;
    const v = push['version'];
    if (typeof v !== 'number') return;
    this.pushes++;
    this.host.note(v);
  }

  /** The socket to `url` was lost: if it carried the watch, watch again elsewhere. */
  onDrop(url: string): void {
    if (url !== this.watching || this.closed) return;
    this.watching = null;
    this.rr++; // start with the next member
    this.retryLater();
  }

  close(): void {
    this.closed = true;
    this.watching = null;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private retryLater(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.ensure();
    }, this.host.retryMs);
    this.retryTimer.unref();
  }

  private async subscribe(deadline: number): Promise<number> {
    let last = 'no node to watch';
    for (;;) {
      const urls = this.host.sources();
      let refused = 0;
      for (let i = 0; i < urls.length; i++) {
        if (this.closed) throw new RaftcacheError({ code: 'CLOSED', message: 'client closed', definite: true });
        if (Date.now() >= deadline) break;
        const url = urls[(this.rr + i) % urls.length] as string;
        this.subscribing = url;
        try {
          const res = await this.host.request(url, { id: 0, op: 'watch' }, Math.min(deadline, Date.now() + this.host.attemptTimeoutMs));
          const v = res['version'];
          if (res.ok && typeof v === 'number') {
            this.rr = (this.rr + i) % urls.length;
            this.watching = url;
            this.host.note(v);
            return v;
          }
          last = `${url}: ${res.error?.code ?? 'error'} ${res.error?.message ?? 'no version in the watch answer'}`;
          if (res.error?.code === 'BAD_REQUEST') refused++;
        } catch (e) {
          last = e instanceof Error ? e.message : String(e);
        } finally {
          this.subscribing = null;
        }
      }
      if (urls.length > 0 && refused === urls.length) {
        throw new RaftcacheError({ code: 'BAD_REQUEST', message: `watch: no node supports map pushes (${last})`, definite: true });
      }
      if (this.closed) throw new RaftcacheError({ code: 'CLOSED', message: 'client closed', definite: true });
      const now = Date.now();
      if (now >= deadline) throw new RaftcacheError({ code: 'UNAVAILABLE', message: `watch: no node took the subscription (${last})`, definite: true });
      await new Promise<void>((resolve) => setTimeout(resolve, Math.min(this.host.retryMs, deadline - now)));
    }
  }
}
