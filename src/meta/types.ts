/**
 * The meta group's vocabulary: its state (shard map + node registry + moves),
 * the commands that change it and their results. Plain data only.
 *
 * Node ids are positive integers (as in src/raft); on the wire a node is "n<id>".
 * Shard 0 is the meta group itself: it has replicas and a leader like any shard
 * but owns no ring range. Data shards have ids ≥ 1.
 */

export const META_SHARD = 0;

/** How the operator admitted the node; `live` (heartbeats) is tracked apart. */
export type NodeAdmin = 'active' | 'draining' | 'removed';

/** The node states the map shows: `up`/`down` for active nodes, else the admin state. */
export type NodeState = 'up' | 'down' | 'draining' | 'removed';

export interface NodeAddress {
  readonly id: number;
  readonly host: string;
  readonly clientPort: number;
  readonly peerPort: number;
}

export interface NodeRecord extends NodeAddress {
  readonly admin: NodeAdmin;
  /** False once `tick` saw no heartbeat for downTimeoutMs of log time; true again on the next heartbeat. */
  readonly live: boolean;
  /** Log time (ms) of the last heartbeat, join or admission. */
  readonly lastHeartbeat: number;
}

export interface ShardRecord {
  readonly id: number;
  /** Sorted ascending. */
  readonly voters: readonly number[];
  /** Sorted ascending. */
  readonly learners: readonly number[];
  /** Leader hint (last report), or null. */
  readonly leader: number | null;
  /** Term of the leader hint (0 when none was reported). */
  readonly term: number;
  /**
   * Set by `splitShard` on the new shard: the shard it was split from. Its
   * data half is pending (the parent's replicas create the new group when they
   * apply the split entry) until the new group's first leader is reported,
   * which clears it.
   */
  readonly parent?: number;
}

/**
 * Phases of one replica move of a shard: add a learner on `add`, promote it,
 * then remove `remove`. A move without `add` starts at 'remove'; one without
 * `remove` ends after 'promote'.
 */
export type MovePhase = 'add-learner' | 'promote' | 'remove';

export interface MoveRecord {
  readonly shard: number;
  readonly add: number | null;
  readonly remove: number | null;
  readonly phase: MovePhase;
  /** Log time the move began. */
  readonly startedAt: number;
}

export interface MetaConfig {
  /** Voters per data shard (R). */
  readonly replication: number;
  /** Voters of the meta group (shard 0), usually 3 or 5. */
  readonly metaReplication: number;
  /** A node without heartbeat for this long (log time) is marked down by `tick`. */
  readonly downTimeoutMs: number;
  /** At most this many moves in flight at once. */
  readonly maxConcurrentMoves: number;
  /** Bounded load factor c > 1: no node above c × average replicas (and leaders), no shard above c × average ring span at bootstrap. */
  readonly loadFactor: number;
  /** Virtual nodes per shard on the ring used to lay out the initial ranges. */
  readonly vnodes: number;
}

/** Ring positions [start, end) (end may be 2^32) belong to data shard `shard`. */
export interface MetaRange {
  readonly start: number;
  readonly end: number;
  readonly shard: number;
}

/** The whole meta state as one read-only value (what the planner, router and snapshot see). */
export interface MetaState {
  /** 0 before bootstrap; bumped by every change of routing-relevant data. */
  readonly version: number;
  /** Latest log time applied (ms). */
  readonly now: number;
  /** Null before bootstrap. */
  readonly config: MetaConfig | null;
  /** Sorted by id; removed nodes stay (their ids are not reused silently). */
  readonly nodes: readonly NodeRecord[];
  /** Sorted by id; includes the meta group (shard 0) once bootstrapped. */
  readonly shards: readonly ShardRecord[];
  /** Sorted, contiguous, covering [0, 2^32) once bootstrapped; empty before. */
  readonly ranges: readonly MetaRange[];
  /** Sorted by shard; at most one per shard. */
  readonly moves: readonly MoveRecord[];
}

export interface BootstrapCommand {
  readonly type: 'bootstrap';
  readonly ts: number;
  readonly nodes: readonly NodeAddress[];
  /** Number of data shards S (ids 1..S). */
  readonly shards: number;
  readonly config: MetaConfig;
}

/**
 * A command of the meta group. Every command carries the proposer's timestamp
 * (ms); the state machine's clock is the max applied, so replicas agree on time.
 * `expectVersion`, when given, makes the command fail with STALE_VERSION unless
 * the map is still at that version (a plan made from an older map is refused).
 */
export type MetaCommand =
  | BootstrapCommand
  /** A node process announces itself (start-up): registers it or refreshes its address; marks it live. */
  | { readonly type: 'joinNode'; readonly ts: number; readonly node: NodeAddress }
  /** Operator: admits a node (new, or re-admits a removed one) as a placement target. */
  | { readonly type: 'addNode'; readonly ts: number; readonly node: NodeAddress; readonly expectVersion?: number }
  /** Operator: drains a node (its replicas move away), then it becomes removed. */
  | { readonly type: 'removeNode'; readonly ts: number; readonly node: number; readonly expectVersion?: number }
  | { readonly type: 'heartbeat'; readonly ts: number; readonly node: number }
  /** Advances log time and marks nodes down whose last heartbeat is older than downTimeoutMs. */
  | { readonly type: 'tick'; readonly ts: number }
  /** `node` leads `shard` in `term` (from the shard's own group). */
  | { readonly type: 'leaderReport'; readonly ts: number; readonly shard: number; readonly node: number; readonly term: number }
  /** Records a planned move as in flight (the planner's `beginMove` action). */
  | {
      readonly type: 'beginMove';
      readonly ts: number;
      readonly shard: number;
      readonly add: number | null;
      readonly remove: number | null;
      readonly expectVersion?: number;
    }
  /** Move completions: the conf change is committed in the shard's group. */
  | { readonly type: 'learnerAdded'; readonly ts: number; readonly shard: number; readonly node: number }
  | { readonly type: 'promoted'; readonly ts: number; readonly shard: number; readonly node: number }
  | { readonly type: 'replicaRemoved'; readonly ts: number; readonly shard: number; readonly node: number }
  /** Gives up the shard's move; a learner it added is dropped from the map (the executor removes it from the group). */
  | { readonly type: 'abortMove'; readonly ts: number; readonly shard: number }
  /** Positions of `shard` at or after ring point `at` go to the new shard `newShard` (same replicas). */
  | {
      readonly type: 'splitShard';
      readonly ts: number;
      readonly shard: number;
      readonly at: number;
      readonly newShard: number;
      readonly expectVersion?: number;
    };

export type MetaCommandType = MetaCommand['type'];

export type MetaErrorCode =
  | 'NOT_BOOTSTRAPPED'
  | 'ALREADY_BOOTSTRAPPED'
  | 'UNKNOWN_NODE'
  | 'UNKNOWN_SHARD'
  | 'NODE_EXISTS'
  | 'SHARD_EXISTS'
  /** The node or shard is not in a state that allows the command. */
  | 'BAD_STATE'
  | 'STALE_VERSION'
  | 'STALE_TERM'
  | 'NOT_A_REPLICA'
  | 'NO_MOVE'
  | 'MOVE_IN_PROGRESS'
  | 'TOO_MANY_MOVES'
  | 'BAD_ARGUMENT';

export type MetaResult =
  | { readonly ok: true; readonly version: number }
  | { readonly ok: false; readonly code: MetaErrorCode; readonly message: string; readonly version: number };
