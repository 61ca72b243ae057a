// `run` and `demo`: one reconciliation, observed by the logger, the live progress, the CSV stream and the HTML report,
// then the report on stdout (on a terminal or when asked) and the short failure summary on stderr.
import { writeFileSync } from 'node:fs';
import type { ArtifactKind } from '../artifacts.js';
import { HtmlReportCollector } from '../html-report.js';
import { loggedAsJson, type Logger } from '../logging.js';
import type { RunProgress } from '../progress.js';
import { CsvReportWriter, failureSummary, renderReport, toJsonReport, type ReportFormat, type ReportTiming } from '../report.js';
import type { RunEvent, RunResult } from '../run.js';
import { checkOutputFile, createLogger, jsonLogsOnStderr, loadCommandConfig, parseKinds, type CommandContext } from './context.js';

export interface RunOptions {
  from?: string;
  to?: string;
  dryRun?: boolean;
  kinds?: string;
  format?: ReportFormat;
  reportFile?: string;
}

export async function runCommand(options: RunOptions, context: CommandContext): Promise<number> {
  const kinds: ArtifactKind[] | undefined = parseKinds(options.kinds);
  const { config } = await loadCommandConfig(context);
  const { readZoomSecrets } = await import('../config.js');
  const secrets = readZoomSecrets(context.env);
  const reportFile = options.reportFile ? checkOutputFile('--report-file', options.reportFile, context.cwd) : undefined;
  const observer = await RunObserver.start(context, { format: options.format, reportFile, timezone: config.zoom.timezone });

  const controller = new AbortController();
  let signal: 'SIGINT' | 'SIGTERM' | null = null;
  const stop = (name: 'SIGINT' | 'SIGTERM') => () => {
    signal ??= name;
    controller.abort(name);
  };
  const onInt = stop('SIGINT');
  const onTerm = stop('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  let result: RunResult;
  try {
    const { runReconciliation } = await import('../run.js');
    result = await runReconciliation({
      config,
      secrets,
      dryRun: options.dryRun,
      from: options.from,
      to: options.to,
      kinds,
      signal: controller.signal,
      onEvent: observer.onEvent,
    });
  } catch (error) {
    await observer.abandon(error);
    throw error;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  await observer.finish(result);
  // JSON logs on stderr carry it in run_end (every line there is a JSON object).
  if (signal && result.interrupted && !jsonLogsOnStderr(context.global)) {
    context.err(
      options.dryRun
        ? `zcc-reconcile: stopped by ${signal}; a dry run changes nothing\n`
        : `zcc-reconcile: stopped by ${signal}; the run is recorded as interrupted and the next run completes it\n`,
    );
  }
  return result.exitCode;
}

export interface DemoOptions {
  format: ReportFormat;
  reportFile?: string;
  /** Sandbox + listener + a day of events with 10% dropped, then the nightly run. */
  live?: boolean;
}

export async function demoCommand(options: DemoOptions, context: CommandContext): Promise<number> {
  const reportFile = options.reportFile ? checkOutputFile('--report-file', options.reportFile, context.cwd) : undefined;
  const observer = await RunObserver.start(context, { format: options.format, reportFile, timezone: 'UTC' });
  let demo: { run: RunResult; summary: string; caughtExactly?: boolean };
  try {
    if (options.live) {
      const { runLiveDemo } = await import('../demo-live.js');
      demo = await runLiveDemo({ cwd: context.cwd, onEvent: observer.onEvent });
    } else {
      const { runDemo } = await import('../demo.js');
      demo = await runDemo({ cwd: context.cwd, onEvent: observer.onEvent });
    }
  } catch (error) {
    await observer.abandon(error);
    throw error;
  }
  await observer.finish(demo.run, { forceReport: true });
  if (options.format === 'table' && !context.global.quiet) context.out(`${demo.summary}\n`);
  // The live demo's point is that the run catches exactly what the events missed; anything else is a failure.
  if (demo.caughtExactly === false) return Math.max(demo.run.exitCode, 1);
  return demo.run.exitCode;
}

/** Everything that watches a run: fans its events out, then prints what the options ask for. */
class RunObserver {
  private readonly startedAt = new Date();
  readonly onEvent: (event: RunEvent) => void;

  private constructor(
    private readonly context: CommandContext,
    private readonly options: { format?: ReportFormat; reportFile?: string },
    private readonly logger: Logger,
    private readonly progress: RunProgress | null,
    private readonly csv: CsvReportWriter | null,
    private readonly html: HtmlReportCollector | null,
  ) {
    this.onEvent = (event) => {
      this.logger.runEvent(event);
      this.csv?.onEvent(event);
      this.html?.onEvent(event);
      this.progress?.onEvent(event);
    };
  }

  static async start(
    context: CommandContext,
    options: { format?: ReportFormat; reportFile?: string; timezone: string },
  ): Promise<RunObserver> {
    const { global } = context;
    const { progressWanted } = await import('../progress.js');
    const wanted = progressWanted({
      stream: context.stderr,
      quiet: global.quiet === true,
      disabled: !global.progress,
      logsOnStream: jsonLogsOnStderr(global),
      env: context.env,
    });
    let progress: RunProgress | null = null;
    if (wanted) {
      const { RunProgress } = await import('../progress.js');
      progress = await RunProgress.start(context.stderr);
    }
    const logger = createLogger(context, progress ? (text) => progress.log(context.redact(text)) : context.err);
    const csv = options.format === 'csv' ? new CsvReportWriter(context.out) : null;
    const html = options.reportFile ? new HtmlReportCollector(options.timezone) : null;
    return new RunObserver(context, options, logger, progress, csv, html);
  }

  /** The run threw (bad config found late, ledger locked, a bug): log it and leave the terminal clean. */
  async abandon(error: unknown): Promise<void> {
    this.progress?.stop();
    this.logger.write({ level: 'error', event: 'error', message: error instanceof Error ? error.message : String(error) });
    if (jsonLogsOnStderr(this.context.global) && error instanceof Error) loggedAsJson.add(error);
    await this.logger.close();
  }

  async finish(result: RunResult, options: { forceReport?: boolean } = {}): Promise<void> {
    this.progress?.stop();
    const { context } = this;
    const { global } = context;
    const timing: ReportTiming = { startedAt: this.startedAt, finishedAt: new Date() };
    const format = this.options.format;
    if (this.csv) this.csv.header();
    else if (format !== undefined || options.forceReport || (!global.quiet && context.stdout.isTTY === true)) {
      context.out(renderReport(result, format === 'json' ? 'json' : 'table', timing));
    }
    if (this.html && this.options.reportFile) {
      // Its failures quote destinations' answers; like the ledger and the log file, it is for the operator's eyes.
      writeFileSync(this.options.reportFile, context.redact(this.html.render(toJsonReport(result, timing))), { mode: 0o600 });
    }
    // JSON logs on stderr already carry run_end and every failure; a text summary there would only be noise.
    if (result.exitCode !== 0 && !result.interrupted && !jsonLogsOnStderr(global)) context.err(failureSummary(result));
    const logError = await this.logger.close();
    if (logError) context.err(`zcc-reconcile: could not write the log file ${global.logFile}: ${logError.message}\n`);
  }
}
