/**
 * Operator commands on the cluster's shape, carried out by the meta group
 * (shard 0): a node proposes them when it hosts the meta leader, else refuses
 * with NOT_LEADER naming the meta leader. The API exposes them as the ops
 * `nodeAdd`, `nodeRemove`, `join` and `shardSplit` (docs/protocol.md).
 */
import type { NodeAddress } from '../meta/index.js';

export type AdminRequest =
  /** Admit a node (new, or a removed one again): the meta leader moves replicas onto it. */
  | { readonly op: 'nodeAdd'; readonly node: NodeAddress }
  /** Drain a node: its replicas move away, then it is `removed` (it may then be stopped). */
  | { readonly op: 'nodeRemove'; readonly node: number }
  /** A starting node announces itself (`raftcache start --join`): registered and admitted. */
  | { readonly op: 'join'; readonly node: NodeAddress }
  /** Split a data shard at ring point `at` (default: the point halving its span) into a new shard. */
  | { readonly op: 'shardSplit'; readonly shard: number; readonly at?: number };

export interface AdminResult {
  /** The shard map's version after the command. */
  readonly version: number;
  /** shardSplit: the new shard's id. */
  readonly shard?: number;
}
