export { NodeStore } from './node-store.js';
export type { NodeStoreOptions } from './node-store.js';
export { GroupStorage } from './group-storage.js';
export type { CommitStats } from './group-commit.js';
export { GroupDroppedError, StorageCorruptionError, StorageFailedError } from './errors.js';
