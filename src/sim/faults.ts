/**
 * Fault schedules: timed events (partitions of several shapes, crashes and
 * restarts, lossy links, leadership transfers, heals). A schedule is plain
 * data, so fast-check can generate and shrink one; `randomSchedule` builds
 * one from a seed, alternating chaos windows with calm ones long enough for
 * the liveness check.
 */
import type { NodeId } from '../raft/types.js';
import type { Rng } from '../util/rng.js';
import type { LinkFaults } from './network.js';

/** Which node a fault hits; 'leader' resolves to a current leader (or a random node if none). */
export type FaultTarget = NodeId | 'leader' | 'random';

export type PartitionShape =
  /** Two random non-empty sides. */
  | { readonly kind: 'halves' }
  /** The leader alone on one side. */
  | { readonly kind: 'isolate-leader' }
  /** A random minority (possibly containing the leader) cut from the rest. */
  | { readonly kind: 'minority' }
  /** Two sides that cannot talk, and one node that talks to both. */
  | { readonly kind: 'bridge' }
  /** One directed link cut: `from` can no longer reach `to` (the other way still works). */
  | { readonly kind: 'one-way'; readonly from: FaultTarget; readonly to: FaultTarget }
  /** Nobody hears the leader, the leader hears everybody. */
  | { readonly kind: 'leader-mute' }
  /** These nodes on one side, the rest on the other (targeted schedules only: never drawn at random). */
  | { readonly kind: 'group'; readonly members: readonly FaultTarget[] };

export type FaultEvent =
  | { readonly at: number; readonly kind: 'partition'; readonly shape: PartitionShape }
  | { readonly at: number; readonly kind: 'crash'; readonly target: FaultTarget }
  | { readonly at: number; readonly kind: 'restart'; readonly target: FaultTarget }
  | { readonly at: number; readonly kind: 'links'; readonly faults: LinkFaults }
  | { readonly at: number; readonly kind: 'transfer' }
  /** The node crashes inside its next Ready: before persisting, after persisting (before sending), or after sending (before applying). */
  | { readonly at: number; readonly kind: 'crash-mid-ready'; readonly target: FaultTarget; readonly point: CrashPoint }
  /** The process stops (SIGSTOP): no ticks, incoming messages wait; 'resume' delivers them. */
  | { readonly at: number; readonly kind: 'pause'; readonly target: FaultTarget }
  | { readonly at: number; readonly kind: 'resume'; readonly target: FaultTarget }
  /** The node's clock runs at `rate` ticks per simulated tick (0.5, 1 or 2). */
  | { readonly at: number; readonly kind: 'clock'; readonly target: FaultTarget; readonly rate: ClockRate }
  /** The node starts an election now. */
  | { readonly at: number; readonly kind: 'campaign'; readonly target: FaultTarget }
  /** The leader proposes a random valid membership change (one or two steps; two enter a joint configuration). */
  | { readonly at: number; readonly kind: 'membership'; readonly size: 1 | 2 }
  /** The leader removes itself, or replaces itself by a node outside the configuration (`--membership`). */
  | { readonly at: number; readonly kind: 'remove-leader'; readonly replace: boolean }
  /** Clears partitions, link faults and clock skew, resumes paused nodes and restarts crashed ones. */
  | { readonly at: number; readonly kind: 'heal' };

export type CrashPoint = 'before-persist' | 'after-persist' | 'after-send';
export type ClockRate = 0.5 | 1 | 2;

export interface ScheduleOptions {
  readonly steps: number;
  readonly nodes: number;
  /** Minimum length of a calm window after a heal (the liveness bound plus slack). */
  readonly calm: number;
  /** Chaos windows last up to this many ticks. */
  readonly maxChaos: number;
  /** `--membership`: about a third of the chaos events are membership changes (incl. removing the leader). */
  readonly membership?: boolean;
}

/** A membership event (add learner, promote, remove, replace, remove the leader). */
export function randomMembershipFault(rng: Rng, at: number): FaultEvent {
  const r = rng.int(10);
  if (r < 2) return { at, kind: 'remove-leader', replace: r === 1 };
  return { at, kind: 'membership', size: rng.int(3) === 0 ? 2 : 1 };
}

function randomTarget(rng: Rng, nodes: number): FaultTarget {
  const r = rng.int(3);
  return r === 0 ? 'leader' : r === 1 ? 'random' : 1 + rng.int(nodes);
}

function randomShape(rng: Rng, nodes: number): PartitionShape {
  switch (rng.int(6)) {
    case 0:
      return { kind: 'halves' };
    case 1:
      return { kind: 'isolate-leader' };
    case 2:
      return { kind: 'minority' };
    case 3:
      return { kind: 'bridge' };
    case 4:
      return { kind: 'one-way', from: randomTarget(rng, nodes), to: randomTarget(rng, nodes) };
    default:
      return { kind: 'leader-mute' };
  }
}

export function randomLinkFaults(rng: Rng): LinkFaults {
  return {
    dropRate: rng.int(4) === 0 ? 0 : rng.float() * (rng.int(5) === 0 ? 0.7 : 0.3),
    dupRate: rng.int(3) === 0 ? 0 : rng.float() * 0.2,
    maxExtraDelay: rng.int(9),
    longDelayRate: rng.int(3) === 0 ? rng.float() * 0.05 : 0,
  };
}

/** One chaos event at tick `at`. */
export function randomFault(rng: Rng, nodes: number, at: number): FaultEvent {
  const r = rng.int(100);
  if (r < 24) return { at, kind: 'partition', shape: randomShape(rng, nodes) };
  if (r < 36) return { at, kind: 'crash', target: randomTarget(rng, nodes) };
  if (r < 44) {
    const points: CrashPoint[] = ['before-persist', 'after-persist', 'after-send'];
    return { at, kind: 'crash-mid-ready', target: randomTarget(rng, nodes), point: points[rng.int(3)]! };
  }
  if (r < 54) return { at, kind: 'restart', target: 'random' };
  if (r < 68) return { at, kind: 'links', faults: randomLinkFaults(rng) };
  if (r < 74) return { at, kind: 'transfer' };
  if (r < 79) return { at, kind: 'pause', target: randomTarget(rng, nodes) };
  if (r < 83) return { at, kind: 'resume', target: 'random' };
  if (r < 88) return { at, kind: 'clock', target: randomTarget(rng, nodes), rate: rng.int(2) === 0 ? 0.5 : 2 };
  if (r < 91) return { at, kind: 'campaign', target: randomTarget(rng, nodes) };
  if (r < 97) return { at, kind: 'membership', size: rng.int(3) === 0 ? 2 : 1 };
  return { at, kind: 'heal' };
}

/**
 * Alternates chaos windows (a few random faults, then a heal) with calm
 * windows of at least `calm` ticks; the last `calm` ticks are always calm.
 */
export function randomSchedule(rng: Rng, o: ScheduleOptions): FaultEvent[] {
  const events: FaultEvent[] = [];
  const end = o.steps - o.calm;
  let t = 20 + rng.int(o.calm);
  while (t < end) {
    const length = Math.min(end - t, 50 + rng.int(o.maxChaos));
    // Intensity varies per window: from a fault every few ticks (flapping) to a handful per window.
    const meanGap = [5, 20, 60, 200][rng.int(4)]!;
    const windowEnd = t + length;
    // Most windows start with lossy links, so elections and replication race with faults.
    if (rng.int(3) !== 0) events.push({ at: t, kind: 'links', faults: randomLinkFaults(rng) });
    for (let at = t + rng.int(meanGap); at < windowEnd; at += 1 + rng.int(2 * meanGap)) {
      // (Without the flag no extra number is drawn: schedules of old seeds stay the same.)
      events.push(o.membership === true && rng.int(3) === 0 ? randomMembershipFault(rng, at) : randomFault(rng, o.nodes, at));
    }
    t = windowEnd;
    events.push({ at: t, kind: 'heal' });
    t += o.calm + rng.int(o.calm);
  }
  return events;
}

export function describeFault(e: FaultEvent): string {
  switch (e.kind) {
    case 'partition': {
      const s = e.shape;
      return s.kind === 'one-way' ? `partition one-way ${String(s.from)}->${String(s.to)}` : `partition ${s.kind}`;
    }
    case 'crash':
    case 'restart':
    case 'pause':
    case 'resume':
    case 'campaign':
      return `${e.kind} ${String(e.target)}`;
    case 'crash-mid-ready':
      return `crash ${String(e.target)} ${e.point}`;
    case 'clock':
      return `clock ${String(e.target)} x${e.rate}`;
    case 'links':
      return `links drop=${e.faults.dropRate.toFixed(2)} dup=${e.faults.dupRate.toFixed(2)} delay<=${e.faults.maxExtraDelay} long=${e.faults.longDelayRate.toFixed(3)}`;
    case 'membership':
      return `membership x${e.size}`;
    case 'remove-leader':
      return e.replace ? 'replace the leader' : 'remove the leader';
    case 'transfer':
    case 'heal':
      return e.kind;
  }
}
