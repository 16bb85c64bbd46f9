/** Shared pieces of the simulation tests. */
import { MemoryStorage, RawNode } from '../../src/raft/index.js';
import type { Message, RaftConfig, RaftNodeApi, Ready } from '../../src/raft/types.js';
import { formatViolation, MemoryDisk, type RaftCoreFactory, type SimDisk, type SimResult } from '../../src/sim/index.js';

/** A readable failure message for `expect(...)`. */
export function explain(r: SimResult, nodes: number, steps: number): string {
  return r.violation === null ? 'ok' : formatViolation(r, nodes, steps);
}

/** Wraps the real core and rewrites every Ready it hands out (`perNode` makes each core's rewriter, so it may keep state). */
export function wrappingCore(perNode: () => (rd: Ready) => Ready): RaftCoreFactory {
  return {
    newDisk: (conf) => new MemoryDisk(new MemoryStorage(conf)),
    newNode(config: RaftConfig, disk: SimDisk): RaftNodeApi {
      const inner = new RawNode(config, disk);
      const mapReady = perNode();
      return {
        id: inner.id,
        tick: () => inner.tick(),
        step: (m) => inner.step(m),
        campaign: () => inner.campaign(),
        propose: (d) => inner.propose(d),
        readIndex: (c) => inner.readIndex(c),
        transferLeadership: (to) => inner.transferLeadership(to),
        proposeConfChange: (cc) => inner.proposeConfChange(cc),
        unquiesce: () => inner.unquiesce(),
        forgetLeader: () => inner.forgetLeader(),
        markPeerDown: (id, down) => inner.markPeerDown(id, down),
        isQuiesced: () => inner.isQuiesced(),
        hasReady: () => inner.hasReady(),
        ready: () => mapReady(inner.ready()),
        advance: () => inner.advance(),
        status: () => inner.status(),
      };
    },
  };
}

/** Wraps the real core and rewrites (or, returning null, drops) every outgoing message. */
export function rewritingCore(rewrite: (m: Message) => Message | null): RaftCoreFactory {
  return wrappingCore(() => (rd) => {
    const messages: Message[] = [];
    for (const m of rd.messages) {
      const out = rewrite(m);
      if (out !== null) messages.push(out);
    }
    return { ...rd, messages };
  });
}

/** A broken core: leaders answer ReadIndex with an index a few entries too low. */
export const staleReadIndex = rewritingCore((m) =>
  m.type === 'read-index-resp' ? { ...m, index: Math.max(0, m.index - 3) } : m,
);

/** A broken core: followers never acknowledge appends, so nothing new commits. */
export const mutedAcks = rewritingCore((m) => (m.type === 'app-resp' && !m.reject ? null : m));

/** A broken core: it grants every vote and pre-vote it is asked for. */
export const grantEveryVote = rewritingCore((m) =>
  (m.type === 'vote-resp' || m.type === 'pre-vote-resp') && m.reject ? { ...m, reject: false } : m,
);
