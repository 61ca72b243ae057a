// Live progress on a terminal, drawn from the run's events with cli-progress: listing (chunks and pages per source),
// pushing (artifacts done of queued, bytes, rate, ETA) and the running tally. Never drawn without a TTY.
import type { MultiBar, Options, Params, SingleBar } from 'cli-progress';
import type { RunEvent } from './run.js';
import { formatBytes } from './report.js';

export interface ProgressPolicy {
  stream: { isTTY?: boolean };
  quiet: boolean;
  /** --no-progress */
  disabled: boolean;
  /** JSON or verbose logs written to the same stream as the bars. */
  logsOnStream: boolean;
  env: NodeJS.ProcessEnv;
}

/**
 * Progress is for a person watching: only on a TTY (cron and systemd give none), not with --quiet or --no-progress,
 * not when JSON logs share the stream, not on a dumb terminal, not in CI.
 */
export function progressWanted(policy: ProgressPolicy): boolean {
  if (policy.stream.isTTY !== true || policy.quiet || policy.disabled) return false;
  if (policy.logsOnStream) return false;
  if (policy.env.TERM === 'dumb' || policy.env.CI) return false;
  return true;
}

interface PushPayload {
  dryRun: boolean;
  bytes: number;
  rate: number;
  eta: number | null;
  toPush: number;
}

export class RunProgress {
  private readonly started = Date.now();
  private readonly pages = new Map<string, number>();
  private readonly counts = { seen: 0, unchanged: 0, pending: 0, not_available: 0, failed: 0, gave_up: 0, to_push: 0 };
  private chunksTotal = 0;
  private chunksDone = 0;
  private queued = 0;
  private done = 0;
  private bytes = 0;
  private firstPushAt: number | null = null;
  private dryRun = false;
  private waiting: string | null = null;
  private stopped = false;

  private constructor(
    private readonly multibar: MultiBar,
    private readonly listing: SingleBar,
    private readonly pushing: SingleBar,
    private readonly tally: SingleBar,
  ) {}

  static async start(stream: NodeJS.WriteStream): Promise<RunProgress> {
    const cliProgress = (await import('cli-progress')).default;
    const bar = (progress: number, options: Options) => cliProgress.Format.BarFormat(progress, options);
    const multibar = new cliProgress.MultiBar(
      {
        stream,
        fps: 8,
        hideCursor: true,
        clearOnComplete: true,
        barsize: 24,
        barCompleteChar: '█',
        barIncompleteChar: '░',
        autopadding: true,
        gracefulExit: false,
        format: (options: Options, params: Params, payload: { line?: string }) => payload.line ?? bar(params.progress, options),
      },
      cliProgress.Presets.shades_classic,
    );
    const listing = multibar.create(1, 0, {}, {
      format: (options: Options, params: Params, payload: { detail?: string }) =>
        `listing  ${bar(params.progress, options)} ${params.value}/${params.total} chunks${payload.detail ? ` | ${payload.detail}` : ''}`,
    });
    const pushing = multibar.create(0, 0, {}, {
      format: (options: Options, params: Params, payload: Partial<PushPayload>) => {
        if (payload.dryRun) return `planning to push ${payload.toPush ?? 0} (dry run: nothing is written)`;
        const eta = payload.eta === null || payload.eta === undefined ? '–' : formatSeconds(payload.eta);
        return (
          `pushing  ${bar(params.total > 0 ? params.progress : 0, options)} ${params.value}/${params.total} | ` +
          `${formatBytes(payload.bytes ?? 0)} at ${formatBytes(payload.rate ?? 0)}/s | ETA ${eta}`
        );
      },
    });
    const tally = multibar.create(0, 0, { line: '' });
    return new RunProgress(multibar, listing, pushing, tally);
  }

  onEvent(event: RunEvent): void {
    if (this.stopped) return;
    switch (event.type) {
      case 'run-start':
        this.dryRun = event.mode === 'dry-run';
        this.chunksTotal = event.chunks * event.sources.length;
        break;
      case 'page':
        this.pages.set(event.source, (this.pages.get(event.source) ?? 0) + 1);
        this.waiting = null;
        break;
      case 'chunk':
        this.chunksDone++;
        break;
      case 'queued':
        this.queued++;
        this.firstPushAt ??= Date.now();
        break;
      case 'artifact':
        this.counts.seen++;
        // Invalid items (no engagement id) fail at listing time and were never queued.
        if ((event.action === 'delivered' || event.action === 'failed') && event.engagementId !== null) this.done++;
        if (event.action === 'delivered') this.bytes += event.size ?? 0;
        if (event.action in this.counts) this.counts[event.action as keyof typeof this.counts]++;
        break;
      case 'rate-limit-wait':
        this.waiting = `rate limit: ${event.label} waits ${formatSeconds(event.waitMs / 1000)}`;
        break;
      default:
        return;
    }
    this.render();
  }

  /** Prints a line above the bars (verbose logs) without garbling them. */
  log(text: string): void {
    if (this.stopped) return;
    // Each line erases to its end: it is written over the bars, which may be longer.
    const lines = text.endsWith('\n') ? text : `${text}\n`;
    this.multibar.log(lines.replaceAll('\n', '\u001b[K\n'));
  }

  /** Clears the bars so the summary that follows starts on a clean screen. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.multibar.update(); // flushes log lines still buffered for the next redraw
    this.multibar.stop();
  }

  private render(): void {
    const detail = [...this.pages.entries()].map(([source, pages]) => `${source} ${pages} page${pages === 1 ? '' : 's'}`);
    if (this.waiting) detail.push(this.waiting);
    this.listing.setTotal(Math.max(this.chunksTotal, this.chunksDone, 1));
    this.listing.update(this.chunksDone, { detail: detail.join(' · ') });
    const elapsed = this.firstPushAt === null ? 0 : (Date.now() - this.firstPushAt) / 1000;
    const rate = elapsed > 0.5 ? this.bytes / elapsed : 0;
    const itemRate = elapsed > 0.5 ? this.done / elapsed : 0;
    const eta = itemRate > 0 ? (this.queued - this.done) / itemRate : null;
    this.pushing.setTotal(this.queued);
    this.pushing.update(this.done, { dryRun: this.dryRun, bytes: this.bytes, rate, eta, toPush: this.counts.to_push });
    const c = this.counts;
    const line = [
      `checked ${c.seen}`,
      `unchanged ${c.unchanged}`,
      `pending ${c.pending}`,
      ...(c.not_available ? [`not available ${c.not_available}`] : []),
      `failed ${c.failed}`,
      ...(c.gave_up ? [`gave up ${c.gave_up}`] : []),
      `elapsed ${formatSeconds((Date.now() - this.started) / 1000)}`,
    ].join(' · ');
    this.tally.update(0, { line });
  }
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
