/**
 * The HTML report of a run: one self-contained file (inline CSS and SVG, no
 * scripts): verdict, figures, fault list, ok-throughput over time with the
 * faults shaded, and for every key that is not linearizable a timeline of the
 * operations around the violation (one row per process).
 */
import type { DetailedCheckResult } from './checker/index.js';
import type { OpValue } from './history.js';
import type { FaultRecord } from './nemesis.js';
import type { RunStats, TimedOp } from './stats.js';
import { formatStats } from './stats.js';

export interface ReportInput {
  readonly title: string;
  readonly command: string;
  readonly verdict: string;
  readonly healthy: boolean;
  readonly healthDetail: string;
  readonly check: DetailedCheckResult;
  readonly checkText: string;
  readonly stats: RunStats;
  readonly ops: readonly TimedOp[];
  readonly faults: readonly FaultRecord[];
  /** ns of the workload start and end on the history clock. */
  readonly workload: { readonly from: number; readonly to: number };
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const fmtValue = (v: OpValue): string => (v === null ? 'nil' : typeof v === 'string' ? v : `[${fmtValue(v[0])} → ${fmtValue(v[1])}]`);

const COLORS: Record<string, string> = { ok: '#4a9f4a', fail: '#d08a2c', info: '#c0392b', open: '#888' };

function throughputSvg(input: ReportInput): string {
  const { from, to } = input.workload;
  const span = Math.max(1, to - from);
  const binNs = 250e6;
  const bins = Math.max(1, Math.ceil(span / binNs));
  const counts = new Array<number>(bins).fill(0);
  for (const o of input.ops) {
    if (o.outcome !== 'ok' || !(o.end >= from && o.end <= to)) continue;
    const b = Math.min(bins - 1, Math.floor((o.end - from) / binNs));
    counts[b] = (counts[b] ?? 0) + 1;
  }
  const max = Math.max(1, ...counts);
  const W = 1000;
  const H = 120;
  const x = (t: number): number => ((t - from) / span) * W;
  const shade = input.faults
    .map((f) => `<rect x="${x(f.startNs).toFixed(1)}" y="0" width="${Math.max(1, x(f.endNs) - x(f.startNs)).toFixed(1)}" height="${H}" class="fault"><title>${esc(f.description)}</title></rect>`)
    .join('');
  const bw = W / bins;
  const bars = counts
    .map((c, i) => `<rect x="${(i * bw).toFixed(1)}" y="${(H - (c / max) * H).toFixed(1)}" width="${Math.max(0.5, bw - 0.5).toFixed(1)}" height="${((c / max) * H).toFixed(1)}" fill="#3b6ea8"/>`)
    .join('');
  return `<svg viewBox="0 0 ${W} ${H + 16}" width="100%">${shade}${bars}<text x="0" y="${H + 13}" class="axis">0 s</text><text x="${W}" y="${H + 13}" class="axis" text-anchor="end">${(span / 1e9).toFixed(1)} s</text></svg>`;
}

/** The operations of `key` overlapping [from, to], one row per process, faults shaded. */
function timelineSvg(input: ReportInput, key: string, window: { from: number; to: number }): string {
  const pad = Math.max(100e6, (window.to - window.from) * 0.25);
  const from = window.from - pad;
  const to = window.to + pad;
  const ops = input.ops.filter((o) => o.key === key && o.start <= to && (Number.isNaN(o.end) || o.outcome === 'info' || o.end >= from));
  const processes = [...new Set(ops.map((o) => o.process))].sort((a, b) => a - b);
  const W = 1000;
  const rowH = 22;
  const left = 60;
  const H = processes.length * rowH + 20;
  const x = (t: number): number => left + ((Math.min(Math.max(t, from), to) - from) / (to - from)) * (W - left);
  const shade = input.faults
    .filter((f) => f.endNs >= from && f.startNs <= to)
    .map((f) => `<rect x="${x(f.startNs).toFixed(1)}" y="0" width="${Math.max(1, x(f.endNs) - x(f.startNs)).toFixed(1)}" height="${H}" class="fault"><title>${esc(f.description)}</title></rect>`)
    .join('');
  const rows = processes
    .map((p, i) => `<text x="4" y="${i * rowH + 15}" class="axis">p${p}</text><line x1="${left}" x2="${W}" y1="${i * rowH + 20}" y2="${i * rowH + 20}" stroke="#eee"/>`)
    .join('');
  const bars = ops
    .map((o) => {
      const row = processes.indexOf(o.process);
      const x1 = x(o.start);
      const end = Number.isNaN(o.end) || o.outcome === 'info' ? to : o.end;
      const x2 = Math.max(x1 + 2, x(end));
      const label = o.f === 'get' ? `get → ${fmtValue(o.result)}` : `${o.f} ${fmtValue(o.value)}`;
      const tip = `p${o.process} ${label} (${o.outcome}) ${((o.start - input.workload.from) / 1e6).toFixed(1)}–${Number.isNaN(o.end) ? '?' : ((o.end - input.workload.from) / 1e6).toFixed(1)} ms`;
      return `<g><title>${esc(tip)}</title><rect x="${x1.toFixed(1)}" y="${row * rowH + 3}" width="${(x2 - x1).toFixed(1)}" height="${rowH - 6}" fill="${COLORS[o.outcome] ?? '#888'}" opacity="0.85" rx="2"/><text x="${(x1 + 3).toFixed(1)}" y="${row * rowH + 15}" class="op">${esc(label)}</text></g>`;
    })
    .join('');
  const ms = (t: number): string => `${((t - input.workload.from) / 1e6).toFixed(0)} ms`;
  return `<svg viewBox="0 0 ${W} ${H + 16}" width="100%">${shade}${rows}${bars}<text x="${left}" y="${H + 13}" class="axis">${ms(from)}</text><text x="${W}" y="${H + 13}" class="axis" text-anchor="end">${ms(to)}</text></svg>`;
}

export function renderReport(input: ReportInput): string {
  const bad = input.check.keys.filter((k) => k.verdict === 'not-linearizable');
  const violations = bad
    .map((k) => {
      const w = k.window ?? { from: input.workload.from, to: input.workload.from + 1e9 };
      return `<h3>key ${esc(JSON.stringify(k.key))}: not linearizable (${k.operations} operations)</h3><pre>${esc(k.detail ?? '')}</pre>${timelineSvg(input, k.key, w)}`;
    })
    .join('');
  const faults = input.faults
    .map((f) => `<tr><td>${((f.startNs - input.workload.from) / 1e9).toFixed(2)}</td><td>${((f.endNs - input.workload.from) / 1e9).toFixed(2)}</td><td>${esc(f.description)}</td></tr>`)
    .join('');
  const ok = input.verdict === 'linearizable' && input.healthy;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(input.title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1100px}
.verdict{font-size:1.6em;font-weight:bold;color:${ok ? '#2e7d32' : '#c62828'}}
pre{background:#f6f6f6;padding:.8em;overflow:auto}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}
.fault{fill:#f4c542;opacity:.25}.axis{font-size:11px;fill:#555}.op{font-size:10px;fill:#fff}
.legend span{display:inline-block;padding:0 6px;margin-right:6px;color:#fff}
</style></head><body>
<h1>${esc(input.title)}</h1>
<p><code>${esc(input.command)}</code></p>
<p class="verdict">${esc(input.verdict.toUpperCase())}${input.healthy ? '' : ' — NODES NOT HEALTHY'}</p>
<pre>${esc(input.checkText)}</pre>
<h2>Cluster health at the end</h2><pre>${esc(input.healthDetail)}</pre>
<h2>Figures</h2><pre>${esc(formatStats(input.stats))}</pre>
<h2>Ok operations over time</h2><p>250 ms bins; faults shaded.</p>${throughputSvg(input)}
<h2>Faults</h2><table><tr><th>from (s)</th><th>to (s)</th><th>fault</th></tr>${faults}</table>
<h2>Violations</h2>
<p class="legend"><span style="background:${COLORS['ok']}">ok</span><span style="background:${COLORS['fail']}">fail</span><span style="background:${COLORS['info']}">info (unknown, drawn to the edge)</span></p>
${violations === '' ? '<p>None.</p>' : violations}
</body></html>
`;
}
