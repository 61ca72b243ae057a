// Which events a fault plan drops, doubles, holds back or tampers with, and in what order the rest go out. Each share
// is an exact count (round(share × events)) picked with its own seeded stream, so the same seed gives the same plan
// and turning one fault on does not change which events another one picks.
import type { SandboxEvent } from './events.js';
import { hash32, Rng } from './random.js';

/** What a delivery attempt can get wrong on purpose (zcc-events.md §7.1). */
export interface SendFaults {
  /** Sign with another secret. */
  wrongSecret?: boolean;
  /** Timestamp this many seconds in the past (negative: future). */
  skewSeconds?: number;
  /** Serialise with keys in reverse order and non-ASCII as \uXXXX: bytes differ from JSON.stringify(JSON.parse()). */
  oddSerialisation?: boolean;
  /** No signature header at all. */
  unsigned?: boolean;
}

export interface DeliveryPlan {
  /** Share of events never delivered (Zoom lost them, or every retry failed). */
  dropShare?: number;
  /** Share of events delivered twice. */
  duplicateShare?: number;
  /** Send the duplicates at the same moment rather than one after the other. */
  concurrentDuplicates?: boolean;
  /** Shuffle the order (dispositions before notes, transcripts before their recordings...). */
  reorder?: boolean;
  /** A share of the events held back `ms` (on the sender's clock) before their first attempt; Zoom's "webhook delays". */
  delay?: { share: number; ms: number };
  /** A share of the events sent with these faults on every attempt (wrong secret, stale timestamp, odd bytes). */
  tamper?: { share: number; faults: SendFaults };
  /** Deliveries in flight at once. */
  concurrency?: number;
  /** The URL validation (CRC) first, as Zoom does before it sends anything; on by default. */
  validate?: boolean;
  seed?: number;
}

export interface PlannedDelivery {
  event: SandboxEvent;
  copies: 1 | 2;
  delayMs: number;
  faults: SendFaults;
}

export interface PlannedEvents {
  /** In the order they go out (delayed ones after their delay, wherever they are in this list). */
  queue: PlannedDelivery[];
  dropped: SandboxEvent[];
  duplicated: SandboxEvent[];
  delayed: SandboxEvent[];
  tampered: SandboxEvent[];
}

export function planEvents(events: readonly SandboxEvent[], plan: DeliveryPlan): PlannedEvents {
  const seed = plan.seed ?? 1;
  const stream = (purpose: number) => new Rng(hash32(seed, purpose));
  const dropped = pick(stream(1), events.length, plan.dropShare ?? 0);
  const kept = events.filter((_, index) => !dropped.has(index));
  const doubled = pick(stream(2), kept.length, plan.duplicateShare ?? 0);
  const held = pick(stream(3), kept.length, plan.delay?.share ?? 0);
  const tampered = pick(stream(4), kept.length, plan.tamper?.share ?? 0);
  const queue: PlannedDelivery[] = kept.map((event, index) => ({
    event,
    copies: doubled.has(index) ? 2 : 1,
    delayMs: held.has(index) ? Math.max(0, plan.delay?.ms ?? 0) : 0,
    faults: tampered.has(index) ? { ...plan.tamper?.faults } : {},
  }));
  if (plan.reorder) shuffle(stream(5), queue);
  const chosen = (set: Set<number>) => kept.filter((_, index) => set.has(index));
  return {
    queue,
    dropped: events.filter((_, index) => dropped.has(index)),
    duplicated: chosen(doubled),
    delayed: chosen(held),
    tampered: chosen(tampered),
  };
}

/** round(share × count) distinct indices out of [0, count). */
function pick(rng: Rng, count: number, share: number): Set<number> {
  const wanted = Math.min(count, Math.max(0, Math.round(share * count)));
  const indices = Array.from({ length: count }, (_, index) => index);
  // A partial Fisher-Yates: the first `wanted` slots end up a uniform sample.
  for (let i = 0; i < wanted; i++) {
    const j = rng.int(i, count - 1);
    [indices[i], indices[j]] = [indices[j]!, indices[i]!];
  }
  return new Set(indices.slice(0, wanted));
}

function shuffle<T>(rng: Rng, items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
