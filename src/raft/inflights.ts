/**
 * The in-flight window of one follower: the AppendEntries sent but not yet
 * acknowledged, bounded by message count and by bytes. A ring buffer of
 * (last index, bytes) pairs, allocated once.
 */
export class Inflights {
  private readonly lastIndexes: number[];
  private readonly sizes: number[];
  private start = 0;
  private count = 0;
  private bytes = 0;

  /** `maxBytes` 0 means no byte bound. */
  constructor(
    readonly maxCount: number,
    readonly maxBytes: number,
  ) {
    if (maxCount < 1) throw new Error('maxInflightMsgs must be at least 1');
    this.lastIndexes = new Array<number>(maxCount).fill(0);
    this.sizes = new Array<number>(maxCount).fill(0);
  }

  get length(): number {
    return this.count;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  /** Records an append whose last entry is `lastIndex`, carrying `bytes` of entry data. */
  add(lastIndex: number, bytes: number): void {
    if (this.count >= this.maxCount) throw new Error('inflights: window is full');
    const slot = (this.start + this.count) % this.maxCount;
    this.lastIndexes[slot] = lastIndex;
    this.sizes[slot] = bytes;
    this.count++;
    this.bytes += bytes;
  }

  /** Frees every append whose last index is ≤ `index` (they are acknowledged). */
  freeLE(index: number): void {
    while (this.count > 0 && (this.lastIndexes[this.start] ?? 0) <= index) {
      this.bytes -= this.sizes[this.start] ?? 0;
      this.start = (this.start + 1) % this.maxCount;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  /** Frees the oldest append (a heartbeat answer shows the follower is alive; the window may hold lost appends). */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.freeLE(this.lastIndexes[this.start] ?? 0);
  }

  full(): boolean {
    return this.count >= this.maxCount || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.bytes = 0;
  }
}
