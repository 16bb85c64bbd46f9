/**
 * `raftcache demo failover`: the pure timeline computation on hand-made
 * histories, and the built demo run end to end (real nodes, kill -9 of the
 * leader) with --json.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { HistoryEvent } from '../../jepsen-lite/history.js';
import { readBack, renderFailover, summarizeFailover, writesOf } from '../../src/cli/failover/index.js';
import type { StatusSample } from '../../src/cli/failover/index.js';
import { MAIN, SKIP_REASON, serverBuilt, tempDir } from './helpers.js';

const MS = 1e6;

/** A builder of histories: op(process, f, key, value, invoke ms, complete ms, outcome). */
function history(
  ops: readonly [number, 'get' | 'put', string, string | null, number, number, 'ok' | 'fail' | 'info'][],
): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  for (const [process, f, key, value, from, to, type] of ops) {
    events.push({ process, type: 'invoke', f, key, value: f === 'get' ? null : value, time: from * MS });
    events.push({ process, type, f, key, value: f === 'get' && type !== 'ok' ? null : value, time: to * MS });
  }
  return events.sort((a, b) => a.time - b.time);
}

function sample(ms: number, nodes: [number, string | null, number, number, number][]): StatusSample {
  return { timeNs: ms * MS, nodes: nodes.map(([id, role, term, commit, applied]) => ({ id, role, term, commit, applied })) };
}

describe('failover timeline (pure)', () => {
  // n1 leads in term 2, is killed at 2000 ms; n3 wins term 3, first seen at 2350 ms;
  // n1 restarts at 5000 ms and reaches the commit index of 5000 ms (40) at 5600 ms.
  const samples = [
    sample(0, [[1, 'leader', 2, 10, 10], [2, 'follower', 2, 10, 10], [3, 'follower', 2, 10, 10]]),
    sample(2050, [[1, null, 0, 0, 0], [2, 'follower', 2, 20, 20], [3, 'candidate', 3, 20, 20]]),
    sample(2350, [[1, null, 0, 0, 0], [2, 'follower', 3, 21, 21], [3, 'leader', 3, 21, 21]]),
    sample(4990, [[1, null, 0, 0, 0], [2, 'follower', 3, 40, 40], [3, 'leader', 3, 40, 39]]),
    sample(5300, [[1, 'follower', 3, 30, 30], [2, 'follower', 3, 45, 45], [3, 'leader', 3, 45, 45]]),
    sample(5600, [[1, 'follower', 3, 44, 40], [2, 'follower', 3, 50, 50], [3, 'leader', 3, 50, 50]]),
  ];
  const events = history([
    [0, 'put', 'a', 'v1', 100, 110, 'ok'],
    [1, 'get', 'a', 'v1', 120, 130, 'ok'],
    [0, 'put', 'a', 'v2', 1990, 2700, 'ok'], // spans the kill: acknowledged after it
    [1, 'get', 'a', 'v1', 1995, 2400, 'ok'],
    [2, 'put', 'b', 'w1', 1999, 2600, 'info'], // outcome unknown
    [1, 'get', 'b', 'w1', 2450, 2460, 'ok'],
    [0, 'put', 'a', 'v3', 2800, 2810, 'ok'],
    [1, 'get', 'a', 'v3', 2900, 2905, 'ok'],
    [0, 'put', 'b', 'w2', 2950, 3000, 'fail'], // certainly not applied
  ]);
  const report = summarizeFailover({
    events,
    marks: { initialLeader: { id: 1, term: 2 }, killNs: 2000 * MS, killedId: 1, restartNs: 5000 * MS, loadEndNs: 3200 * MS },
    samples,
    finalValues: new Map([
      ['a', 'v3'],
      ['b', 'w1'],
    ]),
    checker: { verdict: 'linearizable', operations: 9, elapsedMs: 1 },
  });

  it('reads the election from the first poll that shows another node leading', () => {
    expect(report.newLeader).toEqual({ node: 'n3', term: 3, atMs: 2350 });
    expect(report.electionMs).toBe(350);
  });

  it('measures unavailability as the longest gap between successful ops after the kill', () => {
    // puts ok at 2700 and 2810 after the kill at 2000, load ends at 3200: the gap 2000→2700
    expect(report.writeUnavailableMs).toBe(700);
    // gets ok at 2400, 2460, 2905: the gap 2460→2905
    expect(report.readUnavailableMs).toBe(445);
  });

  it('counts acknowledged writes before and after the kill and reads every key back', () => {
    expect(report.acknowledgedWrites).toEqual({ before: 1, after: 2 });
    expect(report.lost).toBe(0);
    expect(report.readBack.map((k) => [k.key, k.outcome])).toEqual([
      ['a', 'visible'],
      ['b', 'untouched'],
    ]);
    expect(report.answeringAtMs).toBe(5300);
    expect(report.caughtUpAtMs).toBe(5600); // applied 40 = the highest commit seen at 4990 ms
    expect(report.operations).toEqual({ invoked: 9, ok: 7, fail: 1, info: 1, pending: 0 });
    expect(report.ok).toBe(true);
  });

  it('renders a timeline with the figures, in time order', () => {
    const text = renderFailover(report);
    expect(text.indexOf('load stopped')).toBeLessThan(text.indexOf('n1 restarted'));
    expect(text).toContain('t=+2.00s    kill -9 n1 (the leader)');
    expect(text).toContain('t=+2.35s    n3 elected leader (term 3) — 350 ms after the kill');
    expect(text).toContain('writes unavailable for 700 ms, reads unavailable for 445 ms');
    expect(text).toContain('n1 restarted; answering at +5.30 s, caught up at +5.60 s');
    expect(text).toContain('acknowledged writes: 1 before the kill, 2 after; all read back (2 keys): 0 lost');
    expect(text).toContain('checker: linearizable (9 operations');
  });

  it('finds a write lost when the final value predates it, is absent, or was never written', () => {
    const writes = writesOf(
      history([
        [0, 'put', 'k', 'old', 0, 10, 'ok'],
        [0, 'put', 'k', 'new', 20, 30, 'ok'],
        [1, 'put', 'm', 'x', 0, 10, 'ok'],
        [2, 'put', 'n', 'y', 0, 10, 'ok'],
        [3, 'put', 'n', 'z', 5, 6, 'fail'],
      ]),
    );
    const back = readBack(
      writes,
      new Map<string, string | null>([
        ['k', 'old'],
        ['m', null],
        ['n', 'z'],
      ]),
    );
    expect(back.map((k) => [k.key, k.outcome, k.lost])).toEqual([
      ['k', 'lost', 1],
      ['m', 'lost', 1],
      ['n', 'lost', 1],
    ]);
  });

  it('lets a concurrent or unknown-outcome write supersede the last acknowledged one', () => {
    const writes = writesOf(
      history([
        [0, 'put', 'k', 'acked', 0, 50, 'ok'],
        [1, 'put', 'k', 'concurrent', 40, 45, 'ok'], // completed first, but overlapped: may be ordered after
        [2, 'put', 'j', 'acked', 0, 10, 'ok'],
        [3, 'put', 'j', 'unknown', 0, 5, 'info'],
      ]),
    );
    const back = readBack(
      writes,
      new Map([
        ['k', 'concurrent'],
        ['j', 'unknown'],
      ]),
    );
    expect(back.map((k) => [k.key, k.outcome, k.lost])).toEqual([
      ['j', 'superseded', 0],
      ['k', 'superseded', 0],
    ]);
  });
});

interface DemoJson {
  initialLeader: { node: string };
  killedNode: string;
  newLeader: { node: string; term: number } | null;
  electionMs: number | null;
  writeUnavailableMs: number;
  readUnavailableMs: number;
  lost: number;
  acknowledgedWrites: { before: number; after: number };
  checker: { verdict: string; operations: number };
  ok: boolean;
}

describe.skipIf(!serverBuilt)('raftcache demo failover (real processes)', () => {
  let dir = '';
  let pid: number | undefined;

  afterAll(() => {
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGINT'); // only if the test timed out with it still running: it stops its nodes
      } catch {
        // exited
      }
    }
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('kills the leader under load, elects another, loses nothing and stays linearizable', async () => {
    if (!serverBuilt) console.warn(SKIP_REASON);
    dir = tempDir('raftcache-demo-failover-');
    const child = spawn(
      process.execPath,
      [MAIN, 'demo', 'failover', '--duration', '6', '--kill-after', '1.5', '--restart-after', '4', '--dir', dir, '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    pid = child.pid;
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
    pid = undefined;
    const last = out.trimEnd().split('\n').pop() ?? '';
    expect(code, `${out}\n${err}`).toBe(0);
    const r = JSON.parse(last) as DemoJson;
    expect(r.killedNode).toBe(r.initialLeader.node);
    expect(r.newLeader).not.toBeNull();
    expect(r.newLeader?.node).not.toBe(r.killedNode);
    expect(r.electionMs).toBeGreaterThan(0);
    expect(Number.isFinite(r.electionMs)).toBe(true);
    expect(r.lost).toBe(0);
    expect(r.acknowledgedWrites.before).toBeGreaterThan(0); // the demo waits for one before it kills
    expect(r.acknowledgedWrites.after).toBeGreaterThan(0);
    expect(r.checker.verdict).toBe('linearizable');
    expect(r.ok).toBe(true);
    expect(out).toContain('kill -9');
    expect(out).toContain('stopped all 3 nodes');
  }, 45_000);
});
