/** `raftcache dev --demo --exit` starts a cluster, runs the demo, stops its nodes and exits 0. */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { MAIN, SKIP_REASON, freeBasePort, serverBuilt, tempDir } from './helpers.js';

describe.skipIf(!serverBuilt)('raftcache dev', () => {
  const dir = serverBuilt ? tempDir('raftcache-dev-') : '';
  let pid: number | undefined;

  afterAll(() => {
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL'); // only if the test timed out with it still running
      } catch {
        // exited
      }
    }
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('--demo --exit runs the demo against a fresh cluster and exits 0', async () => {
    if (!serverBuilt) console.warn(SKIP_REASON);
    const base = await freeBasePort(3);
    const child = spawn(process.execPath, [MAIN, 'dev', '--demo', '--exit', '--dir', dir, '--base-port', String(base), '--log-level', 'warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    pid = child.pid;
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
    pid = undefined;
    expect(out).toContain('cluster up');
    expect(out).toContain('cas lock');
    expect(out).toMatch(/n1\s+up\s+(leader|follower)/);
    expect(out).toContain('stopped.');
    expect(code).toBe(0);
  }, 50_000);
});
