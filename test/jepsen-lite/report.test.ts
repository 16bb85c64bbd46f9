/** The HTML report: self-contained, verdict shown, a timeline of the violating key with faults shaded. */
import { describe, expect, it } from 'vitest';
import { checkHistory, formatCheckResult } from '../../jepsen-lite/checker/index.js';
import type { HistoryEvent } from '../../jepsen-lite/history.js';
import type { FaultRecord } from '../../jepsen-lite/nemesis.js';
import { renderReport } from '../../jepsen-lite/report.js';
import { computeStats, pairOperations } from '../../jepsen-lite/stats.js';

const ms = 1e6;
const e = (process: number, type: HistoryEvent['type'], f: HistoryEvent['f'], key: string, value: HistoryEvent['value'], t: number): HistoryEvent => ({
  process,
  type,
  f,
  key,
  value,
  time: t * ms,
});

function render(events: HistoryEvent[], faults: FaultRecord[]): string {
  const check = checkHistory(events);
  const ops = pairOperations(events);
  const workload = { from: 0, to: 100 * ms };
  return renderReport({
    title: 'test <run>',
    command: 'jepsen-lite --seed 1',
    verdict: check.verdict,
    healthy: true,
    healthDetail: 'ok',
    check,
    checkText: formatCheckResult(check),
    stats: computeStats(ops, faults, workload),
    ops,
    faults,
    workload,
  });
}

describe('renderReport', () => {
  it('draws the operations of a violating key around the violation, faults shaded', () => {
    // A stale read: "b" was written and read before the read of "a" began.
    const events = [
      e(0, 'invoke', 'put', 'k', 'a', 1),
      e(0, 'ok', 'put', 'k', 'a', 2),
      e(1, 'invoke', 'put', 'k', 'b', 3),
      e(1, 'ok', 'put', 'k', 'b', 4),
      e(2, 'invoke', 'get', 'k', null, 5),
      e(2, 'ok', 'get', 'k', 'a', 6),
      e(3, 'invoke', 'put', 'other', 'x', 1),
      e(3, 'ok', 'put', 'other', 'x', 2),
    ];
    const html = render(events, [{ kind: 'partition', description: 'partition isolate-leader: cut 1-2 1-3', startNs: 2.5 * ms, endNs: 7 * ms }]);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|src="http/); // self-contained
    expect(html).toContain('NOT-LINEARIZABLE');
    expect(html).toContain('key &quot;k&quot;: not linearizable');
    const timeline = html.slice(html.indexOf('<h3>'));
    expect(timeline).toContain('get → a');
    expect(timeline).toContain('put b');
    expect(timeline).not.toContain('put x'); // other keys stay out
    expect(timeline).toContain('class="fault"><title>partition isolate-leader');
    expect(html).toContain('test &lt;run&gt;');
  });

  it('says so when there is no violation', () => {
    const html = render([e(0, 'invoke', 'put', 'k', 'a', 1), e(0, 'ok', 'put', 'k', 'a', 2)], []);
    expect(html).toContain('LINEARIZABLE');
    expect(html).toContain('<p>None.</p>');
  });
});
