/** The node layer: one process hosting its Raft replicas, storage and peer transport. */
export { CacheNode, DATA_GROUP, NODE_GROUP } from './node.js';
export type { GroupStatus, NodeStartOptions, ReadConsistency } from './node.js';
export type { WriteOp, WriteOutcome } from './replica.js';
export type { AdminRequest, AdminResult } from './admin.js';
export { NodeError } from './errors.js';
export type { NodeErrorCode } from './errors.js';
export {
  ConfigError,
  memberSchema,
  memberUrl,
  nodeConfigSchema,
  nodeName,
  parseMembersFlag,
  parseNodeConfig,
  selfMember,
  effectiveReplication,
} from './config.js';
export type { Member, NodeConfig, NodeConfigInput } from './config.js';
export { createLogger, prettyLine, silentLogger } from './logger.js';
export type { LogFormat, Logger, LoggerOptions } from './logger.js';
export { Histogram, MetricsText } from './metrics.js';
