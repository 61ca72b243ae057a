// `verify`: re-checks delivered artifacts at their destinations against the ledger (exists, size, sha256 streamed),
// like `rclone check`; `--repair` re-queues what is missing or different so the next run re-delivers exactly those.
// JSON shape: docs/schemas/verify-report.schema.json.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import chalk from 'chalk';
import pLimit from 'p-limit';
import { MEDIA_KINDS } from '../config-schema.js';
import type { Destination } from '../destinations/types.js';
import { ConfigError, UsageError } from '../errors.js';
import type { DeliveredCursor, DeliveredEntry, DeliveredFilter, Ledger } from '../ledger/types.js';
import { dateInZone, parseBound } from '../window.js';
import { createLogger, loadCommandConfig, openDestinationQuietly, parseKinds, type CommandContext } from './context.js';

export interface VerifyOptions {
  from?: string;
  to?: string;
  kinds?: string;
  destination?: string;
  repair?: boolean;
  sizeOnly?: boolean;
  format: 'table' | 'json';
}

export type Problem = 'missing' | 'differs' | 'error';

export interface VerifyProblem {
  key: string;
  destination: string;
  problem: Problem;
  detail: string;
  location: string | null;
}

export interface VerifyReport {
  schemaVersion: number;
  repair: boolean;
  sizeOnly: boolean;
  filter: { from: string | null; to: string | null; kinds: string[] | null; destinations: string[] | null };
  checked: number;
  ok: number;
  missing: number;
  differs: number;
  errors: number;
  /** Entries for destinations no longer in the config. */
  skipped: number;
  requeued: number;
  exitCode: number;
  problems: VerifyProblem[];
  problemsTotal: number;
}

const PAGE = 200;
const MAX_LISTED_PROBLEMS = 1000;
const MARK: Record<Problem, string> = { missing: '-', differs: '*', error: '!' };

export async function verifyCommand(options: VerifyOptions, context: CommandContext): Promise<number> {
  const kinds = parseKinds(options.kinds);
  const { config } = await loadCommandConfig(context);
  const timezone = config.zoom.timezone;
  if (options.to && !options.from) throw new UsageError('--from is required with --to');
  const from = options.from ? parseBound(options.from, 'from', timezone) : undefined;
  const to = options.to ? parseBound(options.to, 'to', timezone) : undefined;
  if (from && to && from >= to) throw new UsageError(`--from ${options.from} is not before --to ${options.to}`);
  const names = options.destination?.split(',').map((name) => name.trim()).filter(Boolean);
  const configured = new Map(config.destinations.map((destination) => [destination.name, destination]));
  // An empty value (an unset variable in a script) would otherwise check nothing and report that all is well.
  if (names !== undefined && names.length === 0) {
    throw new ConfigError('--destination', options.destination, `one or more of the configured destinations (${[...configured.keys()].join(', ')})`);
  }
  for (const name of names ?? []) {
    if (!configured.has(name)) throw new ConfigError('--destination', name, `one of the configured destinations (${[...configured.keys()].join(', ')})`);
  }
  const filter: DeliveredFilter = { destinations: names, kinds, from: from?.toISOString(), to: to?.toISOString() };

  const { SqliteLedger } = await import('../ledger/sqlite.js');
  // Without a ledger there is nothing to verify or repair, and no reason to create one.
  const writable = options.repair === true && existsSync(config.ledger.path);
  let ledger: Ledger;
  try {
    ledger = SqliteLedger.open(config.ledger.path, { readonly: !writable });
  } catch (error) {
    throw new ConfigError('ledger.path', config.ledger.path, `a readable zcc-reconcile ledger (${(error as Error).message})`);
  }
  const logger = createLogger(context);
  const destinations = new Map<string, Destination>();
  let locked = false;
  try {
    // Repair writes to the ledger, so it takes the run lock like a run does (exit 4 while one is going).
    if (writable) {
      ledger.acquireRunLock({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString() });
      locked = true;
    }
    for (const destination of config.destinations) {
      if (!names || names.includes(destination.name)) destinations.set(destination.name, await openDestinationQuietly(destination));
    }
    const report: VerifyReport = {
      schemaVersion: 1,
      repair: options.repair === true,
      sizeOnly: options.sizeOnly === true,
      filter: { from: filter.from ?? null, to: filter.to ?? null, kinds: kinds ?? null, destinations: names ?? null },
      checked: 0, ok: 0, missing: 0, differs: 0, errors: 0, skipped: 0, requeued: 0, exitCode: 0,
      problems: [],
      problemsTotal: 0,
    };
    logger.write({ level: 'info', event: 'verify_start', filter: report.filter, repair: report.repair });
    const table = options.format === 'table';
    const limit = pLimit(config.concurrency);
    let after: DeliveredCursor | null = null;
    for (;;) {
      const page = ledger.deliveredPage(filter, after, PAGE);
      if (page.length === 0) break;
      after = page.at(-1)!;
      const found = await Promise.all(page.map((entry) => limit(() => checkEntry(entry, destinations.get(entry.destination), timezone, report.sizeOnly))));
      const requeue: { destination: string; key: string; reason: string }[] = [];
      found.forEach((result, index) => {
        const entry = page[index]!;
        if (result === 'skipped') {
          report.skipped++;
          return;
        }
        report.checked++;
        if (result === null) {
          report.ok++;
          if (table && context.global.verbose) context.out(`= ${entry.key} → ${entry.destination}\n`);
          return;
        }
        report[result.problem === 'error' ? 'errors' : result.problem]++;
        report.problemsTotal++;
        if (report.problems.length < MAX_LISTED_PROBLEMS) report.problems.push(result);
        if (table) context.out(`${MARK[result.problem]} ${entry.key} → ${entry.destination}: ${result.detail}\n`);
        logger.write({ level: 'warn', event: 'verify_problem', ...result });
        if (result.problem !== 'error') requeue.push({ destination: entry.destination, key: entry.key, reason: `verify: ${result.detail}` });
      });
      if (writable && requeue.length > 0) report.requeued += ledger.requeueDeliveries(requeue, new Date().toISOString());
    }
    report.exitCode = report.problemsTotal > 0 ? 1 : 0;
    logger.write({ level: report.exitCode ? 'warn' : 'info', event: 'verify_end', ...counts(report) });
    // --quiet: nothing on success (as --help says); a JSON report is asked for, so it is always written.
    if (!(table && context.global.quiet && report.exitCode === 0)) context.out(table ? renderSummary(report) : `${JSON.stringify(report, null, 2)}\n`);
    return report.exitCode;
  } finally {
    await Promise.allSettled([...destinations.values()].map((destination) => destination.close()));
    if (locked) ledger.releaseRunLock();
    ledger.close();
    await logger.close();
  }
}

/** null when the stored copy matches the ledger; 'skipped' for a destination no longer configured. */
async function checkEntry(
  entry: DeliveredEntry,
  destination: Destination | undefined,
  timezone: string,
  sizeOnly: boolean,
): Promise<VerifyProblem | null | 'skipped'> {
  if (!destination) return 'skipped';
  const problem = (kind: Problem, detail: string): VerifyProblem => ({
    key: entry.key,
    destination: entry.destination,
    problem: kind,
    detail,
    location: entry.location,
  });
  const { artifact } = entry;
  if (!artifact || entry.location === null) return problem('error', 'the ledger has no descriptor or location for this delivery');
  try {
    const stored = await destination.stat({
      key: artifact.key,
      kind: artifact.kind,
      engagementId: artifact.engagementId,
      date: dateInZone(artifact.occurredAt, timezone),
      extension: artifact.extension,
    });
    if ((!stored || stored.location !== entry.location) && !destination.rendersText) {
      // The address above takes its date from today's zoom.timezone; a copy delivered under another one is where the
      // ledger says. Read there, it is judged by its bytes rather than called missing (and re-delivered by --repair).
      const recorded = await readBack(destination, entry.location);
      if (recorded) {
        if (entry.size !== null && recorded.size !== entry.size) return problem('differs', `size ${recorded.size}, the ledger says ${entry.size}`);
        if (sizeOnly || entry.sha256 === null || recorded.sha256 === entry.sha256) return null;
        return problem('differs', `sha256 ${recorded.sha256.slice(0, 12)}…, the ledger says ${entry.sha256.slice(0, 12)}…`);
      }
    }
    if (!stored) return problem('missing', `missing at ${entry.location}`);
    // A CRM keeps text as rendered for agents, and a link in place of a file: there, being there is the check.
    if (destination.rendersText && (!(MEDIA_KINDS as readonly string[]).includes(artifact.kind) || entry.size === 0)) {
      return stored.location === entry.location ? null : problem('differs', `stored at ${stored.location}, the ledger says ${entry.location}`);
    }
    if (stored.location !== entry.location) return problem('differs', `stored at ${stored.location}, the ledger says ${entry.location}`);
    if (entry.size !== null && stored.size !== entry.size) return problem('differs', `size ${stored.size}, the ledger says ${entry.size}`);
    if (sizeOnly || entry.sha256 === null) return null;
    const { sha256 } = await hashStored(destination, entry.location);
    return sha256 === entry.sha256 ? null : problem('differs', `sha256 ${sha256.slice(0, 12)}…, the ledger says ${entry.sha256.slice(0, 12)}…`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return problem('missing', `missing at ${entry.location}`);
    return problem('error', (error as Error).message);
  }
}

/** The size and sha256 of what is stored at `location`, read back as it streams. */
async function hashStored(destination: Destination, location: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of await destination.read(location)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

/** hashStored, or null when nothing can be read at `location`. */
async function readBack(destination: Destination, location: string): Promise<{ size: number; sha256: string } | null> {
  return hashStored(destination, location).catch(() => null);
}

function counts(report: VerifyReport) {
  const { checked, ok, missing, differs, errors, skipped, requeued } = report;
  return { checked, ok, missing, differs, errors, skipped, requeued };
}

function renderSummary(report: VerifyReport): string {
  const lines: string[] = [];
  const what = report.sizeOnly ? 'exists and size' : 'exists, size and sha256';
  lines.push(
    chalk.bold(`Verified ${report.checked} delivered artifact(s) (${what}): `) +
      `${chalk.green(`${report.ok} match`)} · ` +
      `${report.missing ? chalk.red(`${report.missing} missing`) : '0 missing'} · ` +
      `${report.differs ? chalk.red(`${report.differs} differ`) : '0 differ'} · ` +
      `${report.errors ? chalk.red(`${report.errors} could not be checked`) : '0 errors'}` +
      (report.skipped ? chalk.dim(` · ${report.skipped} skipped (destination no longer configured)`) : ''),
  );
  if (report.repair) {
    lines.push(report.requeued ? chalk.yellow(`re-queued ${report.requeued}: the next \`zcc-reconcile run\` delivers them again`) : 'nothing to re-queue');
  } else if (report.missing + report.differs > 0) {
    lines.push(chalk.yellow('run `zcc-reconcile verify --repair` to re-queue them for the next run'));
  }
  return `${lines.join('\n')}\n`;
}
