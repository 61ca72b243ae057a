// Counts per kind and outcome for a run or a dry run; the report and the exit code are read from it.
import type { ArtifactKind } from './artifacts.js';

// `failing` (dry runs): to push again after an earlier failure. `gave_up`: failed maxAttempts times, no longer retried.
export const OUTCOMES = ['seen', 'unchanged', 'to_push', 'failing', 'delivered', 'pending', 'not_available', 'failed', 'gave_up'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface Failure {
  key: string;
  destination: string;
  reason: string;
}

export class Tally {
  readonly counts = new Map<ArtifactKind, Record<Outcome, number>>();
  readonly failures: Failure[] = [];
  bytesDelivered = 0;
  bytesToPush = 0;

  add(kind: ArtifactKind, outcome: Outcome, by = 1): void {
    let row = this.counts.get(kind);
    if (!row) {
      row = Object.fromEntries(OUTCOMES.map((name) => [name, 0])) as Record<Outcome, number>;
      this.counts.set(kind, row);
    }
    row[outcome] += by;
  }

  fail(kind: ArtifactKind, failure: Failure): void {
    this.add(kind, 'failed');
    if (this.failures.length < 1000) this.failures.push(failure);
  }

  total(outcome: Outcome): number {
    let sum = 0;
    for (const row of this.counts.values()) sum += row[outcome];
    return sum;
  }

  toJSON(): Record<string, Record<Outcome, number>> {
    return Object.fromEntries([...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }
}
