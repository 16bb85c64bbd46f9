/**
 * kill -9 harness for the crash tests: the child writers (fixtures/*.mjs) run
 * plain node on JS transpiled from src/storage in `buildStorage` (type stripping
 * only: fast, and independent of the rest of the tree compiling).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

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

export const root = projectRoot();

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

export interface CrashWork {
  /** A scratch folder for databases. */
  readonly dir: string;
  /** The transpiled src/storage/index.js, for the child. */
  readonly storageModule: string;
  cleanup(): void;
}

/** Transpiles src/storage into a fresh temp folder. */
export function buildStorage(): CrashWork {
  const dir = mkdtempSync(join(tmpdir(), 'raftcache-crash-'));
  transpileTree(join(root, 'src/storage/index.ts'), join(dir, 'build'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'build/node_modules'), 'dir');
  return {
    dir,
    storageModule: join(dir, 'build/src/storage/index.js'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface KilledRun {
  /** Every stdout line the child printed, including those read after the kill. */
  readonly lines: string[];
  /** Index in `lines` of the line on which the child was killed. */
  readonly killedAt: number;
}

/**
 * Runs `node fixture ...args`, SIGKILLs it on the first stdout line for which
 * `killOn` returns true, and resolves with all it printed (stdout is read to its
 * end: a pipe write is synchronous on Linux, so every line printed before the kill
 * is there). Rejects if the child exits by itself.
 */
export function runAndKill(fixture: string, args: readonly string[], killOn: (line: string) => boolean): Promise<KilledRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(root, 'test/storage/fixtures', fixture), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let killedAt = -1;
    let buffered = '';
    let stderr = '';
    let signal: NodeJS.Signals | null = null;
    let code: number | null = null;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (killedAt < 0 && killOn(line)) {
          killedAt = lines.length - 1;
          child.kill('SIGKILL');
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (c, s) => {
      code = c;
      signal = s;
    });
    child.on('close', () => {
      if (signal === 'SIGKILL' && killedAt >= 0) resolvePromise({ lines, killedAt });
      else reject(new Error(`${fixture} exited with ${String(code ?? signal)} before the kill: ${stderr}`));
    });
  });
}
