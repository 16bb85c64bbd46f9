/**
 * Upgrades a data directory written by an older build, in place and in one
 * atomic synced batch (a crash during it leaves the old format, and the next
 * open upgrades again).
 *
 * Format 2 → 3: format 2 held one key per log entry (kind 0x10: group u32,
 * index u64 → type u8, term u64, data); format 3 holds runs (kind 0x11). Each
 * old entry becomes a run of one entry under the same group and index; every
 * other record is the same in both formats.
 */
import type { Level } from 'level';
import type { Entry } from '../raft/types.js';
import { readU32, readU64 } from './bytes.js';
import { encodeRun } from './codec.js';
import { StorageCorruptionError } from './errors.js';
import { FORMAT_VERSION, formatKey, runKey } from './keys.js';

type Db = Level<Uint8Array, Uint8Array>;

const KIND_ENTRY_V2 = 0x10;
const ENTRY_V2_HEADER = 9; // type u8 + term u64

/** The format version stored in `db`, or null for an empty database. */
export async function storedFormat(db: Db): Promise<number | null> {
  const v = await db.get(formatKey());
  if (v === undefined) return null;
  if (v.length !== 1) throw new StorageCorruptionError(`format key of ${v.length} bytes`);
  return v[0] as number;
}

/** Upgrades `db` to FORMAT_VERSION when it holds an older format this build can convert; returns the entries converted. */
export async function migrate(db: Db): Promise<number> {
  const format = await storedFormat(db);
  if (format !== 2 || FORMAT_VERSION !== 3) return 0;
  const batch = db.batch();
  let converted = 0;
  const it = db.iterator({ gte: Uint8Array.of(KIND_ENTRY_V2), lt: Uint8Array.of(KIND_ENTRY_V2 + 1) });
  try {
    for (;;) {
      const rows = await it.nextv(1024);
      if (rows.length === 0) break;
      for (const [k, v] of rows) {
        if (k.length !== 13) throw new StorageCorruptionError(`format 2 entry key of ${k.length} bytes`);
        const group = readU32(k, 1);
        const index = readU64(k, 5);
        if (v.length < ENTRY_V2_HEADER || (v[0] !== 0 && v[0] !== 1)) {
          throw new StorageCorruptionError(`format 2 entry ${index} of group ${group}: malformed value`);
        }
        const entry: Entry = { term: readU64(v, 1), index, type: v[0] === 1 ? 'conf' : 'normal', data: v.subarray(ENTRY_V2_HEADER) };
        batch.del(k);
        batch.put(runKey(group, index), encodeRun([entry], 0, 1));
        converted++;
      }
    }
  } finally {
    await it.close();
  }
  batch.put(formatKey(), Uint8Array.of(FORMAT_VERSION));
  await batch.write({ sync: true });
  return converted;
}
