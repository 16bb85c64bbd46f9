/**
 * When a healed cluster has converged: every node answers, and in every shard
 * all replicas agree on one leader (that reports itself leader) and report the
 * same commit and applied index. Shards come from each node's `status.shards`
 * (a node without that list counts as one shard, its top-level fields).
 */
import type { NodeStatus } from '../src/client/index.js';

interface GroupView {
  readonly node: string;
  readonly role: string;
  readonly leader: string | null;
  readonly commit: number;
  readonly applied: number;
}

function groupViews(s: NodeStatus): Map<number, GroupView> {
  const out = new Map<number, GroupView>();
  if (s.shards === undefined) out.set(s.group, { node: s.node, role: s.role, leader: s.leader, commit: s.commit, applied: s.applied });
  else for (const e of s.shards) out.set(e.group, { node: s.node, role: e.role, leader: e.leader, commit: e.commit, applied: e.applied });
  return out;
}

/** Null when converged, else why not (for the report). */
export function notConverged(statuses: readonly (NodeStatus | null)[]): string | null {
  if (statuses.some((s) => s === null)) return 'a node does not answer';
  const byGroup = new Map<number, GroupView[]>();
  for (const s of statuses as NodeStatus[]) {
    for (const [g, v] of groupViews(s)) {
      let list = byGroup.get(g);
      if (list === undefined) byGroup.set(g, (list = []));
      list.push(v);
    }
  }
  if (byGroup.size === 0) return 'no node hosts a shard';
  for (const [g, views] of byGroup) {
    const leaders = views.filter((v) => v.role === 'leader');
    if (leaders.length !== 1) return `shard ${g}: ${leaders.length} leaders`;
    const leader = leaders[0]!.node;
    const bad = views.find((v) => v.leader !== leader || v.commit !== views[0]!.commit || v.applied !== views[0]!.applied);
    if (bad !== undefined) return `shard ${g}: ${bad.node} at leader ${bad.leader ?? '-'} commit ${bad.commit} applied ${bad.applied}, others differ`;
  }
  return null;
}
