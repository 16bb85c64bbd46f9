/**
 * When to snapshot and compact the log: a pure policy the driver consults after
 * `advance()`. The core never snapshots by itself (it holds no state machine);
 * the driver's duty is:
 *
 *   const at = compactionPoint(policy, stats);
 *   if (at) {
 *     storage.createSnapshot(at.snapshotIndex, stateMachine.snapshot(), node.confState());
 *     storage.compact(at.compactIndex);
 *   }
 *
 * `snapshotIndex` is the applied index (the state machine's image must be taken
 * at exactly that index, hence after advance() and before applying more), and
 * `node.confState()` is the membership as of it. `compactIndex` keeps
 * `policy.keepEntries` entries behind the snapshot so a slightly lagging
 * follower still catches up from the log instead of needing the snapshot.
 */
export interface CompactionPolicy {
  /** Snapshot once this many entries were applied since the last snapshot (0 = no count trigger). */
  readonly maxEntries: number;
  /** Snapshot once this many bytes of entry data were applied since the last snapshot (0 = no size trigger). */
  readonly maxBytes: number;
  /** Entries kept in the log behind the snapshot. */
  readonly keepEntries: number;
}

export interface LogStats {
  /** The state machine's applied index. */
  readonly applied: number;
  /** Index of the latest snapshot (0 if none). */
  readonly snapshotIndex: number;
  /** First index still in the log. */
  readonly firstIndex: number;
  /** Bytes of entry data applied since the latest snapshot. */
  readonly bytesSinceSnapshot: number;
}

export const DEFAULT_COMPACTION_POLICY: CompactionPolicy = { maxEntries: 10_000, maxBytes: 64 << 20, keepEntries: 1_000 };

export function shouldCompact(policy: CompactionPolicy, stats: LogStats): boolean {
  const entries = stats.applied - stats.snapshotIndex;
  if (entries <= 0) return false;
  if (policy.maxEntries > 0 && entries >= policy.maxEntries) return true;
  return policy.maxBytes > 0 && stats.bytesSinceSnapshot >= policy.maxBytes;
}

/** Where to snapshot and up to where to compact, or null when the policy says not yet. */
export function compactionPoint(
  policy: CompactionPolicy,
  stats: LogStats,
): { readonly snapshotIndex: number; readonly compactIndex: number } | null {
  if (!shouldCompact(policy, stats)) return null;
  const compactIndex = Math.max(stats.firstIndex - 1, stats.applied - Math.max(0, policy.keepEntries));
  return { snapshotIndex: stats.applied, compactIndex };
}
