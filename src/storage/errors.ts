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
