// Commander wiring only: parse, hand each command to its module (loaded lazily, so --help stays fast), and map error
// classes to exit codes in one place.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ARTIFACT_KINDS } from './artifacts.js';
import { jsonLogsOnStderr, type CommandContext, type GlobalOptions } from './commands/context.js';
import type { DoctorOptions } from './commands/doctor.js';
import type { DemoOptions, RunOptions } from './commands/run.js';
import type { StatusOptions } from './commands/status.js';
import type { VerifyOptions } from './commands/verify.js';
import { registerListen } from './commands/listen.js'; // listen (issue 9)
import { ConfigError, LedgerLockedError, UsageError, ZoomUnavailableError } from './errors.js';
import { redactor } from './redact.js';
import { loggedAsJson, Logger } from './logging.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const FORMAT = (choices: string[], fallback?: string) => {
  const option = new Option('--format <format>', 'output format').choices(choices);
  return fallback === undefined ? option : option.default(fallback);
};

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const secrets: string[] = [];
  const redact = redactor(env, () => secrets);
  const out = (text: string) => process.stdout.write(redact(text));
  const err = (text: string) => process.stderr.write(redact(text));
  let exitCode = 0;
  const program = new Command('zcc-reconcile')
    .description('Reconcile Zoom Contact Center engagement data into your systems of record.')
    .version(VERSION, '-V, --version', 'print the version')
    .option('--config <path>', 'config file (default ./zcc-reconcile.json, then $XDG_CONFIG_HOME/zcc-reconcile/config.json)')
    .option('--quiet', 'print nothing on success, and no progress')
    .option('--verbose', 'log each chunk, delivery and failure (stderr, or --log-file)')
    .addOption(new Option('--log-format <format>', 'log records as text lines or one JSON object per line').choices(['text', 'json']).default('text'))
    .option('--log-file <path>', 'append log records to this file instead of stderr')
    .option('--no-progress', 'never draw live progress (it is drawn only on a terminal anyway)')
    .exitOverride()
    .configureOutput({
      writeOut: out,
      writeErr: err,
      // Commander's own usage errors follow --log-format json like every other error line.
      outputError: (text, write) => {
        const global = program.opts<GlobalOptions>();
        if (jsonLogsOnStderr(global)) errorLine(global, err, redact, null)(text.trim().replace(/^error: /, ''));
        else write(text);
      },
    })
    .addHelpText(
      'after',
      `
Examples:
  $ zcc-reconcile run                               # nightly (cron): the default window, silent on success
  $ zcc-reconcile run --from 2026-01-01 --to 2026-03-31 --report-file backfill.html
  $ zcc-reconcile status                            # last runs, what keeps failing, what never arrived
  $ zcc-reconcile verify --repair                   # re-check stored files; re-queue what is missing or changed
  $ zcc-reconcile doctor                            # config, credentials, Zoom, destinations, ledger, disk
  $ zcc-reconcile --log-format json run 2>>zcc.log  # one JSON object per event for a log shipper

Exit codes: 0 fine · 1 some artifacts failed (retried next run) · 2 usage or config error · 3 Zoom could not
be used or a listing did not complete · 4 another run holds the ledger · 130/143 stopped by SIGINT/SIGTERM.`,
    );

  const context = (): CommandContext => ({
    global: program.opts<GlobalOptions>(),
    env,
    cwd: process.cwd(),
    out,
    err,
    redact,
    addSecrets: (values) => void secrets.push(...values),
    stdout: process.stdout,
    stderr: process.stderr,
  });

  program
    .command('run')
    .description('reconcile a window: list Zoom, diff with the ledger, push what is missing')
    .option('--from <date>', 'window start (ISO date or date-time; a bare date is that day in zoom.timezone)')
    .option('--to <date>', 'window end, exclusive (a bare date includes that whole day)')
    .option('--dry-run', 'report what would be pushed; change nothing')
    .option('--kinds <list>', `comma-separated kinds (${ARTIFACT_KINDS.join(', ')})`)
    .addOption(FORMAT(['table', 'json', 'csv']))
    .option('--report-file <path>', 'also write a self-contained HTML report of the run (charts, failures)')
    .addHelpText(
      'after',
      `
Output: on a terminal, live progress (stderr) and then a table (stdout); under cron nothing on success and a
short summary on stderr on failure. --format always prints the report: table, json (docs/schemas/
run-report.schema.json) or csv (one row per artifact: kind,key,engagement_id,destination,size,action,reason).

Examples:
  $ zcc-reconcile run                                   # nightly: the default window, quiet under cron
  $ zcc-reconcile run --from 2026-01-01 --to 2026-03-31 # backfill; resumable
  $ zcc-reconcile run --dry-run --format json           # what would be pushed
  $ zcc-reconcile run --dry-run --format csv > plan.csv # the plan, one row per artifact
  $ zcc-reconcile run --kinds note,disposition --report-file run.html`,
    )
    .action(async (options: RunOptions) => {
      const { runCommand } = await import('./commands/run.js');
      exitCode = await runCommand(options, context());
    });

  program
    .command('status')
    .description('the ledger, read-only: last runs, artifacts that keep failing, pending ones that never arrived, its size')
    .addOption(FORMAT(['table', 'json'], 'table'))
    .option('--runs <n>', 'how many recent runs to show', '10')
    .option('--failing <n>', 'how many failing (and stale pending) artifacts to list', '20')
    .option('--pending-older-than <duration>', 'list pending artifacts older than this ISO-8601 duration', 'P1D')
    .option('--days <n>', 'days of the real-time view: delivered via events, caught by the nightly run, WebSocket gaps', '7')
    .addHelpText(
      'after',
      `
Examples:
  $ zcc-reconcile status                              # a summary for people
  $ zcc-reconcile status --format json | jq .failing  # for scripts (docs/schemas/status.schema.json)
  $ zcc-reconcile status --runs 30 --pending-older-than PT12H
  $ zcc-reconcile status --days 30 --format json | jq .realtime.byDay   # how much the webhooks missed, per day`,
    )
    .action(async (options: StatusOptions) => {
      const { statusCommand } = await import('./commands/status.js');
      exitCode = await statusCommand(options, context());
    });

  program
    .command('verify')
    .description('re-check delivered artifacts at their destinations: exists, size, sha256 (like rclone check)')
    .option('--from <date>', 'only artifacts listed at or after this date (as for run)')
    .option('--to <date>', 'only artifacts listed before this date (exclusive; a bare date includes that day)')
    .option('--kinds <list>', `comma-separated kinds (${ARTIFACT_KINDS.join(', ')})`)
    .option('--destination <names>', 'only these destinations (comma-separated)')
    .option('--size-only', 'check existence and size only; do not read the files back')
    .option('--repair', 're-queue missing or different artifacts so that the next run delivers them again')
    .addOption(FORMAT(['table', 'json'], 'table'))
    .addHelpText(
      'after',
      `
Lines: "- key → destination" missing, "* key → destination" differs, "! key → destination" could not be checked
("= key" matches, with --verbose). Exit 0 when everything matches, 1 when something is missing or differs.

Examples:
  $ zcc-reconcile verify                                   # everything in the ledger
  $ zcc-reconcile verify --from 2026-11-01 --kinds recording --size-only
  $ zcc-reconcile verify --repair && zcc-reconcile run     # re-deliver exactly what was lost`,
    )
    .action(async (options: VerifyOptions) => {
      const { verifyCommand } = await import('./commands/verify.js');
      exitCode = await verifyCommand(options, context());
    });

  program
    .command('doctor')
    .description('check config, credentials, Zoom endpoints, destinations, ledger and disk space, one line each')
    .addOption(FORMAT(['text', 'json'], 'text'))
    .option('--min-free <MB>', 'disk space below this many megabytes is a failure', '1024')
    .addHelpText(
      'after',
      `
Exit 0 when every check passes, 2 when the config is invalid or a secret is missing, 3 when something it points at
(Zoom, which refusing the credentials included, a destination, the ledger, the disk) fails. Secrets are checked for
presence and never printed.

Examples:
  $ zcc-reconcile doctor
  $ zcc-reconcile doctor --config /etc/zcc-reconcile/config.json --format json`,
    )
    .action(async (options: DoctorOptions) => {
      const { doctorCommand } = await import('./commands/doctor.js');
      exitCode = await doctorCommand(options, context());
    });

  program
    .command('demo')
    .description('a full run against the built-in ZCC sandbox, into ./demo/ (--live: events first, into ./demo-live/)')
    .addOption(FORMAT(['table', 'json', 'csv'], 'table'))
    .option('--report-file <path>', 'also write a self-contained HTML report of the run')
    .option('--live', 'sandbox + listener: a day of webhook events with 10% dropped, then the nightly run catches exactly those')
    .addHelpText(
      'after',
      `
Examples:
  $ zcc-reconcile demo                          # then run it again: nothing new to push
  $ zcc-reconcile demo --report-file demo.html  # and open demo.html in a browser
  $ zcc-reconcile demo --live                   # listen + run on one ledger: what came through events, what the run caught`,
    )
    .action(async (options: DemoOptions) => {
      const { demoCommand } = await import('./commands/run.js');
      exitCode = await demoCommand(options, context());
    });

  registerListen(program, context, (code) => (exitCode = code)); // listen (issue 9)

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    return exitCodeFor(error, errorLine(program.opts<GlobalOptions>(), err, redact, error));
  }
}

/**
 * How the final error reaches stderr: a text line, or with JSON logs on stderr a JSON record (a log shipper reads
 * every line there), once (a run that already logged it as JSON adds nothing).
 */
function errorLine(global: GlobalOptions, err: (text: string) => void, redact: (text: string) => string, error: unknown): (text: string) => void {
  if (!jsonLogsOnStderr(global)) return (text) => err(`zcc-reconcile: ${text}\n`);
  if (error instanceof Error && loggedAsJson.has(error)) return () => {};
  const logger = new Logger({ format: 'json', verbose: false, stderr: err, redact });
  return (text) => logger.write({ level: 'error', event: 'error', message: text });
}

function exitCodeFor(error: unknown, report: (text: string) => void): number {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
    return 2;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ConfigError || error instanceof UsageError) {
    report(message);
    return 2;
  }
  if (error instanceof ZoomUnavailableError) {
    report(message);
    return 3;
  }
  if (error instanceof LedgerLockedError) {
    report(message);
    return 4;
  }
  report(`unexpected error: ${message}`);
  return 1;
}
