/**
 * Runs every interaction script in test/raft/scripts/. Set REWRITE=1 to write
 * the actual outputs into the scripts (then review the diff before committing).
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { rewriteScript, runScript } from './script-runner.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'scripts');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.txt'))
  .sort();

describe('interaction scripts', () => {
  it('has scripts', () => {
    expect(files.length).toBeGreaterThan(0);
  });
  for (const f of files) {
    it(f, () => {
      const path = join(dir, f);
      const text = readFileSync(path, 'utf8');
      const results = runScript(text);
      if (process.env.REWRITE) {
        writeFileSync(path, rewriteScript(text, results));
        return;
      }
      for (const r of results) {
        expect(r.actual, `${f}:${r.line}: ${r.command}`).toBe(r.expected ?? '');
      }
    });
  }
});
