/**
 * Binary value encodings of the records named in keys.ts. Every decoder checks
 * lengths and throws StorageCorruptionError on a malformed value.
 */
import type { ConfState, Entry, EntryType, HardState, NodeId } from '../raft/types.js';
import { readU32, readU64, writeU32, writeU64 } from './bytes.js';
import { StorageCorruptionError } from './errors.js';

const TYPE_NORMAL = 0;
const TYPE_CONF = 1;
const RUN_HEADER = 4; // count u32
const RUN_ENTRY_HEADER = 13; // type u8 + term u64 + data length u32
/** Bytes a run takes per entry besides its data. */
export const RUN_ENTRY_BYTES = RUN_ENTRY_HEADER;
const TWO_32 = 0x1_0000_0000;

/** Encoded size of the run of `entries[from..to)`. */
export function runSize(entries: readonly Entry[], from: number, to: number = entries.length): number {
  let size = RUN_HEADER;
  for (let i = from; i < to; i++) size += RUN_ENTRY_HEADER + (entries[i] as Entry).data.byteLength;
  return size;
}

/**
 * A run of consecutive entries (`entries[from..]`, indexes implied by the key):
 * count u32, then per entry type u8, term u64, data length u32, data.
 */
export function encodeRun(entries: readonly Entry[], from: number, to: number = entries.length): Uint8Array {
  const v = new Uint8Array(runSize(entries, from, to));
  encodeRunInto(v, entries, from, to);
  return v;
}

/** Writes the run of `entries[from..to)` at the start of `v` (at least `runSize` bytes); returns its length. */
export function encodeRunInto(v: Uint8Array, entries: readonly Entry[], from: number, to: number): number {
  writeU32(v, 0, to - from);
  let o = RUN_HEADER;
  // The term is checked and split once per run of equal terms (nearly always one per run).
  let term = Number.NaN; // differs from every term, so the first is always checked
  let hi = 0;
  let lo = 0;
  for (let i = from; i < to; i++) {
    const e = entries[i] as Entry;
    if (e.term !== term) {
      term = e.term;
      if (!Number.isSafeInteger(term) || term < 0) throw new RangeError(`not a safe u64: ${term}`);
      hi = Math.floor(term / TWO_32);
      lo = term >>> 0;
    }
    const data = e.data;
    const len = data.byteLength;
    v[o] = e.type === 'conf' ? TYPE_CONF : TYPE_NORMAL;
    v[o + 1] = hi >>> 24;
    v[o + 2] = (hi >>> 16) & 0xff;
    v[o + 3] = (hi >>> 8) & 0xff;
    v[o + 4] = hi & 0xff;
    v[o + 5] = lo >>> 24;
    v[o + 6] = (lo >>> 16) & 0xff;
    v[o + 7] = (lo >>> 8) & 0xff;
    v[o + 8] = lo & 0xff;
    v[o + 9] = len >>> 24;
    v[o + 10] = (len >>> 16) & 0xff;
    v[o + 11] = (len >>> 8) & 0xff;
    v[o + 12] = len & 0xff;
    o += RUN_ENTRY_HEADER;
    v.set(data, o);
    o += len;
  }
  return o;
}

/** The entries of the run that begins at `first`; their data are views into `v` (no copy). */
export function decodeRun(first: number, v: Uint8Array): Entry[] {
  if (v.length < RUN_HEADER) throw new StorageCorruptionError(`run at ${first}: value of ${v.length} bytes`);
  const n = readU32(v, 0);
  if (n === 0) throw new StorageCorruptionError(`run at ${first}: empty`);
  const out: Entry[] = [];
  let o = RUN_HEADER;
  for (let i = 0; i < n; i++) {
    const index = first + i;
    if (o + RUN_ENTRY_HEADER > v.length) throw new StorageCorruptionError(`run at ${first}: truncated at entry ${index}`);
    const t = v[o];
    let type: EntryType;
    if (t === TYPE_NORMAL) type = 'normal';
    else if (t === TYPE_CONF) type = 'conf';
    else throw new StorageCorruptionError(`entry ${index}: unknown type ${String(t)}`);
    const term = readU64(v, o + 1);
    const len = readU32(v, o + 9);
    o += RUN_ENTRY_HEADER;
    if (o + len > v.length) throw new StorageCorruptionError(`run at ${first}: entry ${index} data truncated`);
    out.push({ term, index, type, data: v.subarray(o, o + len) });
    o += len;
  }
  if (o !== v.length) throw new StorageCorruptionError(`run at ${first}: ${v.length - o} trailing bytes`);
  return out;
}

export const HARD_STATE_BYTES = 24;

export function encodeHardState(hs: HardState): Uint8Array {
  const v = new Uint8Array(HARD_STATE_BYTES);
  encodeHardStateInto(v, hs);
  return v;
}

/** Writes the hard state into `v` (HARD_STATE_BYTES bytes). */
export function encodeHardStateInto(v: Uint8Array, hs: HardState): void {
  writeU64(v, 0, hs.term);
  writeU64(v, 8, hs.vote);
  writeU64(v, 16, hs.commit);
}

export function decodeHardState(v: Uint8Array): HardState {
  expectLength('hard state', v, 24);
  return { term: readU64(v, 0), vote: readU64(v, 8), commit: readU64(v, 16) };
}

/** Index and term of the entry just before the first one held. */
export interface LogStart {
  readonly index: number;
  readonly term: number;
}

export function encodeLogStart(s: LogStart): Uint8Array {
  const v = new Uint8Array(16);
  writeU64(v, 0, s.index);
  writeU64(v, 8, s.term);
  return v;
}

export function decodeLogStart(v: Uint8Array): LogStart {
  expectLength('log start', v, 16);
  return { index: readU64(v, 0), term: readU64(v, 8) };
}

function confLists(c: ConfState): readonly (readonly NodeId[])[] {
  return [c.voters, c.learners, c.votersOutgoing ?? []];
}

function confLength(c: ConfState): number {
  let n = 1;
  for (const ids of confLists(c)) n += 4 + 8 * ids.length;
  return n;
}

/**
 * voters, learners, outgoing voters (C_old of a joint configuration): each
 * count u32, ids u64…; then flags u8 (bit 0: autoLeave).
 */
function writeConf(v: Uint8Array, off: number, c: ConfState): number {
  let o = off;
  for (const ids of confLists(c)) {
    writeU32(v, o, ids.length);
    o += 4;
    for (const id of ids) {
      writeU64(v, o, id);
      o += 8;
    }
  }
  v[o++] = c.autoLeave === true ? 1 : 0;
  return o;
}

function readConf(what: string, v: Uint8Array, off: number): { conf: ConfState; end: number } {
  let o = off;
  const lists: NodeId[][] = [];
  for (let l = 0; l < 3; l++) {
    if (o + 4 > v.length) throw new StorageCorruptionError(`${what}: truncated conf state`);
    const n = readU32(v, o);
    o += 4;
    if (o + 8 * n > v.length) throw new StorageCorruptionError(`${what}: truncated conf state`);
    const ids: NodeId[] = [];
    for (let i = 0; i < n; i++, o += 8) ids.push(readU64(v, o));
    lists.push(ids);
  }
  if (o + 1 > v.length) throw new StorageCorruptionError(`${what}: truncated conf state`);
  const flags = v[o++] as number;
  if (flags > 1) throw new StorageCorruptionError(`${what}: unknown conf flags ${flags}`);
  const outgoing = lists[2] ?? [];
  const conf: ConfState = {
    voters: lists[0] ?? [],
    learners: lists[1] ?? [],
    ...(outgoing.length > 0 ? { votersOutgoing: outgoing, autoLeave: flags === 1 } : {}),
  };
  return { conf, end: o };
}

export function encodeConf(c: ConfState): Uint8Array {
  const v = new Uint8Array(confLength(c));
  writeConf(v, 0, c);
  return v;
}

export function decodeConf(v: Uint8Array): ConfState {
  const { conf, end } = readConf('conf state', v, 0);
  if (end !== v.length) throw new StorageCorruptionError(`conf state: ${v.length - end} trailing bytes`);
  return conf;
}

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
  readonly dataLength: number;
  readonly chunks: number;
}

/** index u64, term u64, data length u64, chunk count u32, conf state. */
export function encodeSnapshotMeta(m: SnapshotMeta): Uint8Array {
  const v = new Uint8Array(28 + confLength(m.conf));
  writeU64(v, 0, m.index);
  writeU64(v, 8, m.term);
  writeU64(v, 16, m.dataLength);
  writeU32(v, 24, m.chunks);
  writeConf(v, 28, m.conf);
  return v;
}

export function decodeSnapshotMeta(v: Uint8Array): SnapshotMeta {
  if (v.length < 28) throw new StorageCorruptionError(`snapshot metadata: value of ${v.length} bytes`);
  const { conf, end } = readConf('snapshot metadata', v, 28);
  if (end !== v.length) throw new StorageCorruptionError(`snapshot metadata: ${v.length - end} trailing bytes`);
  return { index: readU64(v, 0), term: readU64(v, 8), dataLength: readU64(v, 16), chunks: readU32(v, 24), conf };
}

function expectLength(what: string, v: Uint8Array, n: number): void {
  if (v.length !== n) throw new StorageCorruptionError(`${what}: value of ${v.length} bytes, expected ${n}`);
}
