import { afterEach, describe, expect, test } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { HOUR, MINUTE, call, fakeClock, getToken, items, walk } from './helpers.js';

type Item = Record<string, unknown>;
let sb: Sandbox;
afterEach(async () => sb?.close());

const minusOneSecond = (iso: string): string => new Date(Date.parse(iso) - 1000).toISOString().replace('.000Z', 'Z');

/** Every artifact key a client can see in the listings for [from, to). */
async function listedKeys(token: string, from: string, to: string): Promise<Set<string>> {
  const keys = new Set<string>();
  const last = minusOneSecond(to);
  const engagements = items(await walk(sb, token, '/contact_center/engagements', { from, to: last, timezone: 'UTC', page_size: 100 }), 'engagements');
  for (const e of engagements) {
    const id = String(e['engagement_id']);
    for (const n of e['notes'] as Item[]) keys.add(`note/${id}/${String(n['note_id'])}`);
    for (const d of e['dispositions'] as Item[]) keys.add(`disposition/${id}/${String(d['disposition_id'])}`);
    if (e['transcript_url']) keys.add(`messaging_transcript/${id}`);
  }
  const recordings = items(await walk(sb, token, '/contact_center/recordings', { from, to: last, query_date_type: 'recording_end_time', page_size: 300 }), 'recordings');
  for (const r of recordings) {
    keys.add(`recording/${String(r['recording_id'])}`);
    if (r['transcript_url']) keys.add(`recording_transcript/${String(r['recording_id'])}`);
  }
  const messages = items(await walk(sb, token, '/contact_center/inboxes/messages', { from, to: last, page_size: 300 }), 'messages');
  for (const m of messages) {
    keys.add(`voicemail/${String(m['message_id'])}`);
    if (m['transcript_url']) keys.add(`voicemail_transcript/${String(m['message_id'])}`);
  }
  return keys;
}

function truthKeys(from: string, to: string): Set<string> {
  return new Set(sb.truth.artifacts({ from: new Date(from), to: new Date(to) }).map((a) => a.key));
}

describe('truth', () => {
  test('matches exactly what the listings show, including a window ending now', async () => {
    const clock = fakeClock('2026-11-24T12:00:00Z');
    sb = await startSandbox({ seed: 9, now: clock.now });
    const token = await getToken(sb);
    for (const [from, to] of [['2026-11-01T00:00:00Z', '2026-11-08T00:00:00Z'], ['2026-11-23T00:00:00Z', '2026-11-24T12:00:00Z']] as const) {
      const truth = truthKeys(from, to);
      const listed = await listedKeys(token, from, to);
      expect([...truth].sort()).toEqual([...listed].sort());
      const kinds = new Set([...truth].map((k) => k.split('/')[0]));
      if (from.startsWith('2026-11-01')) {
        expect(kinds).toEqual(new Set(['note', 'disposition', 'messaging_transcript', 'recording', 'recording_transcript', 'voicemail', 'voicemail_transcript']));
      }
    }
    const ids = sb.truth.engagementIds({ from: new Date('2026-11-02T00:00:00Z'), to: new Date('2026-11-03T00:00:00Z') });
    expect(ids).toHaveLength(40);
    const artifacts = sb.truth.artifacts({ from: new Date('2026-11-02T00:00:00Z'), to: new Date('2026-11-03T00:00:00Z') });
    for (const a of artifacts) {
      if (a.kind === 'note' || a.kind === 'disposition') {
        expect(a.text).toBeTruthy();
        expect(ids).toContain(a.engagementId);
      } else {
        expect(a.size).toBeGreaterThan(0);
        expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
      }
    }
  });

  test('is deterministic for a seed and differs between seeds', async () => {
    const now = () => new Date('2026-11-24T12:00:00Z');
    const w = { from: new Date('2026-11-10T00:00:00Z'), to: new Date('2026-11-11T00:00:00Z') };
    sb = await startSandbox({ seed: 4, now });
    const a = sb.truth.artifacts(w);
    await sb.close();
    sb = await startSandbox({ seed: 4, now });
    expect(sb.truth.artifacts(w)).toEqual(a);
    await sb.close();
    sb = await startSandbox({ seed: 5, now });
    expect(sb.truth.artifacts(w).map((x) => x.key)).not.toEqual(a.map((x) => x.key));
  });
});

describe('late data', () => {
  test('recordings appear after processing, transcripts later; truth follows the clock', async () => {
    const clock = fakeClock('2026-11-24T12:00:00Z');
    sb = await startSandbox({ seed: 3, engagementsPerDay: 2000, now: clock.now });
    const from = '2026-11-24T06:00:00Z';
    const to = '2026-11-24T12:00:00Z';
    const recordings = async (): Promise<Item[]> =>
      items(await walk(sb, await getToken(sb), '/contact_center/recordings', { from, to, query_date_type: 'recording_end_time', page_size: 300 }), 'recordings');
    const before = await recordings();
    const t0Truth = truthKeys(from, to);
    clock.advance(25 * MINUTE);
    const after = await recordings();
    expect(after.length).toBeGreaterThan(before.length);
    const lateIds = new Set(after.map((r) => r['recording_id']));
    for (const r of before) expect(lateIds.has(r['recording_id'])).toBe(true);
    const withTranscript = (list: Item[]): number => list.filter((r) => r['transcript_url']).length;
    clock.advance(7 * HOUR);
    const much = await recordings();
    expect(withTranscript(much)).toBeGreaterThan(withTranscript(after));
    expect(withTranscript(much)).toBeLessThan(much.length);
    const later = truthKeys(from, to);
    expect(later.size).toBeGreaterThan(t0Truth.size);
    for (const k of t0Truth) expect(later.has(k)).toBe(true);
  });

  test('messaging and voicemail transcripts show up late', async () => {
    const clock = fakeClock('2026-11-24T12:00:00Z');
    sb = await startSandbox({ seed: 3, engagementsPerDay: 3000, now: clock.now });
    const q = { from: '2026-11-24T09:00:00Z', to: '2026-11-24T12:00:00Z', timezone: 'UTC', page_size: 100 };
    const messaging = async (): Promise<Item[]> =>
      items(await walk(sb, await getToken(sb), '/contact_center/engagements', { ...q, channel: 'messaging' }), 'engagements');
    const early = await messaging();
    expect(early.some((e) => !e['transcript_url'])).toBe(true);
    clock.advance(2 * HOUR);
    const late = await messaging();
    const lateById = new Map(late.map((e) => [e['engagement_id'], e]));
    for (const e of early) expect(lateById.get(e['engagement_id'])?.['transcript_url']).toBeTruthy();

    const vmQuery = { from: '2026-11-24T00:00:00Z', to: '2026-11-24T14:00:00Z', page_size: 300 };
    clock.set('2026-11-24T12:00:00Z');
    const vmEarly = items(await walk(sb, await getToken(sb), '/contact_center/inboxes/messages', vmQuery), 'messages');
    clock.advance(HOUR);
    const vmLate = items(await walk(sb, await getToken(sb), '/contact_center/inboxes/messages', vmQuery), 'messages');
    const hadTranscript = new Set(vmEarly.filter((m) => m['transcript_url']).map((m) => m['message_id']));
    const gained = vmLate.filter((m) => m['transcript_url'] && !hadTranscript.has(m['message_id']));
    expect(gained.length).toBeGreaterThan(0);
    for (const m of vmLate) if (hadTranscript.has(m['message_id'])) expect(m['transcript_url']).toBeTruthy();
    const never = vmLate.filter((m) => !m['transcript_url'] && Date.parse(String(m['created_at'])) < Date.parse('2026-11-24T12:00:00Z'));
    expect(never.length).toBeLessThan(vmLate.length * 0.3);
  });
});

describe('mutations', () => {
  test('notes, dispositions and late recordings show in listings, Get Engagement and truth', async () => {
    const clock = fakeClock('2026-11-24T12:00:00Z');
    sb = await startSandbox({ seed: 6, now: clock.now });
    let token = await getToken(sb);
    const day = { from: new Date('2026-11-20T00:00:00Z'), to: new Date('2026-11-21T00:00:00Z') };
    const [engagement, other] = sb.truth.engagementIds(day);
    if (!engagement || !other) throw new Error('need two engagements');
    const { noteId } = sb.mutate.addNote(engagement, 'Called back: resolved.');
    const { dispositionId } = sb.mutate.addDisposition(engagement, 'Escalated after review');
    expect(() => sb.mutate.addDisposition(engagement, 'Escalated after review')).toThrow();
    const get = async (): Promise<Item> => (await call(sb, token, `/contact_center/engagements/${engagement}`)).body;
    let detail = await get();
    expect(detail['notes']).toContainEqual({ user_id: expect.any(String), note_id: noteId, note: 'Called back: resolved.', last_modified_time: '2026-11-24T12:00:00Z' });
    expect(detail['dispositions']).toContainEqual({ disposition_id: dispositionId, disposition_name: 'Escalated after review' });
    clock.advance(HOUR);
    token = await getToken(sb);
    sb.mutate.editNote(engagement, noteId, 'Edited later.');
    detail = await get();
    expect(detail['notes']).toContainEqual(expect.objectContaining({ note_id: noteId, note: 'Edited later.', last_modified_time: '2026-11-24T13:00:00Z' }));
    const listed = items(await walk(sb, token, '/contact_center/engagements', { from: '2026-11-20', to: '2026-11-20', timezone: 'UTC', page_size: 100 }), 'engagements');
    expect(listed.find((e) => e['engagement_id'] === engagement)?.['notes']).toEqual(detail['notes']);
    const truth = sb.truth.artifacts(day);
    expect(truth).toContainEqual(expect.objectContaining({ key: `note/${engagement}/${noteId}`, text: 'Edited later.' }));
    expect(truth).toContainEqual(expect.objectContaining({ key: `disposition/${engagement}/${dispositionId}`, text: 'Escalated after review' }));
    expect(() => sb.mutate.editNote(engagement, 'nope', 'x')).toThrow();
    expect(() => sb.mutate.addNote('AAAAAAAAAAAAAAAAAAAAAA')).toThrow();

    const end = new Date('2026-11-24T10:00:00Z');
    const { recordingId } = sb.mutate.addRecording(other, { endTime: end });
    const byEnd = items(await walk(sb, token, '/contact_center/recordings', { from: '2026-11-24T09:59:00Z', to: '2026-11-24T10:00:00Z', query_date_type: 'recording_end_time' }), 'recordings');
    expect(byEnd.map((r) => r['recording_id'])).toContain(recordingId);
    const ofEngagement = await call(sb, token, `/contact_center/engagements/${other}/recordings`, { from: '2026-11-20T00:00:00Z', to: '2026-11-24T12:00:00Z' });
    expect((ofEngagement.body['recordings'] as Item[]).map((r) => r['recording_id'])).toContain(recordingId);
    const late = sb.truth.artifacts({ from: new Date('2026-11-24T09:00:00Z'), to: new Date('2026-11-24T11:00:00Z') });
    expect(late.map((a) => a.key)).toContain(`recording/${recordingId}`);
    const { recordingId: defaultLate } = sb.mutate.addRecording(other);
    const recent = sb.truth.artifacts({ from: new Date('2026-11-24T12:00:00Z'), to: new Date('2026-11-24T13:00:00Z') });
    expect(recent.map((a) => a.key)).toContain(`recording/${defaultLate}`);
  });

  test('removed items leave the listings and the truth', async () => {
    const clock = fakeClock('2026-11-24T12:00:00Z');
    sb = await startSandbox({ seed: 6, now: clock.now });
    const token = await getToken(sb);
    const window = { from: new Date('2026-11-15T00:00:00Z'), to: new Date('2026-11-16T00:00:00Z') };
    const before = sb.truth.artifacts(window);
    const engagement = sb.truth.engagementIds(window)[3] ?? '';
    const recording = before.find((a) => a.kind === 'recording')?.key.split('/')[1] ?? '';
    const message = before.find((a) => a.kind === 'voicemail')?.key.split('/')[1] ?? '';
    sb.mutate.removeItem('engagement', engagement);
    sb.mutate.removeItem('recording', recording);
    sb.mutate.removeItem('message', message);
    expect(sb.truth.engagementIds(window)).not.toContain(engagement);
    const after = sb.truth.artifacts(window).map((a) => a.key);
    expect(after.some((k) => k.includes(engagement) && !k.startsWith('recording'))).toBe(false);
    expect(after).not.toContain(`recording/${recording}`);
    expect(after).not.toContain(`voicemail/${message}`);
    expect((await call(sb, token, `/contact_center/engagements/${engagement}`)).status).toBe(404);
    const listed = await call(sb, token, '/contact_center/engagements', { from: '2026-11-15', to: '2026-11-15', timezone: 'UTC', page_size: 100 });
    expect(listed.body['total_records']).toBe(39);
  });
});
