import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry, EntryType, Storage } from '../../src/raft/types.js';

/** A fresh directory under the OS temp dir; `cleanup()` removes all made so far. */
export function tempDirs(): { make(): string; cleanup(): void } {
  const made: string[] = [];
  return {
    make() {
      const d = mkdtempSync(join(tmpdir(), 'raftcache-storage-'));
      made.push(d);
      return d;
    },
    cleanup() {
      for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}

const enc = new TextEncoder();

export function entry(index: number, term: number, text = `e${index}t${term}`, type: EntryType = 'normal'): Entry {
  return { index, term, type, data: enc.encode(text) };
}

export function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

/** Everything a Storage shows the core, in plain comparable form. */
export function view(s: Storage): unknown {
  const first = s.firstIndex();
  const last = s.lastIndex();
  const snap = s.snapshot();
  return {
    initial: s.initialState(),
    first,
    last,
    startTerm: s.term(first - 1),
    entries: s.entries(first, last + 1).map((e) => ({ ...e, data: Array.from(e.data) })),
    snapshot: { metadata: snap.metadata, data: Array.from(snap.data) },
  };
}
