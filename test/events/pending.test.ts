// What an event cannot deliver yet: a recording still processing is retried with backoff, then left for the nightly
// run, which delivers it once it is listed. Deletion events are recorded, never acted on. A note event's own text is
// used when Get Engagement does not show the note yet.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryDestination } from '../../src/destinations/memory.js';
import { NOW } from '../support/harness.js';
import { DAY, inboxRows, listenHarness, waitFor, type ListenHarness } from './support.js';

let t: ListenHarness | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

const envelope = (event: string, object: Record<string, unknown>) => ({ event, event_ts: NOW.getTime(), payload: { account_id: 'Acc001kkkkkkkkkkkkkkkk', object } });

describe('listen: not ready yet, deleted, and ahead of the API', () => {
  it('retries a recording still processing, leaves it for the nightly run, which delivers it', async () => {
    const memory = new MemoryDestination({ name: 'archive' });
    t = await listenHarness({ destinations: [memory] });
    const [engagementId] = t.h.sandbox.truth.engagementIds({ from: new Date(NOW.getTime() - 2 * DAY), to: new Date(NOW.getTime() - DAY) });
    const end = new Date(NOW.getTime() - 60_000);
    const { recordingId } = t.h.sandbox.mutate.addRecording(engagementId!, { endTime: end });
    const event = envelope('contact_center.recording_completed', {
      recording_id: recordingId,
      engagement_id: engagementId,
      recording_start_time_ms: new Date(end.getTime() - 300_000).toISOString(),
      recording_end_time_ms: end.toISOString(),
    });
    expect((await t.sender.send(event)).delivered).toBe(true);
    await waitFor(() => inboxRows(t!.h.ledgerPath).some((row) => row.state === 'done'), 'the entry given up on');
    const [row] = inboxRows(t.h.ledgerPath);
    expect(row!.outcome).toMatch(/left for the nightly run: recording\/.* not listed/);
    expect(memory.putCount.size).toBe(0);

    // Two hours later the recording is processed; the nightly run's window covers it.
    t.h.clock.now = new Date(NOW.getTime() + 2 * 3_600_000);
    const run = await t.h.run({ destinations: [memory] });
    expect(run.exitCode).toBe(0);
    expect(memory.putCount.get(`recording/${recordingId}`)).toBe(1);
  });

  it('records deletion events and removes nothing', async () => {
    const memory = new MemoryDestination({ name: 'archive' });
    t = await listenHarness({ destinations: [memory] });
    const [recording] = t.h.sandbox.events.forWindow({ from: new Date(NOW.getTime() - 2 * DAY), to: new Date(NOW.getTime() - DAY) }).filter((event) => event.event === 'contact_center.recording_completed');
    await t.sender.send(recording!.body);
    await waitFor(() => memory.putCount.size === 1, 'the recording delivered');
    const recordingId = recording!.keys[0]!.split('/')[1]!;
    await t.sender.send(t.h.sandbox.events.recordingDeleted(recordingId).body);
    await waitFor(() => inboxRows(t!.h.ledgerPath).length === 2 && inboxRows(t!.h.ledgerPath).every((row) => row.state === 'done'), 'both entries done');
    expect(inboxRows(t.h.ledgerPath)[1]!.outcome).toBe(`deletion recorded: contact_center.recording_deleted ${recordingId}`);
    expect(memory.objects.has(`recording/${recordingId}`)).toBe(true);
  });

  it("delivers a note from its event when Get Engagement does not show it yet, as the polling path would lay it out", async () => {
    const memory = new MemoryDestination({ name: 'archive' });
    t = await listenHarness({ destinations: [memory] });
    const [note] = t.h.sandbox.events.forWindow({ from: new Date(NOW.getTime() - 2 * DAY), to: new Date(NOW.getTime() - DAY) }).filter((event) => event.event === 'contact_center.engagement_note_added');
    await t.sender.send(note!.body);
    const object: Record<string, unknown> = { ...note!.body.payload.object, note_id: 'NotFromEventOnly01', note: 'Saved seconds ago.' };
    await t.sender.send(envelope('contact_center.engagement_note_added', object));
    const key = `note/${note!.engagementId}/NotFromEventOnly01`;
    await waitFor(() => memory.putCount.get(key) === 1, 'the note delivered');
    const stored = memory.objects.get(key)!;
    expect(JSON.parse(stored.bytes.toString())).toEqual({
      engagement_id: note!.engagementId,
      note_id: 'NotFromEventOnly01',
      user_id: object.user_id,
      last_modified_time: object.last_modified_time,
      note: 'Saved seconds ago.',
    });
    // Laid out under the engagement's start, like the notes the API lists for it.
    await waitFor(() => memory.putCount.get(note!.keys[0]!) === 1, 'the listed note delivered');
    expect(stored.request.occurredAt).toBe(memory.objects.get(note!.keys[0]!)!.request.occurredAt);
  });
});
