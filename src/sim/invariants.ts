/**
 * The Raft safety properties, checked incrementally as nodes persist, apply
 * and win elections. A violation throws `SimViolation`; the simulation stops
 * at the first one.
 *
 * - election safety: at most one leader per term, over the whole run;
 * - log matching: entries with the same (index, term) carry the same data and
 *   follow an entry of the same term (by induction: identical prefixes);
 * - leader completeness: an entry committed in term T is in the log of every
 *   leader of a term > T;
 * - state machine safety: one entry per index is ever committed or applied,
 *   and replicas that applied index i have identical state machines;
 * - monotonicity: applied advances one entry at a time within an incarnation;
 *   the persisted commit and term never go back, across restarts too;
 * - one vote per term per node, across restarts.
 */
import type { ConfState, Entry, HardState, Message, NodeId, Snapshot } from '../raft/types.js';
import { NONE } from '../raft/types.js';
import { hashBytes } from './kv.js';
import type { SimNode } from './sim-node.js';

export class SimViolation extends Error {
  constructor(
    readonly invariant: string,
    readonly detail: string,
  ) {
    super(`${invariant}: ${detail}`);
    this.name = 'SimViolation';
  }
}

function fail(invariant: string, detail: string): never {
  throw new SimViolation(invariant, detail);
}

/** A canonical text for a membership (order of ids does not matter). */
export function confKey(c: ConfState): string {
  const ids = (xs: readonly NodeId[] | undefined): string => [...(xs ?? [])].sort((a, b) => a - b).join(',');
  return `voters=${ids(c.voters)} learners=${ids(c.learners)}${(c.votersOutgoing?.length ?? 0) > 0 ? ` outgoing=${ids(c.votersOutgoing)}` : ''}`;
}

function entryHash(e: Entry): number {
  return hashBytes(e.data, e.type === 'conf' ? 0x1234567 : 0x811c9dc5);
}

interface LoggedEntry {
  readonly hash: number;
  readonly prevTerm: number;
}

interface NodeRecord {
  /** Persisted term and the vote cast in it (kept across restarts). */
  term: number;
  vote: NodeId;
  /** Highest persisted commit (kept across restarts). */
  commit: number;
  /** Async disk: highest commit the core handed out in a Ready, durable or not. */
  handedCommit: number;
  /** Terms in which this node's leadership was already checked. */
  leaderTermChecked: number;
}

export class InvariantChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** entriesAt[index]: term → what was persisted at (index, term) anywhere. */
  private readonly entriesAt: (Map<number, LoggedEntry> | undefined)[] = [];
  /** The committed log: term, data hash and the term of the leader that committed it. */
  private readonly committedTerm: number[] = [];
  private readonly committedHash: number[] = [];
  private readonly commitTerm: number[] = [];
  private maxCommitted = 0;
  /** appliedState[index]: hash of the state machine after applying index. */
  private readonly appliedState: number[] = [];
  private readonly nodes = new Map<NodeId, NodeRecord>();
  /** confAfter[i]: the membership right after applying conf entry (or snapshot) i. */
  private readonly confAfter = new Map<number, string>();

  get highestCommitted(): number {
    return this.maxCommitted;
  }

  /** The committed entry at `index` (term and data hash), if known. */
  committedAt(index: number): { term: number; hash: number } | undefined {
    const term = this.committedTerm[index];
    return term === undefined ? undefined : { term, hash: this.committedHash[index]! };
  }

  private record(id: NodeId): NodeRecord {
    let r = this.nodes.get(id);
    if (r === undefined) {
      r = { term: 0, vote: NONE, commit: 0, handedCommit: 0, leaderTermChecked: 0 };
      this.nodes.set(id, r);
    }
    return r;
  }

  /** Notes (or compares with) the committed entry at `index`. */
  private noteCommitted(index: number, term: number, hash: number, commitTerm: number, who: string): void {
    const known = this.committedTerm[index];
    if (known === undefined) {
      this.committedTerm[index] = term;
      this.committedHash[index] = hash;
      this.commitTerm[index] = commitTerm;
      if (index > this.maxCommitted) this.maxCommitted = index;
      return;
    }
    if (known !== term || this.committedHash[index] !== hash) {
      fail(
        'state-machine-safety',
        `${who}: index ${index} committed as term ${term} (hash ${hash}) but earlier as term ${known} (hash ${this.committedHash[index]})`,
      );
    }
  }

  onPersisted(node: SimNode, hs: HardState | null, entries: readonly Entry[], snap: Snapshot | null): void {
    const rec = this.record(node.id);
    const disk = node.disk;
    if (snap !== null) this.checkSnapshot(node, snap);
    if (entries.length > 0) this.checkAppended(node, entries);
    if (hs !== null) {
      if (hs.term < rec.term) fail('term-monotonic', `n${node.id} persisted term ${hs.term} after ${rec.term}`);
      if (hs.term === rec.term && rec.vote !== NONE && hs.vote !== rec.vote) {
        fail('one-vote-per-term', `n${node.id} voted for n${hs.vote} in term ${hs.term} after voting for n${rec.vote}`);
      }
      if (hs.term > rec.term || hs.vote !== NONE) rec.vote = hs.vote;
      rec.term = hs.term;
      if (hs.commit < rec.commit) {
        fail('commit-monotonic', `n${node.id} persisted commit ${hs.commit} after ${rec.commit}`);
      }
      if (hs.commit > disk.lastIndex()) {
        fail('commit-in-log', `n${node.id} commit ${hs.commit} beyond its last index ${disk.lastIndex()}`);
      }
      if (hs.commit > rec.commit) {
        // Everything in this node's log up to its commit is committed: compare or record.
        const lo = Math.max(rec.commit + 1, disk.firstIndex());
        if (lo <= hs.commit) {
          const es = disk.entries(lo, hs.commit + 1);
          for (const e of es) this.noteCommitted(e.index, e.term, entryHash(e), hs.term, `n${node.id} commit`);
          if (es.length !== hs.commit + 1 - lo) {
            // entries() may page by size; fetch the rest one by one.
            for (let i = lo + es.length; i <= hs.commit; i++) {
              const e = disk.entries(i, i + 1)[0]!;
              this.noteCommitted(e.index, e.term, entryHash(e), hs.term, `n${node.id} commit`);
            }
          }
        }
        rec.commit = hs.commit;
      }
    }
    if (node.writeRole === 'leader') this.checkLeader(node);
  }

  /**
   * Async disk: a Ready was taken. Its commit may be ahead of what this node
   * persisted (committed means durable on a quorum), and its committed entries
   * are applied before its hard state is durable: they may go up to it.
   */
  onTaken(node: SimNode, hs: HardState | null): void {
    if (hs === null) return;
    const rec = this.record(node.id);
    if (hs.commit > rec.handedCommit) rec.handedCommit = hs.commit;
  }

  private checkSnapshot(node: SimNode, snap: Snapshot): void {
    const { index, term } = snap.metadata;
    if (index > this.maxCommitted) {
      fail('snapshot-committed', `n${node.id} installed snapshot at ${index} beyond the highest committed index ${this.maxCommitted}`);
    }
    const known = this.committedTerm[index];
    if (known !== undefined && known !== term) {
      fail('state-machine-safety', `n${node.id} snapshot at ${index} has term ${term}, committed term is ${known}`);
    }
  }

  private checkAppended(node: SimNode, entries: readonly Entry[]): void {
    const disk = node.disk;
    const first = entries[0]!;
    let prevTerm: number;
    try {
      prevTerm = disk.term(first.index - 1);
    } catch (e) {
      fail('log-matching', `n${node.id} appended at ${first.index} but term(${first.index - 1}) is unreadable: ${String(e)}`);
    }
    const last = entries[entries.length - 1]!;
    if (disk.lastIndex() !== last.index) {
      fail('log-matching', `n${node.id} appended up to ${last.index} but its last index is ${disk.lastIndex()} (suffix not truncated?)`);
    }
    if (node.writeRole === 'leader' && first.index <= node.lastIndexBeforeAppend) {
      fail('leader-append-only', `n${node.id} is leader but its Ready overwrote its log from ${first.index} (last index was ${node.lastIndexBeforeAppend})`);
    }
    const rec = this.record(node.id);
    for (const e of entries) {
      if (e.index !== first.index + (e.index - first.index) || e.term < prevTerm) {
        fail('log-matching', `n${node.id} entry ${e.index} has term ${e.term} after an entry of term ${prevTerm}`);
      }
      if (e.index <= rec.commit) {
        const committed = this.committedTerm[e.index];
        if (committed !== undefined && committed !== e.term) {
          fail('state-machine-safety', `n${node.id} overwrote committed entry ${e.index} (term ${committed}) with term ${e.term}`);
        }
      }
      const hash = entryHash(e);
      let at = this.entriesAt[e.index];
      if (at === undefined) {
        at = new Map();
        this.entriesAt[e.index] = at;
      }
      const seen = at.get(e.term);
      if (seen === undefined) {
        at.set(e.term, { hash, prevTerm });
      } else if (seen.hash !== hash || seen.prevTerm !== prevTerm) {
        fail(
          'log-matching',
          `n${node.id} entry (${e.index}, term ${e.term}) differs from an earlier copy: hash ${hash}/${seen.hash}, previous term ${prevTerm}/${seen.prevTerm}`,
        );
      }
      prevTerm = e.term;
    }
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.index !== entries[i - 1]!.index + 1) {
        fail('log-matching', `n${node.id} appended non-contiguous entries ${entries[i - 1]!.index}, ${entries[i]!.index}`);
      }
    }
  }

  /** Only the leader of a term sends appends, heartbeats, snapshots and TimeoutNow in it. */
  onSend(node: SimNode, m: Message): void {
    if (m.from !== node.id || m.to === node.id) {
      fail('message-envelope', `n${node.id} sent a message from n${m.from} to n${m.to}`);
    }
    if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap' || m.type === 'timeout-now') {
      let leader = this.leaderOfTerm.get(m.term);
      if (leader === undefined && node.asyncDisk !== null) {
        // Async disk: a candidate's vote requests leave before its term is durable, so it
        // may win and lose its leadership again while that write is in flight; no Ready
        // taken as leader then, but the messages it made as leader leave once the write is
        // durable (sendsBeforePersist). Its first leader message is where we learn of it.
        leader = node.id;
        this.leaderOfTerm.set(m.term, leader);
      }
      if (leader !== node.id) {
        fail('leader-messages', `n${node.id} sent ${m.type} in term ${m.term}, whose leader is ${leader === undefined ? 'unknown' : `n${leader}`}`);
      }
    }
  }

  onApplied(node: SimNode, e: Entry, prevApplied: number): void {
    if (e.index !== prevApplied + 1) {
      fail('apply-order', `n${node.id} applied ${e.index} right after ${prevApplied}`);
    }
    const rec = this.record(node.id);
    if (e.index > Math.max(rec.commit, rec.handedCommit)) {
      fail('apply-committed', `n${node.id} applied ${e.index} beyond its commit ${Math.max(rec.commit, rec.handedCommit)}`);
    }
    this.noteCommitted(e.index, e.term, entryHash(e), rec.term, `n${node.id} apply`);
    this.checkState(node, e.index);
  }

  onSnapshotRestored(node: SimNode, snap: Snapshot, prevApplied: number): void {
    const index = snap.metadata.index;
    if (index < prevApplied) {
      fail('apply-order', `n${node.id} restored a snapshot at ${index} after applying ${prevApplied}`);
    }
    this.checkState(node, index);
  }

  private checkState(node: SimNode, index: number): void {
    const h = node.kv.hash();
    const known = this.appliedState[index];
    if (known === undefined) this.appliedState[index] = h;
    else if (known !== h) {
      fail('state-machine-safety', `n${node.id} state after index ${index} differs from another replica's`);
    }
  }

  /** Every replica has the same membership after the same entry. */
  onConfState(node: SimNode, conf: ConfState, atIndex: number): void {
    if (atIndex === 0) {
      fail('membership-agreement', `n${node.id} reported a membership change without applying a conf entry or snapshot`);
    }
    const key = confKey(conf);
    const known = this.confAfter.get(atIndex);
    if (known === undefined) this.confAfter.set(atIndex, key);
    else if (known !== key) {
      fail('membership-agreement', `n${node.id} has ${key} after entry ${atIndex}, another replica had ${known}`);
    }
  }

  /**
   * A restarted core must start from the membership in effect at its persisted
   * commit: the one after the last conf entry up to it (as other replicas
   * reported it), or the snapshot's if there is none.
   */
  onRestart(node: SimNode, coreConf: ConfState | undefined): void {
    if (coreConf === undefined) return;
    const disk = node.disk;
    const snap = disk.snapshot().metadata;
    const commit = disk.initialState().hardState.commit;
    let want: string | undefined = confKey(snap.conf);
    let at = snap.index;
    const lo = Math.max(snap.index + 1, disk.firstIndex());
    if (commit >= lo) {
      for (const e of disk.entries(lo, commit + 1)) {
        if (e.type !== 'conf') continue;
        at = e.index;
        want = this.confAfter.get(e.index);
      }
    }
    if (want === undefined) return; // nobody reported the membership after that entry
    const got = confKey(coreConf);
    if (want !== got) {
      fail('membership-restore', `n${node.id} restarted (commit ${commit}) with ${got}, but the membership after entry ${at} is ${want}`);
    }
  }

  /** Election safety and leader completeness for a node that is leader now. */
  checkLeader(node: SimNode): void {
    if (node.raft === null) return;
    // A leader persisted its term before it asked for votes, so the disk has it.
    const term = node.disk.initialState().hardState.term;
    const rec = this.record(node.id);
    if (rec.leaderTermChecked === term) return;
    rec.leaderTermChecked = term;
    const other = this.leaderOfTerm.get(term);
    if (other !== undefined && other !== node.id) {
      fail('election-safety', `n${node.id} and n${other} are both leaders of term ${term}`);
    }
    this.leaderOfTerm.set(term, node.id);
    const disk = node.disk;
    const first = disk.firstIndex();
    const last = disk.lastIndex();
    for (let i = Math.max(first, 1); i <= this.maxCommitted; i++) {
      const ct = this.committedTerm[i];
      if (ct === undefined || this.commitTerm[i]! >= term) continue;
      if (i > last) {
        fail('leader-completeness', `n${node.id} leader of term ${term} lacks committed entry ${i} (its log ends at ${last})`);
      }
      const t = disk.term(i);
      if (t !== ct) {
        fail('leader-completeness', `n${node.id} leader of term ${term} has term ${t} at committed index ${i} (committed term ${ct})`);
      }
    }
  }
}
