/**
 * The node-level liveness signal of `--quiesce` runs, per ordered node pair:
 * node `a` hears node `b` while `b` runs (not crashed, not paused) and the link
 * b → a is not cut. It stands for the one liveness heartbeat per node pair that
 * src/node will send (not per group), and it is what wakes quiesced groups:
 *  - b silent for an election timeout: `markPeerDown(b, true)` (a member there may
 *    lag and the group still quiesce); a follower of b forgets its leader
 *    (`forgetLeader()`, which wakes it); a leader wakes (`unquiesce()`) so that
 *    CheckQuorum can depose it if it lost its quorum;
 *  - b heard again, or b restarted (a new incarnation): `markPeerDown(b, false)`, and a leader wakes, so it
 *    heartbeats b (a restarted replica forgot the leader and would campaign).
 * No randomness: the signal is deterministic, so it draws nothing from the seed.
 */
import type { NodeId } from '../raft/types.js';
import type { SimNode } from './sim-node.js';

export interface LivenessHooks {
  readonly nodes: readonly SimNode[];
  /** Can `from` reach `to` now (is the link not cut)? */
  linkUp(from: NodeId, to: NodeId): boolean;
  /** After a wake call on `node` (the simulation drives its Ready loop and traces). */
  woke(node: SimNode, what: string): void;
}

interface PeerView {
  lastHeard: number;
  silent: boolean;
  incarnation: number;
}

export class NodeLiveness {
  /** views[a][b]: what node a knows of node b. */
  private readonly views = new Map<NodeId, Map<NodeId, PeerView>>();
  /** The incarnation of a that the views of a belong to (a restart starts them afresh). */
  private readonly owner = new Map<NodeId, number>();
  /** Wake calls made (for the stats). */
  wakes = 0;

  constructor(
    private readonly hooks: LivenessHooks,
    private readonly timeout: number,
  ) {}

  private running(n: SimNode): boolean {
    return n.raft !== null && !n.paused;
  }

  /** One tick of the liveness signal. */
  step(now: number): void {
    const nodes = this.hooks.nodes;
    for (const a of nodes) {
      if (!this.running(a)) continue;
      let views = this.views.get(a.id);
      if (views === undefined || this.owner.get(a.id) !== a.incarnation) {
        views = new Map();
        for (const b of nodes) if (b.id !== a.id) views.set(b.id, { lastHeard: now, silent: false, incarnation: b.incarnation });
        this.views.set(a.id, views);
        this.owner.set(a.id, a.incarnation);
      }
      for (const b of nodes) {
        if (b.id === a.id) continue;
        const v = views.get(b.id)!;
        const heard = this.running(b) && this.hooks.linkUp(b.id, a.id);
        if (heard) {
          const back = v.silent || v.incarnation !== b.incarnation;
          v.lastHeard = now;
          v.silent = false;
          v.incarnation = b.incarnation;
          if (back) this.peerUp(a, b);
        } else if (!v.silent && now - v.lastHeard >= this.timeout) {
          v.silent = true;
          this.peerDown(a, b);
        }
        if (a.raft === null) break; // crashed inside a Ready while being driven
      }
    }
  }

  private peerDown(a: SimNode, b: SimNode): void {
    const raft = a.raft;
    if (raft === null) return;
    raft.markPeerDown?.(b.id, true);
    if (a.role === 'leader') {
      raft.unquiesce?.();
      this.wake(a, `n${b.id} silent: leader wakes`);
    } else if (a.role === 'follower' && a.leader === b.id) {
      raft.forgetLeader?.();
      this.wake(a, `n${b.id} silent: forget leader`);
    }
  }

  private peerUp(a: SimNode, b: SimNode): void {
    const raft = a.raft;
    if (raft === null) return;
    raft.markPeerDown?.(b.id, false);
    if (a.role !== 'leader') return;
    raft.unquiesce?.();
    this.wake(a, `n${b.id} back: leader wakes`);
  }

  private wake(a: SimNode, what: string): void {
    this.wakes++;
    this.hooks.woke(a, what);
  }
}
