/**
 * Quorum arithmetic as pure functions over a majority configuration. A joint
 * configuration (two majorities) can later be the min of two committed indexes
 * and the combination of two vote results.
 */
import type { NodeId } from './types.js';

export type VoteResult = 'won' | 'lost' | 'pending';

const descending = (a: number, b: number): number => b - a;

/**
 * The highest index replicated on a majority of `voters`, given each voter's
 * match index. `scratch` (optional) is reused to avoid an allocation per call.
 */
export function majorityCommittedIndex(
  voters: readonly NodeId[],
  matchOf: (id: NodeId) => number,
  scratch: number[] = [],
): number {
  const n = voters.length;
  if (n === 0) return Number.MAX_SAFE_INTEGER; // an empty config commits nothing by itself; the joint combination takes the min
  const matches = scratch;
  matches.length = n;
  for (let i = 0; i < n; i++) matches[i] = matchOf(voters[i] ?? 0);
  matches.sort(descending);
  // Descending order: the element at position ⌊n/2⌋ is held by n - ⌊n/2⌋ (a majority) voters.
  return matches[Math.floor(n / 2)] ?? 0;
}

/** Election outcome among `voters` given the votes recorded so far (true = granted). */
export function majorityVoteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const n = voters.length;
  if (n === 0) return 'won';
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const q = Math.floor(n / 2) + 1;
  if (granted >= q) return 'won';
  if (n - rejected < q) return 'lost';
  return 'pending';
}

/** A joint configuration: `outgoing` is empty unless a joint change is in progress. */
export interface JointConfig {
  readonly incoming: readonly NodeId[];
  readonly outgoing: readonly NodeId[];
}

/**
 * Joint commit index: the min of both majorities' (an empty half does not
 * constrain). With no voters at all nothing commits (0).
 */
export function jointCommittedIndex(cfg: JointConfig, matchOf: (id: NodeId) => number, scratch: number[] = []): number {
  if (cfg.incoming.length === 0 && cfg.outgoing.length === 0) return 0;
  const a = majorityCommittedIndex(cfg.incoming, matchOf, scratch);
  const b = majorityCommittedIndex(cfg.outgoing, matchOf, scratch);
  return Math.min(a, b);
}

/** Joint vote: won when both halves won, lost when either lost, else pending. */
export function jointVoteResult(cfg: JointConfig, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const a = majorityVoteResult(cfg.incoming, votes);
  const b = majorityVoteResult(cfg.outgoing, votes);
  if (a === 'won' && b === 'won') return 'won';
  if (a === 'lost' || b === 'lost') return 'lost';
  return 'pending';
}
