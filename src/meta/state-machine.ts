/**
 * The meta group's state machine: the versioned shard map, the node registry
 * and the moves in flight. Applied identically on every replica of the meta
 * group: no clock, no randomness; "now" is the largest timestamp carried by an
 * applied command (every command carries one, even a rejected one).
 *
 * The map version is bumped by every change the wire map shows (ranges,
 * voters, learners, leader hints, node addresses and states); heartbeats that
 * only refresh a live node's time, and move bookkeeping, leave it alone.
 */
import { HashRing, computeRangeTable, mergeAdjacentRanges, murmur3Bytes } from '../shard/index.js';
import { MetaFormatError } from './check.js';
import { decodeMetaCommand } from './command-codec.js';
import { computeTarget } from './placement.js';
import { decodeMetaState, encodeMetaState } from './snapshot.js';
import type {
  BootstrapCommand,
  MetaCommand,
  MetaConfig,
  MetaErrorCode,
  MetaRange,
  MetaResult,
  MetaState,
  MoveRecord,
  NodeAddress,
  NodeRecord,
  ShardRecord,
} from './types.js';
import { META_SHARD } from './types.js';

const asc = (a: number, b: number): number => a - b;

/** Internal signal for a rejected command. */
class Rejected {
  constructor(
    readonly code: MetaErrorCode,
    readonly message: string,
  ) {}
}

function reject(code: MetaErrorCode, message: string): never {
  throw new Rejected(code, message);
}

export class MetaStateMachine {
  private version = 0;
  private now = 0;
  private config: MetaConfig | null = null;
  private readonly nodes = new Map<number, NodeRecord>();
  private readonly shards = new Map<number, ShardRecord>();
  private ranges: MetaRange[] = [];
  private readonly moves = new Map<number, MoveRecord>();

  /** A state machine restored from snapshot bytes (throws MetaFormatError). */
  static restore(bytes: Uint8Array): MetaStateMachine {
    return MetaStateMachine.fromState(decodeMetaState(bytes));
  }

  static fromState(s: MetaState): MetaStateMachine {
    const m = new MetaStateMachine();
    m.version = s.version;
    m.now = s.now;
    m.config = s.config;
    for (const n of s.nodes) m.nodes.set(n.id, n);
    for (const x of s.shards) m.shards.set(x.id, x);
    m.ranges = [...s.ranges];
    for (const mv of s.moves) m.moves.set(mv.shard, mv);
    return m;
  }

  get mapVersion(): number {
    return this.version;
  }

  get clock(): number {
    return this.now;
  }

  /** Decodes and applies one log entry's payload. Undecodable bytes are rejected (BAD_ARGUMENT) and change nothing. */
  applyEntry(data: Uint8Array): MetaResult {
    let cmd: MetaCommand;
    try {
      cmd = decodeMetaCommand(data);
    } catch (e) {
      if (e instanceof MetaFormatError) return { ok: false, code: 'BAD_ARGUMENT', message: e.message, version: this.version };
      throw e;
    }
    return this.apply(cmd);
  }

  /** Applies a (validated) command. Never throws for a well-typed command; rejected commands change only the clock. */
  apply(cmd: MetaCommand): MetaResult {
    if (cmd.ts > this.now) this.now = cmd.ts;
    try {
      if (cmd.type === 'bootstrap') this.bootstrap(cmd);
      else {
        if (this.config === null) reject('NOT_BOOTSTRAPPED', 'the meta group has not been bootstrapped');
        this.applyBootstrapped(cmd, this.config);
      }
      return { ok: true, version: this.version };
    } catch (e) {
      if (e instanceof Rejected) return { ok: false, code: e.code, message: e.message, version: this.version };
      throw e;
    }
  }

  /** The whole state as a read-only value (lists sorted by id). */
  state(): MetaState {
    return {
      version: this.version,
      now: this.now,
      config: this.config,
      nodes: [...this.nodes.values()].sort((a, b) => a.id - b.id),
      shards: [...this.shards.values()].sort((a, b) => a.id - b.id),
      ranges: [...this.ranges],
      moves: [...this.moves.values()].sort((a, b) => a.shard - b.shard),
    };
  }

  snapshot(): Uint8Array {
    return encodeMetaState(this.state());
  }

  /** 64-bit hex digest of the snapshot bytes (two murmur3 seeds), for cheap comparisons across replicas. */
  digest(): string {
    const b = this.snapshot();
    const hex = (n: number): string => n.toString(16).padStart(8, '0');
    return hex(murmur3Bytes(b, 0x9747b28c)) + hex(murmur3Bytes(b, 0x1b873593));
  }

  equals(other: MetaStateMachine): boolean {
    const a = this.snapshot();
    const b = other.snapshot();
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }

  // ---- commands ------------------------------------------------------------

  private bump(): void {
    this.version++;
  }

  private bootstrap(cmd: BootstrapCommand): void {
    if (this.config !== null) reject('ALREADY_BOOTSTRAPPED', 'the meta group is already bootstrapped');
    let ranges: MetaRange[];
    try {
      const ids = Array.from({ length: cmd.shards }, (_, i) => i + 1);
      ranges = [...computeRangeTable(HashRing.build(ids, { defaultVnodes: cmd.config.vnodes }), { loadFactor: cmd.config.loadFactor }).ranges];
    } catch (e) {
      reject('BAD_ARGUMENT', `cannot lay out ${cmd.shards} shards: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.checkDistinctAddresses(cmd.nodes);
    const nodes: NodeRecord[] = cmd.nodes.map((n) => ({ ...address(n), admin: 'active', live: true, lastHeartbeat: this.now }));
    const shards: ShardRecord[] = [];
    for (let id = 0; id <= cmd.shards; id++) shards.push({ id, voters: [], learners: [], leader: null, term: 0 });
    const target = computeTarget({
      version: 0,
      now: this.now,
      config: cmd.config,
      nodes: [...nodes].sort((a, b) => a.id - b.id),
      shards,
      ranges,
      moves: [],
    });
    this.config = cmd.config;
    for (const n of nodes) this.nodes.set(n.id, n);
    for (const s of shards) this.shards.set(s.id, { ...s, voters: target.get(s.id) ?? [] });
    this.ranges = ranges;
    this.version = 1;
  }

  private applyBootstrapped(cmd: Exclude<MetaCommand, BootstrapCommand>, config: MetaConfig): void {
    if ('expectVersion' in cmd && cmd.expectVersion !== undefined && cmd.expectVersion !== this.version) {
      reject('STALE_VERSION', `expected map version ${cmd.expectVersion}, it is ${this.version}`);
    }
    switch (cmd.type) {
      case 'joinNode': {
        const cur = this.nodes.get(cmd.node.id);
        if (cur?.admin === 'removed') reject('BAD_STATE', `node ${cmd.node.id} was removed; re-admit it with addNode`);
        this.checkDistinctAddresses([cmd.node], cmd.node.id);
        const next: NodeRecord = { ...address(cmd.node), admin: cur?.admin ?? 'active', live: true, lastHeartbeat: this.now };
        if (cur === undefined || !sameAddress(cur, next) || !cur.live) this.bump();
        this.nodes.set(next.id, next);
        return;
      }
      case 'addNode': {
        const cur = this.nodes.get(cmd.node.id);
        if (cur !== undefined && cur.admin !== 'removed') reject('NODE_EXISTS', `node ${cmd.node.id} is already ${cur.admin}`);
        this.checkDistinctAddresses([cmd.node], cmd.node.id);
        this.nodes.set(cmd.node.id, { ...address(cmd.node), admin: 'active', live: true, lastHeartbeat: this.now });
        this.bump();
        return;
      }
      case 'removeNode': {
        const cur = this.node(cmd.node);
        if (cur.admin === 'removed') reject('BAD_STATE', `node ${cmd.node} is already removed`);
        if (cur.admin === 'draining') return;
        const others = [...this.nodes.values()].filter((n) => n.admin === 'active' && n.id !== cmd.node);
        if (others.length === 0) reject('BAD_STATE', `node ${cmd.node} is the last active node`);
        this.nodes.set(cur.id, { ...cur, admin: 'draining' });
        this.bump();
        this.retireIfDrained(cur.id);
        return;
      }
      case 'heartbeat': {
        const cur = this.node(cmd.node);
        if (cur.admin === 'removed') reject('BAD_STATE', `node ${cmd.node} is removed`);
        if (!cur.live) this.bump();
        this.nodes.set(cur.id, { ...cur, live: true, lastHeartbeat: this.now });
        return;
      }
      case 'tick': {
        for (const n of [...this.nodes.values()].sort((a, b) => a.id - b.id)) {
          if (n.admin !== 'removed' && n.live && this.now - n.lastHeartbeat > config.downTimeoutMs) {
            this.nodes.set(n.id, { ...n, live: false });
            this.bump();
          }
        }
        return;
      }
      case 'leaderReport': {
        const s = this.shard(cmd.shard);
        this.node(cmd.node);
        if (!s.voters.includes(cmd.node)) reject('NOT_A_REPLICA', `node ${cmd.node} is not a voter of shard ${cmd.shard}`);
        if (cmd.term < s.term) reject('STALE_TERM', `term ${cmd.term} is older than the known term ${s.term}`);
        if (cmd.term === s.term && s.leader !== null) {
          if (s.leader === cmd.node) return;
          reject('STALE_TERM', `shard ${cmd.shard} already has leader ${s.leader} in term ${s.term}`);
        }
        // The new group of a split has a leader: the split's data half is done.
        const { parent: _done, ...rest } = s;
        this.shards.set(s.id, { ...rest, leader: cmd.node, term: cmd.term });
        this.bump();
        return;
      }
      case 'beginMove': {
        const s = this.shard(cmd.shard);
        if (this.moves.has(s.id)) reject('MOVE_IN_PROGRESS', `shard ${s.id} already has a move in flight`);
        if (splitPending(s) || [...this.shards.values()].some((x) => splitPending(x) && x.parent === s.id)) {
          reject('BAD_STATE', `shard ${s.id} is in a split whose data half is not done yet`);
        }
        if (this.moves.size >= config.maxConcurrentMoves) reject('TOO_MANY_MOVES', `${this.moves.size} moves are in flight (limit ${config.maxConcurrentMoves})`);
        if (cmd.add !== null) {
          const n = this.node(cmd.add);
          if (n.admin !== 'active' || !n.live) reject('BAD_STATE', `node ${n.id} is ${nodeState(n)}; replicas go only to up nodes`);
          if (s.voters.includes(n.id) || s.learners.includes(n.id)) reject('BAD_STATE', `node ${n.id} already holds shard ${s.id}`);
        }
        if (cmd.remove !== null) {
          this.node(cmd.remove);
          if (!s.voters.includes(cmd.remove)) reject('NOT_A_REPLICA', `node ${cmd.remove} is not a voter of shard ${s.id}`);
          if (cmd.add === null && s.voters.length === 1) reject('BAD_STATE', `shard ${s.id} would have no voter left`);
        }
        this.moves.set(s.id, { shard: s.id, add: cmd.add, remove: cmd.remove, phase: cmd.add !== null ? 'add-learner' : 'remove', startedAt: this.now });
        return;
      }
      case 'learnerAdded': {
        const { s, m } = this.moveStep(cmd.shard, cmd.node, 'add-learner', 'add');
        this.shards.set(s.id, { ...s, learners: [...s.learners, cmd.node].sort(asc) });
        this.moves.set(s.id, { ...m, phase: 'promote' });
        this.bump();
        return;
      }
      case 'promoted': {
        const { s, m } = this.moveStep(cmd.shard, cmd.node, 'promote', 'add');
        this.shards.set(s.id, {
          ...s,
          voters: [...s.voters, cmd.node].sort(asc),
          learners: s.learners.filter((l) => l !== cmd.node),
        });
        if (m.remove === null) this.moves.delete(s.id);
        else this.moves.set(s.id, { ...m, phase: 'remove' });
        this.bump();
        return;
      }
      case 'replicaRemoved': {
        const { s } = this.moveStep(cmd.shard, cmd.node, 'remove', 'remove');
        const voters = s.voters.filter((v) => v !== cmd.node);
        const leader = s.leader === cmd.node ? null : s.leader;
        this.shards.set(s.id, { ...s, voters, learners: s.learners.filter((l) => l !== cmd.node), leader });
        this.moves.delete(s.id);
        this.bump();
        this.retireIfDrained(cmd.node);
        return;
      }
      case 'abortMove': {
        const m = this.moves.get(cmd.shard);
        if (m === undefined) reject('NO_MOVE', `shard ${cmd.shard} has no move in flight`);
        this.moves.delete(m.shard);
        const s = this.shard(m.shard);
        if (m.add !== null && s.learners.includes(m.add)) {
          this.shards.set(s.id, { ...s, learners: s.learners.filter((l) => l !== m.add) });
          this.bump();
        }
        // A node drained while a move to it was under way holds nothing once the move is gone.
        if (m.add !== null) this.retireIfDrained(m.add);
        return;
      }
      case 'splitShard': {
        const s = this.shard(cmd.shard);
        if (s.id === META_SHARD) reject('BAD_ARGUMENT', 'the meta group owns no range to split');
        if (cmd.newShard === META_SHARD || this.shards.has(cmd.newShard)) reject('SHARD_EXISTS', `shard ${cmd.newShard} exists`);
        if (this.moves.has(s.id)) reject('MOVE_IN_PROGRESS', `shard ${s.id} has a move in flight`);
        if (splitPending(s) || [...this.shards.values()].some((x) => splitPending(x) && x.parent === s.id)) {
          reject('BAD_STATE', `shard ${s.id} is in a split whose data half is not done yet`);
        }
        let below = 0;
        let above = 0;
        const out: MetaRange[] = [];
        for (const r of this.ranges) {
          if (r.shard !== s.id) out.push(r);
          else if (r.end <= cmd.at) {
            out.push(r);
            below += r.end - r.start;
          } else if (r.start >= cmd.at) {
            out.push({ ...r, shard: cmd.newShard });
            above += r.end - r.start;
          } else {
            out.push({ start: r.start, end: cmd.at, shard: s.id }, { start: cmd.at, end: r.end, shard: cmd.newShard });
            below += cmd.at - r.start;
            above += r.end - cmd.at;
          }
        }
        if (below === 0 || above === 0) reject('BAD_ARGUMENT', `splitting shard ${s.id} at ${cmd.at} leaves one side empty`);
        this.ranges = mergeAdjacentRanges(out);
        this.shards.set(cmd.newShard, { id: cmd.newShard, voters: [...s.voters], learners: [], leader: null, term: 0, parent: s.id });
        this.bump();
        return;
      }
    }
  }

  private node(id: number): NodeRecord {
    const n = this.nodes.get(id);
    if (n === undefined) reject('UNKNOWN_NODE', `unknown node ${id}`);
    return n;
  }

  private shard(id: number): ShardRecord {
    const s = this.shards.get(id);
    if (s === undefined) reject('UNKNOWN_SHARD', `unknown shard ${id}`);
    return s;
  }

  private moveStep(shard: number, node: number, phase: MoveRecord['phase'], role: 'add' | 'remove'): { s: ShardRecord; m: MoveRecord } {
    const s = this.shard(shard);
    const m = this.moves.get(shard);
    if (m === undefined) reject('NO_MOVE', `shard ${shard} has no move in flight`);
    if (m[role] !== node) reject('NO_MOVE', `the move of shard ${shard} does not ${role} node ${node}`);
    if (m.phase !== phase) reject('BAD_STATE', `the move of shard ${shard} is at ${m.phase}, not ${phase}`);
    return { s, m };
  }

  /** A draining node that holds nothing any more becomes removed. */
  private retireIfDrained(id: number): void {
    const n = this.nodes.get(id);
    if (n === undefined || n.admin !== 'draining') return;
    for (const s of this.shards.values()) if (s.voters.includes(id) || s.learners.includes(id)) return;
    for (const m of this.moves.values()) if (m.add === id) return;
    this.nodes.set(id, { ...n, admin: 'removed' });
    this.bump();
  }

  private checkDistinctAddresses(nodes: readonly NodeAddress[], self?: number): void {
    const seen = new Map<string, number>();
    for (const n of this.nodes.values()) {
      if (n.admin === 'removed' || n.id === self) continue;
      seen.set(`${n.host}\u0000c${n.clientPort}`, n.id).set(`${n.host}\u0000p${n.peerPort}`, n.id);
    }
    for (const n of nodes) {
      for (const key of [`${n.host}\u0000c${n.clientPort}`, `${n.host}\u0000p${n.peerPort}`]) {
        const other = seen.get(key);
        if (other !== undefined && other !== n.id) reject('BAD_ARGUMENT', `node ${n.id}: address already used by node ${other}`);
        seen.set(key, n.id);
      }
    }
  }
}

/** A shard made by `splitShard` whose new group has not reported a leader yet. */
export function splitPending(s: ShardRecord): boolean {
  return s.parent !== undefined;
}

/** The state a node shows in the map. */
export function nodeState(n: NodeRecord): 'up' | 'down' | 'draining' | 'removed' {
  if (n.admin !== 'active') return n.admin;
  return n.live ? 'up' : 'down';
}

function address(n: NodeAddress): NodeAddress {
  return { id: n.id, host: n.host, clientPort: n.clientPort, peerPort: n.peerPort };
}

function sameAddress(a: NodeAddress, b: NodeAddress): boolean {
  return a.host === b.host && a.clientPort === b.clientPort && a.peerPort === b.peerPort;
}
