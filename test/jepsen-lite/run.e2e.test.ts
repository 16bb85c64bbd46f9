/**
 * jepsen-lite end to end, as CI runs it: the built command against real node
 * processes behind fault proxies. A short safe run under partitions and
 * kill -9 must be linearizable with exit 0; with --unsafe-stale-reads under
 * partitions the checker must say NOT linearizable and the exit must be
 * non-zero (real processes are not deterministic, so that run may be
 * repeated up to twice with other seeds before the test fails).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseHistoryJsonl } from '../../jepsen-lite/checker/index.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const RUN = join(root, 'dist/jepsen-lite/run.js');
const MAIN = join(root, 'dist/src/cli/main.js');
const built = existsSync(RUN) && existsSync(MAIN);
if (!built) console.warn(`jepsen-lite e2e skipped: build first (${RUN})`);

interface Outcome {
  readonly code: number;
  readonly summary: Record<string, unknown> | null;
  readonly stderr: string;
  readonly out: string;
}

const dirs: string[] = [];

function runJepsen(args: string[]): Promise<Outcome> {
  const out = mkdtempSync(join(tmpdir(), 'jepsen-lite-'));
  dirs.push(out);
  return new Promise((done) => {
    execFile(process.execPath, [RUN, ...args, '--out', out, '--json'], { timeout: 100_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      let summary: Record<string, unknown> | null = null;
      try {
        summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
      } catch {
        summary = null;
      }
      done({ code, summary, stderr, out });
    });
  });
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!built)('jepsen-lite against real processes', () => {
  it('a short run under partitions and kill -9 is linearizable, the nodes healthy, exit 0', async () => {
    const r = await runJepsen(['--nodes', '3', '--time', '15', '--clients', '8', '--keys', '4', '--nemesis', 'partition,kill', '--seed', '11']);
    expect(r.summary, r.stderr).not.toBeNull();
    expect(r.summary?.['verdict'], r.stderr).toBe('linearizable');
    expect(r.summary?.['healthy'], String(r.summary?.['health'])).toBe(true);
    expect(r.code).toBe(0);
    const kinds = (r.summary?.['faults'] as { kind: string }[]).map((f) => f.kind);
    expect(kinds).toContain('partition');
    expect(kinds).toContain('kill');
    expect(r.summary?.['operations']).toBeGreaterThan(200);
    const history = parseHistoryJsonl(readFileSync(join(r.out, 'history.jsonl'), 'utf8'));
    expect(history.length).toBeGreaterThan(400);
    expect(readFileSync(join(r.out, 'report.html'), 'utf8')).toContain('LINEARIZABLE');
  }, 110_000);

  it('with --unsafe-stale-reads under partitions the verdict is NOT linearizable and the exit non-zero', async () => {
    let last: Outcome | null = null;
    for (const seed of [21, 22, 23]) {
      last = await runJepsen(['--nodes', '3', '--time', '9', '--clients', '8', '--keys', '3', '--nemesis', 'partition', '--seed', String(seed), '--unsafe-stale-reads']);
      if (last.summary?.['verdict'] === 'not-linearizable') break;
    }
    expect(last?.summary?.['verdict'], last?.stderr).toBe('not-linearizable');
    expect(last?.code).toBe(1);
    expect((last?.summary?.['faults'] as { kind: string }[]).map((f) => f.kind)).toEqual(['partition']);
    const html = readFileSync(join(last?.out ?? '', 'report.html'), 'utf8');
    expect(html).toContain('NOT-LINEARIZABLE');
    expect(html).toContain('<svg');
  }, 320_000);
});
