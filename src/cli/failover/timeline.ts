/**
 * Pure analysis of a failover run: election time from status samples,
 * unavailability from the history, acknowledged writes before/after the kill,
 * and the read-back of every key. No I/O, no clock: everything comes in as
 * data (times are nanoseconds on the recorder's clock).
 */
import type { HistoryEvent, OpFunction } from '../../../jepsen-lite/history.js';

/** What one node answered to one status poll (role null: it did not answer). */
export interface NodeSample {
  readonly id: number;
  readonly role: string | null;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
}

/** One poll round over the running nodes. */
export interface StatusSample {
  readonly timeNs: number;
  readonly nodes: readonly NodeSample[];
}

export interface LeaderSighting {
  readonly id: number;
  readonly term: number;
  readonly timeNs: number;
}

/** The first sample at or after `afterNs` where a node other than `excludeId` reports itself leader. */
export function firstLeaderAfter(samples: readonly StatusSample[], afterNs: number, excludeId: number | null): LeaderSighting | null {
  for (const s of samples) {
    if (s.timeNs < afterNs) continue;
    for (const n of s.nodes) {
      if (n.role === 'leader' && n.id !== excludeId) return { id: n.id, term: n.term, timeNs: s.timeNs };
    }
  }
  return null;
}

/** The first sample after `afterNs` in which node `id` answered its status poll. */
export function firstAnswerAfter(samples: readonly StatusSample[], afterNs: number, id: number): number | null {
  for (const s of samples) {
    if (s.timeNs <= afterNs) continue;
    if (s.nodes.some((n) => n.id === id && n.role !== null)) return s.timeNs;
  }
  return null;
}

/**
 * When node `id` had applied everything that was committed when it restarted:
 * the target is the highest commit index any node reported in the last sample
 * before `restartNs`; the answer is the first later sample where `id`'s
 * applied index reaches it (null if none does).
 */
export function caughtUpAt(samples: readonly StatusSample[], restartNs: number, id: number): number | null {
  let target = 0;
  for (const s of samples) {
    if (s.timeNs > restartNs) break;
    target = 0;
    for (const n of s.nodes) if (n.role !== null && n.commit > target) target = n.commit;
  }
  for (const s of samples) {
    if (s.timeNs <= restartNs) continue;
    const n = s.nodes.find((x) => x.id === id);
    if (n !== undefined && n.role !== null && n.applied >= target) return s.timeNs;
  }
  return null;
}

/**
 * The longest stretch within [fromNs, toNs] without a successful completion of
 * `f`: the gaps between consecutive `ok` completions, the first one measured
 * from `fromNs` and the last one up to `toNs`.
 */
export function longestGapNs(events: readonly HistoryEvent[], f: OpFunction, fromNs: number, toNs: number): number {
  let last = fromNs;
  let longest = 0;
  for (const e of events) {
    if (e.type !== 'ok' || e.f !== f || e.time < fromNs || e.time > toNs) continue;
    if (e.time - last > longest) longest = e.time - last;
    last = e.time;
  }
  return Math.max(longest, toNs - last);
}

/** One write as the history saw it. */
export interface WriteRecord {
  readonly key: string;
  readonly value: string;
  readonly invokeNs: number;
  /** Completion time when acknowledged, else null. */
  readonly okNs: number | null;
  /** A definite failure: it certainly did not take effect. */
  readonly failed: boolean;
}

/** Pairs put invocations with their completions (by process), in invocation order. */
export function writesOf(events: readonly HistoryEvent[]): WriteRecord[] {
  const open = new Map<number, { key: string; value: string; invokeNs: number; index: number }>();
  const out: { key: string; value: string; invokeNs: number; okNs: number | null; failed: boolean }[] = [];
  for (const e of events) {
    if (e.f !== 'put') continue;
    if (e.type === 'invoke') {
      if (typeof e.value !== 'string') continue; // a put always carries a string here
      open.set(e.process, { key: e.key, value: e.value, invokeNs: e.time, index: out.length });
      out.push({ key: e.key, value: e.value, invokeNs: e.time, okNs: null, failed: false });
      continue;
    }
    const inv = open.get(e.process);
    if (inv === undefined) continue;
    open.delete(e.process);
    const w = out[inv.index];
    if (w === undefined) continue;
    if (e.type === 'ok') w.okNs = e.time;
    else if (e.type === 'fail') w.failed = true;
  }
  return out;
}

export interface AckCounts {
  readonly before: number;
  readonly after: number;
}

/** Acknowledged writes, split by whether they were acknowledged before `killNs`. */
export function acknowledgedWrites(writes: readonly WriteRecord[], killNs: number): AckCounts {
  let before = 0;
  let after = 0;
  for (const w of writes) {
    if (w.okNs === null) continue;
    if (w.okNs < killNs) before++;
    else after++;
  }
  return { before, after };
}

export type ReadBackOutcome = 'visible' | 'superseded' | 'lost' | 'untouched';

export interface KeyReadBack {
  readonly key: string;
  /** The value of the acknowledged write that completed last, or null if none was acknowledged. */
  readonly lastAcknowledged: string | null;
  /** What the final read returned. */
  readonly final: string | null;
  readonly outcome: ReadBackOutcome;
  /** Acknowledged writes on this key that the final value contradicts. */
  readonly lost: number;
}

/**
 * Checks the final value of each key against the acknowledged writes. An
 * acknowledged write A is lost when the final value comes from a write W that
 * completed before A was invoked (A must have replaced it), when the key reads
 * as absent, or when the value was never written (or was written by a write
 * that definitely failed). A write W with unknown outcome may take effect at
 * any time after its invocation, so it supersedes everything.
 */
export function readBack(writes: readonly WriteRecord[], finalValues: ReadonlyMap<string, string | null>): KeyReadBack[] {
  const byKey = new Map<string, WriteRecord[]>();
  for (const w of writes) {
    let list = byKey.get(w.key);
    if (list === undefined) byKey.set(w.key, (list = []));
    list.push(w);
  }
  const keys = [...new Set([...finalValues.keys(), ...byKey.keys()])].sort();
  return keys.map((key): KeyReadBack => {
    const list = byKey.get(key) ?? [];
    const final = finalValues.get(key) ?? null;
    let lastAck: WriteRecord | null = null;
    for (const w of list) if (w.okNs !== null && (lastAck === null || w.okNs > (lastAck.okNs ?? 0))) lastAck = w;
    const acked = list.filter((w) => w.okNs !== null);
    const writer = final === null ? undefined : list.find((w) => w.value === final && !w.failed);
    let lost: number;
    if (writer === undefined) lost = acked.length;
    else if (writer.okNs === null) lost = 0;
    else lost = acked.filter((a) => a.invokeNs > (writer.okNs as number)).length;
    // lost > 0 implies an acknowledged write, so lastAck is non-null then
    const outcome: ReadBackOutcome =
      lost > 0 ? 'lost' : lastAck === null ? 'untouched' : final === lastAck.value ? 'visible' : 'superseded';
    return { key, lastAcknowledged: lastAck?.value ?? null, final, outcome, lost };
  });
}

/** Counts of operations by outcome (a completion per operation; invocations without one are `pending`). */
export interface OperationCounts {
  readonly invoked: number;
  readonly ok: number;
  readonly fail: number;
  readonly info: number;
  readonly pending: number;
}

export function operationCounts(events: readonly HistoryEvent[]): OperationCounts {
  let invoked = 0;
  let ok = 0;
  let fail = 0;
  let info = 0;
  for (const e of events) {
    if (e.type === 'invoke') invoked++;
    else if (e.type === 'ok') ok++;
    else if (e.type === 'fail') fail++;
    else info++;
  }
  return { invoked, ok, fail, info, pending: invoked - ok - fail - info };
}
