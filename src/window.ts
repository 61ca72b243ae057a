// The reconciliation window: the default nightly window, --from/--to parsing in the configured zone, and chunking
// into pieces no longer than Zoom's list endpoints accept (one calendar month).
import { DateTime, Duration, Interval } from 'luxon';
import { UsageError } from './errors.js';

export interface Window {
  from: Date;
  to: Date;
}

export interface Chunk extends Window {
  /** Stable id of the chunk within its window, used for checkpoints. */
  id: string;
}

export function defaultWindow(options: {
  now: Date;
  lastListedEnd: Date | null;
  /** With no completed listing yet: where the first nightly run (which could not list) began. */
  firstNightStart?: Date | null;
  lookback: string;
  timezone: string;
}): Window {
  const now = DateTime.fromJSDate(options.now, { zone: options.timezone }).startOf('second');
  const end = options.lastListedEnd ? DateTime.fromJSDate(options.lastListedEnd, { zone: options.timezone }) : now;
  let from = end.minus(Duration.fromISO(options.lookback)).startOf('second');
  if (!options.lastListedEnd && options.firstNightStart) {
    from = DateTime.min(from, DateTime.fromJSDate(options.firstNightStart, { zone: options.timezone }).startOf('second'));
  }
  return { from: from.toJSDate(), to: now.toJSDate() };
}

/**
 * A bare date is the whole day in `timezone` (so --to 2026-03-31 ends at the start of April 1st); a date-time without
 * an offset is read in `timezone` too.
 */
export function parseBound(text: string, bound: 'from' | 'to', timezone: string): Date {
  const bareDate = /^\d{4}-\d{2}-\d{2}$/.test(text);
  // Only the two documented forms: luxon also reads 20261118, 2026-W47-3, 2026-322 and 2026-11, which a bare --to
  // would then end at their start instead of including the day (or month) they name.
  const dateTime = /^\d{4}-\d{2}-\d{2}T/.test(text);
  const parsed = DateTime.fromISO(text, { zone: timezone, setZone: false });
  if ((!bareDate && !dateTime) || !parsed.isValid) {
    throw new UsageError(
      `--${bound} ${JSON.stringify(text)} is not a date: expected an ISO date (2026-03-01) or date-time (2026-03-01T08:00:00Z)`,
    );
  }
  if (!bareDate) return parsed.startOf('second').toJSDate();
  return firstInstantOf(bound === 'to' ? firstInstantOf(parsed).plus({ days: 1 }) : parsed).toJSDate();
}

/**
 * The first instant of a local day. Where a DST change repeats the hour after midnight (America/Havana on November
 * 1st), luxon reads "00:00" with the offset in force when it runs: in winter the later of the two midnights, and an
 * hour fell between one day's --to and the next day's --from. Stepping back while the local date holds finds the first.
 */
function firstInstantOf(day: DateTime): DateTime {
  const date = day.toISODate();
  let first = day.startOf('day');
  for (let earlier = first.minus({ minutes: 15 }); earlier.toISODate() === date; earlier = earlier.minus({ minutes: 15 })) first = earlier;
  return first;
}

export function explicitWindow(options: {
  from?: string;
  to?: string;
  now: Date;
  timezone: string;
}): Window {
  const to = options.to ? parseBound(options.to, 'to', options.timezone) : options.now;
  if (!options.from) throw new UsageError('--from is required with --to: a backfill needs both bounds');
  const from = parseBound(options.from, 'from', options.timezone);
  if (from >= options.now) {
    throw new UsageError(`--from ${options.from} is in the future: nothing can have happened there yet`);
  }
  if (from >= to) {
    throw new UsageError(`--from ${options.from} is not before --to ${options.to ?? 'now'}: the window [from, to) would be empty`);
  }
  return { from, to: to > options.now ? options.now : to };
}

/**
 * Splits [from, to) into chunks that each span at most one calendar month, aligned to month starts in UTC: the bounds
 * go to Zoom in UTC (engagements with timezone=UTC), where "within a month" is judged, and a month of another zone is
 * longer than a UTC month after it (Asia/Tokyo's May ends at 2026-05-31T15:00Z) or across a DST change.
 */
export function chunkWindow(window: Window): Chunk[] {
  const interval = Interval.fromDateTimes(DateTime.fromJSDate(window.from, { zone: 'utc' }), DateTime.fromJSDate(window.to, { zone: 'utc' }));
  if (!interval.isValid || interval.isEmpty()) return [];
  const start = interval.start!;
  const boundaries = [start];
  for (let next = start.startOf('month').plus({ months: 1 }); next < interval.end!; next = next.plus({ months: 1 })) {
    boundaries.push(next);
  }
  boundaries.push(interval.end!);
  return boundaries.slice(0, -1).map((from, index) => {
    const to = boundaries[index + 1]!;
    return { from: from.toJSDate(), to: to.toJSDate(), id: `${from.toISO()}/${to.toISO()}` };
  });
}

export function dateInZone(iso: string, timezone: string): string {
  return DateTime.fromISO(iso, { zone: 'utc' }).setZone(timezone).toISODate() ?? iso.slice(0, 10);
}

export function formatWindow(window: Window): string {
  return `[${window.from.toISOString()}, ${window.to.toISOString()})`;
}

/**
 * Splits [from, to) into up to `parts` adjacent half-open slices on whole seconds (Zoom's list bounds have no
 * milliseconds), so one range can be listed by several queries at once; a range too short to split stays whole.
 */
export function sliceWindow(window: Window, parts: number): Window[] {
  const from = window.from.getTime();
  const to = window.to.getTime();
  const step = Math.floor((to - from) / parts / 1000) * 1000;
  if (parts <= 1 || step < 1000) return [{ from: window.from, to: window.to }];
  const bounds = [window.from];
  for (let k = 1; k < parts; k++) bounds.push(new Date(Math.floor((from + k * step) / 1000) * 1000));
  bounds.push(window.to);
  return bounds.slice(0, -1).map((start, index) => ({ from: start, to: bounds[index + 1]! }));
}
