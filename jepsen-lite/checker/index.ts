/**
 * The linearizability checker shared by the simulation and jepsen-lite: each
 * key is an independent register (string | null, initially null) with get, put
 * and cas; see search.ts for the algorithm and ../history.ts for the events.
 */
export {
  checkHistory,
  overallVerdict,
  DEFAULT_MAX_STEPS_PER_KEY,
  DEFAULT_MAX_MEMO_BYTES_PER_KEY,
  type CheckerOptions,
  type KeyCheckResult,
  type DetailedCheckResult,
} from './check.js';
export { parseHistoryJsonl, formatHistoryJsonl } from './parse.js';
export { formatCheckResult } from './format.js';
export { HistoryError, operationsByKey, type Operation, type OpKind } from './operations.js';
export { describeOperation, type Violation } from './explain.js';
export { generateHistory, type GenerateOptions } from './generate.js';
