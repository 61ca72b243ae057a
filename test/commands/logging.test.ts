// The logger on its own: JSON lines that validate, text lines for people, a file that gets everything, secrets
// redacted whatever field they hide in, and nothing at all for a quiet run.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Logger } from '../../src/logging.js';
import { redactor } from '../../src/redact.js';
import type { RunEvent } from '../../src/run.js';
import { schemaErrors } from './helpers.js';

const SECRET = 'super-secret-client-value-42';
const redact = redactor({ ZOOM_CLIENT_SECRET: SECRET });
const window = { from: new Date('2026-11-18T00:00:00Z'), to: new Date('2026-11-20T00:00:00Z') };
const EVENTS: RunEvent[] = [
  { type: 'run-start', runId: 7, mode: 'backfill', window, chunks: 1, sources: ['engagements', 'recordings', 'messages'] },
  { type: 'page', source: 'engagements', items: 3 },
  { type: 'chunk', source: 'engagements', chunk: 'engagements [2026-11-18T00:00:00.000Z, 2026-11-20T00:00:00.000Z)', state: 'listed' },
  { type: 'queued', key: 'note/E1/N1', kind: 'note', destination: 'archive', reason: 'new' },
  { type: 'artifact', key: 'note/E1/N1', kind: 'note', engagementId: 'E1', occurredAt: '2026-11-18T10:00:00.000Z', destination: 'archive', action: 'delivered', size: 120, reason: null },
  { type: 'artifact', key: 'recording/R1', kind: 'recording', engagementId: 'E1', occurredAt: '2026-11-18T10:00:00.000Z', destination: 'archive', action: 'failed', size: null, reason: `got 401 with Bearer abcdefghijklmnop and ${SECRET}` },
  { type: 'artifact', key: 'note/E1/N2', kind: 'note', engagementId: 'E1', occurredAt: '2026-11-18T10:00:00.000Z', destination: 'archive', action: 'unchanged', size: 80, reason: null },
  { type: 'rate-limit-wait', label: 'Medium', waitMs: 1000, until: '2026-11-20T12:00:01.000Z' },
  { type: 'run-end', runId: 7, mode: 'backfill', exitCode: 1, listingComplete: true, interrupted: false, stopped: null },
];

function capture(format: 'text' | 'json', verbose: boolean, file?: string) {
  const lines: string[] = [];
  const logger = new Logger({ format, verbose, file, stderr: (text) => lines.push(text), redact, now: () => new Date('2026-11-20T12:00:00Z') });
  for (const event of EVENTS) logger.runEvent(event);
  return { logger, lines };
}

describe('logger', () => {
  it('json: one valid object per shipped event, unchanged/page/queued left out, secrets redacted', async () => {
    const { logger, lines } = capture('json', false);
    await logger.close();
    const records = lines.map((line) => JSON.parse(line));
    expect(records.map((record) => record.event)).toEqual(['run_start', 'chunk', 'artifact_delivered', 'artifact_failed', 'rate_limit_wait', 'run_end']);
    for (const record of records) expect(schemaErrors('log-event', record)).toEqual([]);
    expect(records[0]).toEqual({
      time: '2026-11-20T12:00:00.000Z', level: 'info', event: 'run_start', runId: 7, mode: 'backfill',
      window: { from: '2026-11-18T00:00:00.000Z', to: '2026-11-20T00:00:00.000Z' }, chunks: 1, sources: ['engagements', 'recordings', 'messages'],
    });
    expect(records[3]).toMatchObject({ level: 'warn', key: 'recording/R1', reason: 'got 401 with Bearer [redacted] and [redacted]' });
    expect(records[5]).toMatchObject({ level: 'warn', exitCode: 1, totals: { delivered: 1, failed: 1, unchanged: 1 } });
    expect(lines.join('')).not.toContain(SECRET);
  });

  it('text: short lines on stderr with --verbose only; a log file gets every record with a timestamp', async () => {
    expect(capture('text', false).lines).toEqual([]);
    const { lines } = capture('text', true);
    expect(lines).toEqual([
      'backfill 7 window [2026-11-18T00:00:00.000Z, 2026-11-20T00:00:00.000Z) in 1 chunk(s)\n',
      'listed engagements [2026-11-18T00:00:00.000Z, 2026-11-20T00:00:00.000Z)\n',
      '+ note/E1/N1 → archive (120 bytes)\n',
      '! recording/R1 → archive: got 401 with Bearer [redacted] and [redacted]\n',
      'rate limit: Medium requests wait 1000 ms (until 2026-11-20T12:00:01.000Z)\n',
      'backfill 7 finished: exit 1 · unchanged 1 · delivered 1 · failed 1\n',
    ]);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'zcc-log-')), 'run.log');
    const { logger, lines: onStderr } = capture('text', false, file);
    await logger.close();
    expect(onStderr).toEqual([]);
    const written = readFileSync(file, 'utf8').trim().split('\n');
    expect(written).toHaveLength(6);
    expect(written[3]).toBe('2026-11-20T12:00:00.000Z warn  ! recording/R1 → archive: got 401 with Bearer [redacted] and [redacted]');
  });
});
