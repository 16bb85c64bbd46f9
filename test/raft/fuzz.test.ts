/**
 * Randomized (seeded) runs of a 3- or 5-node network with message loss,
 * reordering, duplication, partitions and crash-restarts, checking the Raft
 * safety properties after every step.
 */
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/util/rng.js';
import type { NodeId } from '../../src/raft/index.js';
import { Network, bytes, text } from './network.js';

interface Pending {
  readonly node: NodeId;
  readonly index: number;
  readonly term: number;
  readonly data: string;
}

function run(seed: number, size: number, steps: number, opts: { preVote: boolean; checkQuorum: boolean; compact: boolean; quiesce?: boolean }): { commits: number; reads: number } {
  const rng = new SeededRng(seed);
  const ids = Array.from({ length: size }, (_, i) => i + 1);
  const net = new Network(ids, { ...opts, seed, maxSizePerMsg: 64, maxInflightMsgs: 4 });
  const leaderOfTerm = new Map<number, NodeId>();
  const appliedAt = new Map<number, string>(); // index → term/data, across all nodes
  const pendingWrites: Pending[] = [];
  let ackedIndex = 0; // highest index of a write acknowledged to its client
  const readStart = new Map<string, number>(); // ctx → ackedIndex when the read began
  let seq = 0;
  let reads = 0;
  const seen = new Map<NodeId, number>(); // node → applied entries checked

  const check = (): void => {
    for (const id of ids) {
      const n = net.get(id);
      const s = n.node.status();
      if (s.role === 'leader') {
        const l = leaderOfTerm.get(s.term);
        if (l !== undefined && l !== id) throw new Error(`two leaders in term ${s.term}: ${l} and ${id}`);
        leaderOfTerm.set(s.term, id);
      }
      const from = seen.get(id) ?? 0;
      for (let i = from; i < n.applied.length; i++) {
        const e = n.applied[i];
        if (!e) continue;
        const key = `${e.term}/${text(e.data)}`;
        const prev = appliedAt.get(e.index);
        if (prev !== undefined && prev !== key) throw new Error(`state machine safety: index ${e.index}: ${prev} vs ${key} on ${id}`);
        appliedAt.set(e.index, key);
      }
      seen.set(id, n.applied.length);
      for (const r of n.reads.splice(0)) {
        const start = readStart.get(r.context);
        if (start === undefined) throw new Error(`unknown read ${r.context}`);
        if (r.applied < start || r.index < start) throw new Error(`stale read ${r.context}: served at ${r.applied}/${r.index}, acked ${start}`);
        reads++;
      }
    }
    for (let i = pendingWrites.length - 1; i >= 0; i--) {
      const w = pendingWrites[i];
      if (!w) continue;
      const got = net.get(w.node).applied.find((e) => e.index === w.index);
      if (got) {
        if (got.term === w.term && text(got.data) === w.data) ackedIndex = Math.max(ackedIndex, w.index);
        pendingWrites.splice(i, 1);
      }
    }
  };

  for (let step = 0; step < steps; step++) {
    const dice = rng.int(100);
    const id = ids[rng.int(ids.length)] ?? 1;
    if (dice < 35) {
      net.tick(id);
    } else if (dice < 70) {
      net.processAll();
      const k = rng.int(4) + 1;
      for (let i = 0; i < k && net.queue.length > 0; i++) {
        const which = rng.int(100);
        const at = rng.int(net.queue.length);
        if (which < 8) net.queue.splice(at, 1); // lose
        else net.deliverAt(at, which < 12); // deliver (maybe duplicate)
      }
    } else if (dice < 82) {
      const n = net.get(id);
      if (n.up) {
        const data = `x=${++seq}`;
        const r = n.node.propose(bytes(data));
        if (r.ok) pendingWrites.push({ node: id, index: r.index, term: r.term, data });
      }
    } else if (dice < 88) {
      const n = net.get(id);
      if (n.up) {
        const ctx = `r${++seq}`;
        readStart.set(ctx, ackedIndex);
        n.node.readIndex(ctx);
      }
    } else if (dice < 90) {
      if (opts.compact) for (const x of ids) if (net.get(x).up) net.compact(x);
    } else if (dice < 92) {
      const a = ids[rng.int(ids.length)] ?? 1;
      net.partition([a], ids.filter((x) => x !== a));
    } else if (dice < 95) {
      net.heal();
    } else if (dice < 98) {
      net.tickAll(1);
    } else if (rng.int(4) === 0) {
      const n = net.get(id);
      const down = ids.filter((x) => !net.get(x).up).length;
      if (n.up && down + 1 < size / 2) {
        // The process dies either between Readies, or after taking a Ready but
        // before persisting it (its messages never leave either).
        if (rng.int(2) === 0 && n.node.hasReady()) n.node.ready();
        net.crash(id);
      } else if (!n.up) {
        net.restart(id);
        seen.set(id, 0);
      }
    }
    // With quiescence, a liveness detector (right or wrong) now and then wakes a
    // replica or makes it forget its leader. (No extra draw without it: the other cases replay unchanged.)
    if (opts.quiesce === true && rng.int(40) === 0) {
      const n = net.get(ids[rng.int(ids.length)] ?? 1);
      if (n.up) {
        if (rng.int(2) === 0) n.node.unquiesce();
        else n.node.forgetLeader();
      }
    }
    // Nodes handle their Readies at different moments.
    for (const x of ids) if (rng.int(2) === 0) net.processReady(x);
    check();
  }
  // Heal and let it settle: everyone up must converge and commit.
  for (const id of ids) if (!net.get(id).up) net.restart(id);
  net.heal();
  for (let i = 0; i < 200; i++) {
    net.tickAll(1);
    check();
  }
  const leader = net.leader();
  expect(leader).not.toBe(0);
  const r = net.raw(leader).propose(bytes('final=1'));
  expect(r.ok).toBe(true);
  net.stabilize();
  check();
  const commit = net.status(leader).commit;
  for (const id of ids) expect(net.status(id).commit).toBe(commit);
  if (process.env.FUZZ_VERBOSE) console.log('seed', seed, 'first', ids.map((x) => net.get(x).storage.firstIndex()).join(','), 'commit', commit, 'reads', reads, JSON.stringify([...net.delivered]));
  return { commits: commit, reads };
}

describe('randomized safety', () => {
  const cases: Array<[number, number, boolean, boolean, boolean]> = [];
  const nSeeds = Number(process.env.FUZZ_SEEDS ?? 12);
  for (let seed = 1; seed <= nSeeds; seed++) cases.push([seed, seed % 3 === 0 ? 5 : 3, seed % 2 === 0, seed % 4 !== 1, seed % 3 !== 2]);
  for (const [seed, size, preVote, checkQuorum, compact] of cases) {
    it(`seed ${seed}: ${size} nodes preVote=${preVote} checkQuorum=${checkQuorum} compact=${compact}`, () => {
      const res = run(seed, size, Number(process.env.FUZZ_STEPS ?? 1500), { preVote, checkQuorum, compact });
      expect(res.commits).toBeGreaterThan(3);
    });
  }
});

describe('randomized safety with quiescence', () => {
  // Quiescence only changes timers: the same safety checks hold, and the group still converges after the heal.
  for (let seed = 101; seed <= 108; seed++) {
    const size = seed % 3 === 0 ? 5 : 3;
    const preVote = seed % 2 === 0;
    const checkQuorum = seed % 4 !== 1;
    const compact = seed % 3 !== 2;
    it(`seed ${seed}: ${size} nodes preVote=${preVote} checkQuorum=${checkQuorum} compact=${compact}`, () => {
      const res = run(seed, size, Number(process.env.FUZZ_STEPS ?? 1500), { preVote, checkQuorum, compact, quiesce: true });
      expect(res.commits).toBeGreaterThan(3);
    });
  }
});
