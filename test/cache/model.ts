/**
 * A deliberately simple reference model of the cache state machine: an array
 * in recency order (least recently used first) and linear scans everywhere.
 * Slow and obviously correct; the property tests compare it with the real one.
 */
import type { Command, CommandResult, ResolvedCacheConfig, RingRange, SessionRef } from '../../src/cache/index.js';
import { hashKey, RING_SIZE } from '../../src/shard/index.js';

export const OVERHEAD = 48;

export interface ModelEntry {
  key: string;
  value: Uint8Array;
  /** Infinity = no expiry. */
  expiresAt: number;
}

export interface ModelSession {
  id: number;
  lastActive: number;
  floor: number;
  results: { seq: number; result: CommandResult }[];
}

const utf8 = new TextEncoder();

export function entrySize(key: string, value: Uint8Array): number {
  return utf8.encode(key).length + value.length + OVERHEAD;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

const err = (code: string): CommandResult => ({ ok: false, code, message: '' }) as CommandResult;

export class ModelCache {
  entries: ModelEntry[] = [];
  sessions: ModelSession[] = [];
  now = 0;
  lastApplied = 0;
  evictions = 0;
  expirations = 0;
  /** Ring ranges given away by splits, as applied (unmerged, unsorted). */
  notOwned: RingRange[] = [];
  /** The model of the shard produced by the last split. */
  splitOff: ModelCache | null = null;

  constructor(readonly config: ResolvedCacheConfig) {}

  owns(key: string): boolean {
    const h = hashKey(key);
    return !this.notOwned.some((r) => r.start <= h && h < r.end);
  }

  bytes(): number {
    return this.entries.reduce((n, e) => n + entrySize(e.key, e.value), 0);
  }

  private find(key: string): ModelEntry | undefined {
    return this.entries.find((e) => e.key === key && this.now < e.expiresAt);
  }

  get(key: string): Uint8Array | null {
    return this.find(key)?.value ?? null;
  }

  private toMru(e: ModelEntry): void {
    this.entries = this.entries.filter((x) => x !== e);
    this.entries.push(e);
  }

  private evict(): void {
    while (this.entries.length > this.config.maxEntries || this.bytes() > this.config.maxBytes) {
      this.entries.shift();
      this.evictions++;
    }
  }

  private write(key: string, value: Uint8Array, expiresAt: number | 'keep'): void {
    const old = this.entries.find((e) => e.key === key);
    const e: ModelEntry = { key, value, expiresAt: expiresAt === 'keep' ? (old?.expiresAt ?? Infinity) : expiresAt };
    this.entries = this.entries.filter((x) => x.key !== key);
    this.entries.push(e);
    this.evict();
  }

  apply(index: number, cmd: Command): CommandResult {
    this.lastApplied = index;
    if ('key' in cmd && !this.owns(cmd.key)) return err('WRONG_SHARD');
    if (cmd.ts > this.now) {
      this.now = cmd.ts;
      const before = this.entries.length;
      this.entries = this.entries.filter((e) => this.now < e.expiresAt);
      this.expirations += before - this.entries.length;
      this.sessions = this.sessions.filter((s) => this.now < s.lastActive + this.config.sessionTtlMs);
    }
    switch (cmd.type) {
      case 'clock':
        return { ok: true, kind: 'done' };
      case 'register':
        if (this.sessions.length >= this.config.maxSessions) this.sessions.shift();
        this.sessions.push({ id: index, lastActive: this.now, floor: 0, results: [] });
        return { ok: true, kind: 'registered', clientId: index };
      case 'touch':
        for (const k of cmd.keys) {
          const e = this.find(k);
          if (e) this.toMru(e);
        }
        return { ok: true, kind: 'done' };
      case 'split':
        this.split(index, cmd.ranges);
        return { ok: true, kind: 'done' };
      default: {
        const s = cmd.session;
        if (s) {
          const early = this.sessionBegin(s);
          if (early) return early;
        }
        const r = this.write1(cmd);
        if (s) this.sessionRecord(s, r);
        return r;
      }
    }
  }

  private split(index: number, ranges: readonly RingRange[]): void {
    const inRanges = (key: string): boolean => ranges.some((r) => r.start <= hashKey(key) && hashKey(key) < r.end);
    const other = new ModelCache(this.config);
    other.now = this.now;
    other.lastApplied = index;
    other.entries = this.entries.filter((e) => inRanges(e.key));
    this.entries = this.entries.filter((e) => !inRanges(e.key));
    other.sessions = this.sessions.map((s) => ({ ...s, results: s.results.map((r) => ({ ...r })) }));
    // The new shard owns the moved ranges minus what was given away before.
    other.notOwned = [...this.notOwned];
    let from = 0;
    for (const r of ranges) {
      if (r.start > from) other.notOwned.push({ start: from, end: r.start });
      from = r.end;
    }
    if (from < RING_SIZE) other.notOwned.push({ start: from, end: RING_SIZE });
    this.notOwned = [...this.notOwned, ...ranges];
    this.splitOff = other;
  }

  private sessionBegin(ref: SessionRef): CommandResult | null {
    const s = this.sessions.find((x) => x.id === ref.client);
    if (!s) return err('SESSION_EXPIRED');
    s.lastActive = this.now;
    this.sessions = [...this.sessions.filter((x) => x !== s), s];
    if (ref.firstIncomplete !== undefined && ref.firstIncomplete > s.floor) {
      s.floor = ref.firstIncomplete;
      s.results = s.results.filter((r) => r.seq >= s.floor);
    }
    const hit = s.results.find((r) => r.seq === ref.seq);
    if (hit) return hit.result;
    if (ref.seq < s.floor) return err('STALE_SEQUENCE');
    return null;
  }

  private sessionRecord(ref: SessionRef, result: CommandResult): void {
    const s = this.sessions.find((x) => x.id === ref.client);
    if (!s) return;
    s.results.push({ seq: ref.seq, result });
    s.results.sort((a, b) => a.seq - b.seq);
    if (s.results.length > this.config.maxResultsPerSession) {
      const dropped = s.results.shift();
      if (dropped) s.floor = Math.max(s.floor, dropped.seq + 1);
    }
  }

  private write1(cmd: Exclude<Command, { type: 'clock' | 'register' | 'touch' | 'split' }>): CommandResult {
    switch (cmd.type) {
      case 'put':
        if (entrySize(cmd.key, cmd.value) > this.config.maxBytes) return err('TOO_LARGE');
        this.write(cmd.key, cmd.value, cmd.ttlMs === undefined ? Infinity : this.now + cmd.ttlMs);
        return { ok: true, kind: 'done' };
      case 'delete': {
        const existed = this.entries.some((e) => e.key === cmd.key);
        this.entries = this.entries.filter((e) => e.key !== cmd.key);
        return { ok: true, kind: 'deleted', existed };
      }
      case 'cas': {
        if (cmd.next !== null && entrySize(cmd.key, cmd.next) > this.config.maxBytes) return err('TOO_LARGE');
        const cur = this.get(cmd.key);
        const match = cmd.expected === null ? cur === null : cur !== null && sameBytes(cur, cmd.expected);
        if (!match) return { ok: true, kind: 'cas', swapped: false };
        if (cmd.next === null) this.entries = this.entries.filter((e) => e.key !== cmd.key);
        else this.write(cmd.key, cmd.next, cmd.ttlMs === undefined ? Infinity : this.now + cmd.ttlMs);
        return { ok: true, kind: 'cas', swapped: true };
      }
      case 'incr': {
        const cur = this.get(cmd.key);
        let n = 0;
        if (cur !== null) {
          const text = new TextDecoder().decode(cur);
          if (!/^-?[0-9]{1,32}$/.test(text) || !Number.isSafeInteger(Number(text))) return err('NOT_INTEGER');
          n = Number(text);
        }
        const v = n + cmd.by;
        if (!Number.isSafeInteger(v)) return err('OUT_OF_RANGE');
        const bytes = utf8.encode(String(v));
        if (entrySize(cmd.key, bytes) > this.config.maxBytes) return err('TOO_LARGE');
        this.write(cmd.key, bytes, 'keep');
        return { ok: true, kind: 'incr', value: v };
      }
    }
  }
}

/** A result without its human-readable message, for comparisons. */
export function resultShape(r: CommandResult): unknown {
  return r.ok ? r : { ok: false, code: r.code };
}
