// Renderings of a run's (or dry run's) result: a table for people, JSON (docs/schemas/run-report.schema.json) and a
// per-artifact CSV streamed from the run's events for scripts, and the short stderr summary of a failing cron run.
import chalk from 'chalk';
import { ARTIFACT_KINDS } from './artifacts.js';
import { CredentialsRefusedError } from './errors.js';
import type { RunEvent, RunResult } from './run.js';
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
  // Added within schema version 1 (older readers ignore them).
  interrupted: boolean;
  /** How many artifact × destination failures there were; `failures` lists at most 100 of them. */
  failuresTotal: number;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
}

export interface ReportTiming {
  startedAt: Date;
  finishedAt: Date;
}

export function toJsonReport(result: RunResult, timing?: ReportTiming): JsonReport {
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
    interrupted: result.interrupted,
    failuresTotal: result.tally.total('failed'),
    startedAt: timing?.startedAt.toISOString() ?? null,
    finishedAt: timing?.finishedAt.toISOString() ?? null,
    durationMs: timing ? timing.finishedAt.getTime() - timing.startedAt.getTime() : null,
  };
}

/** The table or JSON report; CSV is per artifact and streamed by CsvReportWriter while the run goes. */
export function renderReport(result: RunResult, format: Exclude<ReportFormat, 'csv'>, timing?: ReportTiming): string {
  const report = toJsonReport(result, timing);
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  return renderTable(report);
}

export const CSV_COLUMNS = ['kind', 'key', 'engagement_id', 'destination', 'size', 'action', 'reason'] as const;

/**
 * One CSV row per artifact × destination, written as the run decides or delivers it, so memory does not grow with
 * the window. `action` is unchanged, to_push, delivered, pending, not_available, failed or gave_up; `reason` says why
 * (new / changed / retry for pushes, the error for failures).
 */
export class CsvReportWriter {
  private started = false;
  /** Why each in-flight push was queued, until its result arrives (bounded by the run's backpressure). */
  private readonly queuedReasons = new Map<string, string>();

  constructor(private readonly write: (text: string) => void) {}

  onEvent(event: RunEvent): void {
    this.header();
    if (event.type === 'queued') {
      this.queuedReasons.set(`${event.destination}\0${event.key}`, event.reason);
      return;
    }
    if (event.type !== 'artifact') return;
    const id = `${event.destination}\0${event.key}`;
    const queued = this.queuedReasons.get(id);
    this.queuedReasons.delete(id);
    const reason = event.reason ?? (event.action === 'delivered' ? (queued ?? null) : null);
    const cells = [event.kind, event.key, event.engagementId ?? '', event.destination, event.size ?? '', event.action, reason ?? ''];
    this.write(`${cells.map(csvCell).join(',')}\n`);
  }

  /** Written before the first row, and alone when the run decided nothing, so the output is always a valid CSV. */
  header(): void {
    if (this.started) return;
    this.started = true;
    this.write(`${CSV_COLUMNS.join(',')}\n`);
  }
}

function csvCell(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function columnsFor(mode: string): Outcome[] {
  return mode === 'dry-run'
    ? ['seen', 'unchanged', 'to_push', 'failing', 'pending', 'not_available', 'failed', 'gave_up']
    : ['seen', 'unchanged', 'delivered', 'pending', 'not_available', 'failed', 'gave_up'];
}

const COLOUR: Partial<Record<Outcome, (text: string) => string>> = {
  delivered: chalk.green,
  to_push: chalk.cyan,
  pending: chalk.yellow,
  failing: chalk.yellow,
  failed: chalk.red,
  gave_up: chalk.red,
};

function renderTable(report: JsonReport): string {
  const columns = columnsFor(report.mode);
  const header = ['kind', ...columns.map((column) => column.replace('_', ' '))];
  const rows = Object.entries(report.kinds).map(([kind, row]) => [kind, ...columns.map((column) => row[column])]);
  const total = ['total', ...columns.map((column) => report.totals[column])];
  const widths = header.map((title, index) => Math.max(title.length, ...[...rows, total].map((row) => String(row[index]).length)));
  // Pad first, colour after: ANSI codes must not count towards the width.
  const cell = (value: string | number | undefined, index: number) => {
    const text = index === 0 ? String(value).padEnd(widths[index]!) : String(value).padStart(widths[index]!);
    if (index === 0) return text;
    if (value === 0) return chalk.dim(text);
    return COLOUR[columns[index - 1]!]?.(text) ?? text;
  };
  const line = (cells: (string | number | undefined)[]) => cells.map(cell).join('  ');
  const title = report.mode === 'dry-run' ? 'Dry run: nothing was changed' : `${report.mode === 'backfill' ? 'Backfill' : 'Run'} ${report.runId ?? ''}`.trim();
  const took = report.durationMs === null ? '' : ` · ${formatDuration(report.durationMs)}`;
  const out = [
    chalk.bold(`${title} · window [${report.window.from}, ${report.window.to}) in ${report.chunks} chunk(s)${took}`),
    chalk.dim(header.map((title, index) => (index === 0 ? title.padEnd(widths[index]!) : title.padStart(widths[index]!))).join('  ')),
    ...rows.map(line),
    chalk.bold(line(total)),
  ];
  const bytes = report.mode === 'dry-run' ? report.bytes.toPushKnown : report.bytes.delivered;
  out.push(`${report.mode === 'dry-run' ? 'bytes to push (known before download)' : 'bytes delivered'}: ${formatBytes(bytes)}`);
  for (const reason of report.incomplete) out.push(chalk.yellow(`listing incomplete: ${reason}`));
  if (report.stopped) out.push(chalk.red(`stopped: ${report.stopped}`));
  for (const failure of report.failures.slice(0, 5)) out.push(chalk.red(`failed ${failure.key} → ${failure.destination}: ${failure.reason}`));
  if (report.failuresTotal > 5) out.push(chalk.red(`… and ${report.failuresTotal - 5} more failures; see \`zcc-reconcile status\``));
  out.push(verdict(report));
  return `${out.join('\n')}\n`;
}

function verdict(report: JsonReport): string {
  if (report.interrupted) return chalk.yellow('✗ interrupted: the next run completes it');
  if (report.exitCode === 3) return chalk.red('✗ exit 3: Zoom could not be used or a listing did not complete; nothing lost, the next run covers it');
  if (report.exitCode === 1) return chalk.red(`✗ exit 1: ${report.failuresTotal} failed; they are retried by the next run`);
  return chalk.green(report.mode === 'dry-run' ? '✓ plan complete' : '✓ everything in the window is delivered, pending or not available');
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** What a failing cron run prints to stderr: short, with the first failures and where to see the rest. */
export function failureSummary(result: RunResult): string {
  const report = toJsonReport(result);
  const counts = Object.entries(report.kinds)
    .filter(([, row]) => row.seen > 0)
    .map(([kind, row]) => `${kind} ${row.delivered} delivered/${row.failed} failed/${row.pending} pending`)
    .join('; ');
  // A dry run is not recorded: no run id, and `status` has nothing about it.
  const dryRun = report.mode === 'dry-run';
  const which = dryRun ? 'dry run' : report.runId === null ? 'run' : `run ${report.runId}`;
  if (result.stopped instanceof CredentialsRefusedError) {
    // One line: what to check is all that matters, and Zoom does not say which of the three is wrong.
    return `zcc-reconcile: ${which} exit ${report.exitCode}: ${report.stopped}${counts ? ` (before that: ${counts})` : ''}\n`;
  }
  const lines = [`zcc-reconcile: ${which} exit ${report.exitCode}: ${counts || 'nothing listed'}`];
  if (report.stopped) lines.push(`  stopped: ${report.stopped}`);
  for (const reason of report.incomplete.slice(0, 3)) lines.push(`  listing incomplete: ${reason}`);
  for (const failure of report.failures.slice(0, 5)) lines.push(`  failed ${failure.key} → ${failure.destination}: ${failure.reason}`);
  if (!dryRun) lines.push('  see `zcc-reconcile status` for the rest');
  return `${lines.join('\n')}\n`;
}
