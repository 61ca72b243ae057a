// Renderings of a run's (or dry run's) result: a table for people, JSON (schema in README) and CSV for scripts.
import chalk from 'chalk';
import { ARTIFACT_KINDS } from './artifacts.js';
import type { RunResult } from './run.js';
import { OUTCOMES, type Outcome } from './tally.js';

export type ReportFormat = 'table' | 'json' | 'csv';

export const REPORT_SCHEMA_VERSION = 1;

export interface JsonReport {
  schemaVersion: number;
  mode: string;
  runId: number | null;
  window: { from: string; to: string };
  chunks: number;
  listingComplete: boolean;
  exitCode: number;
  kinds: Record<string, Record<Outcome, number>>;
  totals: Record<Outcome, number>;
  bytes: { delivered: number; toPushKnown: number };
  incomplete: string[];
  stopped: string | null;
  failures: { key: string; destination: string; reason: string }[];
}

export function toJsonReport(result: RunResult): JsonReport {
  const kinds: Record<string, Record<Outcome, number>> = {};
  for (const kind of ARTIFACT_KINDS) {
    const row = result.tally.counts.get(kind);
    kinds[kind] = Object.fromEntries(OUTCOMES.map((outcome) => [outcome, row?.[outcome] ?? 0])) as Record<Outcome, number>;
  }
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    mode: result.mode,
    runId: result.runId,
    window: { from: result.window.from.toISOString(), to: result.window.to.toISOString() },
    chunks: result.chunks,
    listingComplete: result.listingComplete,
    exitCode: result.exitCode,
    kinds,
    totals: Object.fromEntries(OUTCOMES.map((outcome) => [outcome, result.tally.total(outcome)])) as Record<Outcome, number>,
    bytes: { delivered: result.tally.bytesDelivered, toPushKnown: result.tally.bytesToPush },
    incomplete: result.incomplete,
    stopped: result.stopped?.message ?? null,
    failures: result.tally.failures.slice(0, 100),
  };
}

export function renderReport(result: RunResult, format: ReportFormat): string {
  const report = toJsonReport(result);
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'csv') return renderCsv(report);
  return renderTable(report);
}

function columnsFor(mode: string): Outcome[] {
  return mode === 'dry-run'
    ? ['seen', 'unchanged', 'to_push', 'pending', 'not_available', 'failed', 'gave_up']
    : ['seen', 'unchanged', 'delivered', 'pending', 'not_available', 'failed', 'gave_up'];
}

function renderCsv(report: JsonReport): string {
  const lines = [['kind', ...OUTCOMES].join(',')];
  for (const [kind, row] of Object.entries(report.kinds)) lines.push([kind, ...OUTCOMES.map((outcome) => row[outcome])].join(','));
  lines.push(['total', ...OUTCOMES.map((outcome) => report.totals[outcome])].join(','));
  return `${lines.join('\n')}\n`;
}

function renderTable(report: JsonReport): string {
  const columns = columnsFor(report.mode);
  const header = ['kind', ...columns.map((column) => column.replace('_', ' '))];
  const rows = Object.entries(report.kinds).map(([kind, row]) => [kind, ...columns.map((column) => String(row[column]))]);
  rows.push(['total', ...columns.map((column) => String(report.totals[column]))]);
  const widths = header.map((title, index) => Math.max(title.length, ...rows.map((row) => row[index]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, index) => (index === 0 ? cell.padEnd(widths[index]!) : cell.padStart(widths[index]!))).join('  ');
  const title = report.mode === 'dry-run' ? 'Dry run: nothing was changed' : `Run ${report.runId ?? ''}`.trim();
  const out = [
    chalk.bold(`${title} · window [${report.window.from}, ${report.window.to}) in ${report.chunks} chunk(s)`),
    chalk.dim(line(header)),
    ...rows.slice(0, -1).map(line),
    chalk.bold(line(rows.at(-1)!)),
  ];
  const bytes = report.mode === 'dry-run' ? report.bytes.toPushKnown : report.bytes.delivered;
  out.push(`${report.mode === 'dry-run' ? 'bytes to push (known before download)' : 'bytes delivered'}: ${formatBytes(bytes)}`);
  for (const reason of report.incomplete) out.push(chalk.yellow(`listing incomplete: ${reason}`));
  if (report.stopped) out.push(chalk.red(`stopped: ${report.stopped}`));
  for (const failure of report.failures.slice(0, 5)) out.push(chalk.red(`failed ${failure.key} → ${failure.destination}: ${failure.reason}`));
  if (report.failures.length > 5) out.push(chalk.red(`… and ${report.totals.failed - 5} more failures; see \`zcc-reconcile status\``));
  return `${out.join('\n')}\n`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** What a failing cron run prints to stderr: short, with the first failures and where to see the rest. */
export function failureSummary(result: RunResult): string {
  const report = toJsonReport(result);
  const counts = Object.entries(report.kinds)
    .filter(([, row]) => row.seen > 0)
    .map(([kind, row]) => `${kind} ${row.delivered} delivered/${row.failed} failed/${row.pending} pending`)
    .join('; ');
  const lines = [`zcc-reconcile: run ${report.runId ?? ''} exit ${report.exitCode}: ${counts || 'nothing listed'}`];
  if (report.stopped) lines.push(`  stopped: ${report.stopped}`);
  for (const reason of report.incomplete.slice(0, 3)) lines.push(`  listing incomplete: ${reason}`);
  for (const failure of report.failures.slice(0, 5)) lines.push(`  failed ${failure.key} → ${failure.destination}: ${failure.reason}`);
  lines.push('  see `zcc-reconcile status` for the rest');
  return `${lines.join('\n')}\n`;
}
