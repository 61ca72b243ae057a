// The whole reconciliation against the sandbox: exactly once, idempotent re-runs, late data, dry run, backfill.
import { getEventListeners } from 'node:events';
import { existsSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import Database from 'better-sqlite3';
import { MemoryDestination } from '../../src/destinations/memory.js';
import { DestinationError } from '../../src/errors.js';
import type { RunEvent, RunRequest, RunResult } from '../../src/run.js';
import { afterEach, describe, expect, it } from 'vitest';
import { operationFor, validateRequest } from '../support/openapi.js';
import { harness, listFiles, NOW, walkArchive, type Harness } from '../support/harness.js';
import { fetchPage } from '../faults/support.js';

const DAY = 86_400_000;
let current: Harness | null = null;
afterEach(async () => {
  await current?.close();
  current = null;
});

/** Runs, and stops the run (as SIGINT would) at the `count`th event that `counted` picks. */
function runStoppedAt(h: Harness, request: Partial<RunRequest>, counted: (event: RunEvent) => boolean, count: number): Promise<RunResult> {
  const controller = new AbortController();
  let seen = 0;
  return h.run({
    ...request,
    signal: controller.signal,
    onEvent: (event) => {
      if (counted(event) && ++seen === count) controller.abort();
    },
  });
}

const chunkListed = (event: RunEvent) => event.type === 'chunk' && event.state === 'listed';

function expectMatchesTruth(h: Harness, window: { from: Date; to: Date }) {
  const truth = h.sandbox.truth.artifacts(window);
  const stored = walkArchive(h.archive);
  expect(stored.map((file) => file.key)).toEqual(truth.map((artifact) => artifact.key).sort());
  const byKey = new Map(stored.map((file) => [file.key, file]));
  for (const artifact of truth) {
    const file = byKey.get(artifact.key)!;
    if (artifact.kind === 'note') expect(JSON.parse(file.text!).note).toBe(artifact.text);
    else if (artifact.kind === 'disposition') expect(JSON.parse(file.text!).disposition_name).toBe(artifact.text);
    else expect({ key: file.key, size: file.size, sha256: file.sha256 }).toEqual({ key: artifact.key, size: artifact.size, sha256: artifact.sha256 });
  }
  return truth;
}

describe('reconciliation against the sandbox', () => {
  it('delivers every artifact of the window exactly once, then nothing, then exactly the late data', async () => {
    const h = (current = await harness());
    const window = { from: new Date(NOW.getTime() - 3 * DAY), to: NOW };
    const first = await h.run({ from: window.from.toISOString(), to: window.to.toISOString() });
    expect(first.exitCode).toBe(0);
    const truth = expectMatchesTruth(h, window);
    expect(truth.length).toBeGreaterThan(50);
    expect(new Set(truth.map((artifact) => artifact.kind)).size).toBe(7);
    expect(first.tally.total('delivered')).toBe(truth.length);
    expect(first.tally.total('pending')).toBeGreaterThan(0);

    const second = await h.run({ from: window.from.toISOString(), to: window.to.toISOString() });
    expect(second.exitCode).toBe(0);
    expect(second.tally.total('delivered')).toBe(0);
    expect(second.tally.total('unchanged')).toBe(truth.length);

    // Late data on old engagements: a note, an edited note, a disposition, a recording that finished processing late.
    const [old, other] = h.sandbox.truth.engagementIds({ from: window.from, to: new Date(window.from.getTime() + DAY) });
    const { noteId } = h.sandbox.mutate.addNote(old!, 'Called back: resolved.');
    const { dispositionId } = h.sandbox.mutate.addDisposition(old!, 'Escalated');
    const { recordingId } = h.sandbox.mutate.addRecording(other!, { endTime: new Date(NOW.getTime() - 2 * 3_600_000) });
    const editable = truth.find((artifact) => artifact.kind === 'note')!;
    const [, engagementOfEdited, editedNoteId] = editable.key.split('/');
    h.sandbox.mutate.editNote(engagementOfEdited!, editedNoteId!, 'Edited later by the agent.');

    const delivered: string[] = [];
    const third = await h.run({
      from: window.from.toISOString(),
      to: window.to.toISOString(),
      onEvent: (event) => event.type === 'delivered' && delivered.push(event.key),
    });
    expect(third.exitCode).toBe(0);
    const lateTranscript = `recording_transcript/${recordingId}`;
    const transcriptReady = h.sandbox.truth.artifacts(window).some((artifact) => artifact.key === lateTranscript);
    expect(delivered.sort()).toEqual(
      [`note/${old}/${noteId}`, `disposition/${old}/${dispositionId}`, `recording/${recordingId}`, editable.key,
        ...(transcriptReady ? [lateTranscript] : [])].sort(),
    );
    expectMatchesTruth(h, window);
  });

  it('leaves no listener per request on the abort signal of the run (Node warns past its limit, in every cron mail)', async () => {
    const h = (current = await harness());
    const controller = new AbortController();
    const result = await h.run({ from: new Date(NOW.getTime() - 3 * DAY).toISOString(), to: NOW.toISOString(), signal: controller.signal });
    expect(result.exitCode).toBe(0);
    const requests = h.sandbox.requests.filter((request) => request.operationId !== 'oauthToken').length;
    expect(requests).toBeGreaterThan(50);
    expect(getEventListeners(controller.signal, 'abort').length).toBe(0);
  });

  it('gives up a pending artifact whose item Zoom dropped once pendingTimeout has passed (not available, not pending for ever)', async () => {
    const h = (current = await harness({ engagementsPerDay: 60 }));
    expect((await h.run()).exitCode).toBe(0);
    const pending = () => {
      const db = new Database(h.ledgerPath, { readonly: true });
      try {
        return db.prepare(`SELECT key, state FROM artifacts WHERE kind = 'recording_transcript' AND state = 'pending'`).all() as { key: string }[];
      } finally {
        db.close();
      }
    };
    const [dropped] = pending();
    expect(dropped).toBeDefined();
    h.sandbox.mutate.removeItem('recording', dropped!.key.split('/')[1]!);
    const stateOf = () => {
      const db = new Database(h.ledgerPath, { readonly: true });
      try {
        return (db.prepare('SELECT state FROM artifacts WHERE key = ?').get(dropped!.key) as { state: string }).state;
      } finally {
        db.close();
      }
    };
    // Within window.pendingTimeout (P3D) it keeps waiting; after it, it is given up.
    h.clock.now = new Date(NOW.getTime() + 2 * DAY);
    expect((await h.run()).exitCode).toBe(0);
    expect(stateOf()).toBe('pending');
    h.clock.now = new Date(NOW.getTime() + 4 * DAY);
    expect((await h.run()).exitCode).toBe(0);
    expect(stateOf()).toBe('not_available');
  });

  it('keeps waiting for an overdue pending artifact when its day listed an item that failed validation (it may be that one)', async () => {
    const h = (current = await harness({ engagementsPerDay: 60 }));
    expect((await h.run()).exitCode).toBe(0);
    const db = new Database(h.ledgerPath, { readonly: true });
    const row = db.prepare(`SELECT key, descriptor_json FROM artifacts WHERE kind = 'recording_transcript' AND state = 'pending' LIMIT 1`).get() as { key: string; descriptor_json: string };
    db.close();
    const recordingId = row.key.split('/')[1]!;
    const listedAt = new Date((JSON.parse(row.descriptor_json) as { listedAt: string }).listedAt);
    const day = new Date(Date.UTC(listedAt.getUTCFullYear(), listedAt.getUTCMonth(), listedAt.getUTCDate()));
    const zoomTime = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const page = await fetchPage(h.sandbox, '/contact_center/recordings', { from: zoomTime(day), to: zoomTime(new Date(day.getTime() + DAY)), query_date_type: 'recording_end_time', page_size: '300' });
    const items = page.recordings as Record<string, unknown>[];
    const item = items.find((candidate) => candidate.recording_id === recordingId)!;
    expect(item).toBeDefined();
    // Still listed, with an id no path may be built from: an invalid item, not a missing one.
    item.engagement_id = '../escape';
    h.sandbox.faults.add({ operationId: 'listRecordings' }, { type: 'malformed', body: JSON.stringify(page) }, { times: Infinity });
    h.clock.now = new Date(NOW.getTime() + 4 * DAY);
    await h.run();
    const after = new Database(h.ledgerPath, { readonly: true });
    const state = (after.prepare('SELECT state FROM artifacts WHERE key = ?').get(row.key) as { state: string }).state;
    after.close();
    expect(state).toBe('pending');
  });

  it('takes over a claim left by a killed run under its own pid (a container restarted at once): the key is delivered, not unchanged', async () => {
    const h = (current = await harness());
    const bounds = { from: new Date(NOW.getTime() - DAY).toISOString(), to: NOW.toISOString() };
    expect((await h.run(bounds)).exitCode).toBe(0);
    const victim = walkArchive(h.archive).find((file) => file.key.startsWith('recording/'))!;
    rmSync(victim.path);
    rmSync(`${victim.path}.meta.json`);
    const db = new Database(h.ledgerPath);
    db.prepare('DELETE FROM deliveries WHERE key = ?').run(victim.key);
    db.prepare(`INSERT INTO claims (destination, key, owner, host, pid, via, lease_until) VALUES ('archive', ?, ?, ?, ?, 'reconcile', ?)`)
      .run(victim.key, `run:${hostname()}:${process.pid}:dead0000`, hostname(), process.pid, new Date(NOW.getTime() + 4 * 60_000).toISOString());
    db.close();
    const again = await h.run(bounds);
    expect(again.exitCode).toBe(0);
    expect(again.tally.total('delivered')).toBe(1);
    expect(walkArchive(h.archive).map((file) => file.key)).toContain(victim.key);
  });

  it('dry run reports what the real run then delivers, and touches neither ledger nor folder', async () => {
    const h = (current = await harness());
    const bounds = { from: '2026-11-18', to: '2026-11-19' };
    const dry = await h.run({ ...bounds, dryRun: true });
    expect(existsSync(h.ledgerPath)).toBe(false);
    expect(listFiles(h.archive)).toEqual([]);
    const real = await h.run(bounds);
    for (const kind of real.tally.counts.keys()) {
      const planned = dry.tally.counts.get(kind)!;
      const done = real.tally.counts.get(kind)!;
      expect({ kind, seen: planned.seen, push: planned.to_push, pending: planned.pending }).toEqual({ kind, seen: done.seen, push: done.delivered, pending: done.pending });
    }
    expect(real.tally.total('delivered')).toBeGreaterThan(0);

    const before = listFiles(h.archive);
    const again = await h.run({ ...bounds, dryRun: true });
    expect(again.tally.total('to_push')).toBe(0);
    expect(again.tally.total('unchanged')).toBe(real.tally.total('delivered'));
    expect(listFiles(h.archive)).toEqual(before);
  });

  it('dry run counts as the real run does what arrived since, and what waited too long to arrive', async () => {
    const h = (current = await harness({ engagementsPerDay: 60 }));
    const window = { from: new Date(NOW.getTime() - DAY), to: NOW };
    const bounds = { from: window.from.toISOString(), to: window.to.toISOString() };
    expect((await h.run(bounds)).tally.total('pending')).toBeGreaterThan(0);
    // Hours later some transcripts have arrived; days later (window.pendingTimeout P3D) the rest are not available.
    for (const [later, changed] of [[7 * 3_600_000, 'delivered'], [4 * DAY, 'not_available']] as const) {
      h.clock.now = new Date(NOW.getTime() + later);
      const dry = await h.run({ ...bounds, dryRun: true });
      const real = await h.run(bounds);
      expect(real.tally.total(changed)).toBeGreaterThan(0);
      for (const kind of real.tally.counts.keys()) {
        const planned = dry.tally.counts.get(kind)!;
        const done = real.tally.counts.get(kind)!;
        expect({ kind, push: planned.to_push, pending: planned.pending, notAvailable: planned.not_available }).toEqual({ kind, push: done.delivered, pending: done.pending, notAvailable: done.not_available });
      }
    }
  });

  it('chunks a 90-day backfill to the API limit, sends only valid requests, and resumes after a stop', async () => {
    // At concurrency 4 the stop after 40 deliveries comes once some chunks are done (more at once leaves none done yet).
    const h = (current = await harness({ days: 100, engagementsPerDay: 3, config: { concurrency: 4 } }));
    const bounds = { from: '2026-08-22', to: '2026-11-19' };
    const stopped = await runStoppedAt(h, bounds, (event) => event.type === 'delivered', 40);
    expect(stopped.interrupted).toBe(true);
    expect(stopped.chunks).toBe(4);

    const resumedChunks: string[] = [];
    const resumed = await h.run({ ...bounds, onEvent: (event) => event.type === 'chunk' && event.state === 'resumed' && resumedChunks.push(event.chunk) });
    expect(resumed.exitCode).toBe(0);
    expect(resumedChunks.length).toBeGreaterThan(0);
    expectMatchesTruth(h, { from: new Date('2026-08-22T00:00:00Z'), to: new Date('2026-11-20T00:00:00Z') });

    const lists = h.sandbox.requests.filter((request) => request.operationId?.startsWith('list'));
    expect(lists.length).toBeGreaterThan(12);
    for (const request of lists) {
      expect(validateRequest(request.operationId!, request.path, request.query)).toEqual([]);
      const from = Date.parse(String(request.query.from));
      const to = Date.parse(String(request.query.to));
      const monthLater = new Date(from);
      monthLater.setUTCMonth(monthLater.getUTCMonth() + 1);
      expect(to).toBeLessThanOrEqual(monthLater.getTime());
      if (request.operationId === 'listRecordings') expect(request.query.query_date_type).toBe('recording_end_time');
    }
    expect(operationFor('GET', '/v2/contact_center/recordings')).toBe('listRecordings');
  });
  it.each(['Asia/Tokyo', 'Europe/Berlin'])('keeps every listing within one month as Zoom judges it when zoom.timezone is %s', async (timezone) => {
    // A month of that zone, sent in UTC, is longer than a month after its start (October in Tokyo, and in Berlin across its DST change).
    const h = (current = await harness({ days: 100, engagementsPerDay: 1, zoom: { timezone } }));
    const result = await h.run({ from: '2026-08-22', to: '2026-11-19', dryRun: true });
    expect(result).toMatchObject({ exitCode: 0, listingComplete: true, incomplete: [] });
    const lists = h.sandbox.requests.filter((request) => request.operationId?.startsWith('list'));
    expect(lists.length).toBeGreaterThanOrEqual(12);
    for (const request of lists) expect(request.status, `${request.path} ${JSON.stringify(request.query)}`).toBe(200);
  });
  it('resumes a backfill only from a run that listed the same kinds into the same destinations', async () => {
    const h = (current = await harness({ days: 100, engagementsPerDay: 3, config: { concurrency: 4 } }));
    const bounds = { from: '2026-08-22', to: '2026-11-19' };
    const recordingsOnly = await runStoppedAt(h, { ...bounds, kinds: ['recording'] }, chunkListed, 2);
    expect(recordingsOnly.interrupted).toBe(true);
    const db = new Database(h.ledgerPath, { readonly: true });
    expect(db.prepare('SELECT count(*) FROM chunks').pluck().get()).toBeGreaterThan(0);
    db.close();
    // The chunks it listed hold transcripts and voicemails it never looked at: all kinds list them again.
    const resumedChunks: string[] = [];
    const all = await h.run({ ...bounds, onEvent: (event) => event.type === 'chunk' && event.state === 'resumed' && resumedChunks.push(event.chunk) });
    expect(all.exitCode).toBe(0);
    expect(resumedChunks).toEqual([]);
    expectMatchesTruth(h, { from: new Date('2026-08-22T00:00:00Z'), to: new Date('2026-11-20T00:00:00Z') });
  });

  it('starts the next night where the last night over every kind ended, not where a run over fewer kinds did', async () => {
    const h = (current = await harness());
    const night = await h.run();
    expect(night.exitCode).toBe(0);
    h.clock.now = new Date(NOW.getTime() + 4 * DAY);
    const notesOnly = await h.run({ kinds: ['note'] });
    expect(notesOnly).toMatchObject({ exitCode: 0, listingComplete: true });
    h.clock.now = new Date(NOW.getTime() + 5 * DAY);
    const next = await h.run();
    // lookback P2D before the first night's end, which the notes-only run does not move for the other kinds.
    expect(next.window.from).toEqual(new Date(night.window.to.getTime() - 2 * DAY));
    // For notes, the notes-only run counts, and so does the night after it.
    expect((await h.run({ kinds: ['note'] })).window.from).toEqual(new Date(next.window.to.getTime() - 2 * DAY));
  });
  it('resumes a backfill given only --from, whose end is the time it ran', async () => {
    const h = (current = await harness({ days: 100, engagementsPerDay: 3, config: { concurrency: 4 } }));
    const stopped = await runStoppedAt(h, { from: '2026-08-22' }, chunkListed, 2);
    expect(stopped.interrupted).toBe(true);
    h.clock.now = new Date(NOW.getTime() + 60_000);
    const resumedChunks: string[] = [];
    const resumed = await h.run({ from: '2026-08-22', onEvent: (event) => event.type === 'chunk' && event.state === 'resumed' && resumedChunks.push(event.chunk) });
    expect(resumed.exitCode).toBe(0);
    expect(resumedChunks.length).toBeGreaterThan(0);
    expectMatchesTruth(h, { from: new Date('2026-08-22T00:00:00Z'), to: new Date(NOW.getTime() + 60_000) });
  });
  it('gives an edited note its own attempts when the earlier version gave up', async () => {
    const h = (current = await harness({ config: { maxAttempts: 2 } }));
    const bounds = { from: new Date(NOW.getTime() - DAY).toISOString(), to: NOW.toISOString() };
    const note = h.sandbox.truth.artifacts({ from: new Date(bounds.from), to: NOW }).find((artifact) => artifact.kind === 'note')!;
    const refused = new Set([note.key]);
    const archive = new (class extends MemoryDestination {
      override async put(...args: Parameters<MemoryDestination['put']>): ReturnType<MemoryDestination['put']> {
        if (refused.has(args[0].key)) throw new DestinationError(this.name, `${args[0].key}: refused by the CRM's validation rule`);
        return super.put(...args);
      }
    })({ name: 'archive' });
    const run = () => h.run({ ...bounds, destinations: [archive] });
    expect((await run()).exitCode).toBe(1);
    expect((await run()).exitCode).toBe(1);
    const spent = await run();
    expect(spent.exitCode).toBe(0);
    expect(spent.tally.counts.get('note')!.gave_up).toBe(1);

    // The agent fixes the note; the destination takes it now.
    const [, engagementId, noteId] = note.key.split('/');
    h.sandbox.mutate.editNote(engagementId!, noteId!, 'Corrected by the agent.');
    refused.clear();
    const delivered: string[] = [];
    const edited = await h.run({ ...bounds, destinations: [archive], onEvent: (event) => event.type === 'delivered' && delivered.push(event.key) });
    expect(edited.exitCode).toBe(0);
    expect(delivered).toEqual([note.key]);
    expect(JSON.parse(archive.objects.get(note.key)!.bytes.toString('utf8')).note).toBe('Corrected by the agent.');
  });

  it('keeps the checkpoints of an interrupted backfill across a retry that listed nothing (Zoom refused)', async () => {
    const h = (current = await harness({ days: 100, engagementsPerDay: 3, config: { concurrency: 4 } }));
    const bounds = { from: '2026-08-22', to: '2026-11-19' };
    const stopped = await runStoppedAt(h, bounds, chunkListed, 4);
    expect(stopped.interrupted).toBe(true);
    const db = new Database(h.ledgerPath, { readonly: true });
    const checkpointed = db.prepare('SELECT count(*) FROM chunks WHERE run_id = 1').pluck().get() as number;
    db.close();
    expect(checkpointed).toBeGreaterThanOrEqual(3);
    // A retry while Zoom refuses the credentials: exit 3, nothing listed, nothing checkpointed.
    expect((await h.run({ ...bounds, secrets: { ...h.sandbox.credentials, clientSecret: 'wrong' } })).exitCode).toBe(3);
    const resumedChunks: string[] = [];
    const third = await h.run({ ...bounds, onEvent: (event) => event.type === 'chunk' && event.state === 'resumed' && resumedChunks.push(event.chunk) });
    expect(third.exitCode).toBe(0);
    expect(resumedChunks.length).toBe(checkpointed);
    expectMatchesTruth(h, { from: new Date('2026-08-22T00:00:00Z'), to: new Date('2026-11-20T00:00:00Z') });
    // A backfill from the same start after that one finished lists everything again.
    const fourth: string[] = [];
    expect((await h.run({ ...bounds, onEvent: (event) => event.type === 'chunk' && event.state === 'resumed' && fourth.push(event.chunk) })).exitCode).toBe(0);
    expect(fourth).toEqual([]);
  });

  it('covers the windows of first nights that could not reach Zoom', async () => {
    const h = (current = await harness());
    const refused = { ...h.sandbox.credentials, clientSecret: 'typo-in-the-secret' };
    // Set up with a typo in the secret: four nights exit 3; the secret is fixed for the fifth.
    for (let night = 0; night < 4; night++) {
      h.clock.now = new Date(NOW.getTime() + night * DAY);
      expect((await h.run({ secrets: refused })).exitCode).toBe(3);
    }
    h.clock.now = new Date(NOW.getTime() + 4 * DAY);
    const fixed = await h.run();
    expect(fixed.exitCode).toBe(0);
    // The first night was to cover [NOW − lookback, NOW).
    expect(fixed.window).toEqual({ from: new Date(NOW.getTime() - 2 * DAY), to: new Date(NOW.getTime() + 4 * DAY) });
    // Once a night has listed, the window follows it as before.
    h.clock.now = new Date(NOW.getTime() + 5 * DAY);
    expect((await h.run()).window.from).toEqual(new Date(NOW.getTime() + 2 * DAY));
  });

  it('takes over a run lock left by a killed run whose pid this process now has (a container restarted at once)', async () => {
    const { hostname } = await import('node:os');
    const h = (current = await harness());
    expect((await h.run()).exitCode).toBe(0);
    const db = new Database(h.ledgerPath);
    // Its last heartbeat came a minute before this process started.
    const beforeThisProcess = new Date(Date.now() - process.uptime() * 1000 - 60_000).toISOString();
    db.prepare('INSERT INTO run_lock (id, pid, host, started_at, heartbeat_at) VALUES (1, ?, ?, ?, ?)').run(process.pid, hostname(), beforeThisProcess, beforeThisProcess);
    db.close();
    expect((await h.run()).exitCode).toBe(0);
  });
});

