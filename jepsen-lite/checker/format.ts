/** A human summary of a check result. */
import type { CheckResult } from '../history.js';

export function formatCheckResult(result: CheckResult): string {
  const lines: string[] = [];
  const counts = { linearizable: 0, 'not-linearizable': 0, unknown: 0 };
  for (const k of result.keys) counts[k.verdict]++;
  lines.push(
    `${result.verdict.toUpperCase()}: ${plural(result.operations, 'operation')} over ${plural(result.keys.length, 'key')} in ${result.elapsedMs} ms` +
      ` (${counts.linearizable} linearizable, ${counts['not-linearizable']} not linearizable, ${counts.unknown} unknown)`,
  );
  for (const k of result.keys) {
    if (k.verdict === 'linearizable') continue;
    lines.push(`key ${JSON.stringify(k.key)}: ${k.verdict} (${plural(k.operations, 'operation')})`);
    if (k.detail !== undefined) {
      for (const line of k.detail.split('\n')) lines.push(`  ${line}`);
    }
  }
  return lines.join('\n');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
