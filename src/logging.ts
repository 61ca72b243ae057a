// Logs for people and log shippers: one record per event (run start/end, chunk, artifact delivered/failed, rate-limit
// wait, errors), as text lines or one JSON object per line (docs/schemas/log-event.schema.json), to stderr or a file.
import { createWriteStream, type WriteStream } from 'node:fs';
import { OUTCOMES, type Outcome } from './tally.js';
import type { RunEvent } from './run.js';

export type LogFormat = 'text' | 'json';
export type LogLevel = 'info' | 'warn' | 'error';

export interface LogRecord {
  level: LogLevel;
  event: string;
  [field: string]: unknown;
}

export interface LoggerOptions {
  format: LogFormat;
  /** Text records go to stderr only with --verbose; JSON records always do (unless a file takes them). */
  verbose: boolean;
  /** Append records here instead of stderr. */
  file?: string;
  /** Where stderr records go (the progress display interleaves them above its bars). */
  stderr: (text: string) => void;
  /** Every line passes through this before it is written: secrets never reach a log. */
  redact: (text: string) => string;
  now?: () => Date;
}

/** Errors already written to stderr as a JSON log record: the CLI does not add its own line for them. */
export const loggedAsJson = new WeakSet<Error>();

export class Logger {
  private readonly stream: WriteStream | null;
  private readonly totals = new Map<Outcome, number>();
  private failed: Error | null = null;

  constructor(private readonly options: LoggerOptions) {
    this.stream = options.file ? createWriteStream(options.file, { flags: 'a', mode: 0o600 }) : null;
    // A log file that cannot be written must not crash the run; the first error is reported once on close.
    this.stream?.on('error', (error) => {
      this.failed ??= error;
    });
  }

  /** Whether records reach anywhere at all (a quiet text run without --verbose or --log-file logs nothing). */
  get active(): boolean {
    return this.stream !== null || this.options.format === 'json' || this.options.verbose;
  }

  /** True when records are written to stderr (so a progress display there would garble them). */
  get onStderr(): boolean {
    return this.stream === null && (this.options.format === 'json' || this.options.verbose);
  }

  write(record: LogRecord): void {
    if (!this.active) return;
    const time = (this.options.now ?? (() => new Date()))().toISOString();
    const line =
      this.options.format === 'json'
        ? JSON.stringify({ time, ...record })
        : this.stream
          ? `${time} ${record.level.padEnd(5)} ${textOf(record)}`
          : textOf(record);
    const safe = `${this.options.redact(line)}\n`;
    if (this.stream) this.stream.write(safe);
    else this.options.stderr(safe);
  }

  /** Turns the run's events into log records; events nobody ships (pages, queued, unchanged) are left out. */
  runEvent(event: RunEvent): void {
    const record = recordOf(event, this.totals);
    if (record) this.write(record);
  }

  async close(): Promise<Error | null> {
    const stream = this.stream;
    if (stream) await new Promise<void>((resolve) => stream.end(resolve));
    return this.failed;
  }
}

function recordOf(event: RunEvent, totals: Map<Outcome, number>): LogRecord | null {
  switch (event.type) {
    case 'run-start':
      totals.clear();
      return {
        level: 'info',
        event: 'run_start',
        runId: event.runId,
        mode: event.mode,
        window: { from: event.window.from.toISOString(), to: event.window.to.toISOString() },
        chunks: event.chunks,
        sources: event.sources,
      };
    case 'chunk':
      return {
        level: event.state === 'incomplete' ? 'warn' : 'info',
        event: 'chunk',
        source: event.source,
        chunk: event.chunk,
        state: event.state,
        ...(event.reason ? { reason: event.reason } : {}),
      };
    case 'artifact': {
      totals.set(event.action, (totals.get(event.action) ?? 0) + 1);
      const base = { key: event.key, kind: event.kind, engagementId: event.engagementId, destination: event.destination };
      if (event.action === 'delivered') return { level: 'info', event: 'artifact_delivered', ...base, size: event.size };
      if (event.action === 'failed') return { level: 'warn', event: 'artifact_failed', ...base, reason: event.reason ?? 'unknown' };
      if (event.action === 'gave_up') return { level: 'warn', event: 'artifact_gave_up', ...base, reason: event.reason ?? 'unknown' };
      return null;
    }
    case 'rate-limit-wait':
      return { level: 'warn', event: 'rate_limit_wait', label: event.label, waitMs: event.waitMs, until: event.until };
    case 'run-end':
      return {
        level: event.exitCode === 0 ? 'info' : event.exitCode === 1 || event.interrupted ? 'warn' : 'error',
        event: 'run_end',
        runId: event.runId,
        mode: event.mode,
        exitCode: event.exitCode,
        listingComplete: event.listingComplete,
        interrupted: event.interrupted,
        stopped: event.stopped,
        totals: Object.fromEntries(OUTCOMES.filter((o) => o !== 'seen' && o !== 'failing').map((o) => [o, totals.get(o) ?? 0])),
      };
    default:
      return null;
  }
}

/** The one-line text form: short markers for artifacts (rclone-like), key=value for the rest. */
function textOf(record: LogRecord): string {
  const { level: _level, event, ...fields } = record;
  switch (event) {
    case 'run_start': {
      const window = fields.window as { from: string; to: string };
      return `${String(fields.mode)} ${fields.runId ?? ''} window [${window.from}, ${window.to}) in ${String(fields.chunks)} chunk(s)`.replace('  ', ' ');
    }
    case 'chunk': {
      // Listed chunks are labelled "<source> [from, to)" already; resumed ones by their id alone.
      const chunk = String(fields.chunk);
      const label = chunk.startsWith(`${String(fields.source)} `) ? chunk : `${String(fields.source)} ${chunk}`;
      return `${String(fields.state)} ${label}${fields.reason ? `: ${String(fields.reason)}` : ''}`;
    }
    case 'run_end': {
      const totals = Object.entries(fields.totals as Record<string, number>)
        .filter(([outcome, n]) => n > 0 || outcome === 'failed')
        .map(([outcome, n]) => `${outcome.replace('_', ' ')} ${n}`)
        .join(' · ');
      const why = fields.stopped ? ` (stopped: ${String(fields.stopped)})` : fields.interrupted ? ' (interrupted)' : '';
      return `${String(fields.mode)} ${fields.runId ?? ''} finished: exit ${String(fields.exitCode)} · ${totals}${why}`.replace('  ', ' ');
    }
    case 'artifact_delivered':
      return `+ ${String(fields.key)} → ${String(fields.destination)} (${String(fields.size)} bytes)`;
    case 'artifact_failed':
      return `! ${String(fields.key)} → ${String(fields.destination)}: ${String(fields.reason)}`;
    case 'artifact_gave_up':
      return `x ${String(fields.key)} → ${String(fields.destination)}: ${String(fields.reason)}`;
    case 'rate_limit_wait':
      return `rate limit: ${String(fields.label)} requests wait ${String(fields.waitMs)} ms (until ${String(fields.until)})`;
    default:
      return `${event}${Object.entries(fields)
        .map(([name, value]) => ` ${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
        .join('')}`;
  }
}
