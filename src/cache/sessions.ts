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
 * last active at t is expired once now >= t + sessionTtlMs. The Map's insertion
 * order is the activity order (an entry is re-inserted when active), and log
 * time never goes back, so expiry pops from the front: O(number expired).
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

export class SessionTable {
  private readonly sessions = new Map<number, SessionState>();

  constructor(private readonly limits: SessionLimits) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Sessions in activity order, least recently active first. */
  entries(): IterableIterator<[number, SessionState]> {
    return this.sessions.entries();
  }

  get(clientId: number): SessionState | undefined {
    return this.sessions.get(clientId);
  }

  /** Opens a session for `clientId` at log time `now`; may drop the least recently active one. */
  register(clientId: number, now: number): void {
    this.sessions.delete(clientId);
    while (this.sessions.size >= this.limits.maxSessions) {
      const oldest = this.sessions.keys().next();
      if (oldest.done === true) break;
      this.sessions.delete(oldest.value);
    }
    this.sessions.set(clientId, { lastActive: now, floor: 0, seqs: [], results: [] });
  }

  /** Drops sessions inactive for sessionTtlMs or more; returns how many. */
  expire(now: number): number {
    let n = 0;
    for (const [id, s] of this.sessions) {
      if (now < s.lastActive + this.limits.sessionTtlMs) break;
      this.sessions.delete(id);
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
    const s = this.sessions.get(ref.client);
    if (s === undefined) return errorResult('SESSION_EXPIRED', `unknown or expired client session ${ref.client}`);
    s.lastActive = now;
    this.sessions.delete(ref.client);
    this.sessions.set(ref.client, s);
    if (ref.firstIncomplete !== undefined && ref.firstIncomplete > s.floor) {
      s.floor = ref.firstIncomplete;
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
    const i = lowerBound(s.seqs, ref.seq);
    if (i < s.seqs.length && s.seqs[i] === ref.seq) return s.results[i] as CommandResult;
    if (ref.seq < s.floor) {
      return errorResult('STALE_SEQUENCE', `seq ${ref.seq} is below the retained window (from ${s.floor})`);
    }
    return null;
  }

  /** Remembers the result of a write that `begin` let through. */
  record(ref: SessionRef, result: CommandResult): void {
    const s = this.sessions.get(ref.client);
    if (s === undefined) return;
    const i = lowerBound(s.seqs, ref.seq);
    if (i === s.seqs.length) {
      s.seqs.push(ref.seq);
      s.results.push(result);
    } else {
      s.seqs.splice(i, 0, ref.seq);
      s.results.splice(i, 0, result);
    }
    if (s.seqs.length > this.limits.maxResultsPerSession) {
      const dropped = s.seqs.shift() as number;
      s.results.shift();
      s.floor = Math.max(s.floor, dropped + 1);
    }
  }

  /** Used by snapshot restore: appends a session (call in activity order). */
  restore(clientId: number, state: SessionState): void {
    this.sessions.set(clientId, state);
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
