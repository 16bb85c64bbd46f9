/**
 * kill -9: a child process writes to a NodeStore and acknowledges each flush;
 * the test SIGKILLs it at a seeded point, reopens the database and checks that
 * every acknowledged write is there and the log is consistent. Repeated on the
 * same database, so the child also resumes after each crash.
 *
 * The child runs plain node on JS transpiled from src/ in beforeAll (type
 * stripping only: fast, and independent of the rest of the tree compiling).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/util/rng.js';
import { NodeStore } from '../../src/storage/index.js';

/** The project root: the nearest folder with a package.json (this file may also run compiled, from dist/). */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('no package.json above the test');
    dir = up;
  }
  return dir;
}

const root = projectRoot();
const fixture = join(root, 'test/storage/fixtures/crash-writer.mjs');
const GROUPS = 4;
const ROUNDS = 4;

let work = '';

/** Transpiles `entry` and every module it imports relatively into `out`, mirroring the tree. */
function transpileTree(entry: string, out: string): void {
  const todo = [entry];
  const seen = new Set<string>();
  while (todo.length > 0) {
    const file = todo.pop();
    if (!file || seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    const js = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    }).outputText;
    const target = join(out, relative(root, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, js);
    for (const m of js.matchAll(/from\s+'(\.\.?\/[^']+)\.js'/g)) {
      const spec = m[1];
      if (spec) todo.push(resolve(dirname(file), `${spec}.ts`));
    }
  }
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'raftcache-crash-'));
  transpileTree(join(root, 'src/storage/index.ts'), join(work, 'build'));
  symlinkSync(join(root, 'node_modules'), join(work, 'build/node_modules'), 'dir');
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Ack {
  last: number;
  term: number;
  commit: number;
}

/** Runs the writer until it printed `acks` acknowledgements, then SIGKILLs it; returns the last ack per group. */
function runAndKill(db: string, acks: number): Promise<Map<number, Ack>> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [fixture, join(work, 'build/src/storage/index.js'), db, String(GROUPS)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const last = new Map<number, Ack>();
    let seen = 0;
    let buffered = '';
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (killed) return; // what arrives after the kill decision is not counted
        const [tag, g, l, t, c] = line.split(' ');
        if (tag !== 'ack') continue;
        last.set(Number(g), { last: Number(l), term: Number(t), commit: Number(c) });
        if (++seen >= acks) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolvePromise(last);
      else reject(new Error(`writer exited with ${String(code)} before the kill: ${stderr}`));
    });
  });
}

describe('kill -9 during group commit', () => {
  it('keeps every acknowledged write and a consistent log', async () => {
    const db = join(work, 'db');
    const rng = new SeededRng(0x5eed);
    const acked = new Map<number, Ack>();
    let compacted = false;
    let replaced = false;
    for (let round = 0; round < ROUNDS; round++) {
      const got = await runAndKill(db, 20 + rng.int(200));
      for (const [g, a] of got) acked.set(g, a);
      expect(acked.size).toBe(GROUPS);
      const store = await NodeStore.open(db); // throws on a broken invariant
      try {
        expect(store.groups()).toEqual([1, 2, 3, 4]);
        const dec = new TextDecoder();
        for (const [g, a] of acked) {
          const s = store.group(g, { voters: [], learners: [] });
          expect(s.lastIndex()).toBeGreaterThanOrEqual(a.last);
          expect(s.term(a.last)).toBeGreaterThanOrEqual(a.term);
          expect(s.initialState().hardState.commit).toBeGreaterThanOrEqual(a.commit);
          for (const e of s.entries(s.firstIndex(), s.lastIndex() + 1)) {
            expect(dec.decode(e.data)).toBe(`${g}:${e.index}:${e.term}`);
          }
          compacted ||= s.firstIndex() > 1;
          replaced ||= s.term(s.lastIndex()) > 1;
          const snap = s.snapshot().metadata;
          if (snap.index > 0) expect(s.term(snap.index)).toBe(snap.term);
        }
      } finally {
        await store.close();
      }
    }
    // the writer did exercise compaction and conflicting suffixes
    expect([compacted, replaced]).toEqual([true, true]);
  }, 20_000);
});
