// The executor: fetch one artifact's bytes (streamed), hash them on the way into the destination, and record the
// delivery only after the destination confirmed it.
import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { Artifact } from './artifacts.js';
import type { Clock } from './clock.js';
import type { Destination, PutRequest } from './destinations/types.js';
import type { Ledger } from './ledger/types.js';
import { CredentialsRefusedError, DestinationUnavailableError, QuotaExhaustedError } from './errors.js';
import { dateInZone } from './window.js';
import type { TokenProvider } from './zoom/auth.js';
import type { ZoomClient } from './zoom/client.js';
import { openDownload } from './zoom/download.js';

export interface PushContext {
  zoom: ZoomClient;
  auth: TokenProvider;
  ledger: Ledger;
  clock: Clock;
  timezone: string;
  signal?: AbortSignal;
}

export type PushOutcome =
  | { ok: true; size: number; sha256: string; location: string; /** Set when the destination took a link, not the bytes. */ linked?: true }
  | { ok: false; error: Error };

/** Counts and hashes what flows through it. */
class HashingCounter extends Transform {
  readonly hash = createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    callback(null, chunk);
  }
}

export function putRequestFor(artifact: Artifact, timezone: string, contentType: string, size: number | undefined): PutRequest {
  return {
    key: artifact.key,
    kind: artifact.kind,
    engagementId: artifact.engagementId,
    occurredAt: artifact.occurredAt,
    date: dateInZone(artifact.occurredAt, timezone),
    extension: artifact.extension,
    contentType,
    size,
    engagement: artifact.engagement,
    fingerprint: artifact.fingerprint,
    metadata: {
      key: artifact.key,
      kind: artifact.kind,
      engagement_id: artifact.engagementId,
      occurred_at: artifact.occurredAt,
    },
  };
}

async function openBody(context: PushContext, artifact: Artifact): Promise<{ body: Readable; contentType: string; size: number }> {
  const source = artifact.body;
  if (!source) throw new Error(`${artifact.key} is not ready to push (no source URL yet)`);
  if (source.type === 'inline') {
    const bytes = Buffer.from(source.text, 'utf8');
    return { body: Readable.from([bytes]), contentType: artifact.contentType, size: bytes.length };
  }
  const download = await openDownload(context.zoom, context.auth, source.url, {
    expectedSize: source.expectedSize,
    signal: context.signal,
  });
  return { body: download.body, contentType: download.contentType.split(';')[0]!.trim() || artifact.contentType, size: download.size };
}

function previousLocation(context: PushContext, artifact: Artifact, destination: Destination): string | undefined {
  if (!destination.updatesInPlace) return undefined;
  return context.ledger.deliveryStates(destination.name, [artifact.key]).get(artifact.key)?.location ?? undefined;
}

/**
 * A destination that only links to this artifact gets an empty body. It is asked before anything is fetched (a kind
 * configured as a link), then again once the download's headers tell the size (a file over a CRM's limit): the body
 * is dropped unread.
 */
async function openBodyFor(
  context: PushContext,
  artifact: Artifact,
  destination: Destination,
): Promise<{ body: Readable; contentType: string; size: number; linked?: { size?: number } }> {
  const wants = (size: number | undefined) => destination.wantsBody?.(putRequestFor(artifact, context.timezone, artifact.contentType, size)) ?? true;
  const linkOnly = (size?: number) => ({ body: Readable.from([]), contentType: artifact.contentType, size: 0, linked: { size } });
  if (!artifact.body) throw new Error(`${artifact.key} is not ready to push (no source URL yet)`);
  await destination.prepare?.(context.signal);
  if (!wants(undefined)) return linkOnly();
  const opened = await openBody(context, artifact);
  if (wants(opened.size)) return opened;
  opened.body.destroy();
  return linkOnly(opened.size);
}

export async function pushArtifact(context: PushContext, artifact: Artifact, destination: Destination): Promise<PushOutcome> {
  try {
    const { body, contentType, size, linked } = await openBodyFor(context, artifact, destination);
    const counter = new HashingCounter();
    body.on('error', (error) => counter.destroy(error));
    // The destination sees a body's error through its read; one that has already stopped reading (it refused a body
    // shorter than announced) leaves the error to this listener, not to the process's unhandled-error crash.
    counter.on('error', () => undefined);
    body.pipe(counter);
    let put;
    try {
      const request = putRequestFor(artifact, context.timezone, contentType, linked ? undefined : size);
      request.previousLocation = previousLocation(context, artifact, destination);
      if (linked) request.linkOnly = linked;
      put = await destination.put(request, counter, context.signal);
    } finally {
      body.destroy();
    }
    if (counter.errored) throw counter.errored;
    if (counter.size !== size) throw new Error(`${artifact.key}: stored ${counter.size} bytes of ${size}`);
    const sha256 = counter.hash.digest('hex');
    context.ledger.recordDeliveries([
      {
        destination: destination.name,
        key: artifact.key,
        fingerprint: artifact.fingerprint,
        size,
        sha256,
        location: put.location,
        deliveredAt: context.clock.now().toISOString(),
      },
    ]);
    return linked ? { ok: true, size, sha256, location: put.location, linked: true } : { ok: true, size, sha256, location: put.location };
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    // A spent quota or refused credentials (Zoom's, or a destination's) are not this artifact's fault: no attempt is
    // counted, so the artifact keeps its full allowance of retries for the next run.
    // A stopped destination still gets a failure row (so the artifact is retried next run even outside its window).
    const runStopper = failure instanceof QuotaExhaustedError || failure instanceof CredentialsRefusedError;
    if (!context.signal?.aborted && !runStopper) {
      context.ledger.recordFailure({
        destination: destination.name,
        key: artifact.key,
        error: failure.message,
        at: context.clock.now().toISOString(),
        fingerprint: artifact.fingerprint,
        countsAsAttempt: !(failure instanceof DestinationUnavailableError),
      });
    }
    return { ok: false, error: failure };
  }
}
