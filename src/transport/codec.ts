/**
 * The binary codec of node-to-node batch frames: many (groupId, Message)
 * pairs in one frame. Layout in docs/protocol.md ("Node-to-node frames").
 *
 * All integers are little-endian. Terms and indexes are u64 on the wire and
 * must be safe integers (≤ 2^53 - 1) on both sides: the encoder refuses
 * larger ones, the decoder throws FrameError on them.
 *
 * Decoding never reads out of range: every read is bounds-checked, and any
 * malformed input (garbage, truncation, trailing bytes, unknown tags or flag
 * bits, invalid UTF-8, unsafe integers) throws FrameError.
 *
 * Decoded entry and snapshot data are views into the input buffer (no copy):
 * they stay valid as long as the caller does not overwrite the input, and
 * holding one keeps the input's whole ArrayBuffer alive.
 *
 * Why views and not copies, although the Raft core's unstable log and the
 * storage's in-memory log keep received entries until compaction (the cache
 * copies the values it decodes): a copy per entry costs an allocation and a
 * memcpy each, and what a view pins is bounded. The transport decodes the
 * Buffer ws hands it, which nothing writes again (ws unmasks before it
 * emits, and with the dialer's zero mask not at all): either a slice of one
 * socket read (Node sizes each read's buffer to the bytes read, at most
 * 64 KiB, shared only with the frames of that read) or, for a frame spanning
 * reads, a buffer of exactly the frame (a slice of Node's 8 KiB pool when it
 * is under 4 KiB). An `app` frame is mostly its entries, so the log holds
 * little besides them.
 */
import type { SnapChunk, SnapChunkAck } from '../raft/snapshot-transfer.js';
import type { ConfState, Entry, Message, NodeId } from '../raft/types.js';
import { WS_MAX_HEADER_BYTES, writeWsHeaderBefore } from './ws-frame.js';

/** The first byte of a batch frame: the format version. */
export const FRAME_VERSION = 1;

/** Bytes of the frame header: version u8, count u32. */
export const FRAME_HEADER_BYTES = 5;

/** Thrown by the decoder for any input that is not a well-formed batch frame. */
export class FrameError extends Error {
  readonly code = 'FRAME_ERROR' as const;
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** A decoded (or to-be-encoded) batch: `messages[i]` belongs to Raft group `groupIds[i]`. */
export interface Batch {
  readonly groupIds: readonly number[];
  readonly messages: readonly Message[];
}

/** Wire tags of the message types (stable: part of the protocol). */
export const MESSAGE_TAGS = {
  vote: 1,
  'pre-vote': 2,
  'vote-resp': 3,
  'pre-vote-resp': 4,
  app: 5,
  'app-resp': 6,
  heartbeat: 7,
  'heartbeat-resp': 8,
  'read-index': 9,
  'read-index-resp': 10,
  'timeout-now': 11,
  snap: 12,
} as const satisfies Record<Message['type'], number>;

const FLAG_BIT = 1; // the only flag bit in use (transfer / reject)
const ENTRY_NORMAL = 0;
const ENTRY_CONF = 1;
const TWO_32 = 0x1_0000_0000;
const MAX_U64_HIGH = 0x1f_ffff; // high word of Number.MAX_SAFE_INTEGER

/** Fixed bytes before a message's type-specific fields: group u32, tag u8, from u32, to u32, term u64. */
const MESSAGE_PREFIX_BYTES = 21;
/** Fixed bytes of one entry before its data: term u64, index u64, type u8, length u32. */
const ENTRY_PREFIX_BYTES = 21;

/**
 * An encoder buffer: not zero-filled (every byte sent is written first) and
 * not from Node's shared pool (it may be handed to a socket, see `detach()`).
 */
function allocBuffer(size: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(size);
  return new Uint8Array(b.buffer, b.byteOffset, size);
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function checkU32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v >= TWO_32) throw new RangeError(`${what} must be a u32, got ${v}`);
}

function checkU64(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${what} must be a non-negative safe integer, got ${v}`);
}

/** True when `s` holds no lone surrogate (so its UTF-8 form decodes back to exactly `s`). */
function isWellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff || i + 1 >= s.length) return false;
    const d = s.charCodeAt(i + 1);
    if (d < 0xdc00 || d > 0xdfff) return false;
    i++;
  }
  return true;
}

/**
 * Bytes kept free in front of every frame, so that the transport can write
 * the WebSocket header there and send header and frame as one buffer.
 */
const HEADROOM = WS_MAX_HEADER_BYTES;

/**
 * Encodes batch frames into one reusable, growable buffer. Use:
 * `begin()`, then `add()` per message, then `finish()` for a view of the
 * frame (valid until the next `begin()`), or `finishFramed()` for the frame
 * behind its WebSocket header. Invalid messages (ids out of u32, unsafe
 * integers, strings with lone surrogates) throw RangeError and leave the
 * frame as it was before that `add()`.
 */
export class FrameEncoder {
  private buf: Uint8Array;
  private view: DataView;
  /** Write position in `buf`; the frame starts at HEADROOM. */
  private pos = HEADROOM;
  private n = 0;
  private open = false;
  /** The last frame's buffer was handed away (`detach()`): the next `begin()` takes a fresh one. */
  private detached = false;

  constructor(initialCapacity = 4096) {
    this.buf = allocBuffer(Math.max(64, initialCapacity));
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Messages in the current frame. */
  get count(): number {
    return this.n;
  }

  /** Bytes of the current frame so far (header included). */
  get byteLength(): number {
    return this.pos - HEADROOM;
  }

  /** Bytes reserved by the internal buffer. */
  get capacity(): number {
    return this.buf.length;
  }

  /** Starts a new, empty frame (the previous `finish()` view becomes invalid). */
  begin(): void {
    if (this.detached) {
      this.detached = false;
      this.setBuffer(allocBuffer(this.buf.length));
    }
    this.pos = HEADROOM;
    this.n = 0;
    this.open = true;
    this.reserve(FRAME_HEADER_BYTES);
    this.buf[HEADROOM] = FRAME_VERSION;
    this.pos = HEADROOM + FRAME_HEADER_BYTES;
  }

  /** Appends one message of group `groupId`. Returns the bytes it took. */
  add(groupId: number, msg: Message): number {
    if (!this.open) this.begin();
    const start = this.pos;
    try {
      this.writeMessage(groupId, msg);
    } catch (e) {
      this.pos = start;
      throw e;
    }
    this.n++;
    return this.pos - start;
  }

  /** Removes the last message added if it took `bytes` (used to move it into the next frame). */
  removeLast(bytes: number): void {
    if (this.n === 0 || bytes > this.pos - HEADROOM - FRAME_HEADER_BYTES) throw new RangeError('nothing to remove');
    this.pos -= bytes;
    this.n--;
  }

  /** Completes the frame and returns a view of it: valid until the next `begin()`. */
  finish(): Uint8Array {
    if (!this.open) this.begin();
    this.view.setUint32(HEADROOM + 1, this.n, true);
    this.open = false;
    return this.buf.subarray(HEADROOM, this.pos);
  }

  /**
   * Completes the frame and returns a view of it behind its WebSocket header
   * (a final binary frame; `masked`: with the dialer's all-zero mask key, see
   * ws-frame.ts), ready to be written to the socket as is. Valid until the
   * next `begin()`, unless `detach()` hands it away.
   */
  finishFramed(masked: boolean): Uint8Array {
    const frame = this.finish();
    const start = writeWsHeaderBefore(this.buf, HEADROOM, frame.length, masked);
    return this.buf.subarray(start, this.pos);
  }

  /**
   * Gives up the buffer of the frame just finished (its reader still holds
   * it, e.g. a socket's write queue): the next `begin()` encodes into a new
   * buffer of the same capacity, and the old one is never written again.
   */
  detach(): void {
    if (this.open) throw new Error('detach() of an unfinished frame');
    this.detached = true;
  }

  /** Drops the internal buffer back to `capacity` bytes if it grew past it (after a huge frame). */
  shrink(capacity: number): void {
    if (this.open || this.buf.length <= capacity) return;
    this.detached = false;
    this.setBuffer(allocBuffer(Math.max(64, capacity)));
    this.pos = HEADROOM;
    this.n = 0;
  }

  private setBuffer(buf: Uint8Array): void {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private reserve(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const buf = allocBuffer(size);
    buf.set(this.buf.subarray(0, this.pos));
    this.setBuffer(buf);
  }

  private u8(v: number): void {
    this.reserve(1);
    this.buf[this.pos++] = v;
  }

  private u32(v: number, what: string): void {
    checkU32(v, what);
    this.reserve(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }

  private u64(v: number, what: string): void {
    checkU64(v, what);
    this.reserve(8);
    this.view.setUint32(this.pos, v % TWO_32, true);
    this.view.setUint32(this.pos + 4, Math.floor(v / TWO_32), true);
    this.pos += 8;
  }

  private bytes(data: Uint8Array, what: string): void {
    this.u32(data.length, what);
    this.reserve(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  private str(s: string, what: string): void {
    // Worst case 3 bytes per UTF-16 unit; write the bytes, then the length before them.
    this.reserve(4 + s.length * 3);
    const at = this.pos;
    const { written } = utf8Encoder.encodeInto(s, this.buf.subarray(at + 4));
    if (written !== s.length && !isWellFormed(s)) throw new RangeError(`${what} holds a lone surrogate`);
    this.view.setUint32(at, written, true);
    this.pos = at + 4 + written;
  }

  /**
   * The entries of an `app` (the hot loop of AppendEntries): one reserve for
   * all of them, no helper calls per entry. `pos` moves only once all are
   * written, so a throw leaves the frame as it was.
   */
  private entries(list: readonly Entry[]): void {
    const n = list.length;
    let dataBytes = 0;
    for (let i = 0; i < n; i++) dataBytes += list[i]!.data.length;
    this.reserve(n * ENTRY_PREFIX_BYTES + dataBytes);
    const buf = this.buf;
    const v = this.view;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const e = list[i]!;
      const { term, index, data } = e;
      checkU64(term, 'entry term');
      checkU64(index, 'entry index');
      const len = data.length;
      const termLo = term >>> 0;
      const indexLo = index >>> 0;
      v.setUint32(p, termLo, true);
      v.setUint32(p + 4, (term - termLo) / TWO_32, true);
      v.setUint32(p + 8, indexLo, true);
      v.setUint32(p + 12, (index - indexLo) / TWO_32, true);
      buf[p + 16] = e.type === 'conf' ? ENTRY_CONF : ENTRY_NORMAL;
      v.setUint32(p + 17, len, true);
      p += ENTRY_PREFIX_BYTES;
      buf.set(data, p);
      p += len;
    }
    this.pos = p;
  }

  private nodeIds(ids: readonly NodeId[], what: string): void {
    this.u32(ids.length, what);
    for (const id of ids) this.u32(id, what);
  }

  private writeMessage(groupId: number, m: Message): void {
    this.u32(groupId, 'group id');
    this.u8(MESSAGE_TAGS[m.type]);
    this.u32(m.from, 'from');
    this.u32(m.to, 'to');
    this.u64(m.term, 'term');
    switch (m.type) {
      case 'vote':
      case 'pre-vote':
        this.u64(m.index, 'index');
        this.u64(m.logTerm, 'logTerm');
        this.u8(m.transfer ? FLAG_BIT : 0);
        return;
      case 'vote-resp':
      case 'pre-vote-resp':
        this.u8(m.reject ? FLAG_BIT : 0);
        return;
      case 'app':
        this.u64(m.index, 'index');
        this.u64(m.logTerm, 'logTerm');
        this.u64(m.commit, 'commit');
        this.u32(m.entries.length, 'entry count');
        this.entries(m.entries);
        return;
      case 'app-resp':
        this.u64(m.index, 'index');
        this.u64(m.rejectHint, 'rejectHint');
        this.u64(m.logTerm, 'logTerm');
        this.u8(m.reject ? FLAG_BIT : 0);
        return;
      case 'heartbeat':
        this.u64(m.commit, 'commit');
        this.str(m.context, 'context');
        return;
      case 'heartbeat-resp':
      case 'read-index':
        this.str(m.context, 'context');
        return;
      case 'read-index-resp':
        this.u64(m.index, 'index');
        this.str(m.context, 'context');
        return;
      case 'timeout-now':
        return;
      case 'snap': {
        const { metadata, data } = m.snapshot;
        this.u64(metadata.index, 'snapshot index');
        this.u64(metadata.term, 'snapshot term');
        this.nodeIds(metadata.conf.voters, 'voter');
        this.nodeIds(metadata.conf.learners, 'learner');
        this.bytes(data, 'snapshot data length');
        return;
      }
      default: {
        const never: never = m;
        throw new RangeError(`unknown message type ${(never as { type: string }).type}`);
      }
    }
  }
}

/** Encodes a whole batch into a fresh buffer (tests, tools; the transport uses FrameEncoder directly). */
export function encodeBatch(batch: Batch): Uint8Array {
  if (batch.groupIds.length !== batch.messages.length) throw new RangeError('groupIds and messages differ in length');
  const enc = new FrameEncoder();
  enc.begin();
  for (let i = 0; i < batch.messages.length; i++) enc.add(batch.groupIds[i]!, batch.messages[i]!);
  return enc.finish().slice();
}

/** Bounds-checked reader over one frame. */
class FrameReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (n > this.bytes.length - this.pos) {
      throw new FrameError(`truncated frame: ${what} needs ${n} bytes at offset ${this.pos}, ${this.remaining} left`);
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.pos++]!;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(what: string): number {
    this.need(8, what);
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint32(this.pos + 4, true);
    if (hi > MAX_U64_HIGH) throw new FrameError(`${what} at offset ${this.pos} is not a safe integer`);
    this.pos += 8;
    return hi * TWO_32 + lo;
  }

  flag(what: string): boolean {
    const v = this.u8(what);
    if (v > FLAG_BIT) throw new FrameError(`${what}: unknown flag bits 0x${v.toString(16)}`);
    return v === FLAG_BIT;
  }

  /** A count of items that take at least `minBytes` each: refused if they cannot fit (no huge allocations). */
  count(what: string, minBytes: number): number {
    const n = this.u32(what);
    if (n * minBytes > this.remaining) throw new FrameError(`${what} ${n} cannot fit in ${this.remaining} bytes`);
    return n;
  }

  /** A length-prefixed byte string, as a view into the frame (no copy). */
  bytesView(what: string): Uint8Array {
    const n = this.u32(what);
    this.need(n, what);
    const out = new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + this.pos, n);
    this.pos += n;
    return out;
  }

  /**
   * `n` log entries (the hot loop of AppendEntries: one bounds check per
   * entry, no helper calls). Their data are views into the frame.
   */
  entries(n: number): Entry[] {
    const bytes = this.bytes;
    const v = this.view;
    const ab = bytes.buffer;
    const base = bytes.byteOffset;
    const end = bytes.length;
    let p = this.pos;
    const out = new Array<Entry>(n);
    for (let i = 0; i < n; i++) {
      if (ENTRY_PREFIX_BYTES > end - p) {
        this.pos = p;
        this.need(ENTRY_PREFIX_BYTES, 'entry');
      }
      const termHi = v.getUint32(p + 4, true);
      const indexHi = v.getUint32(p + 12, true);
      if (termHi > MAX_U64_HIGH) throw new FrameError(`entry term at offset ${p} is not a safe integer`);
      if (indexHi > MAX_U64_HIGH) throw new FrameError(`entry index at offset ${p + 8} is not a safe integer`);
      const t = bytes[p + 16]!;
      if (t !== ENTRY_NORMAL && t !== ENTRY_CONF) throw new FrameError(`unknown entry type ${t} at offset ${p + 16}`);
      const len = v.getUint32(p + 17, true);
      const at = p + ENTRY_PREFIX_BYTES;
      if (len > end - at) {
        throw new FrameError(`truncated frame: entry data needs ${len} bytes at offset ${at}, ${end - at} left`);
      }
      out[i] = {
        term: termHi * TWO_32 + v.getUint32(p, true),
        index: indexHi * TWO_32 + v.getUint32(p + 8, true),
        type: t === ENTRY_CONF ? 'conf' : 'normal',
        data: new Uint8Array(ab, base + at, len),
      };
      p = at + len;
    }
    this.pos = p;
    return out;
  }

  str(what: string): string {
    const n = this.u32(what);
    this.need(n, what);
    const start = this.pos;
    this.pos += n;
    if (n === 0) return '';
    try {
      return utf8Decoder.decode(this.bytes.subarray(start, start + n));
    } catch {
      throw new FrameError(`${what} at offset ${start} is not valid UTF-8`);
    }
  }

  nodeIds(what: string): NodeId[] {
    const n = this.count(what, 4);
    const out = new Array<NodeId>(n);
    for (let i = 0; i < n; i++) out[i] = this.u32(what);
    return out;
  }
}

function readMessage(r: FrameReader, groupIds: number[], messages: Message[]): void {
  const groupId = r.u32('group id');
  const tag = r.u8('type tag');
  const from = r.u32('from');
  const to = r.u32('to');
  const term = r.u64('term');
  let m: Message;
  switch (tag) {
    case MESSAGE_TAGS.vote:
    case MESSAGE_TAGS['pre-vote']: {
      const index = r.u64('index');
      const logTerm = r.u64('logTerm');
      const transfer = r.flag('vote flags');
      m = { type: tag === MESSAGE_TAGS.vote ? 'vote' : 'pre-vote', from, to, term, index, logTerm, transfer };
      break;
    }
    case MESSAGE_TAGS['vote-resp']:
    case MESSAGE_TAGS['pre-vote-resp']: {
      const reject = r.flag('vote-resp flags');
      m = { type: tag === MESSAGE_TAGS['vote-resp'] ? 'vote-resp' : 'pre-vote-resp', from, to, term, reject };
      break;
    }
    case MESSAGE_TAGS.app: {
      const index = r.u64('index');
      const logTerm = r.u64('logTerm');
      const commit = r.u64('commit');
      const entries = r.entries(r.count('entry count', ENTRY_PREFIX_BYTES));
      m = { type: 'app', from, to, term, index, logTerm, entries, commit };
      break;
    }
    case MESSAGE_TAGS['app-resp']: {
      const index = r.u64('index');
      const rejectHint = r.u64('rejectHint');
      const logTerm = r.u64('logTerm');
      const reject = r.flag('app-resp flags');
      m = { type: 'app-resp', from, to, term, index, reject, rejectHint, logTerm };
      break;
    }
    case MESSAGE_TAGS.heartbeat: {
      const commit = r.u64('commit');
      m = { type: 'heartbeat', from, to, term, commit, context: r.str('context') };
      break;
    }
    case MESSAGE_TAGS['heartbeat-resp']:
      m = { type: 'heartbeat-resp', from, to, term, context: r.str('context') };
      break;
    case MESSAGE_TAGS['read-index']:
      m = { type: 'read-index', from, to, term, context: r.str('context') };
      break;
    case MESSAGE_TAGS['read-index-resp']: {
      const index = r.u64('index');
      m = { type: 'read-index-resp', from, to, term, context: r.str('context'), index };
      break;
    }
    case MESSAGE_TAGS['timeout-now']:
      m = { type: 'timeout-now', from, to, term };
      break;
    case MESSAGE_TAGS.snap: {
      const index = r.u64('snapshot index');
      const sTerm = r.u64('snapshot term');
      const voters = r.nodeIds('voter count');
      const learners = r.nodeIds('learner count');
      const conf: ConfState = { voters, learners };
      const data = r.bytesView('snapshot data');
      m = { type: 'snap', from, to, term, snapshot: { metadata: { index, term: sTerm, conf }, data } };
      break;
    }
    default:
      throw new FrameError(`unknown message type tag ${tag}`);
  }
  groupIds.push(groupId);
  messages.push(m);
}

/**
 * Decodes one batch frame. Throws FrameError for anything malformed, and
 * nothing else. Entry and snapshot data are views into `frame` (see the top).
 */
export function decodeBatch(frame: Uint8Array): Batch {
  const r = new FrameReader(frame);
  const version = r.u8('version');
  if (version !== FRAME_VERSION) throw new FrameError(`unsupported frame version ${version}`);
  const n = r.count('message count', MESSAGE_PREFIX_BYTES);
  const groupIds: number[] = [];
  const messages: Message[] = [];
  for (let i = 0; i < n; i++) readMessage(r, groupIds, messages);
  if (r.remaining !== 0) throw new FrameError(`${r.remaining} trailing bytes after ${n} messages`);
  return { groupIds, messages };
}

// ---- snapshot transfer frames (chunked InstallSnapshot, see snapshot-streams.ts) ----

/** First byte of a snapshot chunk frame (a batch frame starts with FRAME_VERSION = 1). */
export const SNAP_CHUNK_FRAME = 0x02;
/** First byte of a snapshot chunk acknowledgement frame. */
export const SNAP_ACK_FRAME = 0x03;

/** Fixed bytes of a chunk frame before its conf lists and data. */
const SNAP_CHUNK_FIXED_BYTES = 1 + 4 + 4 + 4 + 8 * 5;
/** Bytes of an ack frame. */
export const SNAP_ACK_FRAME_BYTES = 1 + 4 + 4 + 4 + 8 * 3;

/** A decoded snapshot chunk of Raft group `groupId`; `chunk.data` is a view into the frame. */
export interface SnapChunkFrame {
  readonly kind: 'snap-chunk';
  readonly groupId: number;
  readonly chunk: SnapChunk;
}

export interface SnapAckFrame {
  readonly kind: 'snap-ack';
  readonly groupId: number;
  readonly ack: SnapChunkAck;
}

/** Any node-to-node frame after the handshake. */
export type PeerFrame = { readonly kind: 'batch'; readonly batch: Batch } | SnapChunkFrame | SnapAckFrame;

/** Bytes a chunk frame of `c` takes on the wire. */
export function snapChunkFrameBytes(c: SnapChunk): number {
  const conf = c.metadata.conf;
  return SNAP_CHUNK_FIXED_BYTES + 8 + 4 * (conf.voters.length + conf.learners.length) + 4 + c.data.byteLength;
}

/** Encodes one chunk into a fresh buffer (the transport hands it to the socket). Throws RangeError on invalid input. */
export function encodeSnapChunk(groupId: number, c: SnapChunk): Uint8Array {
  checkU32(groupId, 'group id');
  checkU32(c.from, 'from');
  checkU32(c.to, 'to');
  checkU64(c.term, 'term');
  checkU64(c.metadata.index, 'snapshot index');
  checkU64(c.metadata.term, 'snapshot term');
  checkU64(c.total, 'total');
  checkU64(c.offset, 'offset');
  checkU32(c.data.byteLength, 'chunk data length');
  if (c.offset + c.data.byteLength > c.total) throw new RangeError('chunk extends past the snapshot total');
  const { voters, learners } = c.metadata.conf;
  for (const id of voters) checkU32(id, 'voter');
  for (const id of learners) checkU32(id, 'learner');
  const out = Buffer.allocUnsafe(snapChunkFrameBytes(c));
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let p = 0;
  const u32 = (x: number): void => {
    v.setUint32(p, x, true);
    p += 4;
  };
  const u64 = (x: number): void => {
    v.setUint32(p, x % TWO_32, true);
    v.setUint32(p + 4, Math.floor(x / TWO_32), true);
    p += 8;
  };
  out[p++] = SNAP_CHUNK_FRAME;
  u32(groupId);
  u32(c.from);
  u32(c.to);
  u64(c.term);
  u64(c.metadata.index);
  u64(c.metadata.term);
  u64(c.total);
  u64(c.offset);
  u32(voters.length);
  for (const id of voters) u32(id);
  u32(learners.length);
  for (const id of learners) u32(id);
  u32(c.data.byteLength);
  out.set(c.data, p);
  return out;
}

/** Encodes one chunk acknowledgement into a fresh buffer. */
export function encodeSnapAck(groupId: number, a: SnapChunkAck): Uint8Array {
  checkU32(groupId, 'group id');
  checkU32(a.from, 'from');
  checkU32(a.to, 'to');
  checkU64(a.index, 'snapshot index');
  checkU64(a.snapTerm, 'snapshot term');
  checkU64(a.offset, 'offset');
  const out = Buffer.allocUnsafe(SNAP_ACK_FRAME_BYTES);
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[0] = SNAP_ACK_FRAME;
  v.setUint32(1, groupId, true);
  v.setUint32(5, a.from, true);
  v.setUint32(9, a.to, true);
  let p = 13;
  for (const x of [a.index, a.snapTerm, a.offset]) {
    v.setUint32(p, x % TWO_32, true);
    v.setUint32(p + 4, Math.floor(x / TWO_32), true);
    p += 8;
  }
  return out;
}

function readSnapChunk(r: FrameReader): SnapChunkFrame {
  const groupId = r.u32('group id');
  const from = r.u32('from');
  const to = r.u32('to');
  const term = r.u64('term');
  const index = r.u64('snapshot index');
  const sTerm = r.u64('snapshot term');
  const total = r.u64('total');
  const offset = r.u64('offset');
  const voters = r.nodeIds('voter count');
  const learners = r.nodeIds('learner count');
  const data = r.bytesView('chunk data');
  if (offset + data.byteLength > total) {
    throw new FrameError(`chunk [${offset}, ${offset + data.byteLength}) extends past the snapshot total ${total}`);
  }
  if (data.byteLength === 0 && total !== 0) throw new FrameError('empty chunk of a non-empty snapshot');
  const chunk: SnapChunk = { from, to, term, metadata: { index, term: sTerm, conf: { voters, learners } }, total, offset, data };
  return { kind: 'snap-chunk', groupId, chunk };
}

function readSnapAck(r: FrameReader): SnapAckFrame {
  const groupId = r.u32('group id');
  const from = r.u32('from');
  const to = r.u32('to');
  const index = r.u64('snapshot index');
  const snapTerm = r.u64('snapshot term');
  const offset = r.u64('offset');
  return { kind: 'snap-ack', groupId, ack: { from, to, index, snapTerm, offset } };
}

/**
 * Decodes any frame after the handshake by its first byte: a batch (0x01),
 * a snapshot chunk (0x02) or a chunk ack (0x03). Throws FrameError for
 * anything malformed, and nothing else.
 */
export function decodePeerFrame(frame: Uint8Array): PeerFrame {
  if (frame.length === 0) throw new FrameError('empty frame');
  const kind = frame[0]!;
  if (kind === FRAME_VERSION) return { kind: 'batch', batch: decodeBatch(frame) };
  const r = new FrameReader(frame);
  r.u8('kind');
  let out: PeerFrame;
  if (kind === SNAP_CHUNK_FRAME) out = readSnapChunk(r);
  else if (kind === SNAP_ACK_FRAME) out = readSnapAck(r);
  else throw new FrameError(`unknown frame kind 0x${kind.toString(16)}`);
  if (r.remaining !== 0) throw new FrameError(`${r.remaining} trailing bytes after a ${out.kind} frame`);
  return out;
}
