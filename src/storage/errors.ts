/** The database holds something a correct writer never leaves behind. Opening fails with it. */
export class StorageCorruptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageCorruptionError';
  }
}

/**
 * A write could not be made durable (or would have broken an on-disk invariant).
 * The in-memory view may now be ahead of the disk, so the store refuses all
 * further writes: the process should stop and reopen from disk (fail-stop).
 */
export class StorageFailedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageFailedError';
  }
}

/**
 * A write through the GroupStorage of a group that `NodeStore.dropGroup` removed.
 * The object is dead for writes for good (a later `group(id)` makes a new one):
 * its keys are the group's keys, so a write through it could resurrect the dropped
 * group or corrupt its successor.
 */
export class GroupDroppedError extends Error {
  constructor(readonly groupId: number) {
    super(`group ${groupId} was dropped from this node store: its old GroupStorage accepts no more writes`);
    this.name = 'GroupDroppedError';
  }
}
