// Offset paging over the day buckets of a source: counts each day (memoised where a day can no longer change),
// skips whole days, and rebuilds only the items of the page. Also holds the "moved item" state of the moveItem fault.
import { DAY, MAX_ENGAGEMENT_SECONDS } from './generate.js';
import { Kind } from './ids.js';
import type { Entry, SourceName, Store } from './store.js';
import { byTimeThenId } from './store.js';

export interface ListQuery {
  source: SourceName;
  /** Inclusive bounds, epoch seconds. */
  from: number;
  to: number;
  filter: ((e: Entry) => boolean) | null;
  /** Identifies the filter for memoised counts. */
  filterKey: string;
}

export interface Page { entries: Entry[]; total: number }

export class Lister {
  private readonly pins = new Map<SourceName, Map<string, Entry>>();
  private pinVersion = 0;
  private readonly counts = new Map<string, number>();

  constructor(private readonly store: Store) {}

  clearPins(): void {
    this.pins.clear();
    this.pinVersion++;
  }

  /** Move an item to the head of its source's listings (every later query sees it first). */
  pin(source: SourceName, entry: Entry): void {
    let m = this.pins.get(source);
    if (!m) this.pins.set(source, (m = new Map()));
    m.set(entry.id, entry);
    this.pinVersion++;
  }

  /** Every visible item of the query, in list order (for truth and tests; fine for small windows). */
  all(q: ListQuery): Entry[] {
    return this.page(q, 0, Number.MAX_SAFE_INTEGER).entries;
  }

  page(q: ListQuery, offset: number, size: number): Page {
    const now = this.store.nowSec();
    const pinMap = this.pins.get(q.source);
    const visible = (e: Entry): boolean =>
      e.t >= q.from && e.t <= q.to && e.avail <= now && !this.store.isRemoved(q.source, e.id) && (q.filter === null || q.filter(e));
    const natural = (e: Entry): boolean => !pinMap?.has(e.id) && visible(e);
    const pinned = pinMap ? [...pinMap.values()].filter(visible).sort(byTimeThenId) : [];

    const days = this.store.bucketDays(q.from, q.to);
    const dayCounts = days.map((d) => this.countDay(q, d, natural, now));
    const total = pinned.length + dayCounts.reduce((a, b) => a + b, 0);

    const entries: Entry[] = pinned.slice(offset, offset + size);
    let skip = Math.max(0, offset - pinned.length);
    for (let i = 0; i < days.length && entries.length < size; i++) {
      const count = dayCounts[i] ?? 0;
      if (skip >= count) {
        skip -= count;
        continue;
      }
      const bucket = this.store.bucket(q.source, days[i] ?? 0);
      for (let j = lowerBound(bucket, q.from); j < bucket.length && entries.length < size; j++) {
        const e = bucket[j];
        if (!e || e.t > q.to) break;
        if (!natural(e)) continue;
        if (skip > 0) skip--;
        else entries.push(e);
      }
    }
    return { entries, total };
  }

  private countDay(q: ListQuery, day: number, natural: (e: Entry) => boolean, now: number): number {
    const dayStart = day * DAY;
    const inside = q.from <= dayStart && q.to >= dayStart + DAY - 1;
    // Once every item of the day is past its availability time, the day's count only changes with the overlay.
    const settled = now >= dayStart + DAY + 2 * MAX_ENGAGEMENT_SECONDS + 3600;
    const key = `${q.source}|${day}|${q.filterKey}|${this.store.version}|${this.pinVersion}|${this.store.dataDays()[0]}`;
    if (inside && settled) {
      const memo = this.counts.get(key);
      if (memo !== undefined) return memo;
      if (q.source === 'engagements' && q.filter === null) {
        const count = this.store.perDay - this.hiddenEngagementsOn(day);
        this.remember(key, count);
        return count;
      }
    }
    const bucket = this.store.bucket(q.source, day);
    let count = 0;
    for (let j = lowerBound(bucket, q.from); j < bucket.length; j++) {
      const e = bucket[j];
      if (!e || e.t > q.to) break;
      if (natural(e)) count++;
    }
    if (inside && settled) this.remember(key, count);
    return count;
  }

  private remember(key: string, count: number): void {
    // Keys carry the overlay version, so old ones pile up as tests mutate: start over now and then.
    if (this.counts.size > 20_000) this.counts.clear();
    this.counts.set(key, count);
  }

  /** Removed or pinned engagements that started on `day` (those the analytic count must leave out). */
  private hiddenEngagementsOn(day: number): number {
    const ids = new Set([...this.store.removed.engagement, ...(this.pins.get('engagements')?.keys() ?? [])]);
    let n = 0;
    for (const id of ids) {
      const p = this.store.gen.ids.decode(id, Kind.Engagement);
      if (p && p.day === day && p.index < this.store.perDay) n++;
    }
    return n;
  }
}

/** First index whose t >= from (the bucket is sorted by t). */
function lowerBound(bucket: Entry[], from: number): number {
  let lo = 0;
  let hi = bucket.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((bucket[mid]?.t ?? 0) < from) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
