// Builders for the run's observation events (logs, progress, per-artifact reports), kept out of run.ts so the engine
// only says where an event happens, not how it is worded.
import type { Artifact } from './artifacts.js';
import type { Clock } from './clock.js';
import type { DeliveryState } from './ledger/types.js';
import type { RunEvent } from './run.js';
import { RatePacer, type RateLabel } from './zoom/pacer.js';

type ArtifactEvent = Extract<RunEvent, { type: 'artifact' }>;

const WHY: Partial<Record<ArtifactEvent['action'], string>> = {
  pending: 'source not ready yet (no transcript or download URL); re-checked by later runs',
  not_available: 'still not ready after window.pendingTimeout',
};

/** One artifact × destination decision or result, as the CSV and HTML reports show it. */
export function artifactEvent(
  artifact: Artifact,
  destination: string,
  action: ArtifactEvent['action'],
  delivery?: DeliveryState,
  reason?: string,
  size?: number,
): ArtifactEvent {
  let why = reason ?? WHY[action] ?? null;
  if (action === 'gave_up') why = `gave up after ${delivery?.attempts ?? '?'} attempts: ${delivery?.lastError ?? 'unknown error'}`;
  const inline = artifact.body?.type === 'inline' ? Buffer.byteLength(artifact.body.text) : null;
  return {
    type: 'artifact',
    key: artifact.key,
    kind: artifact.kind,
    engagementId: artifact.engagementId,
    occurredAt: artifact.occurredAt,
    destination,
    action,
    size: size ?? delivery?.size ?? inline,
    reason: why,
  };
}

/** A pacer that also reports each 429 pause (every request of the label waits) as a `rate-limit-wait` event. */
export class ReportingPacer extends RatePacer {
  constructor(
    rates: ConstructorParameters<typeof RatePacer>[0],
    private readonly reportClock: Clock,
    private readonly onEvent: ((event: RunEvent) => void) | undefined,
    options: ConstructorParameters<typeof RatePacer>[2] = {},
  ) {
    super(rates, reportClock, options);
  }

  override pause(label: RateLabel, until: number): void {
    super.pause(label, until);
    const waitMs = Math.max(0, Math.round(until - this.reportClock.now().getTime()));
    this.onEvent?.({ type: 'rate-limit-wait', label, waitMs, until: new Date(until).toISOString() });
  }
}
