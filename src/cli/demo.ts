/**
 * `raftcache demo` (what `npm start` runs until the networked cluster exists):
 * three real Raft cores, each applying the real cache state machine, wired
 * by an in-process network on simulated time. It prints a timeline: an
 * election, writes, a follower read through ReadIndex, the leader crashing, a
 * new leader, TTL expiry on log time, the old leader restarting from what it
 * persisted and catching up, and proof that all replicas hold identical state.
 */
import { createHash } from 'node:crypto';
import { CacheStateMachine, encodeCommand, textValue } from '../cache/index.js';
import type { Command, CommandResult } from '../cache/index.js';
import { MemoryStorage, NONE, RawNode } from '../raft/index.js';
import type { Message, NodeId, RaftConfig } from '../raft/index.js';
import { SeededRng } from '../util/rng.js';

const TICK_MS = 100;
const ELECTION_TICK = 10;
const CACHE = { maxEntries: 1000, maxBytes: 1 << 20 } as const;

type Write = Command extends infer C ? (C extends Command ? Omit<C, 'ts'> : never) : never;

class Replica {
  readonly storage: MemoryStorage;
  raw: RawNode;
  sm: CacheStateMachine;
  alive = true;
  private readonly pending = new Map<number, { term: number; done: (r: CommandResult | null) => void }>();
  private readonly reads = new Map<string, () => void>();

  constructor(
    readonly id: NodeId,
    voters: NodeId[],
    private readonly rng: SeededRng,
  ) {
    this.storage = new MemoryStorage(voters);
    this.raw = new RawNode(this.config(), this.storage);
    this.sm = new CacheStateMachine(CACHE);
  }

  private config(): RaftConfig {
    return {
      id: this.id,
      electionTick: ELECTION_TICK,
      heartbeatTick: 1,
      rng: this.rng.fork(),
      preVote: true,
      checkQuorum: true,
      maxSizePerMsg: 1 << 20,
      maxInflightMsgs: 256,
      maxInflightBytes: 0,
      maxUncommittedBytes: 0,
    };
  }

  /** Crash: everything not in `storage` (the "disk") is lost. */
  crash(): void {
    this.alive = false;
    this.pending.clear();
    this.reads.clear();
  }

  /** Restart from disk: a fresh core and an empty state machine that replays the committed log. */
  restart(): void {
    this.raw = new RawNode(this.config(), this.storage);
    this.sm = new CacheStateMachine(CACHE);
    this.alive = true;
  }

  propose(cmd: Command, done: (r: CommandResult | null) => void): string | null {
    const r = this.raw.propose(encodeCommand(cmd));
    if (!r.ok) return r.reason === 'NOT_LEADER' ? `NOT_LEADER (leader hint: ${hint(r.leader)})` : r.reason;
    this.pending.set(r.index, { term: r.term, done });
    return null;
  }

  read(context: string, done: () => void): string | null {
    const r = this.raw.readIndex(context);
    if (!r.ok) return r.reason;
    this.reads.set(context, done);
    return null;
  }

  /** The Ready loop: persist, then send, then apply, then serve reads, then advance. */
  handleReady(send: (m: Message) => void): boolean {
    if (!this.alive || !this.raw.hasReady()) return false;
    const rd = this.raw.ready();
    if (rd.snapshot !== null) this.storage.applySnapshot(rd.snapshot);
    if (rd.hardState !== null) this.storage.setHardState(rd.hardState);
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    for (const m of rd.messages) send(m);
    for (const e of rd.committedEntries) {
      const result = e.type === 'normal' && e.data.length > 0 ? this.sm.applyEncoded(e.index, e.data) : null;
      const waiter = this.pending.get(e.index);
      if (waiter !== undefined) {
        this.pending.delete(e.index);
        waiter.done(waiter.term === e.term ? result : null);
      }
    }
    for (const rs of rd.readStates) {
      this.reads.get(rs.context)?.();
      this.reads.delete(rs.context);
    }
    this.raw.advance();
    return true;
  }

  digest(): string {
    const h = createHash('sha256');
    for (const chunk of this.sm.snapshot()) h.update(chunk);
    return h.digest('hex').slice(0, 16);
  }
}

function hint(id: NodeId): string {
  return id === NONE ? 'unknown' : `n${id}`;
}

class DemoCluster {
  readonly replicas: Replica[];
  private inbox: Message[] = [];
  ticks = 0;

  constructor(size: number, seed: number) {
    const rng = new SeededRng(seed);
    const ids = Array.from({ length: size }, (_, i) => i + 1);
    this.replicas = ids.map((id) => new Replica(id, ids, rng.fork()));
  }

  get nowMs(): number {
    return this.ticks * TICK_MS;
  }

  replica(id: NodeId): Replica {
    const r = this.replicas.find((x) => x.id === id);
    if (r === undefined) throw new Error(`no replica n${id}`);
    return r;
  }

  leader(): Replica | undefined {
    return this.replicas.find((r) => r.alive && r.raw.status().role === 'leader');
  }

  /** Runs Ready loops and delivers messages until nothing moves (messages to crashed replicas are lost). */
  settle(): void {
    for (let round = 0; round < 1000; round++) {
      let moved = false;
      for (const r of this.replicas) moved = r.handleReady((m) => this.inbox.push(m)) || moved;
      const batch = this.inbox;
      this.inbox = [];
      for (const m of batch) {
        const to = this.replicas.find((r) => r.id === m.to);
        if (to?.alive === true) to.raw.step(m);
        moved = true;
      }
      if (!moved) return;
    }
  }

  tick(): void {
    this.ticks++;
    for (const r of this.replicas) if (r.alive) r.raw.tick();
    this.settle();
  }

  /** Ticks until some replica leads (bounded). */
  awaitLeader(maxTicks = 20 * ELECTION_TICK): Replica {
    for (let i = 0; i < maxTicks; i++) {
      const l = this.leader();
      if (l !== undefined) return l;
      this.tick();
    }
    throw new Error(`no leader after ${maxTicks} ticks`);
  }

  /** Proposes through `via` and runs until the entry applies there; returns the result or why it failed. */
  write(via: Replica, w: Write): CommandResult | string {
    let outcome: CommandResult | string = 'TIMEOUT';
    let finished = false;
    const refused = via.propose({ ...w, ts: this.nowMs } as Command, (r) => {
      outcome = r ?? 'LOST (another entry took its index)';
      finished = true;
    });
    if (refused !== null) return refused;
    for (let i = 0; i < 5 * ELECTION_TICK && !finished; i++) {
      this.settle();
      if (!finished) this.tick();
    }
    return outcome;
  }

  /** A linearizable read on `via` (leader or follower) through ReadIndex. */
  read(via: Replica, key: string): { value: string | null; index: number } | string {
    let value: string | null | undefined;
    const refused = via.read(`read-${this.ticks}-${key}`, () => {
      value = via.sm.getString(key);
    });
    if (refused !== null) return refused;
    for (let i = 0; i < 5 * ELECTION_TICK && value === undefined; i++) {
      this.settle();
      if (value === undefined) this.tick();
    }
    return value === undefined ? 'TIMEOUT' : { value, index: via.sm.lastApplied };
  }
}

function describe(r: CommandResult | string): string {
  if (typeof r === 'string') return `refused: ${r}`;
  if (!r.ok) return `error ${r.code}: ${r.message}`;
  switch (r.kind) {
    case 'done':
      return 'ok';
    case 'deleted':
      return r.existed ? 'deleted' : 'nothing to delete';
    case 'cas':
      return r.swapped ? 'swapped' : 'not swapped';
    case 'incr':
      return `ok, value ${r.value}`;
    case 'registered':
      return `registered client ${r.clientId}`;
  }
}

export async function main(argv: string[]): Promise<number> {
  const seedFlag = argv.indexOf('--seed');
  const seed = seedFlag >= 0 ? Number(argv[seedFlag + 1]) : 7;
  if (!Number.isSafeInteger(seed)) {
    process.stderr.write('usage: raftcache demo [--seed N]\n');
    return 2;
  }
  const c = new DemoCluster(3, seed);
  const at = (): string => `[t=${(c.nowMs / 1000).toFixed(1).padStart(5)}s]`;
  const say = (s: string): void => void process.stdout.write(`${at()} ${s}\n`);

  process.stdout.write(`raftcache demo — 3 replicas (n1, n2, n3), each a Raft core applying the LRU cache state machine.\n`);
  process.stdout.write(`Simulated time: one tick = ${TICK_MS} ms, election timeout ${ELECTION_TICK}-${2 * ELECTION_TICK} ticks. Seed ${seed}.\n\n`);

  let leader = c.awaitLeader();
  say(`n${leader.id} is leader of term ${leader.raw.status().term}`);
  const writes: [string, string][] = [];
  for (const [key, value] of [
    ['user:1', 'alice'],
    ['user:2', 'bob'],
    ['greeting', 'hello, world'],
  ] as const) {
    say(`put ${key}=${value} via n${leader.id}: ${describe(c.write(leader, { type: 'put', key, value: textValue(value) }))}`);
    writes.push([key, value]);
  }
  say(`put token=abc123 with ttlMs=3000: ${describe(c.write(leader, { type: 'put', key: 'token', value: textValue('abc123'), ttlMs: 3000 }))}`);
  say(`cas user:2 bob→robert: ${describe(c.write(leader, { type: 'cas', key: 'user:2', expected: textValue('bob'), next: textValue('robert') }))}`);
  writes[1] = ['user:2', 'robert'];
  say(`cas user:2 bob→bobby (stale expectation): ${describe(c.write(leader, { type: 'cas', key: 'user:2', expected: textValue('bob'), next: textValue('bobby') }))}`);
  for (let i = 0; i < 3; i++) say(`incr visits: ${describe(c.write(leader, { type: 'incr', key: 'visits', by: 1 }))}`);

  const follower = c.replicas.find((r) => r !== leader) as Replica;
  const fr = c.read(follower, 'user:2');
  say(`linearizable read of user:2 on follower n${follower.id} (ReadIndex): ${typeof fr === 'string' ? fr : `"${fr.value}" at applied index ${fr.index}`}`);
  say(`write to follower n${follower.id}: ${describe(c.write(follower, { type: 'put', key: 'x', value: textValue('y') }))}`);

  const old = leader;
  say(`*** crash the leader n${old.id} (it keeps only what it persisted) ***`);
  old.crash();
  const crashTick = c.ticks;
  const survivor = c.replicas.find((r) => r.alive) as Replica;
  say(`write via n${survivor.id} before it notices the crash: ${describe(c.write(survivor, { type: 'put', key: 'early', value: textValue('?') }))}`);
  leader = c.awaitLeader();
  say(`n${leader.id} elected leader of term ${leader.raw.status().term}, ${((c.ticks - crashTick) * TICK_MS).toString()} ms after the crash`);
  say(`put after failover user:3=carol: ${describe(c.write(leader, { type: 'put', key: 'user:3', value: textValue('carol') }))}`);
  writes.push(['user:3', 'carol']);

  let lost = 0;
  for (const [key, value] of writes) {
    const r = c.read(leader, key);
    if (typeof r === 'string' || r.value !== value) lost++;
  }
  say(`read back ${writes.length} acknowledged writes on the new leader: ${writes.length - lost} found, ${lost} lost`);

  const token1 = c.read(leader, 'token');
  say(`token (ttl 3 s) before expiry: ${typeof token1 === 'string' ? token1 : JSON.stringify(token1.value)}`);
  for (let i = 0; i < 30; i++) c.tick();
  // Time reaches the state machine only through the log: the leader proposes a clock entry.
  say(`leader proposes a clock entry: ${describe(c.write(leader, { type: 'clock' }))}`);
  const token2 = c.read(leader, 'token');
  say(`token after log time passed its expiry: ${typeof token2 === 'string' ? token2 : JSON.stringify(token2.value)}`);

  say(`*** restart n${old.id} from its persisted log ***`);
  old.restart();
  for (let i = 0; i < 3 * ELECTION_TICK; i++) c.tick();
  const rr = c.read(old, 'user:3');
  say(`n${old.id} is ${old.raw.status().role}, applied ${old.sm.lastApplied}; read user:3 there: ${typeof rr === 'string' ? rr : JSON.stringify(rr.value)}`);

  const digests = c.replicas.map((r) => `n${r.id}@${r.sm.lastApplied}=${r.digest()}`);
  const same = new Set(c.replicas.map((r) => r.digest())).size === 1;
  say(`state digests (sha256 of each replica's snapshot): ${digests.join('  ')} → ${same ? 'identical' : 'DIFFERENT'}`);
  const visits = c.read(leader, 'visits');
  say(`visits = ${typeof visits === 'string' ? visits : String(visits.value)}`);
  process.stdout.write(`\nThe networked cluster (\`raftcache dev\`) comes with the node, transport and API layers.\n`);
  return same && lost === 0 ? 0 : 1;
}
