import { Settings } from 'luxon';
import { describe, expect, it } from 'vitest';
import { chunkWindow, defaultWindow, explicitWindow, parseBound, sliceWindow } from '../../src/window.js';
import { UsageError } from '../../src/errors.js';

const now = new Date('2026-11-25T13:00:00Z');

describe('window', () => {
  it('defaults to [now - lookback, now) on a first run', () => {
    const window = defaultWindow({ now, lastListedEnd: null, lookback: 'P2D', timezone: 'UTC' });
    expect(window.from.toISOString()).toBe('2026-11-23T13:00:00.000Z');
    expect(window.to.toISOString()).toBe('2026-11-25T13:00:00.000Z');
  });

  it('starts from the last listed end minus lookback, so a missed night is covered', () => {
    const window = defaultWindow({ now, lastListedEnd: new Date('2026-11-20T02:00:00Z'), lookback: 'P2D', timezone: 'UTC' });
    expect(window.from.toISOString()).toBe('2026-11-18T02:00:00.000Z');
  });

  it('counts lookback in calendar days of the zone (a DST change is 1 day, not 24 h)', () => {
    const end = new Date('2026-11-01T12:00:00Z'); // New York left DST at 06:00Z that day
    const window = defaultWindow({ now: end, lastListedEnd: end, lookback: 'P1D', timezone: 'America/New_York' });
    expect(window.from.toISOString()).toBe('2026-10-31T11:00:00.000Z');
  });

  it('reads bare dates as whole days in the configured zone, --to inclusive of its day', () => {
    expect(parseBound('2026-03-01', 'from', 'America/New_York').toISOString()).toBe('2026-03-01T05:00:00.000Z');
    expect(parseBound('2026-03-31', 'to', 'UTC').toISOString()).toBe('2026-04-01T00:00:00.000Z');
    expect(parseBound('2026-03-01T08:00:00Z', 'from', 'Asia/Tokyo').toISOString()).toBe('2026-03-01T08:00:00.000Z');
  });

  it('starts a day at its first midnight where a DST change repeats the hour after it, whatever the season it runs in', () => {
    // Havana goes back from 01:00 CDT to 00:00 CST on 2026-11-01: that day starts at 04:00Z, and --to 2026-10-31 ends there.
    try {
      for (const season of ['2026-07-01T00:00:00Z', '2026-12-08T00:00:00Z']) {
        Settings.now = () => Date.parse(season);
        expect(parseBound('2026-10-31', 'to', 'America/Havana').toISOString()).toBe('2026-11-01T04:00:00.000Z');
        expect(parseBound('2026-11-01', 'from', 'America/Havana').toISOString()).toBe('2026-11-01T04:00:00.000Z');
        expect(parseBound('2026-11-01', 'to', 'America/Havana').toISOString()).toBe('2026-11-02T05:00:00.000Z');
      }
      // Where midnight does not exist (Santiago springs forward 00:00 → 01:00 on 2026-09-06), the day starts at 01:00.
      expect(parseBound('2026-09-06', 'from', 'America/Santiago').toISOString()).toBe('2026-09-06T04:00:00.000Z');
      expect(parseBound('2026-09-05', 'to', 'America/Santiago').toISOString()).toBe('2026-09-06T04:00:00.000Z');
    } finally {
      Settings.now = () => Date.now();
    }
  });

  it('refuses impossible windows with a one-line message naming the value', () => {
    expect(() => explicitWindow({ from: '2026-13-01', to: '2026-03-01', now, timezone: 'UTC' })).toThrow(/--from "2026-13-01" is not a date/);
    expect(() => explicitWindow({ from: '2026-03-02', to: '2026-03-01', now, timezone: 'UTC' })).toThrow(UsageError);
    expect(() => explicitWindow({ from: '2027-01-01', now, timezone: 'UTC' })).toThrow(/in the future/);
    expect(() => explicitWindow({ to: '2026-03-01', now, timezone: 'UTC' })).toThrow(/--from is required/);
  });

  it('chunks a 90-day backfill into month-aligned pieces of at most one month', () => {
    const window = explicitWindow({ from: '2026-01-15', to: '2026-04-14', now, timezone: 'UTC' });
    const chunks = chunkWindow(window);
    expect(chunks.map((chunk) => [chunk.from.toISOString().slice(0, 10), chunk.to.toISOString().slice(0, 10)])).toEqual([
      ['2026-01-15', '2026-02-01'],
      ['2026-02-01', '2026-03-01'],
      ['2026-03-01', '2026-04-01'],
      ['2026-04-01', '2026-04-15'],
    ]);
    for (const chunk of chunks) {
      const monthLater = new Date(chunk.from);
      monthLater.setUTCMonth(monthLater.getUTCMonth() + 1);
      expect(chunk.to.getTime()).toBeLessThanOrEqual(monthLater.getTime());
    }
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(chunks.length);
  });

  it.each(['Asia/Tokyo', 'Europe/Berlin', 'America/New_York'])(
    'keeps every chunk within one UTC month (what Zoom judges) when the days are in %s',
    (timezone) => {
      const window = explicitWindow({ from: '2026-01-01', to: '2026-12-31', now: new Date('2027-01-05T00:00:00Z'), timezone });
      const chunks = chunkWindow(window);
      expect(chunks[0]!.from).toEqual(window.from);
      expect(chunks.at(-1)!.to).toEqual(window.to);
      chunks.forEach((chunk, index) => {
        if (index > 0) expect(chunk.from).toEqual(chunks[index - 1]!.to);
        const monthLater = new Date(chunk.from);
        monthLater.setUTCMonth(monthLater.getUTCMonth() + 1);
        expect(chunk.to.getTime(), chunk.id).toBeLessThanOrEqual(monthLater.getTime());
      });
    },
  );
});

describe('sliceWindow', () => {
  const iso = (slices: { from: Date; to: Date }[]) => slices.map((slice) => [slice.from.toISOString(), slice.to.toISOString()]);

  it('tiles [from, to) with adjacent half-open slices on whole seconds', () => {
    const slices = sliceWindow({ from: new Date('2026-11-17T00:00:00.250Z'), to: new Date('2026-11-17T01:00:00.750Z') }, 4);
    expect(iso(slices)).toEqual([
      ['2026-11-17T00:00:00.250Z', '2026-11-17T00:15:00.000Z'],
      ['2026-11-17T00:15:00.000Z', '2026-11-17T00:30:00.000Z'],
      ['2026-11-17T00:30:00.000Z', '2026-11-17T00:45:00.000Z'],
      ['2026-11-17T00:45:00.000Z', '2026-11-17T01:00:00.750Z'],
    ]);
  });

  it('keeps a range too short to split (or one part) whole', () => {
    const range = { from: new Date('2026-11-17T00:00:00Z'), to: new Date('2026-11-17T00:00:03Z') };
    expect(iso(sliceWindow(range, 4))).toEqual([['2026-11-17T00:00:00.000Z', '2026-11-17T00:00:03.000Z']]);
    expect(sliceWindow({ from: range.from, to: new Date('2026-12-01T00:00:00Z') }, 1)).toHaveLength(1);
  });
});
