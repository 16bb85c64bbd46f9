export * from './types.js';
export { RawNode } from './raw-node.js';
export { MemoryStorage } from './memory-storage.js';
export { majorityCommittedIndex, majorityVoteResult } from './quorum.js';
export type { VoteResult } from './quorum.js';
export type { ProgressState } from './progress.js';
