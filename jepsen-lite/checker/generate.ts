/**
 * Generates histories of a linearizable multi-key register store: concurrent
 * clients invoke operations at random, each operation takes effect at a random
 * instant between its invocation and completion, and results are computed from
 * that order. Such histories are linearizable by construction; tests and the
 * benchmark feed them to the checker.
 */
import type { HistoryEvent, OpFunction, OpValue, RegisterValue } from '../history.js';
import { SeededRng } from '../../src/util/rng.js';

export interface GenerateOptions {
  readonly seed: number;
  /** Operations to generate (all keys together). */
  readonly operations: number;
  /** Concurrent clients (the concurrency). */
  readonly clients: number;
  readonly keys: number;
  /** Share of gets; default 0.5. */
  readonly readRatio?: number;
  /** Share of cas; default 0.2 (the rest are puts). */
  readonly casRatio?: number;
  /** Chance an operation's outcome is unknown (`info`; the process is then retired). Default 0. */
  readonly infoRatio?: number;
  /** Chance a write certainly fails (`fail`, no effect). Default 0. */
  readonly failRatio?: number;
  /** Values drawn from this many per key ("v0".."vN-1"); default: every write a fresh value. */
  readonly valuesPerKey?: number;
  /** Operation latency in [1, maxLatency] time units; default 100. */
  readonly maxLatency?: number;
  /** Pause between a client's operations in [1, maxGap]; default 20. */
  readonly maxGap?: number;
}

interface PlannedOp {
  readonly process: number;
  readonly f: OpFunction;
  readonly key: string;
  readonly input: OpValue;
  readonly invokeTime: number;
  readonly completeTime: number;
  /** When it takes effect; +Infinity = never. */
  readonly effectTime: number;
  readonly outcome: 'ok' | 'info' | 'fail';
  /** For gets: the value read; for cas: whether it swapped. Filled in by `resolve`. */
  result: RegisterValue;
  swapped: boolean;
}

export function generateHistory(options: GenerateOptions): HistoryEvent[] {
  const rng = new SeededRng(options.seed);
  const readRatio = options.readRatio ?? 0.5;
  const casRatio = options.casRatio ?? 0.2;
  const infoRatio = options.infoRatio ?? 0;
  const failRatio = options.failRatio ?? 0;
  const maxLatency = options.maxLatency ?? 100;
  const maxGap = options.maxGap ?? 20;
  const keyNames = Array.from({ length: options.keys }, (_, i) => `k${i}`);
  const lastWritten = new Map<string, RegisterValue>();
  let fresh = 0;
  const pickValue = (key: string): string =>
    options.valuesPerKey === undefined ? `${key}-${fresh++}` : `v${rng.int(options.valuesPerKey)}`;

  const nextTime = Array.from({ length: options.clients }, () => rng.int(maxGap));
  const processOf = Array.from({ length: options.clients }, (_, i) => i);
  let nextProcess = options.clients;
  const planned: PlannedOp[] = [];

  for (let n = 0; n < options.operations; n++) {
    let c = 0;
    for (let i = 1; i < options.clients; i++) if (nextTime[i]! < nextTime[c]!) c = i;
    const invokeTime = nextTime[c]!;
    const completeTime = invokeTime + 1 + rng.int(maxLatency);
    const key = keyNames[rng.int(keyNames.length)]!;
    const roll = rng.float();
    const f: OpFunction = roll < readRatio ? 'get' : roll < readRatio + casRatio ? 'cas' : 'put';
    let input: OpValue = null;
    if (f === 'put') {
      input = pickValue(key);
      lastWritten.set(key, input);
    } else if (f === 'cas') {
      // Expect the latest value written (by invocation order) or sometimes a random one, so some swap and some fail.
      const expected = rng.float() < 0.7 ? (lastWritten.get(key) ?? null) : rng.float() < 0.5 ? null : pickValue(key);
      const update = pickValue(key);
      input = [expected, update];
      lastWritten.set(key, update);
    }
    const outcomeRoll = rng.float();
    const outcome = outcomeRoll < infoRatio ? 'info' : f !== 'get' && outcomeRoll < infoRatio + failRatio ? 'fail' : 'ok';
    let effectTime = invokeTime + rng.float() * (completeTime - invokeTime);
    if (outcome === 'fail') effectTime = Number.POSITIVE_INFINITY;
    if (outcome === 'info') {
      // Unknown outcome: half never take effect, the rest maybe long after the client gave up.
      effectTime = rng.float() < 0.5 ? Number.POSITIVE_INFINITY : invokeTime + rng.float() * 3 * (completeTime - invokeTime);
    }
    planned.push({ process: processOf[c]!, f, key, input, invokeTime, completeTime, effectTime, outcome, result: null, swapped: false });
    nextTime[c] = completeTime + 1 + rng.int(maxGap);
    if (outcome === 'info') processOf[c] = nextProcess++;
  }

  resolve(planned);

  const events: { readonly event: HistoryEvent; readonly seq: number }[] = [];
  for (const op of planned) {
    events.push({ event: { process: op.process, type: 'invoke', f: op.f, key: op.key, value: op.input, time: op.invokeTime }, seq: events.length });
    let type: 'ok' | 'fail' | 'info' = op.outcome;
    if (op.f === 'cas' && op.outcome === 'ok' && !op.swapped) type = 'fail';
    const value = op.f === 'get' ? (op.outcome === 'ok' ? op.result : null) : op.input;
    events.push({ event: { process: op.process, type, f: op.f, key: op.key, value, time: op.completeTime }, seq: events.length });
  }
  events.sort((a, b) => a.event.time - b.event.time || a.seq - b.seq);
  return events.map((e) => e.event);
}

/** Applies the operations in effect-time order to per-key registers, filling in results. */
function resolve(planned: PlannedOp[]): void {
  const inEffectOrder = planned.filter((op) => op.effectTime !== Number.POSITIVE_INFINITY).sort((a, b) => a.effectTime - b.effectTime);
  const registers = new Map<string, RegisterValue>();
  for (const op of inEffectOrder) {
    const current = registers.get(op.key) ?? null;
    if (op.f === 'get') {
      op.result = current;
    } else if (op.f === 'put') {
      registers.set(op.key, op.input as RegisterValue);
    } else {
      const [expected, update] = op.input as readonly [RegisterValue, RegisterValue];
      if (current === expected) {
        registers.set(op.key, update);
        op.swapped = true;
      }
    }
  }
}
