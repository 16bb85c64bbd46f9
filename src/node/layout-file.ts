/**
 * Guards a data directory against a changed shard layout: the layout a node
 * was first started with (shards, replication) is written next to its
 * database; a later start with other values is refused, since the ranges of
 * the ring would then map keys onto groups that never held them.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from './config.js';

const FILE = 'raftcache-layout.json';

export interface LayoutParams {
  readonly shards: number;
  readonly replication: number;
}

export async function checkLayoutFile(dataDir: string, want: LayoutParams): Promise<void> {
  const path = join(dataDir, FILE);
  let text: string | null = null;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (text === null) {
    await writeFile(path, `${JSON.stringify(want)}\n`);
    return;
  }
  let had: Partial<LayoutParams>;
  try {
    had = JSON.parse(text) as Partial<LayoutParams>;
  } catch {
    throw new ConfigError([`data: ${path} is not valid JSON`]);
  }
  const problems: string[] = [];
  if (had.shards !== want.shards) problems.push(`shards: the data directory was created with shards=${String(had.shards)}, not ${want.shards}`);
  if (had.replication !== want.replication) {
    problems.push(`replication: the data directory was created with replication=${String(had.replication)}, not ${want.replication}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
