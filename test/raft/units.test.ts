/** Unit tests of the small pure pieces: quorum arithmetic, the in-flight window, progress, the log and MemoryStorage. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Inflights } from '../../src/raft/inflights.js';
import { RaftLog } from '../../src/raft/log.js';
import { Progress } from '../../src/raft/progress.js';
import { majorityCommittedIndex, majorityVoteResult } from '../../src/raft/quorum.js';
import { CompactedError, MemoryStorage } from '../../src/raft/index.js';
import type { Entry } from '../../src/raft/index.js';

const E = (index: number, term: number, data = ''): Entry => ({ index, term, type: 'normal', data: new TextEncoder().encode(data) });

describe('quorum', () => {
  it('commit index is the largest index held by a majority', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(50), { minLength: 1, maxLength: 9 }), (matches) => {
        const voters = matches.map((_, i) => i + 1);
        const got = majorityCommittedIndex(voters, (id) => matches[id - 1] ?? 0);
        const q = Math.floor(voters.length / 2) + 1;
        let want = 0;
        for (let i = 0; i <= 50; i++) if (matches.filter((m) => m >= i).length >= q) want = i;
        expect(got).toBe(want);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('vote result: won with a majority of grants, lost once a majority is out of reach', () => {
    const voters = [1, 2, 3, 4, 5];
    const v = (entries: Array<[number, boolean]>): string => majorityVoteResult(voters, new Map(entries));
    expect(v([[1, true]])).toBe('pending');
    expect(v([[1, true], [2, true], [3, true]])).toBe('won');
    expect(v([[1, true], [2, false], [3, false]])).toBe('pending');
    expect(v([[1, true], [2, false], [3, false], [4, false]])).toBe('lost');
    expect(v([[9, true], [8, true], [1, true]])).toBe('pending'); // non-voters do not count
  });
});

describe('inflights', () => {
  it('is full at the count limit or the byte limit, and frees in order', () => {
    const w = new Inflights(3, 100);
    w.add(5, 10);
    w.add(7, 10);
    expect(w.full()).toBe(false);
    w.add(9, 10);
    expect(w.full()).toBe(true);
    expect(() => w.add(10, 1)).toThrow();
    w.freeLE(7);
    expect(w.length).toBe(1);
    expect(w.totalBytes).toBe(10);
    const b = new Inflights(10, 25);
    b.add(1, 10);
    b.add(2, 10);
    expect(b.full()).toBe(false);
    b.add(3, 10);
    expect(b.full()).toBe(true);
    b.freeFirstOne();
    expect(b.full()).toBe(false);
  });

  it('matches a simple model under random use', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(20)), { maxLength: 200 }), (ops) => {
        const w = new Inflights(4, 50);
        const model: Array<[number, number]> = [];
        let last = 0;
        for (const [add, x] of ops) {
          if (add && !w.full()) {
            last += 1 + (x % 3);
            w.add(last, x);
            model.push([last, x]);
          } else if (!add) {
            const upto = last - (x % 5);
            w.freeLE(upto);
            while (model.length > 0 && (model[0]?.[0] ?? 0) <= upto) model.shift();
          }
          expect(w.length).toBe(model.length);
          expect(w.totalBytes).toBe(model.reduce((s, [, b]) => s + b, 0));
        }
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});

describe('progress', () => {
  it('probe sends one append then pauses; an ack moves it to replicate', () => {
    const p = new Progress(6, 4, 0, false);
    expect(p.isPaused()).toBe(false);
    p.sentEntries(6, 1, 10);
    expect(p.isPaused()).toBe(true);
    expect(p.maybeUpdate(6)).toBe(true);
    p.becomeReplicate();
    expect(p.next).toBe(7);
  });

  it('a reject in probe state takes the hint; a stale reject is ignored', () => {
    const p = new Progress(11, 4, 0, false);
    p.sentEntries(10, 0, 0);
    expect(p.maybeDecrTo(9, 3)).toBe(false); // not the probe we sent (next-1 = 10)
    expect(p.maybeDecrTo(10, 3)).toBe(true);
    expect(p.next).toBe(4);
    expect(p.isPaused()).toBe(false);
  });

  it('replicate state pipelines until the window is full', () => {
    const p = new Progress(1, 2, 0, false);
    p.becomeReplicate();
    p.sentEntries(3, 3, 30);
    expect(p.next).toBe(4);
    p.sentEntries(5, 2, 20);
    expect(p.isPaused()).toBe(true);
    p.maybeUpdate(3);
    p.inflights.freeLE(3);
    expect(p.isPaused()).toBe(false);
    expect(p.maybeDecrTo(2, 0)).toBe(false); // at or below match: stale
    expect(p.maybeDecrTo(5, 0)).toBe(true);
    expect(p.next).toBe(4);
  });
});

describe('MemoryStorage', () => {
  it('appends, truncates a conflicting suffix, compacts and clones', () => {
    const s = new MemoryStorage([1, 2, 3]);
    s.append([E(1, 1), E(2, 1), E(3, 1)]);
    s.append([E(2, 2, 'x')]);
    expect(s.lastIndex()).toBe(2);
    expect(s.term(2)).toBe(2);
    const c = s.clone();
    s.append([E(3, 2), E(4, 2)]);
    expect(c.lastIndex()).toBe(2);
    s.createSnapshot(3, new Uint8Array([1]));
    s.compact(3);
    expect(s.firstIndex()).toBe(4);
    expect(s.term(3)).toBe(2);
    expect(() => s.term(2)).toThrow(CompactedError);
    expect(() => s.entries(3, 5)).toThrow(CompactedError);
    expect(s.entries(4, 5).map((e) => e.index)).toEqual([4]);
    expect(s.snapshot().metadata).toMatchObject({ index: 3, term: 2 });
  });

  it('limits entries by bytes but returns at least one', () => {
    const s = new MemoryStorage([1]);
    s.append([E(1, 1, 'aaaa'), E(2, 1, 'bbbb'), E(3, 1, 'cccc')]);
    expect(s.entries(1, 4, 1).length).toBe(1);
    expect(s.entries(1, 4, 8).length).toBe(2);
  });
});

describe('RaftLog', () => {
  it('reads across the stable and unstable parts and finds conflicts by term', () => {
    const s = new MemoryStorage([1]);
    s.append([E(1, 1), E(2, 1), E(3, 2)]);
    const log = new RaftLog(s, 0);
    log.append([E(4, 3), E(5, 3)]);
    expect(log.lastIndex()).toBe(5);
    expect(log.slice(2, 6, Infinity).map((e) => e.index)).toEqual([2, 3, 4, 5]);
    expect(log.findConflictByTerm(5, 2)).toEqual({ index: 3, term: 2 });
    expect(log.findConflictByTerm(5, 1)).toEqual({ index: 2, term: 1 });
    // A follower append that conflicts at 4 replaces the unstable tail.
    expect(log.maybeAppend(3, 2, 0, [E(4, 4)])).toBe(4);
    expect(log.lastIndex()).toBe(4);
    expect(log.term(4)).toBe(4);
    // Stable-to with a stale term does nothing.
    log.stableTo(4, 3);
    expect(log.unstableEntries().length).toBe(1);
    log.stableTo(4, 4);
    expect(log.unstableEntries().length).toBe(0);
  });
});
