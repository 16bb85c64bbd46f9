export * from './types.js';
export { RawNode, SEND_BEFORE_PERSIST, SEND_BEFORE_PERSIST_ANY_TERM, sendsBeforePersist } from './raw-node.js';
export { MemoryStorage, copyConf } from './memory-storage.js';
export { majorityCommittedIndex, majorityVoteResult, jointCommittedIndex, jointVoteResult } from './quorum.js';
export type { JointConfig, VoteResult } from './quorum.js';
export {
  encodeConfChange,
  decodeConfChange,
  applyConfChange,
  validateConfChange,
  isJoint,
  isVoter,
  members,
  sameConf,
  LEAVE_JOINT,
} from './confchange.js';
export type { ProgressState } from './progress.js';
export { SnapshotSender, SnapshotReceiver } from './snapshot-transfer.js';
export type { SnapChunk, SnapChunkAck } from './snapshot-transfer.js';
export { shouldCompact, compactionPoint, DEFAULT_COMPACTION_POLICY } from './compaction.js';
export type { CompactionPolicy, LogStats } from './compaction.js';
export { QUIESCE_CONTEXT_PREFIX, WAKE_CONTEXT, isQuiesceContext, quiesceContext } from './quiesce.js';
export type { QuiesceBlocker } from './quiesce.js';
