import { describe, expect, it } from 'vitest';
import type { Artifact } from '../../src/artifacts.js';
import type { DeliveryState } from '../../src/ledger/types.js';
import { decide, planBatch } from '../../src/plan.js';

function note(key: string, fingerprint: string, state: 'ready' | 'pending' = 'ready'): Artifact {
  return {
    key, kind: 'note', engagementId: 'E1', listedAt: '2026-11-24T10:00:00.000Z', occurredAt: '2026-11-24T10:00:00.000Z',
    extension: 'json', contentType: 'application/json', state, body: { type: 'inline', text: '{}' }, fingerprint,
    engagement: { engagementId: 'E1', agents: [], consumers: [] },
  };
}
const delivered = (fingerprint: string): DeliveryState => ({ status: 'delivered', fingerprint, size: 2, sha256: 'x', location: 'l', attempts: 0, lastError: null, failedFingerprint: null });
const failed = (attempts: number, failedFingerprint: string | null = 'a'): DeliveryState => ({ status: 'failed', fingerprint: null, size: null, sha256: null, location: null, attempts, lastError: 'boom', failedFingerprint });

describe('the diff', () => {
  it('pushes what was never delivered, skips what was, re-pushes what changed', () => {
    expect(decide(note('note/E1/N1', 'a'), 'ready', undefined, 10)).toEqual({ action: 'push', reason: 'new' });
    expect(decide(note('note/E1/N1', 'a'), 'ready', delivered('a'), 10)).toEqual({ action: 'unchanged' });
    expect(decide(note('note/E1/N1', 'b'), 'ready', delivered('a'), 10)).toEqual({ action: 'push', reason: 'changed' });
  });

  it('retries failures until maxAttempts, then gives up', () => {
    expect(decide(note('note/E1/N1', 'a'), 'ready', failed(9), 10)).toEqual({ action: 'push', reason: 'retry' });
    expect(decide(note('note/E1/N1', 'a'), 'ready', failed(10), 10)).toEqual({ action: 'gave_up' });
    // Failures recorded before their version was (schema 4) count for any version.
    expect(decide(note('note/E1/N1', 'b'), 'ready', failed(10, null), 10)).toEqual({ action: 'gave_up' });
  });

  it('gives an edited version its own attempts when the earlier one gave up', () => {
    expect(decide(note('note/E1/N1', 'b'), 'ready', failed(10, 'a'), 10)).toEqual({ action: 'push', reason: 'changed' });
  });

  it('counts pending and not-available artifacts without pushing them', () => {
    expect(decide(note('note/E1/N1', 'a', 'pending'), 'pending', undefined, 10)).toEqual({ action: 'pending' });
    expect(decide(note('note/E1/N1', 'a', 'pending'), 'not_available', undefined, 10)).toEqual({ action: 'not_available' });
  });

  it('plans each destination only for the kinds it takes', () => {
    const artifacts = [note('note/E1/N1', 'a'), { ...note('recording/R1', 'z'), kind: 'recording' as const }];
    const plan = planBatch(
      artifacts,
      new Map(),
      [{ name: 'media', kinds: new Set(['recording'] as const) }, { name: 'all', kinds: new Set(['recording', 'note'] as const) }],
      new Map([['all', new Map([['note/E1/N1', delivered('a')]])]]),
      10,
    );
    expect(plan.map((item) => [item.destination, item.artifact.key, item.decision.action])).toEqual([
      ['media', 'recording/R1', 'push'],
      ['all', 'note/E1/N1', 'unchanged'],
      ['all', 'recording/R1', 'push'],
    ]);
  });
});
