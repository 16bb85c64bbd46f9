/**
 * src/meta: the pure, deterministic heart of the meta group (shard 0).
 *
 * - `MetaStateMachine`: the versioned shard map (ring ranges → shard → voters,
 *   learners, leader hint + term), the node registry (address, up/down/draining/
 *   removed, last heartbeat in log time) and the moves in flight. Commands are
 *   JSON entries validated on decode (`encodeMetaCommand` / `decodeMetaCommand`);
 *   snapshots are canonical bytes, identical on every replica.
 * - `computeTarget` / `plan` / `nextActions`: target placement (distinct nodes per
 *   shard, even load under c × average, minimal moves) and the safe, ordered
 *   steps to reach it one replica at a time.
 * - `mapToWire` / `parseShardMap` / `ShardRouter`: the `map` op's JSON form, its
 *   strict parser, and key → shard → replicas routing.
 */
export { META_SHARD } from './types.js';
export type {
  BootstrapCommand,
  MetaCommand,
  MetaCommandType,
  MetaConfig,
  MetaErrorCode,
  MetaRange,
  MetaResult,
  MetaState,
  MovePhase,
  MoveRecord,
  NodeAddress,
  NodeAdmin,
  NodeRecord,
  NodeState,
  ShardRecord,
} from './types.js';
export { MetaFormatError } from './check.js';
export {
  META_COMMAND_VERSION,
  MAX_NODES,
  MAX_SHARDS,
  encodeMetaCommand,
  decodeMetaCommand,
  parseMetaCommand,
} from './command-codec.js';
export { META_SNAPSHOT_FORMAT, encodeMetaState, decodeMetaState, metaStateToJson, metaStateFromJson } from './snapshot.js';
export { MetaStateMachine, nodeState, splitPending } from './state-machine.js';
export { computeTarget, eligibleNodes, intendedVoters, loadCap, replicationOf } from './placement.js';
export { plan, planMoves, planLeaderTransfers, nextActions, hasLiveQuorum, quorumOf } from './planner.js';
export type { MetaAction, MetaPlan, MoveReason, PlannedMove } from './planner.js';
export { mapToWire, parseShardMap, nodeName, nodeIdOf, clientUrl } from './wire-map.js';
export type { WireShardMap, WireShard, WireGroup, WireMember, ParsedShardMap } from './wire-map.js';
export { ShardRouter } from './router.js';
export type { ShardRoute } from './router.js';
export { suggestSplit } from './split.js';
