// `status`'s view of the real-time path, per UTC day: artifacts delivered through events (`listen`), those the nightly
// reconciliation had to catch, and the WebSocket's disconnected intervals. The share caught by the run is the measure
// of how healthy the webhooks are.
import chalk from 'chalk';
import type { DeliveryPathCount, Ledger, WebsocketGap } from '../ledger/types.js';
import { formatDuration } from '../report.js';
import { shortTime, table, truncate } from './text-table.js';

const DAY_MS = 86_400_000;
/** Gaps listed in the table (JSON has them all). */
const GAPS_SHOWN = 5;

export interface RealtimeDay {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  /** Distinct artifacts delivered that day by `listen` (webhooks, WebSocket, flow events). */
  viaEvents: number;
  /** Distinct artifacts delivered that day by a reconciliation (`run`): what the events missed. */
  viaReconcile: number;
  /** WebSocket disconnected intervals overlapping the day. */
  websocketGaps: number;
  /** How long the WebSocket was down within the day. */
  websocketDownMs: number;
}

export interface RealtimeGap {
  subscriptionId: string;
  disconnectedAt: string;
  reconnectedAt: string | null;
  /** Until reconnection, or until now while it is still open. */
  durationMs: number;
  reason: string | null;
}

export interface RealtimeView {
  days: number;
  /** Start of the oldest day shown. */
  since: string;
  /** Most recent day first; every day of the period, zeros included. */
  byDay: RealtimeDay[];
  /** Gaps overlapping the period, most recent first. */
  websocketGaps: RealtimeGap[];
}

/** Reads the two listen tables; a ledger from before `listen` existed (read-only, not migrated) has neither. */
export function readRealtime(ledger: Ledger, now: Date, days: number): RealtimeView {
  const since = startOfDay(now.getTime() - (days - 1) * DAY_MS);
  let paths: DeliveryPathCount[] = [];
  let gaps: WebsocketGap[] = [];
  try {
    paths = ledger.deliveriesByPath(iso(since));
    gaps = ledger.websocketGaps(iso(since));
  } catch {
    // Schema version 1: no delivery paths or gaps recorded yet.
  }
  return realtimeView(paths, gaps, now, days);
}

export function realtimeView(paths: readonly DeliveryPathCount[], gaps: readonly WebsocketGap[], now: Date, days: number): RealtimeView {
  const end = now.getTime();
  const since = startOfDay(end - (days - 1) * DAY_MS);
  const spans = gaps
    .map((gap) => ({ gap, from: Date.parse(gap.disconnectedAt), to: gap.reconnectedAt ? Date.parse(gap.reconnectedAt) : end }))
    .filter((span) => span.to >= since && span.from <= end);
  const byDay: RealtimeDay[] = [];
  for (let dayStart = startOfDay(end); dayStart >= since; dayStart -= DAY_MS) {
    const day = iso(dayStart).slice(0, 10);
    const count = (via: DeliveryPathCount['via']) => paths.filter((row) => row.day === day && row.via === via).reduce((sum, row) => sum + row.artifacts, 0);
    const dayEnd = dayStart + DAY_MS;
    // A gap of no length (reconnected the same millisecond) still counts on the day it happened.
    const touching = spans.filter((span) => span.from < dayEnd && (span.to > dayStart || span.from >= dayStart));
    const downMs = touching.reduce((sum, span) => sum + Math.max(0, Math.min(span.to, dayEnd) - Math.max(span.from, dayStart)), 0);
    byDay.push({ day, viaEvents: count('event'), viaReconcile: count('reconcile'), websocketGaps: touching.length, websocketDownMs: downMs });
  }
  const websocketGaps = spans
    .sort((a, b) => b.from - a.from)
    .map(({ gap, from, to }) => ({ subscriptionId: gap.subscriptionId, disconnectedAt: gap.disconnectedAt, reconnectedAt: gap.reconnectedAt, durationMs: to - from, reason: gap.reason }));
  return { days, since: iso(since), byDay, websocketGaps };
}

export function renderRealtime(view: RealtimeView): string[] {
  const events = view.byDay.reduce((sum, day) => sum + day.viaEvents, 0);
  const caught = view.byDay.reduce((sum, day) => sum + day.viaReconcile, 0);
  const out = [
    chalk.bold(`Real-time path, last ${view.days} day(s): ${events} via events · ${caught} caught by the nightly run · ${view.websocketGaps.length} WebSocket gap(s)`) +
      chalk.dim(' (by UTC day of delivery)'),
  ];
  if (events + caught === 0 && view.websocketGaps.length === 0) {
    out.push(chalk.dim('  nothing delivered in this period'));
    return out;
  }
  const withSocket = view.websocketGaps.length > 0;
  const header = ['day', 'via events', 'caught by run', 'by events', ...(withSocket ? ['ws gaps', 'ws down'] : [])];
  const rows = view.byDay.map((day) => {
    const total = day.viaEvents + day.viaReconcile;
    const share = total === 0 ? '–' : `${((100 * day.viaEvents) / total).toFixed(1)}%`;
    const socket = withSocket ? [String(day.websocketGaps), day.websocketDownMs === 0 ? '–' : formatDuration(day.websocketDownMs)] : [];
    return [day.day, String(day.viaEvents), String(day.viaReconcile), share, ...socket];
  });
  // The run catching something on a day the events delivered too: events were missed.
  out.push(...table(header, rows, (row, text, column) => (column === 2 && row[2] !== '0' && row[1] !== '0' ? chalk.yellow(text) : text), [3, 5]));
  if (events === 0) out.push(chalk.dim('  none came through events: without `zcc-reconcile listen` running, the nightly run delivers everything'));
  if (withSocket) {
    out.push(chalk.dim('  WebSocket gaps (Zoom does not replay what it sent meanwhile; the nightly run covers it):'));
    for (const gap of view.websocketGaps.slice(0, GAPS_SHOWN)) {
      const until = gap.reconnectedAt ? shortTime(gap.reconnectedAt) : chalk.red('still down');
      out.push(`    ${gap.subscriptionId}  ${shortTime(gap.disconnectedAt)} → ${until}  ${formatDuration(gap.durationMs)}${gap.reason ? `  ${truncate(gap.reason, 80)}` : ''}`);
    }
    if (view.websocketGaps.length > GAPS_SHOWN) out.push(chalk.dim(`    … and ${view.websocketGaps.length - GAPS_SHOWN} more (--format json lists them all)`));
  }
  return out;
}

function startOfDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
