/**
 * `raftcache bench lru [--json] [--reps N] [--sizes 100000,1000000]`
 *
 * Side by side, in one process: our LRU (src/cache LruCache, the struct-of-
 * arrays store) and the `lru-cache` package configured alike (max entries,
 * maxSize with the same sizeCalculation), plus the replicated state machine's
 * read and apply paths. Each figure is the median over the repetitions; the two
 * implementations alternate within every repetition so machine noise hits both.
 *
 * Heap per entry: heapUsed after minus before filling a cache with N entries
 * (after global.gc(), so run node with --expose-gc). Keys are created before
 * the baseline and every entry shares one value, so the figure is the cache's
 * own bookkeeping per entry.
 */
import { LRUCache } from 'lru-cache';
import { CacheStateMachine, encodeCommand, LruCache, utf8Length } from '../cache/index.js';

const OVERHEAD = 48;
const VALUE = new Uint8Array(32).fill(7);

interface Row {
  name: string;
  n: number;
  unit: 'ops/s' | 'bytes/entry';
  ours: number;
  lruCache: number | null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Deterministic shuffled order of 0..n-1 (xorshift32, fixed seed). */
function permutation(n: number, seed: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  let x = seed >>> 0 || 1;
  for (let i = n - 1; i > 0; i--) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const j = x % (i + 1);
    const t = p[i] as number;
    p[i] = p[j] as number;
    p[j] = t;
  }
  return p;
}

function opsPerSec(ops: number, fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  const ns = Number(process.hrtime.bigint() - t0);
  return (ops * 1e9) / ns;
}

const gc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc;

function heapUsed(): number {
  if (gc !== undefined) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

function makeOurs(n: number): LruCache {
  return new LruCache({ maxEntries: n, maxBytes: n * 200, entryOverhead: OVERHEAD });
}

function makeTheirs(n: number, ttl = 0): LRUCache<string, Uint8Array> {
  return new LRUCache<string, Uint8Array>({
    max: n,
    maxSize: n * 200,
    sizeCalculation: (v, k) => utf8Length(k) + v.length + OVERHEAD,
    ...(ttl > 0 ? { ttl, ttlAutopurge: false } : {}),
  });
}

interface Case {
  name: string;
  ours: (n: number, keys: string[], order: Uint32Array) => number;
  theirs: ((n: number, keys: string[], order: Uint32Array) => number) | null;
}

const cases: Case[] = [
  {
    name: 'put (insert)',
    ours: (n, keys) => {
      const c = makeOurs(n);
      return opsPerSec(n, () => {
        for (let i = 0; i < n; i++) c.set(keys[i] as string, VALUE);
      });
    },
    theirs: (n, keys) => {
      const c = makeTheirs(n);
      return opsPerSec(n, () => {
        for (let i = 0; i < n; i++) c.set(keys[i] as string, VALUE);
      });
    },
  },
  {
    name: 'put (update, random order)',
    ours: (n, keys, order) => {
      const c = makeOurs(n);
      for (let i = 0; i < n; i++) c.set(keys[i] as string, VALUE);
      return opsPerSec(n, () => {
        for (let i = 0; i < n; i++) c.set(keys[order[i] as number] as string, VALUE);
      });
    },
    theirs: (n, keys, order) => {
      const c = makeTheirs(n);
      for (let i = 0; i < n; i++) c.set(keys[i] as string, VALUE);
      return opsPerSec(n, () => {
        for (let i = 0; i < n; i++) c.set(keys[order[i] as number] as string, VALUE);
      });
    },
  },
  {
    name: 'put (evicting, cap n/2)',
    ours: (n, keys) => {
      const c = makeOurs(n >> 1);
      return opsPerSec(n, () => {
        for (let i = 0; i < n; i++) c.set(keys[i] as string, VALUE);
      });
    },
    theirs: (n, keys) => {
      const c = makeTheirs(n >> 1);
      return opsPerSec(n, () => {
        for (let i = 0; i < n; i++) c.set(keys[i] as string, VALUE);
      });
    },
  },
  {
    name: 'get (hit, random order)',
    ours: (n, keys, order) => {
      const c = makeOurs(n);
      for (let i = 0; i < n; i++) c.set(keys[i] as string, VALUE);
      let sink = 0;
      const r = opsPerSec(n, () => {
        for (let i = 0; i < n; i++) sink += c.get(keys[order[i] as number] as string)?.length ?? 0;
      });
      if (sink !== n * VALUE.length) throw new Error('bench: bad get');
      return r;
    },
    theirs: (n, keys, order) => {
      const c = makeTheirs(n);
      for (let i = 0; i < n; i++) c.set(keys[i] as string, VALUE);
      let sink = 0;
      const r = opsPerSec(n, () => {
        for (let i = 0; i < n; i++) sink += c.get(keys[order[i] as number] as string)?.length ?? 0;
      });
      if (sink !== n * VALUE.length) throw new Error('bench: bad get');
      return r;
    },
  },
  {
    name: 'get (miss)',
    ours: (n, keys) => {
      const c = makeOurs(n);
      for (let i = 0; i < n >> 1; i++) c.set(keys[i] as string, VALUE);
      let sink = 0;
      const r = opsPerSec(n >> 1, () => {
        for (let i = n >> 1; i < n; i++) sink += c.get(keys[i] as string) === undefined ? 1 : 0;
      });
      if (sink !== n - (n >> 1)) throw new Error('bench: bad miss');
      return r;
    },
    theirs: (n, keys) => {
      const c = makeTheirs(n);
      for (let i = 0; i < n >> 1; i++) c.set(keys[i] as string, VALUE);
      let sink = 0;
      const r = opsPerSec(n >> 1, () => {
        for (let i = n >> 1; i < n; i++) sink += c.get(keys[i] as string) === undefined ? 1 : 0;
      });
      if (sink !== n - (n >> 1)) throw new Error('bench: bad miss');
      return r;
    },
  },
  {
    name: 'state machine get (random)',
    ours: (n, keys, order) => {
      const sm = new CacheStateMachine({ maxEntries: n, maxBytes: n * 200 });
      for (let i = 0; i < n; i++) sm.apply(i + 1, { type: 'put', ts: 1, key: keys[i] as string, value: VALUE });
      let sink = 0;
      const r = opsPerSec(n, () => {
        for (let i = 0; i < n; i++) sink += sm.get(keys[order[i] as number] as string)?.length ?? 0;
      });
      if (sink !== n * VALUE.length) throw new Error('bench: bad sm get');
      return r;
    },
    theirs: null,
  },
  {
    name: 'state machine apply put (decode+apply)',
    ours: (n, keys) => {
      // All payloads in one buffer; each apply gets a fresh view, like a log entry.
      const encoded = keys.slice(0, n).map((key, i) => encodeCommand({ type: 'put', ts: i, key, value: VALUE }));
      const offsets = new Uint32Array(n + 1);
      for (let i = 0; i < n; i++) offsets[i + 1] = (offsets[i] as number) + (encoded[i] as Uint8Array).length;
      const log = new Uint8Array(offsets[n] as number);
      encoded.forEach((e, i) => log.set(e, offsets[i] as number));
      encoded.length = 0;
      const sm = new CacheStateMachine({ maxEntries: n, maxBytes: n * 200 });
      return opsPerSec(n, () => {
        for (let i = 0; i < n; i++) sm.applyEncoded(i + 1, log.subarray(offsets[i] as number, offsets[i + 1] as number));
      });
    },
    theirs: null,
  },
  {
    name: 'state machine apply put ttl (no decode)',
    ours: (n, keys) => {
      const sm = new CacheStateMachine({ maxEntries: n, maxBytes: n * 200 });
      return opsPerSec(n, () => {
        for (let i = 0; i < n; i++) sm.apply(i + 1, { type: 'put', ts: i, key: keys[i] as string, value: VALUE, ttlMs: 60_000 });
      });
    },
    theirs: (n, keys) => {
      const c = makeTheirs(n, 60_000);
      return opsPerSec(n, () => {
        for (let i = 0; i < n; i++) c.set(keys[i] as string, VALUE);
      });
    },
  },
];

function heapPerEntry(n: number, keys: string[], which: 'ours' | 'theirs' | 'sm'): number {
  const before = heapUsed();
  let holder: unknown;
  if (which === 'ours') {
    const c = makeOurs(n);
    for (let i = 0; i < n; i++) c.set(keys[i] as string, VALUE);
    holder = c;
  } else if (which === 'theirs') {
    const c = makeTheirs(n);
    for (let i = 0; i < n; i++) c.set(keys[i] as string, VALUE);
    holder = c;
  } else {
    const sm = new CacheStateMachine({ maxEntries: n, maxBytes: n * 200 });
    for (let i = 0; i < n; i++) sm.apply(i + 1, { type: 'put', ts: 1, key: keys[i] as string, value: VALUE });
    holder = sm;
  }
  const after = heapUsed();
  if (holder === undefined) throw new Error('unreachable');
  return (after - before) / n;
}

function parseArgs(argv: string[]): { json: boolean; reps: number; sizes: number[] } {
  let json = false;
  let reps = 5;
  let sizes = [100_000, 1_000_000];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') json = true;
    else if (a === '--reps') reps = Number(argv[++i]);
    else if (a === '--sizes') sizes = String(argv[++i]).split(',').map(Number);
    else if (a === 'lru') continue;
    else throw new Error(`bench lru: unknown argument ${String(a)}`);
  }
  if (!Number.isInteger(reps) || reps < 1) throw new Error('bench lru: --reps must be a positive integer');
  if (sizes.some((s) => !Number.isInteger(s) || s < 2)) throw new Error('bench lru: --sizes must be integers >= 2');
  return { json, reps, sizes };
}

function fmt(x: number | null, unit: Row['unit']): string {
  if (x === null) return '-';
  if (unit === 'bytes/entry') return x.toFixed(1);
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(0)}k`;
}

export async function main(argv: string[]): Promise<number> {
  let opts: ReturnType<typeof parseArgs>;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  const rows: Row[] = [];
  for (const n of opts.sizes) {
    const keys = Array.from({ length: n }, (_, i) => `key:${i.toString(36)}:${(i * 2654435761) >>> 0}`);
    const order = permutation(n, 0x5eed);
    const warm = Math.min(n, 20_000);
    for (const c of cases) {
      // Warm-up: let the JIT see both implementations before timing.
      c.ours(warm, keys, permutation(warm, 1));
      c.theirs?.(warm, keys, permutation(warm, 1));
    }
    for (const c of cases) {
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let r = 0; r < opts.reps; r++) {
        // Alternate who goes first so warm-up and noise hit both.
        if (r % 2 === 0 || c.theirs === null) {
          ours.push(c.ours(n, keys, order));
          if (c.theirs) theirs.push(c.theirs(n, keys, order));
        } else {
          theirs.push(c.theirs(n, keys, order));
          ours.push(c.ours(n, keys, order));
        }
      }
      rows.push({ name: c.name, n, unit: 'ops/s', ours: median(ours), lruCache: c.theirs ? median(theirs) : null });
      if (!opts.json) process.stderr.write('.');
    }
    const hOurs: number[] = [];
    const hTheirs: number[] = [];
    const hSm: number[] = [];
    for (let r = 0; r < opts.reps; r++) {
      hOurs.push(heapPerEntry(n, keys, 'ours'));
      hTheirs.push(heapPerEntry(n, keys, 'theirs'));
      hSm.push(heapPerEntry(n, keys, 'sm'));
    }
    rows.push({ name: 'heap per entry', n, unit: 'bytes/entry', ours: median(hOurs), lruCache: median(hTheirs) });
    rows.push({ name: 'heap per entry (state machine)', n, unit: 'bytes/entry', ours: median(hSm), lruCache: null });
  }
  if (!opts.json) process.stderr.write('\n');

  const header = ['operation', 'keys', 'ours', 'lru-cache', 'ours/lru-cache'];
  const table = rows.map((r) => [
    r.name,
    String(r.n),
    fmt(r.ours, r.unit),
    fmt(r.lruCache, r.unit),
    r.lruCache === null ? '' : `${(r.ours / r.lruCache).toFixed(2)}x`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => (t[i] as string).length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  const out = [
    `LRU benchmark: medians of ${opts.reps} repetitions${gc === undefined ? ' (no --expose-gc: heap figures are rough)' : ''}`,
    line(header),
    ...table.map(line),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ bench: 'lru', reps: opts.reps, gc: gc !== undefined, rows })}\n`);
  }
  return 0;
}
