// One reconciliation: window → sources → plan (with the ledger) → push → ledger → result. `--dry-run` is the same
// walk with a read-only ledger and nothing pushed.
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { Duration } from 'luxon';
import pLimit from 'p-limit';
import { SOURCE_OF_KIND, SOURCES, type Artifact, type ArtifactKind, type SourceName } from './artifacts.js';
import { systemClock, type Clock } from './clock.js';
import type { Config, ZoomSecrets } from './config.js';
import { createDestinations, kindsOf, orderByLinks, sweepStaleTemporaries } from './destinations/index.js';
import type { Destination } from './destinations/types.js';
import { ConfigError, CredentialsRefusedError, QuotaExhaustedError, ZoomUnavailableError } from './errors.js';
import { SqliteLedger } from './ledger/sqlite.js';
import type { DeliveryState, KeySet, Ledger, RunMode, RunScope } from './ledger/types.js';
import { planBatch, type DestinationScope } from './plan.js';
import { CLAIM_LEASE_MS, deliveringVia, keepLeases, newLeaseHolder } from './ledger/claims.js';
import { pushArtifact, type PushContext, type PushOutcome } from './push.js';
import { artifactEvent, ReportingPacer } from './run-events.js';
import { Tally, type Outcome } from './tally.js';
import { TaskGroup } from './task-group.js';
import { chunkWindow, defaultWindow, explicitWindow, formatWindow, sliceWindow, type Chunk, type Window } from './window.js';
import type { TokenProvider } from './zoom/auth.js';
import { buildZoom } from './zoom/build.js';
import { listChunk, type ListedPage } from './zoom/sources.js';

export interface RunRequest {
  config: Config;
  secrets: ZoomSecrets;
  dryRun?: boolean;
  from?: string;
  to?: string;
  kinds?: readonly ArtifactKind[];
  clock?: Clock;
  signal?: AbortSignal;
  /** Replaces the configured destinations (tests, benchmarks). */
  destinations?: Destination[];
  onEvent?: (event: RunEvent) => void;
  /** Concurrent queries listing one range (default 4); 1 lists every range as a single query (paging tests). */
  listSlices?: number;
  /** How often the run renews its claims (tests); LEASE_RENEW_MS unless set. */
  leaseRenewMs?: number;
}

export type RunEvent =
  | { type: 'window'; window: Window; chunks: number; mode: RunMode }
  | { type: 'chunk'; source: SourceName; chunk: string; state: 'listed' | 'resumed' | 'incomplete'; reason?: string }
  | { type: 'delivered'; key: string; destination: string; size: number }
  | { type: 'failed'; key: string; destination: string; reason: string }
  // For logs, live progress and per-artifact reports.
  | { type: 'run-start'; runId: number | null; mode: RunMode; window: Window; chunks: number; sources: SourceName[] }
  | { type: 'page'; source: SourceName; items: number }
  | { type: 'queued'; key: string; kind: ArtifactKind; destination: string; reason: string }
  | {
      type: 'artifact';
      key: string;
      kind: ArtifactKind;
      engagementId: string | null;
      occurredAt: string | null;
      destination: string;
      action: Exclude<Outcome, 'seen' | 'failing'>;
      size: number | null;
      reason: string | null;
    }
  | { type: 'rate-limit-wait'; label: string; waitMs: number; until: string }
  | {
      type: 'run-end';
      runId: number | null;
      mode: RunMode;
      exitCode: RunExitCode;
      listingComplete: boolean;
      interrupted: boolean;
      stopped: string | null;
    };

/** 0 fine, 1 some artifacts failed, 3 Zoom could not be used or a listing did not complete, 130/143 SIGINT/SIGTERM. */
export type RunExitCode = 0 | 1 | 3 | 130 | 143;

export interface RunResult {
  runId: number | null;
  mode: RunMode;
  window: Window;
  chunks: number;
  tally: Tally;
  listingComplete: boolean;
  incomplete: string[];
  /** Why the run stopped early: credentials refused, quota spent. */
  stopped: Error | null;
  interrupted: boolean;
  exitCode: RunExitCode;
}

export async function runReconciliation(request: RunRequest): Promise<RunResult> {
  const { config } = request;
  const clock = request.clock ?? systemClock;
  const dryRun = request.dryRun ?? false;
  const mode: RunMode = dryRun ? 'dry-run' : request.from || request.to ? 'backfill' : 'run';
  const kinds = request.kinds ?? config.kinds;
  if (request.signal) setMaxListeners(1000, request.signal);
  // Bad bounds are refused before anything is opened or written.
  const explicit =
    request.from || request.to
      ? explicitWindow({ from: request.from, to: request.to, now: clock.now(), timezone: config.zoom.timezone })
      : null;
  // Destinations first: a destination config error must leave no ledger file behind.
  const destinations: Destination[] = request.destinations ?? (await createDestinations(config.destinations));
  let ledger: Ledger;
  try {
    ledger = openLedger(config.ledger.path, dryRun);
  } catch (error) {
    await Promise.allSettled(destinations.map((destination) => destination.close()));
    throw error;
  }
  let locked = false;
  try {
    if (!dryRun) {
      ledger.acquireRunLock({ pid: process.pid, host: hostname(), startedAt: clock.now().toISOString() });
      locked = true;
      ledger.markAbandonedRuns();
      // Releases, deliveries and failures (two writes per push besides the claim) are committed in groups.
      ledger.groupWrites();
      // Only now, holding the lock: another run's in-flight temp files are not stale.
      if (!request.destinations) await Promise.all(config.destinations.map(sweepStaleTemporaries));
    }
    const lastListedEnd = explicit ? null : lastEnd(ledger, kinds);
    const window =
      explicit ??
      defaultWindow({
        now: clock.now(),
        lastListedEnd,
        firstNightStart: lastListedEnd ? null : firstNight(ledger, kinds),
        lookback: config.window.lookback,
        timezone: config.zoom.timezone,
      });
    const walker = new Walker(request, ledger, clock, window, mode, destinations, kinds);
    return await walker.walk();
  } finally {
    await Promise.allSettled(destinations.map((destination) => destination.close()));
    if (locked) ledger.releaseRunLock();
    ledger.close();
  }
}

function openLedger(file: string, readonly: boolean): Ledger {
  try {
    return SqliteLedger.open(file, { readonly, currentSchema: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError('ledger.path', file, `a file the tool can create and write (${code})`);
  }
}

/**
 * Queries listing one range at once, each over its own slice: Zoom takes a few hundred ms to answer a page, so one
 * query paging alone cannot use the list rate limit (10 requests/s per label on Pro). Measured on the idle-night
 * benchmark (10k engagements, 250 ms per answer): wall ÷ (list requests ÷ rate) 2.19× with one query, 1.04× with 4.
 */
const SLICES_PER_RANGE = 4;

/**
 * The first query over a range keeps paging alone when the endpoint's total_records says this few pages are left:
 * slices would cost at least one query each and list the first page's items again, so they would make more requests
 * than these pages, to save at most one round trip.
 */
const PAGES_LEFT_TO_PAGE_ALONE = 2;

/** Failed artifacts planned together when retried from the ledger (about a listed page's worth). */
const RETRY_BATCH = 250;

function lastEnd(ledger: Ledger, kinds: readonly ArtifactKind[]): Date | null {
  const end = ledger.lastListedWindowEnd(kinds);
  return end ? new Date(end) : null;
}

function firstNight(ledger: Ledger, kinds: readonly ArtifactKind[]): Date | null {
  const start = ledger.firstNightlyWindowStart(kinds);
  return start ? new Date(start) : null;
}

class Walker {
  private readonly tally = new Tally();
  /** Keys handled in this run (kept by the ledger: the set grows with the window). */
  private readonly seen: KeySet;
  private readonly incomplete: string[] = [];
  private readonly scopes: DestinationScope[];
  private readonly byName: Map<string, Destination>;
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly inflight = new Set<Promise<void>>();
  /** In-flight pushes by destination and key, for a destination that links to another's copy of the same key. */
  private readonly inflightByTarget = new Map<string, Promise<void>>();
  private readonly auth: TokenProvider;
  private readonly push: PushContext;
  /** Who this run is when it claims a key (a listener may be pushing the same keys). */
  private readonly holder = newLeaseHolder('run');
  private readonly dryRun: boolean;
  private stopped: Error | null = null;
  private runId: number | null = null;
  /** Listed items that failed validation, so far (a recheck day with any cannot tell what vanished). */
  private invalidListed = 0;
  /** An artifact pending since before now − this is not available (window.pendingTimeout). */
  private readonly pendingTimeoutMs: number;

  constructor(
    private readonly request: RunRequest,
    private readonly ledger: Ledger,
    private readonly clock: Clock,
    private readonly window: Window,
    private readonly mode: RunMode,
    destinations: Destination[],
    private readonly kinds: readonly ArtifactKind[],
  ) {
    const { config } = request;
    this.dryRun = mode === 'dry-run';
    this.pendingTimeoutMs = Duration.fromISO(config.window.pendingTimeout).toMillis();
    this.seen = ledger.scratchKeySet();
    this.byName = new Map(destinations.map((destination) => [destination.name, destination]));
    // A destination that links to another's stored copy comes after it, so that copy is scheduled (and awaited) first.
    this.scopes = orderByLinks(destinations).map((destination) => {
      const configured = config.destinations.find((entry) => entry.name === destination.name);
      return { name: destination.name, kinds: configured ? kindsOf(configured, kinds) : new Set(kinds) };
    });
    this.limit = pLimit(config.concurrency);
    const { zoom, auth } = buildZoom(config, request.secrets, clock, request.signal, (rates, pacerClock, options) =>
      new ReportingPacer(rates, pacerClock, request.onEvent, options),
    );
    this.auth = auth;
    this.push = { zoom, auth: this.auth, ledger: deliveringVia(ledger, 'reconcile'), clock, timezone: config.zoom.timezone, signal: request.signal };
  }

  async walk(): Promise<RunResult> {
    const chunks = chunkWindow(this.window);
    this.request.onEvent?.({ type: 'window', window: this.window, chunks: chunks.length, mode: this.mode });
    const windowFrom = this.window.from.toISOString();
    const windowTo = this.window.to.toISOString();
    const scope: RunScope = { kinds: this.kinds, destinations: this.scopes.map((entry) => ({ name: entry.name, kinds: [...entry.kinds] })) };
    const resumable = this.mode === 'backfill' ? this.ledger.resumableChunks(windowFrom, scope) : new Set<string>();
    if (!this.dryRun) this.runId = this.ledger.startRun({ mode: this.mode, windowFrom, windowTo, startedAt: this.clock.now().toISOString(), scope });
    const sources = SOURCES.filter((source) => this.kinds.some((kind) => SOURCE_OF_KIND[kind] === source));
    this.request.onEvent?.({ type: 'run-start', runId: this.runId, mode: this.mode, window: this.window, chunks: chunks.length, sources });
    const stopKeepingLeases = this.dryRun ? () => undefined : keepLeases(this.ledger, this.holder, this.clock, this.request.leaseRenewMs);
    try {
      try {
        await this.auth.token();
        await Promise.all(sources.map((source) => this.listSource(source, chunks, resumable)));
        if (!this.halted()) await this.recheckPending(sources);
        if (!this.halted()) await this.retryFailed();
      } catch (error) {
        if (!(error instanceof ZoomUnavailableError)) throw error;
        // A request cut short by the run's own stop is the stop, not Zoom failing.
        if (this.request.signal?.aborted !== true) this.stopped = error;
      }
      await Promise.allSettled([...this.inflight]);
    } finally {
      stopKeepingLeases();
    }
    return this.finish(chunks.length);
  }

  private halted(): boolean {
    return this.stopped !== null || this.request.signal?.aborted === true;
  }

  private async listSource(source: SourceName, chunks: Chunk[], resumable: Set<string>): Promise<void> {
    for (const chunk of chunks) {
      if (this.halted()) return;
      if (resumable.has(`${source}:${chunk.id}`)) {
        this.ledger.markChunkDone(this.runId!, source, chunk.id);
        this.request.onEvent?.({ type: 'chunk', source, chunk: chunk.id, state: 'resumed' });
        continue;
      }
      const complete = await this.listRange(source, chunk);
      if (complete && !this.dryRun && !this.halted()) this.ledger.markChunkDone(this.runId!, source, chunk.id);
    }
  }

  /**
   * Lists one source over one range and pushes what it finds; true when the listing and all its pushes completed. A
   * range that fits one page costs one query; a longer one is listed again as concurrent slices, each its own query
   * (both bounds, its own page tokens), and counts as listed when every slice is (the first page's items come again:
   * the seen set makes them free). Where total_records shows only a page or two more, the first query pages on alone.
   */
  private async listRange(source: SourceName, range: Window): Promise<boolean> {
    const tasks = new TaskGroup();
    const label = `${source} ${formatWindow(range)}`;
    const slices = sliceWindow(range, this.request.listSlices ?? SLICES_PER_RANGE);
    // A slice that fails stops its siblings at their next page: the range is incomplete anyway.
    const failed = { error: null as Error | null };
    try {
      const rest = slices.length > 1 ? await this.listSlice(source, range, tasks, failed, true) : 'more';
      if (rest === 'more') {
        const listings = await Promise.allSettled(slices.map((slice) => this.listSlice(source, slice, tasks, failed, false)));
        const rejected = listings.find((listing): listing is PromiseRejectedResult => listing.status === 'rejected');
        if (rejected) throw rejected.reason;
      }
      await tasks.settled();
      if (this.halted()) return false;
      this.request.onEvent?.({ type: 'chunk', source, chunk: label, state: 'listed' });
      return true;
    } catch (error) {
      await tasks.settled().catch(() => undefined);
      if (this.halted()) return false;
      if (error instanceof ZoomUnavailableError) {
        this.stopped = error;
        return false;
      }
      const reason = (error as Error).message;
      this.incomplete.push(`${label}: ${reason}`);
      this.request.onEvent?.({ type: 'chunk', source, chunk: label, state: 'incomplete', reason });
      return false;
    }
  }

  /**
   * Lists one slice to its end ('done'). With `probe`, returns 'more' after the first page when more pages follow,
   * unless total_records shows only a page or two left: those it lists itself.
   */
  private async listSlice(source: SourceName, slice: Window, tasks: TaskGroup, failed: { error: Error | null }, probe: boolean): Promise<'done' | 'more'> {
    try {
      for await (const page of listChunk(this.push.zoom, source, slice)) {
        if (this.halted() || failed.error) return 'done';
        this.request.onEvent?.({ type: 'page', source, items: page.artifacts.length + page.invalid.length });
        await this.handlePage(page, tasks);
        if (probe && page.more && !(page.pagesLeft !== null && page.pagesLeft <= PAGES_LEFT_TO_PAGE_ALONE)) return 'more';
      }
      return 'done';
    } catch (error) {
      failed.error ??= error as Error;
      throw error;
    }
  }

  private async handlePage(page: ListedPage, tasks: TaskGroup): Promise<void> {
    this.invalidListed += page.invalid.length;
    for (const invalid of page.invalid) {
      if (!this.kinds.includes(invalid.kind)) continue;
      const key = `${invalid.kind}/${invalid.ref}`;
      if (this.seen.addNew([key]).size === 0) continue;
      this.tally.add(invalid.kind, 'seen');
      for (const scope of this.scopes.filter((entry) => entry.kinds.has(invalid.kind))) {
        this.tally.fail(invalid.kind, { key, destination: scope.name, reason: invalid.reason });
        this.request.onEvent?.({ type: 'artifact', key, kind: invalid.kind, engagementId: null, occurredAt: null, destination: scope.name, action: 'failed', size: null, reason: invalid.reason });
        if (!this.dryRun) this.ledger.recordFailure({ destination: scope.name, key, error: invalid.reason, at: this.clock.now().toISOString() });
      }
    }
    await this.handleArtifacts(page.artifacts, tasks);
  }

  private async handleArtifacts(listed: readonly Artifact[], tasks: TaskGroup): Promise<void> {
    const wanted = listed.filter((artifact) => this.kinds.includes(artifact.kind));
    const firstSeen = this.seen.addNew(wanted.map((artifact) => artifact.key));
    // Once per key, even if it comes up twice in one list.
    const fresh = wanted.filter((artifact) => firstSeen.delete(artifact.key));
    if (fresh.length === 0) return;
    for (const artifact of fresh) this.tally.add(artifact.kind, 'seen');
    const keys = fresh.map((artifact) => artifact.key);
    const now = this.clock.now();
    const cutoff = new Date(now.getTime() - this.pendingTimeoutMs);
    const states = this.dryRun
      ? this.ledger.previewArtifacts(fresh, cutoff.toISOString())
      : this.ledger.rememberArtifacts(fresh, now.toISOString(), cutoff.toISOString());
    const deliveries = new Map<string, Map<string, DeliveryState>>(
      this.scopes.map((scope) => [scope.name, this.ledger.deliveryStates(scope.name, keys)]),
    );
    for (const item of planBatch(fresh, states, this.scopes, deliveries, this.request.config.maxAttempts)) {
      const { artifact, decision } = item;
      if (decision.action !== 'push') {
        this.tally.add(artifact.kind, decision.action);
        this.request.onEvent?.(artifactEvent(artifact, item.destination, decision.action, deliveries.get(item.destination)?.get(artifact.key)));
        continue;
      }
      if (this.dryRun) {
        this.tally.add(artifact.kind, 'to_push');
        if (decision.reason === 'retry') this.tally.add(artifact.kind, 'failing');
        if (artifact.body?.type === 'inline') this.tally.bytesToPush += Buffer.byteLength(artifact.body.text);
        this.request.onEvent?.(artifactEvent(artifact, item.destination, 'to_push', undefined, decision.reason));
        continue;
      }
      this.request.onEvent?.({ type: 'queued', key: artifact.key, kind: artifact.kind, destination: item.destination, reason: decision.reason ?? 'new' });
      await this.schedule(artifact, this.byName.get(item.destination)!, tasks);
    }
  }

  private async schedule(artifact: Artifact, destination: Destination, tasks: TaskGroup): Promise<void> {
    const upstream = destination.linksFrom ? this.inflightByTarget.get(`${destination.linksFrom}\u0000${artifact.key}`) : undefined;
    const push = () => this.limit(async () => {
      if (this.halted()) return;
      // Claim the key first: a listener may be pushing it right now, or may have delivered it since the plan.
      const target = { destination: destination.name, key: artifact.key, fingerprint: artifact.fingerprint };
      const now = this.clock.now().getTime();
      const claim = this.ledger.claim(target, this.holder, 'reconcile', new Date(now).toISOString(), new Date(now + CLAIM_LEASE_MS).toISOString());
      if (claim !== 'claimed') {
        this.tally.add(artifact.kind, 'unchanged');
        return;
      }
      let outcome: PushOutcome;
      try {
        outcome = await pushArtifact(this.push, artifact, destination);
      } finally {
        this.ledger.release(target, this.holder);
      }
      if (this.request.signal?.aborted) return;
      if (outcome.ok) {
        this.tally.add(artifact.kind, 'delivered');
        this.tally.bytesDelivered += outcome.size;
        this.request.onEvent?.({ type: 'delivered', key: artifact.key, destination: destination.name, size: outcome.size });
        const how = outcome.linked ? 'linked to the stored copy, not uploaded' : undefined;
        this.request.onEvent?.(artifactEvent(artifact, destination.name, 'delivered', undefined, how, outcome.size));
      } else {
        if (outcome.error instanceof QuotaExhaustedError || outcome.error instanceof CredentialsRefusedError) {
          // Not the artifact's fault: the run stops, and the artifact is simply left for the next run.
          this.stopped ??= outcome.error;
          return;
        }
        this.tally.fail(artifact.kind, { key: artifact.key, destination: destination.name, reason: outcome.error.message });
        this.request.onEvent?.({ type: 'failed', key: artifact.key, destination: destination.name, reason: outcome.error.message });
        this.request.onEvent?.(artifactEvent(artifact, destination.name, 'failed', undefined, outcome.error.message));
      }
    });
    // Awaited outside the concurrency limit: a push waiting for its upstream must not hold a slot the upstream needs.
    const task = upstream ? upstream.then(push, push) : push();
    const target = `${destination.name}\u0000${artifact.key}`;
    this.inflight.add(task);
    this.inflightByTarget.set(target, task);
    tasks.add(task);
    void task.finally(() => {
      this.inflight.delete(task);
      if (this.inflightByTarget.get(target) === task) this.inflightByTarget.delete(target);
    });
    // Backpressure: listing stays only a little ahead of the pushes, so memory does not grow with the window.
    while (this.inflight.size >= this.request.config.concurrency * 8) await Promise.race(this.inflight);
  }

  /**
   * Pending artifacts outside this window are re-listed by the day they were listed on, until they arrive. One that
   * waited past window.pendingTimeout and that its day, listed whole, no longer has (Zoom dropped the item) is not
   * available: only listing it again would otherwise age it.
   */
  private async recheckPending(sources: readonly SourceName[]): Promise<void> {
    const now = this.clock.now();
    const cutoff = new Date(now.getTime() - this.pendingTimeoutMs).toISOString();
    const days = new Map<string, { source: SourceName; range: Window; overdue: string[] }>();
    for (const stored of this.ledger.pendingArtifacts()) {
      const { artifact } = stored;
      const source = SOURCE_OF_KIND[artifact.kind];
      if (this.seen.has(artifact.key) || !sources.includes(source) || !this.kinds.includes(artifact.kind)) continue;
      const at = new Date(artifact.listedAt);
      const from = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
      const id = `${source}:${from.toISOString()}`;
      const day = days.get(id) ?? { source, range: { from, to: new Date(from.getTime() + 86_400_000) }, overdue: [] };
      days.set(id, day);
      if (stored.pendingSince !== null && stored.pendingSince < cutoff) day.overdue.push(artifact.key);
    }
    for (const { source, range, overdue } of days.values()) {
      if (this.halted()) return;
      const invalidBefore = this.invalidListed;
      const complete = await this.listRange(source, range);
      // An item that failed validation is listed but not seen under its artifacts' keys: a day with one proves nothing.
      const vanished = complete && this.invalidListed === invalidBefore ? overdue.filter((key) => !this.seen.has(key)) : [];
      if (vanished.length > 0 && !this.dryRun) this.ledger.markArtifactState(vanished, 'not_available', now.toISOString());
    }
  }

  /** Artifacts that failed in an earlier run are retried from their stored descriptor, even outside the window. */
  private async retryFailed(): Promise<void> {
    const tasks = new TaskGroup();
    let batch: Artifact[] = [];
    for (const { artifact } of this.ledger.retryableArtifacts(this.request.config.maxAttempts)) {
      if (this.halted()) break;
      batch.push(artifact);
      if (batch.length < RETRY_BATCH) continue;
      await this.handleArtifacts(batch, tasks);
      batch = [];
    }
    if (batch.length > 0 && !this.halted()) await this.handleArtifacts(batch, tasks);
    await tasks.settled().catch(() => undefined);
  }

  private finish(chunkCount: number): RunResult {
    const interrupted = this.request.signal?.aborted === true;
    const listingComplete = !interrupted && this.stopped === null && this.incomplete.length === 0;
    const failed = this.tally.total('failed') > 0;
    const completed: 0 | 1 | 3 = this.stopped !== null || this.incomplete.length > 0 ? 3 : failed ? 1 : 0;
    // A run stopped by a signal (the abort's reason names it) exits with its code, in the report and the log too.
    const reason: unknown = this.request.signal?.reason;
    const exitCode: RunExitCode = interrupted && reason === 'SIGINT' ? 130 : interrupted && reason === 'SIGTERM' ? 143 : completed;
    if (this.runId !== null) {
      this.ledger.finishRun(this.runId, {
        outcome: interrupted ? 'interrupted' : completed === 3 ? 'incomplete' : failed ? 'failed' : 'ok',
        listingComplete,
        counts: this.tally.toJSON(),
        bytes: this.tally.bytesDelivered,
        finishedAt: this.clock.now().toISOString(),
      });
    }
    this.request.onEvent?.({ type: 'run-end', runId: this.runId, mode: this.mode, exitCode, listingComplete, interrupted, stopped: this.stopped?.message ?? null });
    return {
      runId: this.runId,
      mode: this.mode,
      window: this.window,
      chunks: chunkCount,
      tally: this.tally,
      listingComplete,
      incomplete: this.incomplete,
      stopped: this.stopped,
      interrupted,
      exitCode,
    };
  }
}
