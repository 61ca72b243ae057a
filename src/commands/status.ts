// `status`: what the ledger knows, read-only: the last runs, what keeps failing, what never arrived, how big it is, and
// per day what came through events and what the nightly run had to catch. JSON shape: docs/schemas/status.schema.json.
import chalk from 'chalk';
import { existsSync } from 'node:fs';
import { Duration } from 'luxon';
import { OUTCOMES, type Outcome } from '../tally.js';
import type { Ledger, LedgerSummary, RunRecord } from '../ledger/types.js';
import { ConfigError, UsageError } from '../errors.js';
import { formatBytes, formatDuration } from '../report.js';
import { loadCommandConfig, parsePositiveInt, type CommandContext } from './context.js';
import { readRealtime, renderRealtime, type RealtimeView } from './status-realtime.js';
import { shortTime, table, truncate } from './text-table.js';

export interface StatusOptions {
  format: 'table' | 'json';
  runs: string;
  failing: string;
  pendingOlderThan: string;
  /** Days of the real-time view (events vs. the nightly run, WebSocket gaps). */
  days: string;
}

export const STATUS_SCHEMA_VERSION = 1;

export interface StatusReport {
  schemaVersion: number;
  generatedAt: string;
  ledger: { path: string; exists: boolean; sizeBytes: number | null; schemaVersion: number | null };
  runLock: { pid: number; host: string; startedAt: string } | null;
  summary: Omit<LedgerSummary, 'byKind'>;
  byKind: LedgerSummary['byKind'];
  runs: {
    id: number;
    mode: string;
    window: { from: string; to: string };
    startedAt: string;
    finishedAt: string | null;
    durationMs: number | null;
    outcome: string;
    listingComplete: boolean;
    bytes: number;
    counts: Record<string, Partial<Record<Outcome, number>>>;
    totals: Partial<Record<Outcome, number>>;
  }[];
  failing: {
    total: number;
    maxAttempts: number;
    items: { destination: string; key: string; kind: string; attempts: number; gaveUp: boolean; lastError: string | null; lastAttemptAt: string | null }[];
  };
  stalePending: {
    threshold: string;
    olderThan: string;
    total: number;
    items: { key: string; kind: string; engagementId: string; listedAt: string; pendingSince: string }[];
  };
  realtime: RealtimeView;
}

export async function statusCommand(options: StatusOptions, context: CommandContext): Promise<number> {
  const runs = parsePositiveInt('--runs', options.runs);
  const failingLimit = parsePositiveInt('--failing', options.failing);
  const days = parsePositiveInt('--days', options.days);
  const threshold = Duration.fromISO(options.pendingOlderThan);
  if (!threshold.isValid) {
    throw new UsageError(`--pending-older-than ${JSON.stringify(options.pendingOlderThan)} is not valid: expected an ISO-8601 duration such as P1D or PT12H`);
  }
  const { config } = await loadCommandConfig(context);
  const { SqliteLedger } = await import('../ledger/sqlite.js');
  const file = config.ledger.path;
  let ledger: Ledger;
  try {
    ledger = SqliteLedger.open(file, { readonly: true });
  } catch (error) {
    throw new ConfigError('ledger.path', file, `a readable zcc-reconcile ledger (${(error as Error).message})`);
  }
  try {
    const now = new Date();
    const report = buildStatus(ledger, {
      file,
      exists: existsSync(file),
      now,
      runs,
      days,
      failingLimit,
      maxAttempts: config.maxAttempts,
      threshold: options.pendingOlderThan,
      olderThan: new Date(now.getTime() - threshold.toMillis()),
    });
    // The ledger keeps errors as destinations said them; they are redacted whole here, before the table cuts them short
    // (a secret cut in half no longer matches the redactor on the way out).
    for (const item of report.failing.items) if (item.lastError !== null) item.lastError = context.redact(item.lastError);
    context.out(options.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report));
    return 0;
  } finally {
    ledger.close();
  }
}

function buildStatus(
  ledger: Ledger,
  o: { file: string; exists: boolean; now: Date; runs: number; days: number; failingLimit: number; maxAttempts: number; threshold: string; olderThan: Date },
): StatusReport {
  const { byKind, ...summary } = ledger.ledgerSummary(o.maxAttempts);
  const failing = ledger.failingDeliveries(o.failingLimit);
  const pending = ledger.stalePending(o.olderThan.toISOString(), o.failingLimit);
  return {
    schemaVersion: STATUS_SCHEMA_VERSION,
    generatedAt: o.now.toISOString(),
    ledger: { path: o.file, exists: o.exists, sizeBytes: ledger.storageBytes(), schemaVersion: o.exists ? ledger.schemaInfo().version : null },
    runLock: ledger.runLockHolder(),
    summary,
    byKind,
    runs: ledger.recentRuns(o.runs).map(runView),
    failing: {
      total: failing.total,
      maxAttempts: o.maxAttempts,
      items: failing.items.map((item) => ({ ...item, gaveUp: item.attempts >= o.maxAttempts })),
    },
    stalePending: { threshold: o.threshold, olderThan: o.olderThan.toISOString(), ...pending },
    realtime: readRealtime(ledger, o.now, o.days),
  };
}

function runView(run: RunRecord): StatusReport['runs'][number] {
  const totals: Partial<Record<Outcome, number>> = {};
  for (const counts of Object.values(run.counts)) {
    for (const [outcome, n] of Object.entries(counts) as [Outcome, number][]) totals[outcome] = (totals[outcome] ?? 0) + n;
  }
  return {
    id: run.id,
    mode: run.mode,
    window: { from: run.windowFrom, to: run.windowTo },
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    durationMs: run.finishedAt ? Date.parse(run.finishedAt) - Date.parse(run.startedAt) : null,
    outcome: run.outcome,
    listingComplete: run.listingComplete,
    bytes: run.bytes,
    counts: run.counts as Record<string, Partial<Record<Outcome, number>>>,
    totals,
  };
}

const OUTCOME_COLOUR: Record<string, (text: string) => string> = {
  ok: chalk.green,
  failed: chalk.yellow,
  incomplete: chalk.red,
  crashed: chalk.red,
  interrupted: chalk.yellow,
  running: chalk.cyan,
};

function renderStatus(report: StatusReport): string {
  const out: string[] = [];
  const { ledger, summary } = report;
  if (!ledger.exists) {
    out.push(chalk.yellow(`No ledger yet at ${ledger.path}: the first \`zcc-reconcile run\` creates it.`));
    return `${out.join('\n')}\n`;
  }
  out.push(chalk.bold(`Ledger ${ledger.path}`) + chalk.dim(` · ${formatBytes(ledger.sizeBytes ?? 0)} · schema v${ledger.schemaVersion}`));
  if (report.runLock) out.push(chalk.cyan(`A run holds the ledger: pid ${report.runLock.pid} on ${report.runLock.host} since ${report.runLock.startedAt}`));
  out.push(
    `Artifacts ${summary.artifacts}: ${chalk.green(`delivered ${summary.delivered}`)} · ` +
      `${summary.failing ? chalk.red(`failing ${summary.failing}`) : 'failing 0'} · ` +
      `${summary.gaveUp ? chalk.red(`gave up ${summary.gaveUp}`) : 'gave up 0'} · ` +
      `${summary.pending ? chalk.yellow(`pending ${summary.pending}`) : 'pending 0'} · not available ${summary.notAvailable}`,
  );

  out.push('', chalk.bold(`Last ${report.runs.length} run(s)`));
  if (report.runs.length === 0) out.push(chalk.dim('  none yet'));
  else {
    const rows = report.runs.map((run) => [
      String(run.id),
      run.mode,
      `${shortTime(run.window.from)} → ${shortTime(run.window.to)}`,
      shortTime(run.startedAt),
      run.durationMs === null ? '–' : formatDuration(run.durationMs),
      run.outcome,
      String(run.totals.delivered ?? 0),
      String(run.totals.unchanged ?? 0),
      String(run.totals.pending ?? 0),
      String(run.totals.failed ?? 0),
    ]);
    out.push(...table(['id', 'mode', 'window', 'started', 'took', 'outcome', 'delivered', 'unchanged', 'pending', 'failed'], rows, (row, text, column) =>
      column === 5 ? (OUTCOME_COLOUR[row[5]!] ?? ((t: string) => t))(text) : column === 9 && row[9] !== '0' ? chalk.red(text) : text,
    ));
    const latest = report.runs[0]!;
    const kinds = Object.entries(latest.counts);
    if (kinds.length > 0) {
      const columns = OUTCOMES.filter((outcome) => kinds.some(([, counts]) => (counts[outcome] ?? 0) > 0));
      out.push('', chalk.bold(`Run ${latest.id} by kind`));
      out.push(...table(['kind', ...columns.map((c) => c.replace('_', ' '))], kinds.map(([kind, counts]) => [kind, ...columns.map((c) => String(counts[c] ?? 0))])));
    }
  }

  const { failing } = report;
  out.push('', chalk.bold(`Failing artifacts: ${failing.total}`) + chalk.dim(` (retried by every run until ${failing.maxAttempts} attempts)`));
  if (failing.items.length === 0) out.push(chalk.dim('  none'));
  else {
    out.push(...table(['key', 'destination', 'attempts', 'last error'], failing.items.map((item) => [
      item.key, item.destination, `${item.attempts}${item.gaveUp ? ' (gave up)' : ''}`, truncate(item.lastError ?? '', 160),
    ]), (_row, text, column) => (column === 3 ? chalk.red(text) : text)));
    if (failing.total > failing.items.length) out.push(chalk.dim(`  … and ${failing.total - failing.items.length} more (--failing N shows more)`));
  }

  const { stalePending: pending } = report;
  out.push('', chalk.bold(`Pending longer than ${pending.threshold}: ${pending.total}`) + chalk.dim(' (a transcript or recording that has not arrived)'));
  if (pending.items.length === 0) out.push(chalk.dim('  none'));
  else {
    out.push(...table(['key', 'engagement', 'listed', 'pending since'], pending.items.map((item) => [
      item.key, item.engagementId, shortTime(item.listedAt), shortTime(item.pendingSince),
    ])));
    if (pending.total > pending.items.length) out.push(chalk.dim(`  … and ${pending.total - pending.items.length} more`));
  }

  out.push('', ...renderRealtime(report.realtime));
  return `${out.join('\n')}\n`;
}
