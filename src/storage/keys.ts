/**
 * Key layout of the node's LevelDB database (one database per node process,
 * holding every Raft group the node hosts). All integers are big-endian, so
 * LevelDB's bytewise order is numeric order and a group's log is one
 * contiguous key range sorted by index.
 *
 *   kind  group        suffix          value
 *   0x00  —            —               format version (u8)                    once per database
 *   0x01  u32 group    —               hard state: term u64, vote u64, commit u64
 *   0x02  u32 group    —               conf state (see codec.ts)
 *   0x03  u32 group    —               log start: index u64, term u64 of the entry just
 *                                      before the first one held (the compaction point)
 *   0x04  u32 group    —               snapshot metadata: index, term, data length,
 *                                      chunk count, conf state
 *   0x05  u32 group    u32 chunk no.   snapshot data, chunk by chunk (chunk size fixed per write)
 *   0x11  u32 group    u64 first index a run of consecutive log entries, first..first+n-1
 *                                      (codec.ts: count u32, then per entry type u8,
 *                                      term u64, data length u32, data)
 *
 * (0x10 held one log entry per key in format 2.) A run is what one append
 * wrote: one key per Raft Ready instead of one per entry. On disk the runs of a
 * group follow each other without gaps or overlap; the first may begin at or
 * below the log start (compaction deletes only runs wholly at or below it, and
 * open skips the compacted entries).
 *
 * The kind comes first so that the per-group metadata of every group sits in a
 * few small ranges read at start-up, and all entries follow in group/index order.
 * A group exists on disk iff its 0x01–0x04 keys exist; they are written together
 * when the group is created (`NodeStore.group` or `groupFromSnapshot`) and deleted
 * together with all its chunks and runs by `NodeStore.dropGroup`, in one atomic
 * batch, so a group is on disk whole or not at all.
 */
import { writeU32, writeU64, readU32, readU64 } from './bytes.js';

/**
 * 2: conf states carry the outgoing voters and autoLeave of a joint configuration.
 * 3: log entries are stored in runs (0x11), one key per append, instead of one per entry (0x10).
 */
export const FORMAT_VERSION = 3;

export const KIND_FORMAT = 0x00;
export const KIND_HARD_STATE = 0x01;
export const KIND_CONF = 0x02;
export const KIND_LOG_START = 0x03;
export const KIND_SNAPSHOT_META = 0x04;
export const KIND_SNAPSHOT_CHUNK = 0x05;
export const KIND_RUN = 0x11;

/** Largest group id a key can hold. */
export const MAX_GROUP_ID = 0xffff_ffff;

const GROUP_KEY_LEN = 5;
const CHUNK_KEY_LEN = 9;
const RUN_KEY_LEN = 13;
/** Bytes of a run's key (runKey). */
export const RUN_KEY_BYTES = RUN_KEY_LEN;

export function formatKey(): Uint8Array {
  return Uint8Array.of(KIND_FORMAT);
}

/** Key of a per-group metadata record (kinds 0x01–0x04). */
export function groupKey(kind: number, group: number): Uint8Array {
  const k = new Uint8Array(GROUP_KEY_LEN);
  k[0] = kind;
  writeU32(k, 1, group);
  return k;
}

export function chunkKey(group: number, chunk: number): Uint8Array {
  const k = new Uint8Array(CHUNK_KEY_LEN);
  k[0] = KIND_SNAPSHOT_CHUNK;
  writeU32(k, 1, group);
  writeU32(k, 5, chunk);
  return k;
}

/** Key of the run of entries that begins at index `first`. */
export function runKey(group: number, first: number): Uint8Array {
  const k = new Uint8Array(RUN_KEY_LEN);
  runKeyInto(k, group, first);
  return k;
}

/** Writes runKey(group, first) into `k` (RUN_KEY_LEN bytes). */
export function runKeyInto(k: Uint8Array, group: number, first: number): void {
  k[0] = KIND_RUN;
  writeU32(k, 1, group);
  writeU64(k, 5, first);
}

/** A key read back from disk, split into its parts. */
export type ParsedKey =
  | { readonly kind: typeof KIND_FORMAT }
  | {
      readonly kind: typeof KIND_HARD_STATE | typeof KIND_CONF | typeof KIND_LOG_START | typeof KIND_SNAPSHOT_META;
      readonly group: number;
    }
  | { readonly kind: typeof KIND_SNAPSHOT_CHUNK; readonly group: number; readonly chunk: number }
  | { readonly kind: typeof KIND_RUN; readonly group: number; readonly first: number };

/** Splits a key; returns null for a key this layout does not know (the caller reports it). */
export function parseKey(k: Uint8Array): ParsedKey | null {
  const kind = k[0];
  switch (kind) {
    case KIND_FORMAT:
      return k.length === 1 ? { kind } : null;
    case KIND_HARD_STATE:
    case KIND_CONF:
    case KIND_LOG_START:
    case KIND_SNAPSHOT_META:
      return k.length === GROUP_KEY_LEN ? { kind, group: readU32(k, 1) } : null;
    case KIND_SNAPSHOT_CHUNK:
      return k.length === CHUNK_KEY_LEN ? { kind, group: readU32(k, 1), chunk: readU32(k, 5) } : null;
    case KIND_RUN:
      return k.length === RUN_KEY_LEN ? { kind, group: readU32(k, 1), first: readU64(k, 5) } : null;
    default:
      return null;
  }
}
