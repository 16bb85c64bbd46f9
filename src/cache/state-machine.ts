/**
 * The cache state machine every replica of a shard applies, in log order.
 *
 * Determinism: the state depends only on the sequence of (index, command)
 * applied. Time is the max `ts` applied so far (never a local clock); recency
 * changes only through applied writes and `touch`; eviction and expiry happen
 * on apply, in a fixed order. Reads (get/peek/has/size) never change state; the
 * hit/miss counters they bump are statistics, outside the state and the snapshot.
 *
 * Sizes: an entry's size is UTF-8 bytes of the key + value bytes +
 * ENTRY_OVERHEAD_BYTES. After a write, least recently used entries are evicted
 * until size <= maxEntries and bytes <= maxBytes. An entry whose size alone
 * exceeds maxBytes is refused with TOO_LARGE and nothing changes.
 *
 * TTL: a write with ttlMs at log time `now` (after `now` = max(now, ts)) gets
 * expiresAt = now + ttlMs; the entry is expired once now >= expiresAt. A write
 * without ttlMs clears any previous expiry; incr keeps the existing one. Every
 * apply that advances `now` removes the expired entries through the expiry
 * heap (cost proportional to their number); reads also treat an entry with
 * now >= expiresAt as absent (lazy check), without changing anything.
 *
 * Recency: put, successful cas and incr make the key most recently used;
 * failed cas and refused writes do not. `touch` moves present keys to MRU in
 * the given order.
 *
 * Splits: a `split` entry moves every entry whose key's ring position
 * (hashKey of src/shard, as the router places keys) lies in the given ranges,
 * in LRU order with its value and expiry, to a new state machine (takeSplit()),
 * which also gets a copy of the sessions, the clock, and lastApplied = the
 * split's index. This one then no longer owns those ranges: put, delete, cas
 * and incr on such a key return WRONG_SHARD before anything changes (log
 * clock, expiry, session record: a client retries on the right shard with the
 * same seq); touch finds no such key (none is ever stored).
 *
 * Ownership: the state machine keeps the Uint8Array values of commands applied
 * with apply() as they are, and reads return the stored arrays; neither may be
 * mutated. applyEncoded/applyDecoded copy a put's value out of the entry bytes
 * (no value ever pins a foreign buffer); an overwrite of such a private copy
 * by a value of the same length reuses its memory, unless a read handed the
 * array out (see LruStore.overwriteOwned).
 */
import { hashKey } from '../shard/index.js';
import { strictUtf8Length } from './bytes.js';
import { CommandCodecError, DONE, errorResult, validateExceptPutKey, valueText } from './command.js';
import { CommandDecoder } from './command-decoder.js';
import { ExpiryHeap } from './expiry-heap.js';
import { LruStore } from './lru.js';
import { RingRangeSet } from './ring-ranges.js';
import { SessionTable } from './sessions.js';
import type { SessionState } from './sessions.js';
import {
  DEFAULT_SNAPSHOT_CHUNK_SIZE,
  readSnapshot,
  SnapshotError,
  writeSnapshot,
} from './snapshot.js';
import type { SnapshotHeader, SnapshotSink, SnapshotSource } from './snapshot.js';
import { resolveCacheConfig } from './types.js';
import type { CacheConfig, Command, CommandResult, ResolvedCacheConfig, RingRange, SessionRef } from './types.js';

/** Constant bytes added to every entry's size (bookkeeping overhead estimate). */
export const ENTRY_OVERHEAD_BYTES = 48;

export interface CacheStats {
  /** Reads that found a live entry (statistics only; not replicated state). */
  readonly hits: number;
  /** Reads that found nothing (statistics only). */
  readonly misses: number;
  /** Entries removed to respect maxEntries/maxBytes. */
  readonly evictions: number;
  /** Entries removed because their TTL passed. */
  readonly expirations: number;
}

const MAX_INTEGER_TEXT = 32;

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Parses decimal ASCII (optional '-', digits) as a safe integer, or returns null. */
function parseInteger(v: Uint8Array): number | null {
  if (v.length === 0 || v.length > MAX_INTEGER_TEXT) return null;
  let i = v[0] === 0x2d ? 1 : 0;
  if (i === v.length) return null;
  let n = 0;
  for (; i < v.length; i++) {
    const d = (v[i] as number) - 0x30;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  if (!Number.isSafeInteger(n)) return null;
  return v[0] === 0x2d ? -n : n;
}

function integerText(n: number): Uint8Array {
  const s = String(n);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export class CacheStateMachine {
  readonly config: ResolvedCacheConfig;
  private readonly store: LruStore;
  private readonly expiry: ExpiryHeap;
  private readonly sessions: SessionTable;
  private clock = 0;
  private applied = 0;
  /** Per-write sequence number: the expiry heap's deterministic tiebreak. */
  private writeSeq = 0;
  private evictions = 0;
  private expirations = 0;
  private hits = 0;
  private misses = 0;
  /** Bumped by every apply; lets a snapshot in progress detect concurrent changes. */
  private version = 0;
  /** Ring ranges given away by splits (state: in the snapshot). */
  private notOwned: RingRangeSet = RingRangeSet.EMPTY;
  /** Produced by the last applied split, until takeSplit() (not state). */
  private pendingSplit: CacheStateMachine | null = null;
  /** applyEncoded's decoder (reused: no per-entry decoder object). */
  private readonly decoder = new CommandDecoder();

  constructor(config: CacheConfig) {
    this.config = resolveCacheConfig(config);
    const initial = Math.min(this.config.maxEntries, 1024);
    this.store = new LruStore(initial);
    this.expiry = new ExpiryHeap(this.store.capacity);
    this.sessions = new SessionTable(this.config);
  }

  /** Log time: the largest ts applied so far (ms). */
  get now(): number {
    return this.clock;
  }

  /** Index of the last applied log entry (0 before any). */
  get lastApplied(): number {
    return this.applied;
  }

  get size(): number {
    return this.store.size;
  }

  /** Sum of entry sizes (see ENTRY_OVERHEAD_BYTES). */
  get bytes(): number {
    return this.store.bytes;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  get stats(): CacheStats {
    return { hits: this.hits, misses: this.misses, evictions: this.evictions, expirations: this.expirations };
  }

  // ---- reads (never change state) -------------------------------------------

  private liveSlot(key: string): number {
    const slot = this.store.slotOf(key);
    if (slot < 0) return -1;
    return this.clock >= this.expiry.expiresAt(slot) ? -1 : slot;
  }

  /** The value of a live key, or null. Counts a hit or a miss. Do not mutate the result. */
  get(key: string): Uint8Array | null {
    const slot = this.liveSlot(key);
    if (slot < 0) {
      this.misses++;
      return null;
    }
    this.hits++;
    return this.store.valueAt(slot);
  }

  /** get() decoded as UTF-8 text. */
  getString(key: string): string | null {
    const v = this.get(key);
    return v === null ? null : valueText(v);
  }

  /** Like get() without counting. */
  peek(key: string): Uint8Array | null {
    const slot = this.liveSlot(key);
    return slot < 0 ? null : this.store.valueAt(slot);
  }

  has(key: string): boolean {
    return this.liveSlot(key) >= 0;
  }

  /** Expiry time of a live key (null = no expiry), or undefined when absent. */
  expiresAt(key: string): number | null | undefined {
    const slot = this.liveSlot(key);
    if (slot < 0) return undefined;
    const e = this.expiry.expiresAt(slot);
    return e === Infinity ? null : e;
  }

  /** Live keys from least to most recently used. */
  *keys(): Generator<string, void, undefined> {
    for (let s = this.store.lruSlot(); s >= 0; s = this.store.newerThan(s)) {
      if (this.clock < this.expiry.expiresAt(s)) yield this.store.keyAt(s);
    }
  }

  /**
   * Whether this state machine owns `key` (it was not split off). With no split
   * ever applied this is one length check; after splits, hash + binary search.
   */
  owns(key: string): boolean {
    const notOwned = this.notOwned;
    return notOwned.size === 0 || !notOwned.contains(hashKey(key));
  }

  /** Ring ranges given away by splits, sorted and merged (empty = owns every key). */
  notOwnedRanges(): RingRange[] {
    return this.notOwned.toRanges();
  }

  /**
   * The state machine produced by the last applied split, once (then null);
   * null when no split was applied since the last call. It holds the moved
   * entries, a copy of the sessions, this clock, and lastApplied = the split's
   * index; it owns only the split ranges (minus those given away before). Its
   * Raft group must start its log after that index: register hands out entry
   * indexes as client ids, which must not collide with the copied sessions.
   */
  takeSplit(): CacheStateMachine | null {
    const taken = this.pendingSplit;
    this.pendingSplit = null;
    return taken;
  }

  /** Session state of a client (read-only view), or undefined. */
  session(clientId: number): Readonly<SessionState> | undefined {
    return this.sessions.get(clientId);
  }

  // ---- apply -----------------------------------------------------------------

  /** Applies the command of log entry `index` (indexes must increase). */
  apply(index: number, cmd: Command): CommandResult {
    this.beginApply(index);
    const problem = validateExceptPutKey(cmd);
    if (problem !== null) return errorResult('INVALID_COMMAND', problem);
    return this.applyValid(index, cmd);
  }

  /**
   * Decodes and applies a log entry's payload. Undecodable bytes give INVALID_COMMAND.
   * Same state and result as apply(index, decodeCommand(bytes)), with less work per put.
   */
  applyEncoded(index: number, bytes: Uint8Array): CommandResult {
    const d = this.decoder;
    try {
      d.decode(bytes);
    } catch (e) {
      if (e instanceof CommandCodecError) {
        this.beginApply(index);
        return errorResult('INVALID_COMMAND', e.message);
      }
      throw e;
    }
    const result = this.applyDecoded(index, d);
    d.release();
    return result;
  }

  /**
   * Applies what `d` decoded (d.decode() succeeded). Same state and result as
   * apply(index, d.toCommand()); a put is applied from the entry bytes, its
   * value copied into memory the cache owns. `d` is not changed.
   */
  applyDecoded(index: number, d: CommandDecoder): CommandResult {
    this.beginApply(index);
    if (d.command !== null) return this.applyValid(index, d.command);
    if (this.notOwned.size !== 0 && !this.owns(d.key)) {
      return errorResult('WRONG_SHARD', `key ${JSON.stringify(d.key)} was split off to another shard`);
    }
    if (d.ts > this.clock) this.advanceClock(d.ts);
    const client = d.client;
    if (client !== 0) {
      const earlier = this.sessions.beginWrite(client, d.seq, d.firstIncomplete, this.clock);
      if (earlier !== null) return earlier;
    }
    const result = this.putBytes(d.key, d.keyBytes, d.source, d.valueStart, d.valueEnd, d.ttlMs);
    if (client !== 0) this.sessions.recordWrite(d.seq, result);
    return result;
  }

  private beginApply(index: number): void {
    if (!Number.isSafeInteger(index) || index <= this.applied) {
      throw new RangeError(`apply index ${index} must be an integer above lastApplied ${this.applied}`);
    }
    this.applied = index;
    this.version++;
  }

  private applyValid(index: number, cmd: Command): CommandResult {
    if (this.notOwned.size !== 0) {
      const refused = this.refuseNotOwned(cmd);
      if (refused !== null) return refused;
    }
    if (cmd.ts > this.clock) this.advanceClock(cmd.ts);
    switch (cmd.type) {
      case 'clock':
        return DONE;
      case 'register':
        this.sessions.register(index, this.clock);
        return { ok: true, kind: 'registered', clientId: index };
      case 'touch':
        // Keys this state machine does not own are never stored: they are skipped like absent ones.
        for (const key of cmd.keys) {
          const slot = this.liveSlot(key);
          if (slot >= 0) this.store.moveToMru(slot);
        }
        return DONE;
      case 'split':
        this.split(index, cmd.ranges);
        return DONE;
      default:
        return this.applyWrite(cmd);
    }
  }

  private advanceClock(ts: number): void {
    this.clock = ts;
    this.expireDue();
    this.sessions.expire(ts);
  }

  /** WRONG_SHARD for a write to a key split off to another shard, else null. */
  private refuseNotOwned(cmd: Command): CommandResult | null {
    switch (cmd.type) {
      case 'put':
      case 'delete':
      case 'cas':
      case 'incr':
        if (this.owns(cmd.key)) return null;
        return errorResult('WRONG_SHARD', `key ${JSON.stringify(cmd.key)} was split off to another shard`);
      default:
        return null;
    }
  }

  /** Moves the entries in `ranges` to a new state machine (see takeSplit). Expired entries are already gone. */
  private split(index: number, ranges: readonly RingRange[]): void {
    const moved = RingRangeSet.of(ranges);
    const target = new CacheStateMachine(this.config);
    target.clock = this.clock;
    target.applied = index;
    target.writeSeq = this.writeSeq;
    // The target owns what moved, minus what this one had already given away.
    target.notOwned = moved.complement().union(this.notOwned.toRanges());
    const store = this.store;
    const expiry = this.expiry;
    // LRU first: inserting at the target's MRU end keeps the relative order on both sides.
    for (let slot = store.lruSlot(); slot >= 0; ) {
      const next = store.newerThan(slot);
      const key = store.keyAt(slot);
      if (moved.contains(hashKey(key))) {
        const newSlot = target.store.insert(key, store.valueAt(slot), store.sizeAt(slot));
        target.expiry.ensureSlotCapacity(target.store.capacity);
        const expiresAt = expiry.expiresAt(slot);
        if (expiresAt !== Infinity) target.expiry.set(newSlot, expiresAt, expiry.seqOf(slot));
        expiry.remove(slot);
        store.remove(slot);
      }
      slot = next;
    }
    // Both sides keep every session (activity order preserved): a retried write is recognised on either.
    for (const [clientId, s] of this.sessions.entries()) {
      target.sessions.restore(clientId, { lastActive: s.lastActive, floor: s.floor, seqs: s.seqs.slice(), results: s.results.slice() });
    }
    this.notOwned = this.notOwned.union(ranges);
    this.pendingSplit = target;
  }

  private applyWrite(cmd: Exclude<Command, { type: 'clock' | 'register' | 'touch' | 'split' }>): CommandResult {
    // put checks its key here (validateExceptPutKey leaves it to us): one UTF-8 scan gives
    // both well-formedness and the size, and the hot path does it once.
    const keyBytes = cmd.type === 'put' ? strictUtf8Length(cmd.key) : 0;
    if (keyBytes < 0) return errorResult('INVALID_COMMAND', 'key must be a well-formed string');
    const session: SessionRef | undefined = cmd.session;
    if (session !== undefined) {
      const earlier = this.sessions.beginWrite(session.client, session.seq, session.firstIncomplete ?? -1, this.clock);
      if (earlier !== null) return earlier;
    }
    let result: CommandResult;
    switch (cmd.type) {
      case 'put':
        result = this.put(cmd.key, keyBytes, cmd.value, cmd.ttlMs);
        break;
      case 'delete':
        result = { ok: true, kind: 'deleted', existed: this.remove(cmd.key) };
        break;
      case 'cas':
        result = this.cas(cmd.key, cmd.expected, cmd.next, cmd.ttlMs);
        break;
      case 'incr':
        result = this.incr(cmd.key, cmd.by);
        break;
    }
    if (session !== undefined) this.sessions.recordWrite(session.seq, result);
    return result;
  }

  private entrySize(key: string, value: Uint8Array): number {
    return strictUtf8Length(key) + value.length + ENTRY_OVERHEAD_BYTES;
  }

  private tooLarge(size: number): CommandResult {
    return errorResult('TOO_LARGE', `entry of ${size} bytes exceeds maxBytes ${this.config.maxBytes}`);
  }

  /** Writes key=value as MRU. keepExpiry: leave the current expiry (incr); else set from ttlMs. */
  private write(key: string, value: Uint8Array, size: number, ttlMs: number | undefined, keepExpiry: boolean): void {
    const store = this.store;
    let slot = store.slotOf(key);
    if (slot >= 0) {
      store.setValue(slot, value, size);
      store.moveToMru(slot);
    } else {
      // Full: the LRU entry would be evicted after the insert anyway (same order,
      // same count); evicting first lets the insert reuse its slot.
      if (store.size >= this.config.maxEntries) this.evictLru();
      slot = store.insert(key, value, size);
      this.expiry.ensureSlotCapacity(store.capacity);
    }
    this.afterWrite(slot, ttlMs, keepExpiry);
  }

  private afterWrite(slot: number, ttlMs: number | undefined, keepExpiry: boolean): void {
    if (!keepExpiry) {
      if (ttlMs !== undefined) this.expiry.set(slot, this.clock + ttlMs, ++this.writeSeq);
      else this.expiry.remove(slot);
    }
    this.evictOverflow();
  }

  /** put() of the value src[start, end), stored as a private copy (reusing the old one's memory when it can). */
  private putBytes(key: string, keyBytes: number, src: Uint8Array, start: number, end: number, ttlMs: number | undefined): CommandResult {
    const size = keyBytes + (end - start) + ENTRY_OVERHEAD_BYTES;
    if (size > this.config.maxBytes) return this.tooLarge(size);
    const store = this.store;
    let slot = store.slotOf(key);
    if (slot >= 0) {
      if (!store.overwriteOwned(slot, src, start, end, size)) store.setValue(slot, src.slice(start, end), size, true);
      store.moveToMru(slot);
    } else {
      if (store.size >= this.config.maxEntries) this.evictLru();
      slot = store.insert(key, src.slice(start, end), size, true);
      this.expiry.ensureSlotCapacity(store.capacity);
    }
    this.afterWrite(slot, ttlMs, false);
    return DONE;
  }

  private put(key: string, keyBytes: number, value: Uint8Array, ttlMs: number | undefined): CommandResult {
    const size = keyBytes + value.length + ENTRY_OVERHEAD_BYTES;
    if (size > this.config.maxBytes) return this.tooLarge(size);
    this.write(key, value, size, ttlMs, false);
    return DONE;
  }

  private remove(key: string): boolean {
    const slot = this.store.slotOf(key);
    if (slot < 0) return false;
    this.expiry.remove(slot);
    this.store.remove(slot);
    return true;
  }

  private cas(key: string, expected: Uint8Array | null, next: Uint8Array | null, ttlMs: number | undefined): CommandResult {
    let size = 0;
    if (next !== null) {
      size = this.entrySize(key, next);
      if (size > this.config.maxBytes) return this.tooLarge(size);
    }
    const slot = this.liveSlot(key);
    const matches =
      expected === null ? slot < 0 : slot >= 0 && bytesEqual(this.store.peekValueAt(slot), expected);
    if (!matches) return { ok: true, kind: 'cas', swapped: false };
    if (next === null) this.remove(key);
    else this.write(key, next, size, ttlMs, false);
    return { ok: true, kind: 'cas', swapped: true };
  }

  private incr(key: string, by: number): CommandResult {
    const slot = this.liveSlot(key);
    let current = 0;
    if (slot >= 0) {
      const parsed = parseInteger(this.store.peekValueAt(slot));
      if (parsed === null) return errorResult('NOT_INTEGER', `value of ${JSON.stringify(key)} is not a decimal integer`);
      current = parsed;
    }
    const value = current + by;
    if (!Number.isSafeInteger(value)) {
      return errorResult('OUT_OF_RANGE', `incr result ${current} + ${by} is beyond the safe integer range`);
    }
    const text = integerText(value);
    const size = this.entrySize(key, text);
    if (size > this.config.maxBytes) return this.tooLarge(size);
    this.write(key, text, size, undefined, true);
    return { ok: true, kind: 'incr', value };
  }

  private evictOverflow(): void {
    const { maxEntries, maxBytes } = this.config;
    const store = this.store;
    while (store.size > maxEntries || store.bytes > maxBytes) this.evictLru();
  }

  private evictLru(): void {
    const slot = this.store.lruSlot();
    this.expiry.remove(slot);
    this.store.remove(slot);
    this.evictions++;
  }

  private expireDue(): void {
    const heap = this.expiry;
    while (heap.minExpiresAt() <= this.clock) {
      const slot = heap.minSlot();
      heap.remove(slot);
      this.store.remove(slot);
      this.expirations++;
    }
  }

  // ---- snapshot --------------------------------------------------------------

  /** Streams the exact state as chunks of at most chunkSize bytes (see snapshot.ts). */
  snapshot(chunkSize: number = DEFAULT_SNAPSHOT_CHUNK_SIZE): Generator<Uint8Array, void, undefined> {
    const store = this.store;
    const expiry = this.expiry;
    const startVersion = this.version;
    const source: SnapshotSource = {
      header: {
        lastApplied: this.applied,
        now: this.clock,
        writeSeq: this.writeSeq,
        evictions: this.evictions,
        expirations: this.expirations,
        notOwned: this.notOwned.toRanges(),
      },
      entryCount: store.size,
      firstEntry: () => store.lruSlot(),
      nextEntry: (s) => store.newerThan(s),
      key: (s) => store.keyAt(s),
      value: (s) => store.valueAt(s),
      expiresAt: (s) => expiry.expiresAt(s),
      expirySeq: (s) => expiry.seqOf(s),
      sessionCount: this.sessions.size,
      sessions: () => this.sessions.entries(),
      checkUnchanged: () => {
        if (this.version !== startVersion) throw new Error('state machine changed while its snapshot was being read');
      },
    };
    return writeSnapshot(source, chunkSize);
  }

  /** Snapshot as one buffer (tests, small states). */
  snapshotBytes(chunkSize?: number): Uint8Array {
    const chunks = [...this.snapshot(chunkSize)];
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }

  /** A fresh state machine holding exactly the snapshotted state. Throws SnapshotError on corrupt input. */
  static restore(config: CacheConfig, chunks: Iterable<Uint8Array>): CacheStateMachine {
    const sm = new CacheStateMachine(config);
    readSnapshot(chunks, sm.restoreSink());
    return sm;
  }

  private restoreSink(): SnapshotSink {
    let expected = 0;
    let lastActive = 0;
    return {
      header: (h: SnapshotHeader, entryCount: number) => {
        this.applied = h.lastApplied;
        this.clock = h.now;
        this.writeSeq = h.writeSeq;
        this.evictions = h.evictions;
        this.expirations = h.expirations;
        this.notOwned = RingRangeSet.of(h.notOwned);
        expected = entryCount;
        if (entryCount > this.config.maxEntries) {
          throw new SnapshotError(`snapshot has ${entryCount} entries, over maxEntries ${this.config.maxEntries}`);
        }
      },
      entry: (key, value, expiresAt, seq) => {
        if (this.store.slotOf(key) >= 0) throw new SnapshotError(`duplicate key in snapshot: ${JSON.stringify(key)}`);
        if (!this.owns(key)) throw new SnapshotError(`snapshot holds key ${JSON.stringify(key)} of a range it does not own`);
        const size = this.entrySize(key, value);
        if (this.store.bytes + size > this.config.maxBytes) {
          throw new SnapshotError(`snapshot entries exceed maxBytes ${this.config.maxBytes}`);
        }
        const slot = this.store.insert(key, value, size);
        this.expiry.ensureSlotCapacity(this.store.capacity);
        if (expiresAt !== Infinity) {
          if (seq > this.writeSeq) throw new SnapshotError('expiry seq above writeSeq');
          this.expiry.set(slot, expiresAt, seq);
        }
        expected--;
      },
      session: (clientId, state) => {
        if (expected !== 0) throw new SnapshotError('entry count mismatch');
        if (this.sessions.get(clientId) !== undefined) throw new SnapshotError(`duplicate session ${clientId}`);
        // Activity order must hold for O(expired) session expiry.
        if (state.lastActive < lastActive) throw new SnapshotError('sessions not in activity order');
        if (state.lastActive > this.clock) throw new SnapshotError('session active after snapshot time');
        lastActive = state.lastActive;
        this.sessions.restore(clientId, state);
      },
    };
  }
}
