// The report renderings on their own: the CSV stream (quoting, reasons joined from the queue), and the HTML page.
import { describe, expect, it } from 'vitest';
import { HtmlReportCollector } from '../../src/html-report.js';
import { CsvReportWriter } from '../../src/report.js';
import type { RunEvent } from '../../src/run.js';
import { OUTCOMES, type Outcome } from '../../src/tally.js';

const artifact = (over: Partial<Extract<RunEvent, { type: 'artifact' }>>): RunEvent => ({
  type: 'artifact', key: 'note/E1/N1', kind: 'note', engagementId: 'E1', occurredAt: '2026-11-18T23:30:00.000Z',
  destination: 'archive', action: 'delivered', size: 10, reason: null, ...over,
});

describe('CSV report', () => {
  it('streams one row per artifact, quotes what needs quoting, and keeps a header even when empty', () => {
    const out: string[] = [];
    const csv = new CsvReportWriter((text) => out.push(text));
    csv.onEvent({ type: 'queued', key: 'note/E1/N1', kind: 'note', destination: 'archive', reason: 'changed' });
    csv.onEvent(artifact({}));
    csv.onEvent(artifact({ key: 'recording/R1', kind: 'recording', action: 'failed', size: null, reason: 'said "no", twice\nthen gave up' }));
    csv.onEvent(artifact({ key: 'voicemail/invalid-1', kind: 'voicemail', engagementId: null, occurredAt: null, action: 'failed', size: null, reason: 'bad id' }));
    expect(out.join('')).toBe(
      'kind,key,engagement_id,destination,size,action,reason\n' +
        'note,note/E1/N1,E1,archive,10,delivered,changed\n' +
        'recording,recording/R1,E1,archive,,failed,"said ""no"", twice\nthen gave up"\n' +
        'voicemail,voicemail/invalid-1,,archive,,failed,bad id\n',
    );
    const empty: string[] = [];
    new CsvReportWriter((text) => empty.push(text)).header();
    expect(empty).toEqual(['kind,key,engagement_id,destination,size,action,reason\n']);
  });
});

describe('HTML report', () => {
  it('counts per day in the configured zone, escapes what it shows, and loads nothing from outside', () => {
    const html = new HtmlReportCollector('America/New_York');
    html.onEvent(artifact({}));
    html.onEvent(artifact({ key: 'note/E1/N2' }));
    html.onEvent(artifact({ key: 'recording/R1', kind: 'recording', occurredAt: '2026-11-19T12:00:00.000Z', action: 'failed', reason: '<script>alert(1)</script>' }));
    const zero = () => Object.fromEntries(OUTCOMES.map((outcome) => [outcome, 0])) as Record<Outcome, number>;
    const kinds: Record<string, Record<Outcome, number>> = {};
    for (const kind of ['recording', 'recording_transcript', 'messaging_transcript', 'note', 'disposition', 'voicemail', 'voicemail_transcript']) kinds[kind] = zero();
    const page = html.render({
      schemaVersion: 1, mode: 'run', runId: 3, window: { from: '2026-11-18T00:00:00.000Z', to: '2026-11-20T00:00:00.000Z' }, chunks: 1,
      listingComplete: true, exitCode: 1, kinds, totals: { seen: 3, unchanged: 0, to_push: 0, failing: 0, delivered: 2, pending: 0, not_available: 0, failed: 1, gave_up: 0 },
      bytes: { delivered: 20, toPushKnown: 0 }, incomplete: [], stopped: null, failures: [], interrupted: false, failuresTotal: 1,
      startedAt: null, finishedAt: null, durationMs: null,
    });
    // 23:30Z on the 18th is the 18th in New York; noon Z on the 19th is the 19th.
    expect(page).toContain('<title>2026-11-18 note: 2</title>');
    expect(page).toContain('<title>2026-11-19 recording: 1</title>');
    expect(page).not.toContain('<script>');
    expect(page).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(page).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
  });
});
