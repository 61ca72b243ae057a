// `--report-file`: one self-contained HTML page about a run (no scripts, no external resources): counts per kind and
// per day as inline SVG charts, the per-kind table, and the failures. Per-day counts come from the run's events.
import { ARTIFACT_KINDS } from './artifacts.js';
import { formatBytes, type JsonReport } from './report.js';
import type { RunEvent } from './run.js';
import { dateInZone } from './window.js';

export const KIND_COLOURS: Record<string, string> = {
  recording: '#4e79a7',
  recording_transcript: '#a0cbe8',
  messaging_transcript: '#f28e2b',
  note: '#59a14f',
  disposition: '#8cd17d',
  voicemail: '#b07aa1',
  voicemail_transcript: '#d4a6c8',
};

const OUTCOME_COLOURS: [string, string][] = [
  ['delivered', '#59a14f'],
  ['to_push', '#4e79a7'],
  ['unchanged', '#bab0ac'],
  ['pending', '#f1ce63'],
  ['not_available', '#d7b5a6'],
  ['failed', '#e15759'],
  ['gave_up', '#9d2c2c'],
];

const MAX_FAILURES = 200;

/** Collects what the page needs while the run goes: counts per day and kind, and the first failures. */
export class HtmlReportCollector {
  private readonly days = new Map<string, Map<string, number>>();
  private readonly failures: { key: string; destination: string; reason: string }[] = [];

  constructor(private readonly timezone: string) {}

  onEvent(event: RunEvent): void {
    if (event.type !== 'artifact') return;
    if (event.action === 'failed' && this.failures.length < MAX_FAILURES) {
      this.failures.push({ key: event.key, destination: event.destination, reason: event.reason ?? '' });
    }
    if (event.occurredAt === null) return;
    const day = dateInZone(event.occurredAt, this.timezone);
    const row = this.days.get(day) ?? new Map<string, number>();
    row.set(event.kind, (row.get(event.kind) ?? 0) + 1);
    this.days.set(day, row);
  }

  render(report: JsonReport, generatedAt = new Date()): string {
    const title = report.mode === 'dry-run' ? 'Dry run' : `${report.mode === 'backfill' ? 'Backfill' : 'Run'} ${report.runId ?? ''}`;
    const failures = this.failures.length > 0 ? this.failures : report.failures;
    const status =
      report.exitCode === 0 ? ['ok', 'Complete'] : report.exitCode === 1 ? ['warn', 'Some artifacts failed'] : ['bad', 'Incomplete'];
    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zcc-reconcile · ${esc(title.trim())}</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #222; background: #fff; }
  h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
  .meta { color: #555; } .badge { display: inline-block; padding: 2px 10px; border-radius: 10px; color: #fff; font-weight: 600; }
  .ok { background: #2e7d32; } .warn { background: #e08600; } .bad { background: #c62828; }
  table { border-collapse: collapse; margin-top: 4px; } th, td { padding: 3px 10px; border-bottom: 1px solid #e4e4e4; }
  th { text-align: left; background: #f6f6f6; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
  tr.total td { font-weight: 700; border-top: 2px solid #999; } td.reason { max-width: 720px; word-break: break-word; }
  .legend span { display: inline-block; margin-right: 14px; } .legend i { display: inline-block; width: 11px; height: 11px; margin-right: 4px; vertical-align: -1px; }
  svg text { font: 11px system-ui, sans-serif; fill: #444; }
</style>
</head>
<body>
<h1>zcc-reconcile · ${esc(title.trim())} <span class="badge ${status[0]}">${esc(status[1]!)} · exit ${report.exitCode}</span></h1>
<div class="meta">Window [${esc(report.window.from)}, ${esc(report.window.to)}) in ${report.chunks} chunk(s) · listing ${report.listingComplete ? 'complete' : 'incomplete'}${report.durationMs !== null ? ` · took ${(report.durationMs / 1000).toFixed(1)} s` : ''} · generated ${esc(generatedAt.toISOString())}</div>
${report.stopped ? `<p class="meta"><b>Stopped:</b> ${esc(report.stopped)}</p>` : ''}
${report.incomplete.map((reason) => `<p class="meta"><b>Listing incomplete:</b> ${esc(reason)}</p>`).join('\n')}
<h2>Artifacts per day, by kind</h2>
<div class="meta">By the day each artifact's engagement, recording or message happened (${esc(this.timezone)}); one count per artifact and destination.</div>
${this.dayChart()}
<h2>Outcomes per kind</h2>
${outcomeChart(report)}
<h2>Counts</h2>
${countsTable(report)}
<h2>Failures (${report.failuresTotal})</h2>
${failureTable(failures, report.failuresTotal)}
</body>
</html>
`;
  }

  /** Stacked bars: one per day (the engagement's day in zoom.timezone), one colour per kind. */
  private dayChart(): string {
    const days = [...this.days.keys()].sort();
    if (days.length === 0) return '<p class="meta">No artifacts in this run.</p>';
    const width = 960;
    const height = 300;
    const pad = { left: 48, right: 12, top: 12, bottom: 44 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const totals = days.map((day) => [...this.days.get(day)!.values()].reduce((a, b) => a + b, 0));
    const { max, step } = niceAxis(Math.max(...totals));
    const slot = plotW / days.length;
    const barW = Math.max(1, slot * 0.8);
    const parts: string[] = [];
    for (let tick = 0; tick <= max; tick += step) {
      const y = pad.top + plotH - (tick / max) * plotH;
      parts.push(`<line x1="${pad.left}" x2="${width - pad.right}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e4e4e4"/>`);
      parts.push(`<text x="${pad.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${tick}</text>`);
    }
    const labelEvery = Math.ceil(days.length / 12);
    days.forEach((day, index) => {
      const x = pad.left + index * slot + (slot - barW) / 2;
      let y = pad.top + plotH;
      const row = this.days.get(day)!;
      for (const kind of ARTIFACT_KINDS) {
        const count = row.get(kind) ?? 0;
        if (count === 0) continue;
        const h = (count / max) * plotH;
        y -= h;
        parts.push(
          `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${KIND_COLOURS[kind]}"><title>${esc(day)} ${esc(kind)}: ${count}</title></rect>`,
        );
      }
      if (index % labelEvery === 0) {
        parts.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${height - pad.bottom + 16}" text-anchor="middle">${esc(day.slice(5))}</text>`);
      }
    });
    parts.push(`<line x1="${pad.left}" x2="${width - pad.right}" y1="${pad.top + plotH}" y2="${pad.top + plotH}" stroke="#888"/>`);
    const legend = ARTIFACT_KINDS.map((kind) => `<span><i style="background:${KIND_COLOURS[kind]}"></i>${esc(kind)}</span>`).join('');
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="artifacts per day by kind">${parts.join('')}</svg>
<div class="legend">${legend}</div>`;
  }
}

/** Horizontal stacked bars: one per kind, one colour per outcome. */
function outcomeChart(report: JsonReport): string {
  const rows = ARTIFACT_KINDS.map((kind) => {
    const counts = report.kinds[kind]!;
    return { kind, parts: OUTCOME_COLOURS.map(([outcome, colour]) => ({ outcome, colour, n: counts[outcome as keyof typeof counts] ?? 0 })) };
  });
  const { max } = niceAxis(Math.max(1, ...rows.map((row) => row.parts.reduce((sum, part) => sum + part.n, 0))));
  const width = 960;
  const rowH = 24;
  const left = 150;
  const plotW = width - left - 60;
  const parts: string[] = [];
  rows.forEach((row, index) => {
    const y = 6 + index * rowH;
    parts.push(`<text x="${left - 8}" y="${y + 14}" text-anchor="end">${esc(row.kind)}</text>`);
    let x = left;
    for (const part of row.parts) {
      if (part.n === 0) continue;
      const w = (part.n / max) * plotW;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${part.colour}"><title>${esc(row.kind)} ${esc(part.outcome)}: ${part.n}</title></rect>`);
      x += w;
    }
    const sum = row.parts.reduce((total, part) => total + part.n, 0);
    parts.push(`<text x="${(x + 6).toFixed(1)}" y="${y + 14}">${sum}</text>`);
  });
  const height = 12 + rows.length * rowH;
  const legend = OUTCOME_COLOURS.map(([outcome, colour]) => `<span><i style="background:${colour}"></i>${esc(outcome.replace('_', ' '))}</span>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="outcomes per kind">${parts.join('')}</svg>
<div class="legend">${legend}</div>`;
}

function countsTable(report: JsonReport): string {
  const columns = report.mode === 'dry-run'
    ? ['seen', 'unchanged', 'to_push', 'failing', 'pending', 'not_available', 'failed', 'gave_up']
    : ['seen', 'unchanged', 'delivered', 'pending', 'not_available', 'failed', 'gave_up'];
  const head = `<tr><th>kind</th>${columns.map((column) => `<th>${esc(column.replace('_', ' '))}</th>`).join('')}</tr>`;
  const row = (name: string, counts: Record<string, number>, cls = '') =>
    `<tr class="${cls}"><td>${esc(name)}</td>${columns.map((column) => `<td class="n">${counts[column] ?? 0}</td>`).join('')}</tr>`;
  const body = Object.entries(report.kinds).map(([kind, counts]) => row(kind, counts));
  return `<table>${head}${body.join('')}${row('total', report.totals, 'total')}</table>
<p class="meta">${report.mode === 'dry-run' ? `Bytes to push (known before download): ${formatBytes(report.bytes.toPushKnown)}` : `Bytes delivered: ${formatBytes(report.bytes.delivered)}`}</p>`;
}

function failureTable(failures: readonly { key: string; destination: string; reason: string }[], total: number): string {
  if (failures.length === 0) return '<p class="meta">None.</p>';
  const rows = failures.map(
    (failure) => `<tr><td><code>${esc(failure.key)}</code></td><td>${esc(failure.destination)}</td><td class="reason">${esc(failure.reason)}</td></tr>`,
  );
  const more = total > failures.length ? `<p class="meta">… and ${total - failures.length} more; see <code>zcc-reconcile status</code>.</p>` : '';
  return `<table><tr><th>key</th><th>destination</th><th>reason</th></tr>${rows.join('')}</table>${more}`;
}

/** A round tick step (1, 2 or 5 times a power of ten, at least 1) and the axis maximum it gives for 4-5 ticks. */
function niceAxis(value: number): { max: number; step: number } {
  const rough = Math.max(1, value / 4);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= rough) ?? 10 * power;
  return { max: Math.max(step, Math.ceil(value / step) * step), step };
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
