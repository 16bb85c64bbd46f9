/**
 * Benchmark of the linearizability checker: generated linearizable histories
 * (fixed seeds) of 20,000 and 50,000 operations at concurrency 10 and 20,
 * each checked several times; prints the median time.
 *
 *   npm run bench -- checker [--json] [--runs N]
 */
import { checkHistory, generateHistory, type GenerateOptions } from '../../jepsen-lite/checker/index.js';
import type { HistoryEvent, Verdict } from '../../jepsen-lite/history.js';

interface Scenario {
  readonly name: string;
  readonly generate: GenerateOptions;
  /** Replace the value of the middle acknowledged read with one never written. */
  readonly corruptOneRead?: boolean;
  readonly expected: Verdict;
}

interface ScenarioResult {
  readonly name: string;
  /** Operations generated, and those left to check (failed ones are excluded). */
  readonly generated: number;
  readonly operations: number;
  readonly clients: number;
  readonly keys: number;
  readonly verdict: Verdict;
  readonly expected: Verdict;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly steps: number;
  readonly memoEntries: number;
}

const SEED = 20261127;

const scenarios: readonly Scenario[] = [
  { name: '20k ops, 10 clients, 5 keys', generate: { seed: SEED, operations: 20_000, clients: 10, keys: 5 }, expected: 'linearizable' },
  { name: '50k ops, 10 clients, 5 keys', generate: { seed: SEED + 1, operations: 50_000, clients: 10, keys: 5 }, expected: 'linearizable' },
  { name: '20k ops, 20 clients, 5 keys', generate: { seed: SEED + 2, operations: 20_000, clients: 20, keys: 5 }, expected: 'linearizable' },
  {
    name: '20k ops, 10 clients, 5 keys, 3 values/key',
    generate: { seed: SEED + 3, operations: 20_000, clients: 10, keys: 5, valuesPerKey: 3 },
    expected: 'linearizable',
  },
  {
    name: '20k ops, 10 clients, 5 keys, 1% info',
    generate: { seed: SEED + 4, operations: 20_000, clients: 10, keys: 5, infoRatio: 0.01 },
    expected: 'linearizable',
  },
  {
    name: '20k ops, 10 clients, 5 keys, 1 bad read',
    generate: { seed: SEED, operations: 20_000, clients: 10, keys: 5 },
    corruptOneRead: true,
    expected: 'not-linearizable',
  },
];

function corruptMiddleRead(events: HistoryEvent[]): HistoryEvent[] {
  const reads = events.flatMap((e, i) => (e.type === 'ok' && e.f === 'get' ? [i] : []));
  const target = reads[reads.length >> 1];
  return events.map((e, i) => (i === target ? { ...e, value: 'never-written' } : e));
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function parseRuns(argv: readonly string[]): number {
  const i = argv.indexOf('--runs');
  if (i < 0) return 5;
  const n = Number(argv[i + 1]);
  return Number.isInteger(n) && n > 0 ? n : 5;
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const runs = parseRuns(argv);
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    const generated = generateHistory(scenario.generate);
    const events = scenario.corruptOneRead === true ? corruptMiddleRead(generated) : generated;
    checkHistory(events); // warm-up, not timed
    const times: number[] = [];
    let verdict: Verdict = 'unknown';
    let operations = 0;
    let steps = 0;
    let memoEntries = 0;
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      const result = checkHistory(events);
      times.push(performance.now() - t0);
      verdict = result.verdict;
      operations = result.operations;
      steps = result.keys.reduce((sum, k) => sum + k.steps, 0);
      memoEntries = result.keys.reduce((sum, k) => sum + k.memoEntries, 0);
    }
    const row: ScenarioResult = {
      name: scenario.name,
      generated: scenario.generate.operations,
      operations,
      clients: scenario.generate.clients,
      keys: scenario.generate.keys,
      verdict,
      expected: scenario.expected,
      medianMs: Math.round(median(times) * 10) / 10,
      minMs: Math.round(Math.min(...times) * 10) / 10,
      maxMs: Math.round(Math.max(...times) * 10) / 10,
      steps,
      memoEntries,
    };
    results.push(row);
    if (!json) {
      process.stdout.write(
        `${row.name.padEnd(42)} ops ${String(row.operations).padStart(6)}/${row.generated}  ${row.verdict.padEnd(16)} median ${row.medianMs.toFixed(1).padStart(8)} ms` +
          `  (min ${row.minMs.toFixed(1)}, max ${row.maxMs.toFixed(1)}, ${runs} runs, ${row.steps} steps, ${row.memoEntries} memo entries)\n`,
      );
    }
  }
  if (json) process.stdout.write(`${JSON.stringify({ bench: 'checker', runs, results })}\n`);
  // A wrong verdict is a failure of the benchmark run.
  return results.every((r) => r.verdict === r.expected) ? 0 : 1;
}
