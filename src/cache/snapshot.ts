/**
 * Snapshot format of the cache state machine, versions 1 and 2. Streamed as chunks
 * of at most `chunkSize` bytes; the byte stream is the concatenation of the
 * chunks (chunk boundaries carry no meaning). All numbers little-endian;
 * varuint = unsigned LEB128 up to 2^53-1, minimally encoded; string = varuint
 * UTF-8 byte length + bytes; bytes = varuint length + bytes.
 *
 *   header   "RCSM" (4 bytes magic), u8 version (1 or 2),
 *            f64 lastApplied, f64 now, f64 writeSeq, f64 evictions, f64 expirations,
 *            [version 2 only: varuint rangeCount, rangeCount × (varuint start, varuint end)]
 *            varuint entryCount
 *   entries  entryCount × (string key, bytes value, u8 hasExpiry,
 *                          [f64 expiresAt, f64 expirySeq] if hasExpiry = 1)
 *            in recency order, least recently used first
 *   sessions varuint sessionCount,
 *            sessionCount × (varuint clientId, f64 lastActive, varuint floor,
 *                            varuint resultCount,
 *                            resultCount × (varuint seq, bytes result))
 *            in activity order, least recently active first;
 *            result = the encoding of command.ts `writeResult`
 *   trailer  "RCSE" (4 bytes), u32 CRC-32 (IEEE) of every preceding byte
 *
 * Version 2 adds the ring ranges the state machine no longer owns (given away
 * by splits): canonical (sorted, merged: each start > the previous end), each
 * 0 <= start < end <= 2^32. The writer uses version 1 while that list is empty,
 * so a state machine that never split writes exactly the bytes it always did
 * (readable by older code); a version 1 snapshot restores as owning every key.
 *
 * Equal states produce equal bytes (the format has no slot numbers, no map
 * iteration order other than recency/activity order, and no wall-clock time).
 * Hit/miss counters are not state and are not stored.
 */
import { ByteReader, ByteWriter, DecodeError, decodeUtf8 } from './bytes.js';
import { readResult, writeResult } from './command.js';
import type { SessionState } from './sessions.js';
import { RING_SIZE } from '../shard/index.js';
import type { CommandResult, RingRange } from './types.js';

/** The newest snapshot version this code reads and writes (it reads every older one). */
export const SNAPSHOT_VERSION = 2;
export const DEFAULT_SNAPSHOT_CHUNK_SIZE = 64 * 1024;
const MAGIC = [0x52, 0x43, 0x53, 0x4d]; // "RCSM"
const TRAILER = [0x52, 0x43, 0x53, 0x45]; // "RCSE"

/** Thrown by restore on corrupt, truncated or unsupported snapshots. */
export class SnapshotError extends Error {
  readonly code = 'CORRUPT_SNAPSHOT' as const;
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

export interface SnapshotHeader {
  readonly lastApplied: number;
  readonly now: number;
  readonly writeSeq: number;
  readonly evictions: number;
  readonly expirations: number;
  /** Ring ranges given away by splits (canonical; empty = owns everything). */
  readonly notOwned: readonly RingRange[];
}

/** What the writer reads from the state machine; entries are walked by handle (LRU first). */
export interface SnapshotSource {
  readonly header: SnapshotHeader;
  readonly entryCount: number;
  /** First (least recently used) entry handle, or -1. */
  firstEntry(): number;
  nextEntry(handle: number): number;
  key(handle: number): string;
  value(handle: number): Uint8Array;
  /** Infinity when the entry has no expiry. */
  expiresAt(handle: number): number;
  expirySeq(handle: number): number;
  readonly sessionCount: number;
  sessions(): Iterable<[number, SessionState]>;
  /** Throws when the state changed after the snapshot started. */
  checkUnchanged(): void;
}

/** What the reader feeds, in stream order. */
export interface SnapshotSink {
  header(header: SnapshotHeader, entryCount: number): void;
  entry(key: string, value: Uint8Array, expiresAt: number, expirySeq: number): void;
  session(clientId: number, state: SessionState): void;
}

// ---- CRC-32 -----------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crcUpdate(crc: number, bytes: Uint8Array): number {
  let c = crc ^ 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = (CRC_TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ---- writing ----------------------------------------------------------------

class ChunkSink {
  private chunk: Uint8Array;
  private pos = 0;
  readonly ready: Uint8Array[] = [];
  crc = 0;

  constructor(private readonly chunkSize: number) {
    this.chunk = new Uint8Array(chunkSize);
  }

  write(bytes: Uint8Array): void {
    this.crc = crcUpdate(this.crc, bytes);
    let off = 0;
    while (off < bytes.length) {
      const n = Math.min(bytes.length - off, this.chunkSize - this.pos);
      this.chunk.set(bytes.subarray(off, off + n), this.pos);
      this.pos += n;
      off += n;
      if (this.pos === this.chunkSize) {
        this.ready.push(this.chunk);
        this.chunk = new Uint8Array(this.chunkSize);
        this.pos = 0;
      }
    }
  }

  flush(): void {
    if (this.pos > 0) this.ready.push(this.chunk.slice(0, this.pos));
    this.pos = 0;
  }
}

/**
 * Streams a snapshot of `src` as chunks of at most `chunkSize` bytes. The state
 * must not change while the generator is consumed (it throws if it does).
 */
export function* writeSnapshot(
  src: SnapshotSource,
  chunkSize: number = DEFAULT_SNAPSHOT_CHUNK_SIZE,
): Generator<Uint8Array, void, undefined> {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 16) {
    throw new RangeError(`snapshot chunkSize must be an integer >= 16, got ${chunkSize}`);
  }
  src.checkUnchanged(); // the body runs on the first next(), maybe after applies
  const sink = new ChunkSink(chunkSize);
  const w = new ByteWriter(256);
  const h = src.header;
  w.raw(Uint8Array.from(MAGIC));
  w.u8(h.notOwned.length === 0 ? 1 : 2);
  w.f64(h.lastApplied);
  w.f64(h.now);
  w.f64(h.writeSeq);
  w.f64(h.evictions);
  w.f64(h.expirations);
  if (h.notOwned.length > 0) {
    w.varuint(h.notOwned.length);
    for (const r of h.notOwned) {
      w.varuint(r.start);
      w.varuint(r.end);
    }
  }
  w.varuint(src.entryCount);
  sink.write(w.view());

  let written = 0;
  for (let e = src.firstEntry(); e >= 0; e = src.nextEntry(e)) {
    const value = src.value(e);
    w.reset();
    w.string(src.key(e));
    w.varuint(value.length);
    sink.write(w.view());
    sink.write(value);
    w.reset();
    const exp = src.expiresAt(e);
    if (exp === Infinity) w.u8(0);
    else {
      w.u8(1);
      w.f64(exp);
      w.f64(src.expirySeq(e));
    }
    sink.write(w.view());
    written++;
    while (sink.ready.length > 0) {
      yield sink.ready.shift() as Uint8Array;
      src.checkUnchanged();
    }
  }
  if (written !== src.entryCount) throw new Error('snapshot: entry count changed while writing');

  const result = new ByteWriter(32);
  w.reset();
  w.varuint(src.sessionCount);
  sink.write(w.view());
  for (const [clientId, s] of src.sessions()) {
    w.reset();
    w.varuint(clientId);
    w.f64(s.lastActive);
    w.varuint(s.floor);
    w.varuint(s.seqs.length);
    for (let i = 0; i < s.seqs.length; i++) {
      w.varuint(s.seqs[i] as number);
      result.reset();
      writeResult(result, s.results[i] as CommandResult);
      w.bytes(result.view());
    }
    sink.write(w.view());
    while (sink.ready.length > 0) {
      yield sink.ready.shift() as Uint8Array;
      src.checkUnchanged();
    }
  }

  w.reset();
  w.raw(Uint8Array.from(TRAILER));
  sink.write(w.view());
  const crc = new Uint8Array(4);
  new DataView(crc.buffer).setUint32(0, sink.crc, true);
  sink.write(crc);
  sink.flush();
  for (const chunk of sink.ready) yield chunk;
  src.checkUnchanged();
}

// ---- reading ----------------------------------------------------------------

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

class ChunkReader {
  private chunk: Uint8Array = new Uint8Array(0);
  private pos = 0;
  crc = 0;

  constructor(private readonly it: Iterator<Uint8Array>) {}

  private fill(what: string): void {
    while (this.pos >= this.chunk.length) {
      const r = this.it.next();
      if (r.done === true) throw new SnapshotError(`truncated snapshot: missing ${what}`);
      if (!(r.value instanceof Uint8Array)) throw new SnapshotError('snapshot chunks must be Uint8Array');
      this.chunk = r.value;
      this.pos = 0;
    }
  }

  /** The next n bytes (a view when they lie in one chunk, else a copy). */
  take(n: number, what: string, updateCrc = true): Uint8Array {
    let out: Uint8Array;
    if (n === 0) return new Uint8Array(0);
    this.fill(what);
    if (this.pos + n <= this.chunk.length) {
      out = this.chunk.subarray(this.pos, this.pos + n);
      this.pos += n;
    } else {
      out = new Uint8Array(n);
      let off = 0;
      while (off < n) {
        this.fill(what);
        const k = Math.min(n - off, this.chunk.length - this.pos);
        out.set(this.chunk.subarray(this.pos, this.pos + k), off);
        this.pos += k;
        off += k;
      }
    }
    if (updateCrc) this.crc = crcUpdate(this.crc, out);
    return out;
  }

  u8(what: string): number {
    return this.take(1, what)[0] as number;
  }

  f64(what: string): number {
    f64Bytes.set(this.take(8, what));
    return f64[0] as number;
  }

  varuint(what: string): number {
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8(what);
      value += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (!Number.isSafeInteger(value) || (i > 0 && b === 0)) throw new SnapshotError(`bad ${what}`);
        return value;
      }
      mul *= 0x80;
    }
    throw new SnapshotError(`bad ${what}`);
  }

  string(what: string): string {
    const len = this.varuint(`${what} length`);
    const bytes = this.take(len, what);
    try {
      return decodeUtf8(bytes, 0, bytes.length);
    } catch (e) {
      if (e instanceof DecodeError) throw new SnapshotError(`${what}: ${e.message}`);
      throw e;
    }
  }

  /** Copies, so stored values never alias a caller's chunk. */
  bytes(what: string): Uint8Array {
    const len = this.varuint(`${what} length`);
    return this.take(len, what).slice();
  }

  atEnd(): boolean {
    if (this.pos < this.chunk.length) return false;
    for (;;) {
      const r = this.it.next();
      if (r.done === true) return true;
      if (!(r.value instanceof Uint8Array)) throw new SnapshotError('snapshot chunks must be Uint8Array');
      if (r.value.length > 0) {
        this.chunk = r.value;
        this.pos = 0;
        return false;
      }
    }
  }
}

function nonNegInt(v: number, what: string): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new SnapshotError(`bad ${what}: ${v}`);
  return v;
}

function readRanges(r: ChunkReader): RingRange[] {
  const count = r.varuint('range count');
  if (count === 0) throw new SnapshotError('version 2 snapshot with no ranges (version 1 is the canonical form)');
  const ranges: RingRange[] = [];
  let prevEnd = -1;
  for (let i = 0; i < count; i++) {
    const start = r.varuint('range start');
    const end = r.varuint('range end');
    if (start <= prevEnd || end <= start || end > RING_SIZE) throw new SnapshotError(`bad not-owned range ${i}: [${start}, ${end})`);
    ranges.push({ start, end });
    prevEnd = end;
  }
  return ranges;
}

/** Parses a snapshot stream into `sink`. Throws SnapshotError on corrupt input. */
export function readSnapshot(chunks: Iterable<Uint8Array>, sink: SnapshotSink): void {
  if (chunks === null || typeof chunks !== 'object' || typeof (chunks as Partial<Iterable<Uint8Array>>)[Symbol.iterator] !== 'function') {
    throw new SnapshotError('snapshot must be an iterable of Uint8Array chunks');
  }
  const r = new ChunkReader(chunks[Symbol.iterator]());
  const magic = r.take(4, 'magic');
  if (!MAGIC.every((b, i) => magic[i] === b)) throw new SnapshotError('not a cache snapshot (bad magic)');
  const version = r.u8('version');
  if (version !== 1 && version !== 2) throw new SnapshotError(`unsupported snapshot version ${version}`);
  const header: SnapshotHeader = {
    lastApplied: nonNegInt(r.f64('lastApplied'), 'lastApplied'),
    now: nonNegInt(r.f64('now'), 'now'),
    writeSeq: nonNegInt(r.f64('writeSeq'), 'writeSeq'),
    evictions: nonNegInt(r.f64('evictions'), 'evictions'),
    expirations: nonNegInt(r.f64('expirations'), 'expirations'),
    notOwned: version === 2 ? readRanges(r) : [],
  };
  const entryCount = r.varuint('entry count');
  sink.header(header, entryCount);
  for (let i = 0; i < entryCount; i++) {
    const key = r.string('key');
    const value = r.bytes('value');
    const flag = r.u8('expiry flag');
    if (flag > 1) throw new SnapshotError('bad expiry flag');
    let expiresAt = Infinity;
    let seq = 0;
    if (flag === 1) {
      expiresAt = nonNegInt(r.f64('expiresAt'), 'expiresAt');
      seq = nonNegInt(r.f64('expiry seq'), 'expiry seq');
      if (expiresAt <= header.now) throw new SnapshotError(`entry ${i} already expired`);
    }
    sink.entry(key, value, expiresAt, seq);
  }
  const sessionCount = r.varuint('session count');
  for (let i = 0; i < sessionCount; i++) {
    const clientId = r.varuint('client id');
    const lastActive = nonNegInt(r.f64('lastActive'), 'lastActive');
    const floor = r.varuint('floor');
    const n = r.varuint('result count');
    const seqs: number[] = [];
    const results: CommandResult[] = [];
    for (let j = 0; j < n; j++) {
      const seq = r.varuint('result seq');
      if (j > 0 && seq <= (seqs[j - 1] as number)) throw new SnapshotError('session result seqs not increasing');
      const br = new ByteReader(r.bytes('result'));
      try {
        results.push(readResult(br));
        br.end();
      } catch (e) {
        if (e instanceof DecodeError) throw new SnapshotError(`bad session result: ${e.message}`);
        throw e;
      }
      seqs.push(seq);
    }
    sink.session(clientId, { lastActive, floor, seqs, results });
  }
  const expectedCrc = r.crc;
  const trailer = r.take(4, 'trailer', false);
  if (!TRAILER.every((b, i) => trailer[i] === b)) throw new SnapshotError('bad snapshot trailer');
  const crcBytes = r.take(4, 'checksum', false);
  const crc = new DataView(crcBytes.buffer, crcBytes.byteOffset, 4).getUint32(0, true);
  if (!r.atEnd()) throw new SnapshotError('trailing bytes after snapshot');
  // The trailer magic is covered by the stored CRC: fold it in before comparing.
  if (crcUpdate(expectedCrc, Uint8Array.from(TRAILER)) !== crc) throw new SnapshotError('snapshot checksum mismatch');
}
