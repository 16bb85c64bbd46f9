/** The TypeScript client of raftcache: public surface. */
export { RaftcacheClient } from './client.js';
export type {
  RaftcacheClientOptions,
  ReadOptions,
  WriteOptions,
  CasResult,
  MputEntry,
  NodeStatusResult,
  ShardView,
  ShardMapView,
  AdminResult,
  SplitResult,
} from './client.js';
export { RaftcacheError, isRaftcacheError } from './errors.js';
export type { ErrorCode, KnownErrorCode } from './errors.js';
export { endpointUrl, parseEndpoints, httpBase, toNodeStatus } from './protocol.js';
export type { Consistency, NodeAddress, NodeStatus, Member, PushFrame, ShardStatus } from './protocol.js';
export { parseShardMap, ShardMapError, RoutingTable } from './shard-map.js';
export type { MetaInfo, ShardMapData, ShardInfo, ShardRoute } from './shard-map.js';
export { NearCache } from './near-cache.js';
export type { NearCacheOptions, NearCacheStats } from './near-cache.js';
