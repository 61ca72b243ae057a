// Commander wiring only: parse, call, print, and map error classes to exit codes in one place.
import { Command, CommanderError, Option } from 'commander';
import { ARTIFACT_KINDS, isArtifactKind, type ArtifactKind } from './artifacts.js';
import { ConfigError, LedgerLockedError, UsageError, ZoomUnavailableError } from './errors.js';
import { redactor } from './redact.js';
import type { ReportFormat } from './report.js';
import type { RunEvent, RunResult } from './run.js';

interface GlobalOptions {
  config?: string;
  quiet?: boolean;
  verbose?: boolean;
  logFormat: 'text' | 'json';
}

interface RunOptions {
  from?: string;
  to?: string;
  dryRun?: boolean;
  kinds?: string;
  format?: ReportFormat;
}

const VERSION = '0.1.0';

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const redact = redactor(env);
  const out = (text: string) => process.stdout.write(redact(text));
  const err = (text: string) => process.stderr.write(redact(text));
  let exitCode = 0;
  const program = new Command('zcc-reconcile')
    .description('Reconcile Zoom Contact Center engagement data into your systems of record.')
    .version(VERSION)
    .option('--config <path>', 'config file (default ./zcc-reconcile.json, then $XDG_CONFIG_HOME/zcc-reconcile/config.json)')
    .option('--quiet', 'print nothing on success')
    .option('--verbose', 'print each chunk and artifact as it is handled (stderr)')
    .addOption(new Option('--log-format <format>', 'format of --verbose lines').choices(['text', 'json']).default('text'))
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: err });

  program
    .command('run')
    .description('reconcile a window: list Zoom, diff with the ledger, push what is missing')
    .option('--from <date>', 'window start (ISO date or date-time; a bare date is that day in zoom.timezone)')
    .option('--to <date>', 'window end, exclusive (a bare date includes that whole day)')
    .option('--dry-run', 'report what would be pushed; change nothing')
    .option('--kinds <list>', `comma-separated kinds (${ARTIFACT_KINDS.join(', ')})`)
    .addOption(new Option('--format <format>', 'report format').choices(['table', 'json', 'csv']))
    .addHelpText(
      'after',
      `
Examples:
  $ zcc-reconcile run                                   # nightly: the default window, quiet under cron
  $ zcc-reconcile run --from 2026-01-01 --to 2026-03-31 # backfill; resumable
  $ zcc-reconcile run --dry-run --format json           # what would be pushed`,
    )
    .action(async (options: RunOptions) => {
      exitCode = await runCommand(options, program.opts<GlobalOptions>(), env, out, err);
    });

  program
    .command('demo')
    .description('a full run against the built-in ZCC sandbox, into ./demo/')
    .addOption(new Option('--format <format>', 'report format').choices(['table', 'json', 'csv']).default('table'))
    .action(async (options: { format: ReportFormat }) => {
      const { runDemo } = await import('./demo.js');
      const result = await runDemo({ cwd: process.cwd(), onEvent: eventPrinter(program.opts<GlobalOptions>(), err) });
      const { renderReport } = await import('./report.js');
      out(renderReport(result.run, options.format));
      if (options.format === 'table') out(`${result.summary}\n`);
      exitCode = result.run.exitCode;
    });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    return exitCodeFor(error, err);
  }
}

async function runCommand(
  options: RunOptions,
  global: GlobalOptions,
  env: NodeJS.ProcessEnv,
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  const { findConfigFile, loadConfig, readZoomSecrets } = await import('./config.js');
  const kinds = parseKinds(options.kinds);
  const { config } = loadConfig(findConfigFile(global.config, env, process.cwd()), process.cwd());
  const secrets = readZoomSecrets(env);
  const controller = new AbortController();
  let signal: 'SIGINT' | 'SIGTERM' | null = null;
  const stop = (name: 'SIGINT' | 'SIGTERM') => () => {
    signal ??= name;
    controller.abort();
  };
  const onInt = stop('SIGINT');
  const onTerm = stop('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  let result: RunResult;
  try {
    const { runReconciliation } = await import('./run.js');
    result = await runReconciliation({
      config,
      secrets,
      dryRun: options.dryRun,
      from: options.from,
      to: options.to,
      kinds,
      signal: controller.signal,
      onEvent: eventPrinter(global, err),
    });
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  const { renderReport, failureSummary } = await import('./report.js');
  const showReport = options.format !== undefined || (!global.quiet && process.stdout.isTTY === true);
  if (showReport) out(renderReport(result, options.format ?? 'table'));
  if (signal) {
    err(`zcc-reconcile: stopped by ${signal}; the run is recorded as interrupted and the next run completes it\n`);
    return signal === 'SIGINT' ? 130 : 143;
  }
  if (result.exitCode !== 0) err(failureSummary(result));
  return result.exitCode;
}

function parseKinds(text: string | undefined): ArtifactKind[] | undefined {
  if (text === undefined) return undefined;
  const kinds = text.split(',').map((kind) => kind.trim()).filter(Boolean);
  const bad = kinds.find((kind) => !isArtifactKind(kind));
  if (bad !== undefined || kinds.length === 0) {
    throw new UsageError(`--kinds ${JSON.stringify(bad ?? text)} is not a kind: expected a comma-separated list of ${ARTIFACT_KINDS.join(', ')}`);
  }
  return kinds as ArtifactKind[];
}

function eventPrinter(global: GlobalOptions, err: (text: string) => void): ((event: RunEvent) => void) | undefined {
  if (!global.verbose && global.logFormat !== 'json') return undefined;
  return (event) => {
    if (global.logFormat === 'json') {
      err(`${JSON.stringify({ time: new Date().toISOString(), event: event.type, ...event, type: undefined })}\n`);
      return;
    }
    switch (event.type) {
      case 'window':
        err(`${event.mode} window [${event.window.from.toISOString()}, ${event.window.to.toISOString()}) in ${event.chunks} chunk(s)\n`);
        break;
      case 'chunk':
        err(`${event.state} ${event.source} ${event.chunk}${event.reason ? `: ${event.reason}` : ''}\n`);
        break;
      case 'delivered':
        err(`+ ${event.key} → ${event.destination} (${event.size} bytes)\n`);
        break;
      case 'failed':
        err(`! ${event.key} → ${event.destination}: ${event.reason}\n`);
        break;
    }
  };
}

function exitCodeFor(error: unknown, err: (text: string) => void): number {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
    return 2;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ConfigError || error instanceof UsageError) {
    err(`zcc-reconcile: ${message}\n`);
    return 2;
  }
  if (error instanceof ZoomUnavailableError) {
    err(`zcc-reconcile: ${message}\n`);
    return 3;
  }
  if (error instanceof LedgerLockedError) {
    err(`zcc-reconcile: ${message}\n`);
    return 4;
  }
  err(`zcc-reconcile: unexpected error: ${message}\n`);
  return 1;
}
