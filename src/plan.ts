// The diff, as a pure function: what the listings say × what the ledger says → what to do for each destination.
import type { Artifact, ArtifactKind } from './artifacts.js';
import type { DeliveryState } from './ledger/types.js';

export type Action = 'push' | 'unchanged' | 'pending' | 'not_available' | 'gave_up';

export interface Decision {
  action: Action;
  /** Why a push is needed: never delivered, content changed, or an earlier attempt failed. */
  reason?: 'new' | 'changed' | 'retry';
}

export interface DestinationScope {
  name: string;
  kinds: ReadonlySet<ArtifactKind>;
}

export function decide(
  artifact: Artifact,
  artifactState: 'ready' | 'pending' | 'not_available',
  delivery: DeliveryState | undefined,
  maxAttempts: number,
): Decision {
  if (delivery?.status === 'delivered' && delivery.fingerprint === artifact.fingerprint) return { action: 'unchanged' };
  if (artifact.state === 'pending' || artifactState !== 'ready') {
    return { action: artifactState === 'not_available' ? 'not_available' : 'pending' };
  }
  if (!delivery) return { action: 'push', reason: 'new' };
  if (delivery.status === 'failed') {
    // The attempts were spent on another version (a note edited since): this one gets its own.
    const sameVersion = delivery.failedFingerprint === null || delivery.failedFingerprint === artifact.fingerprint;
    if (!sameVersion) return { action: 'push', reason: 'changed' };
    return delivery.attempts >= maxAttempts ? { action: 'gave_up' } : { action: 'push', reason: 'retry' };
  }
  return { action: 'push', reason: 'changed' };
}

export interface PlannedItem {
  artifact: Artifact;
  destination: string;
  decision: Decision;
}

export function planBatch(
  artifacts: readonly Artifact[],
  artifactStates: ReadonlyMap<string, 'ready' | 'pending' | 'not_available'>,
  destinations: readonly DestinationScope[],
  deliveries: ReadonlyMap<string, ReadonlyMap<string, DeliveryState>>,
  maxAttempts: number,
): PlannedItem[] {
  const planned: PlannedItem[] = [];
  for (const destination of destinations) {
    const states = deliveries.get(destination.name);
    for (const artifact of artifacts) {
      if (!destination.kinds.has(artifact.kind)) continue;
      planned.push({
        artifact,
        destination: destination.name,
        decision: decide(artifact, artifactStates.get(artifact.key) ?? artifact.state, states?.get(artifact.key), maxAttempts),
      });
    }
  }
  return planned;
}
