/** The pieces of `raftcache demo failover` (../demo-failover.ts): public surface. */
export { HistoryRecorder } from './history-recorder.js';
export { FailoverWorkload } from './workload.js';
export type { WorkloadOptions, WorkloadCounters } from './workload.js';
export { StatusWatch } from './status-watch.js';
export {
  firstLeaderAfter,
  caughtUpAt,
  firstAnswerAfter,
  longestGapNs,
  writesOf,
  acknowledgedWrites,
  readBack,
  operationCounts,
} from './timeline.js';
export type {
  NodeSample,
  StatusSample,
  LeaderSighting,
  WriteRecord,
  AckCounts,
  ReadBackOutcome,
  KeyReadBack,
  OperationCounts,
} from './timeline.js';
export { summarizeFailover, renderFailover } from './report.js';
export type { FailoverMarks, FailoverReport, FailoverInputs, CheckerSummary } from './report.js';
