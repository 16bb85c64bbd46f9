/**
 * Client sessions for exactly-once writes (Raft dissertation §6.3).
 *
 * A client registers through the log and gets the register entry's index as
 * its id. Each write carries (client, seq); the table remembers results by
 * seq so a retried write returns its first result instead of applying again.
 *
 * Per session we keep a window: remembered results (at most
 * maxResultsPerSession, sorted by seq) and a floor. A seq below the floor may
 * have been applied and its result forgotten, so it gets STALE_SEQUENCE rather
 * than being applied a second time. The floor rises when the client reports
 * `firstIncomplete` (it has every response below it) and when the oldest
 * (lowest-seq) result is dropped to respect the bound.
 *
 * Sessions expire after sessionTtlMs of log time without activity: a session
 * last active at t is expired once now >= t + sessionTtlMs. A linked list keeps
 * the activity order (an active session moves to the back, without touching
 * the Map), and log time never goes back, so expiry pops from the front:
 * O(number expired).
 * Registering beyond maxSessions drops the least recently active session.
 */
import type { CommandResult, SessionRef } from './types.js';
import { errorResult } from './command.js';

export interface SessionState {
  lastActive: number;
  /** Seqs below this are STALE_SEQUENCE unless remembered (they never are). */
  floor: number;
  /** Remembered seqs, ascending; results[i] belongs to seqs[i]. */
  readonly seqs: number[];
  readonly results: CommandResult[];
}

export interface SessionLimits {
  readonly maxResultsPerSession: number;
  readonly sessionTtlMs: number;
  readonly maxSessions: number;
}

/** A session in the activity list (the state plus its links; the state object is what callers see). */
interface SessionNode {
  readonly id: number;
  readonly state: SessionState;
  prev: SessionNode;
  next: SessionNode;
}

export class SessionTable {
  /** id -> node. The activity order lives in the circular list through `head` (least recently active first). */
  private readonly sessions = new Map<number, SessionNode>();
  private readonly head: SessionNode;
  /** The session the last successful beginWrite opened, for recordWrite. */
  private open: SessionState | null = null;

  constructor(private readonly limits: SessionLimits) {
    const sentinel = { id: 0, state: { lastActive: 0, floor: 0, seqs: [], results: [] } } as unknown as SessionNode;
    sentinel.prev = sentinel;
    sentinel.next = sentinel;
    this.head = sentinel;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Sessions in activity order, least recently active first. */
  *entries(): IterableIterator<[number, SessionState]> {
    const head = this.head;
    for (let n = head.next; n !== head; ) {
      const next = n.next; // the caller may drop n meanwhile
      yield [n.id, n.state];
      n = next;
    }
  }

  get(clientId: number): SessionState | undefined {
    return this.sessions.get(clientId)?.state;
  }

  /** Opens a session for `clientId` at log time `now`; may drop the least recently active one. */
  register(clientId: number, now: number): void {
    this.drop(clientId);
    while (this.sessions.size >= this.limits.maxSessions && this.head.next !== this.head) this.drop(this.head.next.id);
    this.append(clientId, { lastActive: now, floor: 0, seqs: [], results: [] });
  }

  /** Drops sessions inactive for sessionTtlMs or more; returns how many. */
  expire(now: number): number {
    const head = this.head;
    const ttl = this.limits.sessionTtlMs;
    let n = 0;
    while (head.next !== head && now >= head.next.state.lastActive + ttl) {
      this.drop(head.next.id);
      n++;
    }
    return n;
  }

  /**
   * Called before applying a write that carries `ref`. Returns the result to
   * answer with (a remembered result or an error) or null when the write must
   * be applied and then passed to `record`. Marks the session active.
   */
  begin(ref: SessionRef, now: number): CommandResult | null {
    return this.beginWrite(ref.client, ref.seq, ref.firstIncomplete ?? -1, now);
  }

  /** Remembers the result of a write that `begin` let through. */
  record(ref: SessionRef, result: CommandResult): void {
    const node = this.sessions.get(ref.client);
    if (node !== undefined) this.remember(node.state, ref.seq, result);
  }

  /**
   * begin() without a SessionRef object (firstIncomplete -1 = absent). When it
   * returns null, the write must be applied and its result passed to
   * recordWrite before any other session call: one Map lookup for both.
   */
  beginWrite(client: number, seq: number, firstIncomplete: number, now: number): CommandResult | null {
    this.open = null;
    const node = this.sessions.get(client);
    if (node === undefined) return errorResult('SESSION_EXPIRED', `unknown or expired client session ${client}`);
    const s = node.state;
    s.lastActive = now;
    this.moveToBack(node);
    if (firstIncomplete > s.floor) {
      s.floor = firstIncomplete;
      let drop = 0;
      while (drop < s.seqs.length && (s.seqs[drop] as number) < s.floor) drop++;
      if (drop === 1) {
        // The usual case (the client's window moved by one): shift allocates nothing, splice an array.
        s.seqs.shift();
        s.results.shift();
      } else if (drop > 0) {
        s.seqs.splice(0, drop);
        s.results.splice(0, drop);
      }
    }
    const i = lowerBound(s.seqs, seq);
    if (i < s.seqs.length && s.seqs[i] === seq) return s.results[i] as CommandResult;
    if (seq < s.floor) {
      return errorResult('STALE_SEQUENCE', `seq ${seq} is below the retained window (from ${s.floor})`);
    }
    this.open = s;
    return null;
  }

  /** Remembers the result of the write the last beginWrite let through. */
  recordWrite(seq: number, result: CommandResult): void {
    const s = this.open;
    this.open = null;
    if (s !== null) this.remember(s, seq, result);
  }

  /** Used by snapshot restore: appends a session (call in activity order). */
  restore(clientId: number, state: SessionState): void {
    this.drop(clientId);
    this.append(clientId, state);
  }

  private remember(s: SessionState, seq: number, result: CommandResult): void {
    const i = lowerBound(s.seqs, seq);
    if (i === s.seqs.length) {
      s.seqs.push(seq);
      s.results.push(result);
    } else {
      s.seqs.splice(i, 0, seq);
      s.results.splice(i, 0, result);
    }
    if (s.seqs.length > this.limits.maxResultsPerSession) {
      const dropped = s.seqs.shift() as number;
      s.results.shift();
      s.floor = Math.max(s.floor, dropped + 1);
    }
  }

  private append(id: number, state: SessionState): void {
    const head = this.head;
    const last = head.prev;
    const node: SessionNode = { id, state, prev: last, next: head };
    last.next = node;
    head.prev = node;
    this.sessions.set(id, node);
  }

  private drop(id: number): void {
    const node = this.sessions.get(id);
    if (node === undefined) return;
    this.sessions.delete(id);
    node.prev.next = node.next;
    node.next.prev = node.prev;
    if (this.open === node.state) this.open = null;
  }

  private moveToBack(node: SessionNode): void {
    const head = this.head;
    if (head.prev === node) return;
    node.prev.next = node.next;
    node.next.prev = node.prev;
    const last = head.prev;
    node.prev = last;
    node.next = head;
    last.next = node;
    head.prev = node;
  }
}

function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  // Clients mostly send increasing seqs: check the end first.
  if (hi > 0 && (sorted[hi - 1] as number) < x) return hi;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
