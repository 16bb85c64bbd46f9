/**
 * The figures of a failover run (what `--json` prints) and the timeline a
 * person reads. `summarizeFailover` is pure: the run hands in its history,
 * the fault times, the status samples and the final reads.
 */
import type { HistoryEvent, Verdict } from '../../../jepsen-lite/history.js';
import {
  acknowledgedWrites,
  caughtUpAt,
  firstAnswerAfter,
  firstLeaderAfter,
  longestGapNs,
  operationCounts,
  readBack,
  writesOf,
} from './timeline.js';
import type { AckCounts, KeyReadBack, OperationCounts, StatusSample } from './timeline.js';

/** When things happened (ns on the recorder's clock; the load started at 0). */
export interface FailoverMarks {
  readonly initialLeader: { readonly id: number; readonly term: number };
  readonly killNs: number;
  readonly killedId: number;
  readonly restartNs: number | null;
  /** When the load stopped. */
  readonly loadEndNs: number;
}

export interface CheckerSummary {
  readonly verdict: Verdict;
  readonly operations: number;
  readonly elapsedMs: number;
}

export interface FailoverReport {
  readonly initialLeader: { readonly node: string; readonly term: number };
  readonly killedNode: string;
  readonly killAtMs: number;
  readonly newLeader: { readonly node: string; readonly term: number; readonly atMs: number } | null;
  /** From the kill to the first status poll that saw the new leader. */
  readonly electionMs: number | null;
  /** Longest gap between successful puts (gets) from the kill to the end of the load. */
  readonly writeUnavailableMs: number;
  readonly readUnavailableMs: number;
  readonly restartAtMs: number | null;
  /** When the restarted node first answered a status poll (its process is up). */
  readonly answeringAtMs: number | null;
  /** When it had applied everything committed before its restart. */
  readonly caughtUpAtMs: number | null;
  readonly loadEndMs: number;
  readonly acknowledgedWrites: AckCounts;
  readonly lost: number;
  readonly readBack: readonly KeyReadBack[];
  readonly operations: OperationCounts;
  readonly checker: CheckerSummary;
  /** True when 0 acknowledged writes were lost, the history is linearizable and a new leader was seen. */
  readonly ok: boolean;
}

export interface FailoverInputs {
  readonly events: readonly HistoryEvent[];
  readonly marks: FailoverMarks;
  readonly samples: readonly StatusSample[];
  readonly finalValues: ReadonlyMap<string, string | null>;
  readonly checker: CheckerSummary;
}

const ms = (ns: number): number => Math.round(ns / 1e4) / 100;

export function summarizeFailover(input: FailoverInputs): FailoverReport {
  const { events, marks, samples } = input;
  const leader = firstLeaderAfter(samples, marks.killNs, marks.killedId);
  const writes = writesOf(events);
  const back = readBack(writes, input.finalValues);
  const lost = back.reduce((n, k) => n + k.lost, 0);
  const caught = marks.restartNs === null ? null : caughtUpAt(samples, marks.restartNs, marks.killedId);
  const answering = marks.restartNs === null ? null : firstAnswerAfter(samples, marks.restartNs, marks.killedId);
  return {
    initialLeader: { node: `n${marks.initialLeader.id}`, term: marks.initialLeader.term },
    killedNode: `n${marks.killedId}`,
    killAtMs: ms(marks.killNs),
    newLeader: leader === null ? null : { node: `n${leader.id}`, term: leader.term, atMs: ms(leader.timeNs) },
    electionMs: leader === null ? null : ms(leader.timeNs - marks.killNs),
    writeUnavailableMs: ms(longestGapNs(events, 'put', marks.killNs, marks.loadEndNs)),
    readUnavailableMs: ms(longestGapNs(events, 'get', marks.killNs, marks.loadEndNs)),
    restartAtMs: marks.restartNs === null ? null : ms(marks.restartNs),
    answeringAtMs: answering === null ? null : ms(answering),
    caughtUpAtMs: caught === null ? null : ms(caught),
    loadEndMs: ms(marks.loadEndNs),
    acknowledgedWrites: acknowledgedWrites(writes, marks.killNs),
    lost,
    readBack: back,
    operations: operationCounts(events),
    checker: input.checker,
    ok: lost === 0 && input.checker.verdict === 'linearizable' && leader !== null,
  };
}

const at = (msValue: number): string => `t=+${(msValue / 1000).toFixed(2)}s`.padEnd(10);
const int = (n: number): string => n.toLocaleString('en-US');
const msText = (n: number): string => `${Math.round(n)} ms`;

/** The timeline a person follows: timed lines in time order, then the verdicts. */
export function renderFailover(r: FailoverReport): string {
  const timed: { readonly ms: number; readonly lines: readonly string[] }[] = [];
  const pad = ' '.repeat(10);
  timed.push({ ms: 0, lines: [`${at(0)}  cluster up, leader ${r.initialLeader.node} (term ${r.initialLeader.term}), load running`] });
  timed.push({ ms: r.killAtMs, lines: [`${at(r.killAtMs)}  kill -9 ${r.killedNode} (the leader)`] });
  const unavailable =
    `${pad}  writes unavailable for ${msText(r.writeUnavailableMs)}, reads unavailable for ${msText(r.readUnavailableMs)}` +
    ' (longest gap between successful ops after the kill)';
  if (r.newLeader !== null && r.electionMs !== null) {
    const elected = `${at(r.newLeader.atMs)}  ${r.newLeader.node} elected leader (term ${r.newLeader.term}) — ${msText(r.electionMs)} after the kill`;
    timed.push({ ms: r.newLeader.atMs, lines: [elected, unavailable] });
  } else {
    timed.push({ ms: r.killAtMs, lines: [`${pad}  no new leader seen before the end of the load`, unavailable] });
  }
  if (r.restartAtMs !== null) {
    const sec = (v: number): string => `+${(v / 1000).toFixed(2)} s`;
    const up = r.answeringAtMs === null ? 'not answering before the end' : `answering at ${sec(r.answeringAtMs)}`;
    const caught = r.caughtUpAtMs === null ? 'not caught up before the end' : `caught up at ${sec(r.caughtUpAtMs)}`;
    timed.push({ ms: r.restartAtMs, lines: [`${at(r.restartAtMs)}  ${r.killedNode} restarted; ${up}, ${caught}`] });
  }
  timed.push({ ms: r.loadEndMs, lines: [`${at(r.loadEndMs)}  load stopped`] });
  const lines = timed.sort((a, b) => a.ms - b.ms).flatMap((t) => t.lines);
  const a = r.acknowledgedWrites;
  const lostKeys = r.readBack.filter((k) => k.outcome === 'lost').map((k) => k.key);
  lines.push(
    `acknowledged writes: ${int(a.before)} before the kill, ${int(a.after)} after; all read back (${r.readBack.length} keys): ` +
      `${int(r.lost)} lost${lostKeys.length > 0 ? ` (keys ${lostKeys.join(', ')})` : ''}`,
  );
  const o = r.operations;
  lines.push(`operations: ${int(o.invoked)} invoked, ${int(o.ok)} ok, ${int(o.fail)} failed, ${int(o.info)} unknown outcome`);
  const verdict = r.checker.verdict === 'not-linearizable' ? 'NOT linearizable' : r.checker.verdict;
  lines.push(`checker: ${verdict} (${int(r.checker.operations)} operations, ${Math.round(r.checker.elapsedMs)} ms)`);
  return `${lines.join('\n')}\n`;
}
