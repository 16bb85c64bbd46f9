/**
 * Shared pieces of the membership end-to-end tests: a writer that keeps
 * writing unique values under load and remembers what was acknowledged, the
 * check that every acknowledged write is readable, and the wait for a
 * settled shard map.
 */
import { isRaftcacheError } from '../../src/client/index.js';
import type { RaftcacheClient } from '../../src/client/index.js';
import { pollUntil } from '../../src/cli/client-cluster.js';
import type { LocalCluster } from '../../src/cli/client-cluster.js';
import type { ParsedShardMap } from '../../src/meta/index.js';
import { mapNotSettled, placementOf } from '../../jepsen-lite/map-convergence.js';
import type { MapExpectation } from '../../jepsen-lite/map-convergence.js';

/**
 * Writes unique values (`v<seq>`) to its keys, each key owned by one worker
 * (so per key the writes are sequential). Remembers per key the last
 * acknowledged value and the values of later writes whose outcome is unknown.
 */
export class AckedWriter {
  readonly acked = new Map<string, string>();
  /** Values written after the last ack whose outcome is unknown (they may have applied). */
  readonly inDoubt = new Map<string, string[]>();
  writes = 0;
  failures = 0;
  private seq = 0;
  private stopped = true;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly client: RaftcacheClient,
    readonly keys: readonly string[],
  ) {}

  /** Writes every key once, `concurrency` at a time. */
  async writeAll(concurrency: number): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < this.keys.length) await this.write(this.keys[next++]!);
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  /** Starts `workers` loops over the keys (worker w owns keys i ≡ w mod workers). */
  start(workers: number): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loops = Array.from({ length: workers }, async (_, w) => {
      for (let i = w; !this.stopped; i = i + workers < this.keys.length ? i + workers : w) await this.write(this.keys[i]!);
    });
  }

  /** Stops the loops after their current write. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    this.loops = [];
  }

  private async write(key: string): Promise<void> {
    const value = `v${this.seq++}`;
    this.writes++;
    try {
      await this.client.put(key, value);
      this.acked.set(key, value);
      this.inDoubt.delete(key);
    } catch (e) {
      this.failures++;
      if (isRaftcacheError(e) && e.definite) return;
      const list = this.inDoubt.get(key) ?? [];
      list.push(value);
      this.inDoubt.set(key, list);
    }
  }

  /**
   * Reads every key (linearizable mget, by shard) and returns the keys whose
   * value is neither the last acknowledged one nor a later in-doubt write
   * (empty = every acknowledged write is readable). Call with the writer stopped.
   */
  async lostWrites(reader: RaftcacheClient, chunk = 200): Promise<string[]> {
    const bad: string[] = [];
    for (let i = 0; i < this.keys.length; i += chunk) {
      const keys = this.keys.slice(i, i + chunk);
      const values = await withRetries(() => reader.mget(keys));
      keys.forEach((k, j) => {
        const v = values[j] ?? null;
        const ok = v === (this.acked.get(k) ?? null) || (v !== null && (this.inDoubt.get(k) ?? []).includes(v));
        if (!ok) bad.push(`${k}: read ${v ?? 'null'}, acked ${this.acked.get(k) ?? 'none'}`);
      });
    }
    return bad;
  }
}

async function withRetries<T>(f: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await f();
    } catch (e) {
      if (i >= attempts) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * Waits until the running nodes' maps show a settled placement
 * (mapNotSettled: one version on every node, balanced, nothing in flight) and
 * the same placement for `stableMs` in a row (a move between its start and
 * its learner is not visible; leader hints may still bump the version).
 * Returns the last map.
 */
export async function waitMapSettled(cluster: LocalCluster, o: MapExpectation, timeoutMs: number, stableMs = 1000): Promise<ParsedShardMap> {
  let since: { placement: string; at: number } | null = null;
  let why = 'not polled yet';
  // What the maps said, on each change (for the failure message).
  const t0 = Date.now();
  const timeline: string[] = [];
  const note = (line: string): void => {
    if (timeline.at(-1)?.endsWith(line) !== true) timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)} s ${line}`);
  };
  return pollUntil(
    timeoutMs,
    async () => {
      const running = cluster.active().filter((n) => n.child !== null);
      const maps = await Promise.all(running.map((n) => cluster.fetchMap(n)));
      const problem = mapNotSettled(maps, o);
      const m0 = maps[0];
      if (m0 !== null && m0 !== undefined) {
        const shards = m0.shards.map((x) => `${x.shard}:${x.replicas.join('')}${(x.learners ?? []).length > 0 ? `+${x.learners!.join('')}` : ''}`).join(' ');
        note(`${problem ?? 'settled'} | ${shards}${m0.meta !== undefined ? ` meta:${m0.meta.replicas.join('')}` : ''}`);
      } else note(problem ?? 'settled');
      if (problem !== null) {
        why = problem;
        since = null;
        return undefined;
      }
      const m = maps[0]!;
      const placement = placementOf(m);
      if (since === null || since.placement !== placement) since = { placement, at: Date.now() };
      why = `placement at version ${m.version} settled for ${Date.now() - since.at} ms only`;
      return Date.now() - since.at >= stableMs ? m : undefined;
    },
    () => `the shard map did not settle within ${timeoutMs} ms: ${why}\nmaps seen (last changes):\n${timeline.slice(-12).join('\n')}`,
  );
}

/** "n1 … nK". */
export function nodeNames(ids: readonly number[]): string[] {
  return ids.map((id) => `n${id}`);
}
