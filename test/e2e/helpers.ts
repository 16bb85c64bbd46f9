/**
 * Helpers for the end-to-end tests: they run real node processes from dist/
 * (`npm test` builds first) on 127.0.0.1 with free ports and temp data dirs.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const MAIN = join(root, 'dist/src/cli/main.js');
const START = join(root, 'dist/src/cli/start.js');

/** True when the node process exists in dist/ (the server side is built). */
export const serverBuilt = existsSync(START) && existsSync(MAIN);
export const SKIP_REASON = `e2e skipped: ${START} does not exist yet (run npm run build once src/cli/start.ts exists)`;

const NODE_JS = join(root, 'dist/src/node/node.js');
/** The stub `CacheNode.admin` answered with before the meta group ran (src/node/node.ts). */
const ADMIN_STUB = 'the meta group does not run on this build yet';

/**
 * True when the built node carries out operator commands (the meta group is
 * live): the built node.js no longer holds the UNAVAILABLE stub of `admin`.
 */
export const adminLive = serverBuilt && existsSync(NODE_JS) && !readFileSync(NODE_JS, 'utf8').includes(ADMIN_STUB);
export const ADMIN_SKIP_REASON = `membership e2e skipped: the built node's admin() still rejects every operator command as UNAVAILABLE ('${ADMIN_STUB}', ${NODE_JS}): the live meta group has not landed`;

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function tryListen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = createServer();
    s.once('error', () => done(false));
    s.listen(port, '127.0.0.1', () => s.close(() => done(true)));
  });
}

async function osPort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => done(port));
    });
  });
}

/** `count` free client ports and `count` free peer ports. */
export async function freePorts(count: number): Promise<{ client: number; peer: number }[]> {
  const seen = new Set<number>();
  const take = async (): Promise<number> => {
    for (;;) {
      const p = await osPort();
      if (!seen.has(p)) {
        seen.add(p);
        return p;
      }
    }
  };
  const out: { client: number; peer: number }[] = [];
  for (let i = 0; i < count; i++) out.push({ client: await take(), peer: await take() });
  return out;
}

/** A base port B with B..B+n-1 and B+100..B+100+n-1 all free (the `dev` layout). */
export async function freeBasePort(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await osPort();
    if (base + 100 + n > 65535) continue;
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = (await tryListen(base + i)) && (await tryListen(base + 100 + i));
    if (ok) return base;
  }
  throw new Error('no free base port found');
}

/** Polls `probe` every 50 ms until it returns a value; throws after `timeoutMs` with `what`. */
export async function eventually<T>(timeoutMs: number, what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out waiting for ${what}${lastError instanceof Error ? ` (last error: ${lastError.message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
