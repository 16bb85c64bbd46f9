/**
 * A small in-process network of RawNodes for tests: each node has a
 * MemoryStorage and a tiny key/value state machine ("k=v" entries). Messages
 * queue up and are delivered when asked; links can be cut (drop), nodes
 * isolated, partitioned, crashed and restarted from what they persisted.
 */
import { MemoryStorage, NONE, RawNode } from '../../src/raft/index.js';
import type { Entry, Message, NodeId, RaftConfig, ReadState, Ready, Status } from '../../src/raft/index.js';
import { SeededRng } from '../../src/util/rng.js';
import { decodeConfChange } from '../../src/raft/confchange.js';

export interface NetworkOptions {
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly electionTick?: number;
  readonly heartbeatTick?: number;
  readonly maxSizePerMsg?: number;
  readonly maxInflightMsgs?: number;
  readonly maxInflightBytes?: number;
  readonly maxUncommittedBytes?: number;
  readonly seed?: number;
  readonly quiesce?: boolean;
}

export interface ServedRead {
  readonly context: string;
  readonly index: number;
  /** The state machine's applied index when the read was served. */
  readonly applied: number;
  /** The key/value map at that moment (copy). */
  readonly kv: ReadonlyMap<string, string>;
}

export interface TestNode {
  node: RawNode;
  storage: MemoryStorage;
  /** Entries applied, in order. */
  applied: Entry[];
  kv: Map<string, string>;
  reads: ServedRead[];
  up: boolean;
  /** Index of the last entry applied (or of the installed snapshot). */
  lastApplied: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function bytes(s: string): Uint8Array {
  return enc.encode(s);
}

export function text(b: Uint8Array): string {
  return dec.decode(b);
}

export class Network {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Messages sent and not yet delivered, in send order. */
  queue: Message[] = [];
  private readonly cut = new Set<string>();
  private readonly rng: SeededRng;
  /** Observer for traces (the script runner prints from it). */
  onEvent: ((line: string) => void) | null = null;
  /** Count of messages delivered, by type. */
  delivered = new Map<string, number>();

  /** Every node ever started (added nodes included). */
  readonly ids: NodeId[];
  /** The voters at index 0. */
  private readonly bootstrap: NodeId[];

  constructor(
    initialIds: readonly NodeId[],
    readonly opts: NetworkOptions = {},
  ) {
    this.ids = [...initialIds];
    this.bootstrap = [...initialIds];
    const ids = this.ids;
    this.rng = new SeededRng(opts.seed ?? 1);
    for (const id of ids) {
      const storage = new MemoryStorage({ voters: [...ids], learners: [] });
      this.nodes.set(id, this.makeNode(id, storage));
    }
  }

  config(id: NodeId, applied = 0): RaftConfig {
    const o = this.opts;
    return {
      id,
      electionTick: o.electionTick ?? 10,
      heartbeatTick: o.heartbeatTick ?? 1,
      rng: this.rng.fork(),
      preVote: o.preVote ?? false,
      checkQuorum: o.checkQuorum ?? false,
      maxSizePerMsg: o.maxSizePerMsg ?? 1 << 20,
      maxInflightMsgs: o.maxInflightMsgs ?? 256,
      maxInflightBytes: o.maxInflightBytes ?? 0,
      maxUncommittedBytes: o.maxUncommittedBytes ?? 0,
      applied,
      quiesce: o.quiesce ?? false,
    };
  }

  private makeNode(id: NodeId, storage: MemoryStorage): TestNode {
    return { node: new RawNode(this.config(id), storage), storage, applied: [], kv: new Map(), reads: [], up: true, lastApplied: storage.firstIndex() - 1 };
  }

  get(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  raw(id: NodeId): RawNode {
    return this.get(id).node;
  }

  status(id: NodeId): Status {
    return this.raw(id).status();
  }

  /** The current leader (highest term among live nodes that believe they lead), or NONE. */
  leader(): NodeId {
    let best: NodeId = NONE;
    let bestTerm = -1;
    for (const [id, n] of this.nodes) {
      if (!n.up) continue;
      const s = n.node.status();
      if (s.role === 'leader' && s.term > bestTerm) {
        best = id;
        bestTerm = s.term;
      }
    }
    return best;
  }

  /**
   * Starts a brand-new node with an empty log. It starts from the group's
   * bootstrap membership (the conf at index 0, in which it is not a member) and
   * learns the rest from the log, like every other replica; `blank` starts it with
   * no membership at all (then it waits for a snapshot).
   */
  addNode(id: NodeId, blank = false): void {
    if (this.nodes.has(id)) throw new Error(`node ${id} exists`);
    this.nodes.set(id, this.makeNode(id, new MemoryStorage({ voters: blank ? [] : [...this.bootstrap], learners: [] })));
    this.ids.push(id);
  }

  // ------------------------------------------------------------ faults

  /** Cut the link from → to (one direction). */
  drop(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  isolate(id: NodeId): void {
    for (const other of this.ids) {
      if (other === id) continue;
      this.drop(id, other);
      this.drop(other, id);
    }
  }

  /** Only nodes in the same group can talk. */
  partition(...groups: NodeId[][]): void {
    this.heal();
    for (const a of this.ids) {
      for (const b of this.ids) {
        if (a === b) continue;
        const ga = groups.findIndex((g) => g.includes(a));
        const gb = groups.findIndex((g) => g.includes(b));
        if (ga !== gb) this.drop(a, b);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Crash: everything not persisted (and queued messages to it) is lost. */
  crash(id: NodeId): void {
    const n = this.get(id);
    n.up = false;
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
  }

  /** Restart from the persisted storage; the state machine restarts from the snapshot and replays the log. */
  restart(id: NodeId): void {
    const old = this.get(id);
    const storage = old.storage.clone();
    const fresh = this.makeNode(id, storage);
    const snap = storage.snapshot();
    if (snap.metadata.index > 0) fresh.kv = new Map(JSON.parse(text(snap.data)) as Array<[string, string]>);
    this.nodes.set(id, fresh);
  }

  /** Snapshots the state machine of `id` at its applied index and drops the log before it. */
  compact(id: NodeId): void {
    const n = this.get(id);
    if (n.lastApplied <= n.storage.firstIndex() - 1) return;
    n.storage.createSnapshot(n.lastApplied, bytes(JSON.stringify([...n.kv])), n.node.confState());
    n.storage.compact(n.lastApplied);
  }

  // ------------------------------------------------------------ driving

  tick(id: NodeId, times = 1): void {
    const n = this.get(id);
    if (!n.up) return;
    for (let i = 0; i < times; i++) n.node.tick();
  }

  /** Handles one Ready of node `id` like a driver: persist, send, apply, serve reads, advance. */
  processReady(id: NodeId): boolean {
    const n = this.get(id);
    if (!n.up || !n.node.hasReady()) return false;
    const rd: Ready = n.node.ready();
    if (rd.snapshot) {
      n.storage.applySnapshot(rd.snapshot);
      n.kv = new Map(JSON.parse(text(rd.snapshot.data)) as Array<[string, string]>);
      n.lastApplied = rd.snapshot.metadata.index;
    }
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    if (rd.softState && this.onEvent) this.emit(`${id}: ${rd.softState.role} term=${n.node.status().term} lead=${rd.softState.leader}`);
    for (const m of rd.messages) this.queue.push(m);
    for (const e of rd.committedEntries) {
      if (e.index !== n.lastApplied + 1) throw new Error(`node ${id}: applying ${e.index} after ${n.lastApplied}`);
      n.lastApplied = e.index;
      n.applied.push(e);
      if (e.type === 'conf') continue; // the core applied it
      const s = text(e.data);
      const eq = s.indexOf('=');
      if (eq > 0) n.kv.set(s.slice(0, eq), s.slice(eq + 1));
    }
    const appliedIndex = n.lastApplied;
    for (const rs of rd.readStates) {
      n.reads.push({ context: rs.context, index: rs.index, applied: appliedIndex, kv: new Map(n.kv) });
      this.emit(`${id}: read ${rs.context} at index ${rs.index}`);
    }
    n.node.advance();
    return true;
  }

  /** Processes every node's Ready until none has one. */
  processAll(): void {
    let again = true;
    while (again) {
      again = false;
      for (const id of this.ids) if (this.processReady(id)) again = true;
    }
  }

  /** Delivers the queued messages (optionally only from/to the given nodes). Returns how many. */
  deliver(filter: { from?: NodeId; to?: NodeId; type?: Message['type'] } = {}): number {
    const take: Message[] = [];
    const keep: Message[] = [];
    for (const m of this.queue) {
      const match =
        (filter.from === undefined || m.from === filter.from) &&
        (filter.to === undefined || m.to === filter.to) &&
        (filter.type === undefined || m.type === filter.type);
      (match ? take : keep).push(m);
    }
    this.queue = keep;
    for (const m of take) this.deliverOne(m);
    return take.length;
  }

  /** Delivers the queued message at position `i` (keeping a copy queued when `duplicate`). */
  deliverAt(i: number, duplicate = false): void {
    const m = this.queue[i];
    if (!m) return;
    if (!duplicate) this.queue.splice(i, 1);
    this.deliverOne(m);
  }

  private deliverOne(m: Message): void {
    const target = this.nodes.get(m.to);
    const lost = !target || !target.up || this.cut.has(`${m.from}>${m.to}`);
    if (this.onEvent) this.emit(`${formatMessage(m)}${lost ? '  (dropped)' : ''}`);
    if (lost) return;
    this.delivered.set(m.type, (this.delivered.get(m.type) ?? 0) + 1);
    target.node.step(m);
  }

  /** Processes Readies and delivers messages until nothing moves. */
  stabilize(maxRounds = 10_000): void {
    for (let i = 0; i < maxRounds; i++) {
      this.processAll();
      if (this.queue.length === 0) return;
      this.deliver();
    }
    throw new Error('network did not stabilize');
  }

  /** Ticks every live node once, then stabilizes; `times` rounds. */
  tickAll(times = 1): void {
    for (let t = 0; t < times; t++) {
      for (const id of this.ids) this.tick(id);
      this.stabilize();
    }
  }

  /** Campaigns at `id` and stabilizes; returns the leader afterwards. */
  elect(id: NodeId): NodeId {
    this.raw(id).campaign();
    this.stabilize();
    return this.leader();
  }

  private emit(line: string): void {
    this.onEvent?.(line);
  }
}

export function formatEntry(e: Entry): string {
  if (e.type === 'conf') {
    const cc = decodeConfChange(e.data);
    const ops = cc.changes.map((c) => `${c.op}:${c.node}`).join(',');
    return `${e.index}/${e.term}:conf(${ops === '' ? 'leave-joint' : ops})`;
  }
  const d = e.data.byteLength > 0 ? `:${text(e.data)}` : '';
  return `${e.index}/${e.term}${d}`;
}

export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'vote':
    case 'pre-vote':
      return `${head} last=${m.index}/${m.logTerm}${m.transfer ? ' transfer' : ''}`;
    case 'vote-resp':
    case 'pre-vote-resp':
      return `${head} ${m.reject ? 'reject' : 'grant'}`;
    case 'app':
      return `${head} prev=${m.index}/${m.logTerm} commit=${m.commit} entries=[${m.entries.map(formatEntry).join(' ')}]`;
    case 'app-resp':
      return m.reject ? `${head} reject index=${m.index} hint=${m.rejectHint}/${m.logTerm}` : `${head} index=${m.index}`;
    case 'heartbeat':
      return `${head} commit=${m.commit}${m.context ? ` ctx=${m.context}` : ''}`;
    case 'heartbeat-resp':
      return `${head}${m.context ? ` ctx=${m.context}` : ''}`;
    case 'read-index':
      return `${head} ctx=${m.context}`;
    case 'read-index-resp':
      return `${head} ctx=${m.context} index=${m.index}`;
    case 'timeout-now':
      return head;
    case 'snap':
      return `${head} snapshot=${m.snapshot.metadata.index}/${m.snapshot.metadata.term}`;
  }
}
