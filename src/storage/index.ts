export { NodeStore } from './node-store.js';
export type { NodeStoreOptions } from './node-store.js';
export { GroupStorage } from './group-storage.js';
export type { CommitStats } from './group-commit.js';
export { StorageCorruptionError, StorageFailedError } from './errors.js';
