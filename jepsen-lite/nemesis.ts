/**
 * The nemesis: a seeded schedule of fault windows (pure data, made up front
 * from the seed) and an executor that applies each window to the cluster and
 * heals it at the window's end. One fault at a time; the schedule leaves a
 * quiet warm-up and cool-down, and the executor heals everything (network,
 * killed nodes restarted, paused nodes continued) before it returns, also
 * when it is aborted.
 *
 * Membership faults change the cluster for good: `add-node` starts a new node
 * that joins (`start --join`), `remove-node` drains a node (`nodeRemove`) and,
 * once the map reports it removed, stops its process; `split` splits a shard.
 * The schedule tracks the node set they leave behind, so later faults target
 * nodes that exist (a removal never goes below `minMembers`, an addition never
 * above `maxMembers`). The "heal" of a removal is waiting for the drain to
 * finish (bounded), so the next fault starts only after it.
 */
import type { SeededRng } from '../src/util/rng.js';
import type { Pair } from './network.js';

export type NemesisKind = 'partition' | 'kill' | 'pause' | 'add-node' | 'remove-node' | 'split';
export const NEMESIS_KINDS: readonly NemesisKind[] = ['partition', 'kill', 'pause', 'add-node', 'remove-node', 'split'];
/** Names `--nemesis` accepts for several kinds at once. */
export const NEMESIS_GROUPS: Readonly<Record<string, readonly NemesisKind[]>> = { membership: ['add-node', 'remove-node'] };

export type PartitionShape = 'halves' | 'isolate-leader' | 'majority-minority' | 'bridge' | 'ring' | 'one-way';
/** The shapes that cut links both ways. */
export type SymmetricShape = Exclude<PartitionShape, 'one-way'>;
export const PARTITION_SHAPES: readonly PartitionShape[] = ['halves', 'isolate-leader', 'majority-minority', 'bridge', 'ring', 'one-way'];

/** Messages from `from` to `to` are dropped. */
export type DirectedCut = readonly [from: number, to: number];

/** `leader` is resolved when the window starts; `fallback` is used when no leader is known then. */
export type NodeTarget = { readonly leader: true; readonly fallback: number } | { readonly leader: false; readonly node: number };

export type Fault =
  | { readonly kind: 'partition'; readonly shape: PartitionShape; readonly order: readonly number[] }
  | { readonly kind: 'kill'; readonly target: NodeTarget }
  | { readonly kind: 'pause'; readonly target: NodeTarget }
  /** Start node `node` (the next id) with --join. */
  | { readonly kind: 'add-node'; readonly node: number }
  /** Drain node `node`, stop it once removed. */
  | { readonly kind: 'remove-node'; readonly node: number }
  /** Split the data shard at index `pick` mod count of the map's shards (ascending) at the window's start. */
  | { readonly kind: 'split'; readonly pick: number };

export interface FaultWindow {
  /** Milliseconds from the start of the workload. */
  readonly startMs: number;
  readonly endMs: number;
  readonly fault: Fault;
}

export interface ScheduleOptions {
  readonly nodes: number;
  readonly durationMs: number;
  readonly kinds: readonly NemesisKind[];
  /** Partition shapes to draw from (default: every shape that cuts something for this many nodes). */
  readonly shapes?: readonly PartitionShape[];
  readonly warmupMs?: number;
  readonly cooldownMs?: number;
  readonly minFaultMs?: number;
  readonly maxFaultMs?: number;
  readonly minGapMs?: number;
  readonly maxGapMs?: number;
  /** A removal never leaves fewer active nodes than this (default 3: a shard's replicas need distinct nodes). */
  readonly minMembers?: number;
  /** An addition never makes more active nodes than this (default nodes + 2). */
  readonly maxMembers?: number;
}

/** Shapes that cut at least one link with `n` nodes (ring needs 4, bridge 3, the rest 2). */
export function shapesFor(n: number): PartitionShape[] {
  return PARTITION_SHAPES.filter((s) => (s === 'ring' ? n >= 4 : s === 'bridge' ? n >= 3 : n >= 2));
}

/** Fault windows over [warmup, duration - cooldown], non-overlapping, from the seed alone. */
export function makeSchedule(rng: SeededRng, o: ScheduleOptions): FaultWindow[] {
  const warmup = o.warmupMs ?? 2000;
  const cooldown = o.cooldownMs ?? 3000;
  const minFault = o.minFaultMs ?? 2000;
  const maxFault = Math.max(minFault, o.maxFaultMs ?? 5000);
  const minGap = o.minGapMs ?? 1000;
  const maxGap = Math.max(minGap, o.maxGapMs ?? 3000);
  const shapes = (o.shapes ?? shapesFor(o.nodes)).filter((s) => shapesFor(o.nodes).includes(s));
  const kinds = o.kinds.filter((k) => k !== 'partition' || shapes.length > 0);
  const out: FaultWindow[] = [];
  if (kinds.length === 0 || o.nodes < 2) return out;
  const ids = Array.from({ length: o.nodes }, (_, i) => i + 1);
  const minMembers = o.minMembers ?? 3;
  const maxMembers = o.maxMembers ?? o.nodes + 2;
  // The nodes the cluster has at this point of the schedule (membership faults change it).
  const active = [...ids];
  let nextId = o.nodes + 1;
  const end = o.durationMs - cooldown;
  let t = warmup;
  for (;;) {
    const room = end - t;
    if (room < minFault) break;
    const length = Math.min(room, minFault + rng.int(maxFault - minFault + 1));
    let kind = kinds[rng.int(kinds.length)] as NemesisKind;
    // A removal that would go below minMembers adds instead, and the other way round.
    if (kind === 'remove-node' && active.length <= minMembers) kind = 'add-node';
    else if (kind === 'add-node' && active.length >= maxMembers) kind = 'remove-node';
    let fault: Fault | null;
    if (kind === 'partition') {
      fault = { kind, shape: shapes[rng.int(shapes.length)] as PartitionShape, order: shuffle(rng, ids) };
    } else if (kind === 'add-node') {
      fault = active.length < maxMembers ? { kind, node: nextId } : null;
      if (fault !== null) active.push(nextId++);
    } else if (kind === 'remove-node') {
      const node = active.length > minMembers ? (active[rng.int(active.length)] as number) : null;
      fault = node === null ? null : { kind, node };
      if (node !== null) active.splice(active.indexOf(node), 1);
    } else if (kind === 'split') {
      fault = { kind, pick: rng.int(0x40000000) };
    } else {
      const leader = rng.int(2) === 0;
      const node = active[rng.int(active.length)] as number;
      fault = { kind, target: leader ? { leader: true, fallback: node } : { leader: false, node } };
    }
    if (fault !== null) out.push({ startMs: t, endMs: t + length, fault });
    t += length + minGap + rng.int(maxGap - minGap + 1);
  }
  return out;
}

/** The node ids active after the schedule's membership faults (for tests and the report). */
export function membersAfter(nodes: number, schedule: readonly FaultWindow[]): number[] {
  const active = new Set(Array.from({ length: nodes }, (_, i) => i + 1));
  for (const w of schedule) {
    if (w.fault.kind === 'add-node') active.add(w.fault.node);
    else if (w.fault.kind === 'remove-node') active.delete(w.fault.node);
  }
  return [...active].sort((a, b) => a - b);
}

function shuffle(rng: SeededRng, xs: readonly number[]): number[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j] as number, a[i] as number];
  }
  return a;
}

/**
 * The links a symmetric shape cuts (both ways), from a permutation of the
 * node ids and the current leader (for isolate-leader).
 */
export function partitionPairs(shape: SymmetricShape, order: readonly number[], leader: number | null): Pair[] {
  const n = order.length;
  const pairs: Pair[] = [];
  const cutBetween = (a: readonly number[], b: readonly number[]): void => {
    for (const x of a) for (const y of b) pairs.push(x < y ? [x, y] : [y, x]);
  };
  switch (shape) {
    case 'halves': {
      const k = Math.floor(n / 2);
      cutBetween(order.slice(0, k), order.slice(k));
      break;
    }
    case 'isolate-leader': {
      const l = leader ?? (order[0] as number);
      cutBetween([l], order.filter((x) => x !== l));
      break;
    }
    case 'majority-minority': {
      const m = Math.max(1, Math.floor((n - 1) / 2));
      cutBetween(order.slice(0, m), order.slice(m));
      break;
    }
    case 'bridge': {
      // order[0] sees both sides; the two sides do not see each other.
      const rest = order.slice(1);
      const k = Math.ceil(rest.length / 2);
      cutBetween(rest.slice(0, k), rest.slice(k));
      break;
    }
    case 'ring': {
      // Each node keeps only its two neighbours in `order`.
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          const adjacent = j === i + 1 || (i === 0 && j === n - 1);
          if (!adjacent) pairs.push(order[i]! < order[j]! ? [order[i]!, order[j]!] : [order[j]!, order[i]!]);
        }
      }
      break;
    }
  }
  return pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

/**
 * Directed cuts of any shape. `one-way`: the leader (or order[0] when none
 * is known) receives nothing from the others, while its own messages still
 * go out.
 */
export function partitionCuts(shape: PartitionShape, order: readonly number[], leader: number | null): DirectedCut[] {
  if (shape === 'one-way') {
    const deaf = leader ?? (order[0] as number);
    return order.filter((x) => x !== deaf).sort((a, b) => a - b).map((x): DirectedCut => [x, deaf]);
  }
  return partitionPairs(shape, order, leader).flatMap(([a, b]): DirectedCut[] => [
    [a, b],
    [b, a],
  ]);
}

/** "1-2 1→3": a pair cut both ways as a-b, a single direction as from→to. */
export function describeCuts(cuts: readonly DirectedCut[]): string {
  const set = new Set(cuts.map(([a, b]) => `${a}>${b}`));
  const out: string[] = [];
  for (const [a, b] of cuts) {
    if (set.has(`${b}>${a}`)) {
      if (a < b) out.push(`${a}-${b}`);
    } else out.push(`${a}→${b}`);
  }
  return out.join(' ') || 'nothing';
}

/** What the executor acts on; the runner wires it to LocalCluster and ProxiedNetwork. */
export interface NemesisTarget {
  findLeader(): Promise<number | null>;
  /** Cuts exactly these directions (every other link open). */
  partition(cuts: readonly DirectedCut[]): void;
  healNetwork(): void;
  /** SIGKILL and wait for the exit. */
  kill(id: number): Promise<void>;
  /** Spawn again from the same data dir. */
  restart(id: number): void;
  /** SIGSTOP / SIGCONT. */
  pause(id: number): void;
  resume(id: number): void;
  /** Start node `id` with --join (membership nemesis). */
  addNode?(id: number): Promise<void>;
  /** Send `nodeRemove` for node `id` (starts the drain); rejects when the command fails. */
  removeNode?(id: number): Promise<void>;
  /** Wait (bounded) until node `id` is removed from the map, then stop its process; false if the drain did not finish in time. */
  awaitRemoved?(id: number): Promise<boolean>;
  /** Split a data shard chosen by `pick`; resolves with what was done ("shard 3 → 9"). */
  split?(pick: number): Promise<string>;
}

/** A fault as it was applied (times in the history's clock). */
export interface FaultRecord {
  readonly kind: NemesisKind;
  description: string;
  readonly startNs: number;
  endNs: number;
}

export interface NemesisRunOptions {
  readonly schedule: readonly FaultWindow[];
  readonly target: NemesisTarget;
  /** Current time in ns on the history's clock. */
  readonly now: () => number;
  /** Resolves at `ms` after the workload start (or early when aborted). */
  readonly sleepUntil: (ms: number) => Promise<void>;
  readonly aborted: () => boolean;
  readonly log?: (line: string) => void;
}

/** Runs the schedule; always leaves the cluster healed. Returns what was applied. */
export async function runNemesis(o: NemesisRunOptions): Promise<FaultRecord[]> {
  const records: FaultRecord[] = [];
  const killed = new Set<number>();
  const paused = new Set<number>();
  /** Nodes whose removal was requested (their process is stopped once the drain finishes). */
  const removing = new Set<number>();
  const gone = new Set<number>();
  let partitioned = false;
  const finishRemovals = async (): Promise<void> => {
    for (const id of [...removing]) {
      const done = (await o.target.awaitRemoved?.(id)) ?? true;
      removing.delete(id);
      if (done) gone.add(id);
      else o.log?.(`nemesis: n${id} was not removed in time; it stays up (draining)`);
    }
  };
  const healAll = async (): Promise<void> => {
    if (partitioned) o.target.healNetwork();
    partitioned = false;
    for (const id of [...paused]) {
      o.target.resume(id);
      paused.delete(id);
    }
    for (const id of [...killed]) {
      o.target.restart(id);
      killed.delete(id);
    }
    // After the restarts: a drain needs the shards' quorums.
    await finishRemovals();
  };
  try {
    for (const w of o.schedule) {
      await o.sleepUntil(w.startMs);
      if (o.aborted()) break;
      const f = w.fault;
      const record: FaultRecord = { kind: f.kind, description: '', startNs: o.now(), endNs: 0 };
      if (f.kind === 'partition') {
        const found = f.shape === 'isolate-leader' || f.shape === 'one-way' ? await o.target.findLeader() : null;
        // Partitions cut links among `order` (the proxied nodes); a leader outside it (an added node) cannot be cut off.
        const leader = found !== null && f.order.includes(found) ? found : null;
        const cuts = partitionCuts(f.shape, f.order, leader);
        o.target.partition(cuts);
        partitioned = true;
        const about = leader !== null ? ` (leader n${leader})` : found !== null ? ` (leader n${found} is not proxied; n${f.order[0]} instead)` : '';
        record.description = `partition ${f.shape}${about}: cut ${describeCuts(cuts)}`;
      } else if (f.kind === 'add-node') {
        if (o.target.addNode === undefined) throw new Error('this target cannot add nodes');
        await o.target.addNode(f.node);
        record.description = `add node n${f.node} (join)`;
      } else if (f.kind === 'remove-node') {
        if (o.target.removeNode === undefined) throw new Error('this target cannot remove nodes');
        if (gone.has(f.node)) record.description = `remove node n${f.node}: skipped (already gone)`;
        else {
          try {
            await o.target.removeNode(f.node);
            removing.add(f.node);
            record.description = `remove node n${f.node} (drain, then stop)`;
          } catch (e) {
            record.description = `remove node n${f.node}: refused (${e instanceof Error ? e.message : String(e)})`;
          }
        }
      } else if (f.kind === 'split') {
        if (o.target.split === undefined) throw new Error('this target cannot split shards');
        try {
          record.description = `split ${await o.target.split(f.pick)}`;
        } catch (e) {
          record.description = `split: refused (${e instanceof Error ? e.message : String(e)})`;
        }
      } else {
        const node = f.target.leader ? ((await o.target.findLeader()) ?? f.target.fallback) : f.target.node;
        const who = `${f.target.leader ? 'leader ' : ''}n${node}`;
        if (gone.has(node) || removing.has(node)) {
          record.description = `${f.kind} ${who}: skipped (removed)`;
        } else if (f.kind === 'kill') {
          await o.target.kill(node);
          killed.add(node);
          record.description = `kill -9 ${who}`;
        } else {
          o.target.pause(node);
          paused.add(node);
          record.description = `pause (SIGSTOP) ${who}`;
        }
      }
      records.push(record);
      o.log?.(`nemesis: ${record.description}`);
      await o.sleepUntil(w.endMs);
      await healAll();
      record.endNs = o.now();
      o.log?.(`nemesis: healed (${record.description})`);
    }
  } finally {
    await healAll();
    for (const r of records) if (r.endNs === 0) r.endNs = o.now();
  }
  return records;
}

/** "partition,kill,membership" → kinds ("membership" = add-node,remove-node); throws on an unknown name. "none" or "" → []. */
export function parseNemesisKinds(text: string): NemesisKind[] {
  if (text.trim() === '' || text.trim() === 'none') return [];
  const out: NemesisKind[] = [];
  for (const k of text.split(',').map((s) => s.trim())) {
    const group = Object.hasOwn(NEMESIS_GROUPS, k) ? NEMESIS_GROUPS[k] : undefined;
    if (group !== undefined) out.push(...group);
    else if ((NEMESIS_KINDS as readonly string[]).includes(k)) out.push(k as NemesisKind);
    else throw new RangeError(`unknown nemesis '${k}' (known: ${[...NEMESIS_KINDS, ...Object.keys(NEMESIS_GROUPS)].join(', ')})`);
  }
  return [...new Set(out)];
}

/** True when the kinds change the cluster's shape (nodes or shards). */
export function changesMembership(kinds: readonly NemesisKind[]): boolean {
  return kinds.some((k) => k === 'add-node' || k === 'remove-node' || k === 'split');
}
