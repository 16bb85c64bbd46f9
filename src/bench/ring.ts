/**
 * `raftcache bench ring [--json]`: speed of key → shard lookup, and how evenly
 * the consistent-hash ring spreads keys and how few it moves when a shard is
 * added or removed, with and without bounded loads.
 */
import { performance } from 'node:perf_hooks';
import { HashRing, RangeIndex, computeRangeTable, hashKey, lookupRange } from '../shard/index.js';

const SHARD_COUNTS = [3, 10, 50] as const;
const VNODE_COUNTS = [16, 64, 256] as const;
const KEY_COUNT = 1_000_000;
const LOAD_FACTOR = 1.25;
const SPEED_RUNS = 7;
const SPEED_KEYS = 100_000;
const SPEED_PASSES = 10;

interface SpreadStats {
  /** max keys of a shard / average keys per shard. */
  maxOverAvg: number;
  /** Fraction of keys that change shard when shard `n` is added, and the ideal 1/(n+1). */
  movedOnAdd: number;
  idealAdd: number;
  /** Fraction of keys that change shard when shard 0 is removed, and the ideal 1/n. */
  movedOnRemove: number;
  idealRemove: number;
}

interface SpreadRow {
  shards: number;
  vnodes: number;
  ring: SpreadStats;
  bounded: SpreadStats;
}

interface SpeedResult {
  /** String key → shard through the ring (hash + binary search), median of runs. */
  ringLookupsPerSec: number;
  /** String key → shard through a compiled RangeIndex (typed arrays). */
  indexLookupsPerSec: number;
  /** String key → shard through the plain range table (array of objects). */
  tableLookupsPerSec: number;
  /** murmur3 of the string key alone. */
  hashesPerSec: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Microseconds of CPU (user + system) this process has used. */
function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/**
 * Operations per CPU second of `pass` (one pass = `opsPerPass` operations,
 * repeated SPEED_PASSES times), median of SPEED_RUNS runs. CPU time rather than
 * wall time, so that a busy machine (other processes on the same cores) does not
 * distort the figure; on an idle machine the two agree (the loop is single-threaded).
 * Each operation gets its own loop function, so that its call site stays monomorphic.
 */
function measure(opsPerPass: number, pass: () => number): number {
  const rates: number[] = [];
  let sink = 0;
  for (let run = 0; run < SPEED_RUNS; run++) {
    const t0 = cpuMicros();
    for (let p = 0; p < SPEED_PASSES; p++) sink = (sink + pass()) | 0;
    const micros = Math.max(1, cpuMicros() - t0);
    rates.push((opsPerPass * SPEED_PASSES * 1e6) / micros);
  }
  if (sink === 0x7fffffff) console.log(''); // keeps the work observable
  return median(rates);
}

function measureSpeed(): SpeedResult {
  const ring = HashRing.build(Array.from({ length: 10 }, (_, i) => i), { defaultVnodes: 256 });
  const table = computeRangeTable(ring);
  const index = RangeIndex.from(table);
  // Round-trip through JSON so the keys are flat strings, as keys parsed off the wire are.
  const keys: string[] = JSON.parse(
    JSON.stringify(Array.from({ length: SPEED_KEYS }, (_, i) => `user:${i * 7919}:profile`)),
  ) as string[];
  const n = keys.length;
  return {
    ringLookupsPerSec: measure(n, () => {
      let s = 0;
      for (let i = 0; i < n; i++) s = (s + ring.lookup(keys[i]!)) | 0;
      return s;
    }),
    indexLookupsPerSec: measure(n, () => {
      let s = 0;
      for (let i = 0; i < n; i++) s = (s + index.lookup(keys[i]!)) | 0;
      return s;
    }),
    tableLookupsPerSec: measure(n, () => {
      let s = 0;
      for (let i = 0; i < n; i++) s = (s + lookupRange(table, keys[i]!)) | 0;
      return s;
    }),
    hashesPerSec: measure(n, () => {
      let s = 0;
      for (let i = 0; i < n; i++) s = (s + hashKey(keys[i]!)) | 0;
      return s;
    }),
  };
}

type OwnerOf = (hash: number) => number;

function ownersOf(hashes: Uint32Array, owner: OwnerOf): Uint32Array {
  const out = new Uint32Array(hashes.length);
  for (let i = 0; i < hashes.length; i++) out[i] = owner(hashes[i]!);
  return out;
}

function maxOverAvg(owners: Uint32Array, shardCount: number): number {
  const counts = new Map<number, number>();
  for (const o of owners) counts.set(o, (counts.get(o) ?? 0) + 1);
  return Math.max(...counts.values()) / (owners.length / shardCount);
}

function movedFraction(a: Uint32Array, b: Uint32Array): number {
  let moved = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) moved++;
  return moved / a.length;
}

function spread(hashes: Uint32Array, n: number, before: OwnerOf, added: OwnerOf, removed: OwnerOf): SpreadStats {
  const base = ownersOf(hashes, before);
  return {
    maxOverAvg: maxOverAvg(base, n),
    movedOnAdd: movedFraction(base, ownersOf(hashes, added)),
    idealAdd: 1 / (n + 1),
    movedOnRemove: movedFraction(base, ownersOf(hashes, removed)),
    idealRemove: 1 / n,
  };
}

function measureSpread(hashes: Uint32Array): SpreadRow[] {
  const rows: SpreadRow[] = [];
  for (const n of SHARD_COUNTS) {
    for (const v of VNODE_COUNTS) {
      const ring = HashRing.build(Array.from({ length: n }, (_, i) => i), { defaultVnodes: v });
      const grown = ring.withShard(n);
      const shrunk = ring.withoutShard(0);
      const ringStats = spread(
        hashes,
        n,
        (h) => ring.lookupHash(h),
        (h) => grown.lookupHash(h),
        (h) => shrunk.lookupHash(h),
      );
      const bounded = (r: HashRing): OwnerOf => {
        const index = RangeIndex.from(computeRangeTable(r, { loadFactor: LOAD_FACTOR }));
        return (h) => index.lookupHash(h);
      };
      const boundedStats = spread(hashes, n, bounded(ring), bounded(grown), bounded(shrunk));
      rows.push({ shards: n, vnodes: v, ring: ringStats, bounded: boundedStats });
    }
  }
  return rows;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`.padStart(6);
const fmtRate = (x: number): string => `${(x / 1e6).toFixed(2)} M/s`;

function printTable(speed: SpeedResult, rows: readonly SpreadRow[]): void {
  console.log(`lookups per CPU second (string keys, median of ${SPEED_RUNS} runs; 10 shards x 256 vnodes)`);
  console.log(`  ring lookup        ${fmtRate(speed.ringLookupsPerSec)}`);
  console.log(`  RangeIndex lookup  ${fmtRate(speed.indexLookupsPerSec)}`);
  console.log(`  plain table lookup ${fmtRate(speed.tableLookupsPerSec)}`);
  console.log(`  murmur3 hash only  ${fmtRate(speed.hashesPerSec)}`);
  console.log('');
  console.log(`spread over ${KEY_COUNT.toLocaleString('en-US')} keys; add = shard n added, remove = shard 0 removed; bounded: c = ${LOAD_FACTOR}`);
  console.log('shards vnodes | max/avg  add moved (ideal)  remove moved (ideal) | bounded: max/avg  add moved  remove moved');
  for (const r of rows) {
    console.log(
      `${String(r.shards).padStart(6)} ${String(r.vnodes).padStart(6)} | ` +
        `${r.ring.maxOverAvg.toFixed(3).padStart(7)}  ${pct(r.ring.movedOnAdd)}   (${pct(r.ring.idealAdd)})  ` +
        `${pct(r.ring.movedOnRemove)}      (${pct(r.ring.idealRemove)})   | ` +
        `${r.bounded.maxOverAvg.toFixed(3).padStart(16)}  ${pct(r.bounded.movedOnAdd).padStart(9)}  ${pct(r.bounded.movedOnRemove).padStart(12)}`,
    );
  }
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const unknown = argv.filter((a) => a !== '--json');
  if (unknown.length > 0) {
    console.error(`bench ring: unknown argument(s) ${unknown.join(' ')}; usage: bench ring [--json]`);
    return 2;
  }
  const started = performance.now();
  const startedCpu = cpuMicros();
  const speed = measureSpeed();
  const hashes = new Uint32Array(KEY_COUNT);
  for (let i = 0; i < KEY_COUNT; i++) hashes[i] = hashKey(`key:${i}`);
  const rows = measureSpread(hashes);
  printTable(speed, rows);
  const seconds = (performance.now() - started) / 1000;
  console.log(`\n(${seconds.toFixed(1)} s wall, ${((cpuMicros() - startedCpu) / 1e6).toFixed(1)} s CPU)`);
  if (json) {
    console.log(JSON.stringify({ bench: 'ring', keys: KEY_COUNT, loadFactor: LOAD_FACTOR, speed, spread: rows, seconds }));
  }
  return 0;
}
