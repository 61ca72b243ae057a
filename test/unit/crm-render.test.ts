// What an agent reads on the CRM record, from each text artifact's raw form.
import { describe, expect, it } from 'vitest';
import type { EngagementInfo } from '../../src/artifacts.js';
import { expandTemplate } from '../../src/destinations/crm/links.js';
import { renderLink, renderText } from '../../src/destinations/crm/render.js';
import type { PutRequest } from '../../src/destinations/types.js';

const engagement: EngagementInfo = {
  engagementId: 'Eng001',
  agents: [{ userId: 'U1', displayName: 'Zoë Agent' }],
  consumers: [{ number: '+15551234567' }],
};

describe('CRM text rendering', () => {
  it('a note names its author and time and ends with the key marker', () => {
    const source = JSON.stringify({ engagement_id: 'Eng001', note_id: 'N1', user_id: 'U1', last_modified_time: '2026-11-20T10:00:00Z', note: 'Wants a call back\nafter 5 pm' });
    const { title, text } = renderText('note', 'note/Eng001/N1', source, engagement);
    expect(title).toBe('Zoom note (engagement Eng001)');
    expect(text).toBe('Note by Zoë Agent at 2026-11-20T10:00:00Z:\nWants a call back\nafter 5 pm\n[zcc:note/Eng001/N1]');
  });

  it('a note by an agent the engagement does not name shows the user id', () => {
    const source = JSON.stringify({ note: 'x', user_id: 'U9', last_modified_time: null });
    expect(renderText('note', 'note/Eng001/N2', source, engagement).text).toBe('Note by U9:\nx\n[zcc:note/Eng001/N2]');
  });

  it('a disposition is one line', () => {
    const source = JSON.stringify({ disposition_id: 'D1', disposition_name: 'Resolved' });
    expect(renderText('disposition', 'disposition/Eng001/D1', source, engagement).text).toBe('Disposition: Resolved\n[zcc:disposition/Eng001/D1]');
  });

  it('a WebVTT transcript becomes timed speaker lines', () => {
    const vtt = 'WEBVTT\n\n1\n00:00:00.000 --> 00:00:04.000\nZoë Agent: Hello, how can I help?\n\n2\n00:01:05.500 --> 00:01:09.000\nCaller: My order\nis late.\n';
    expect(renderText('recording_transcript', 'recording_transcript/R1', vtt, engagement).text).toBe(
      '[00:00] Zoë Agent: Hello, how can I help?\n[01:05] Caller: My order is late.\n[zcc:recording_transcript/R1]',
    );
  });

  it('a messaging transcript becomes one line per message', () => {
    const json = JSON.stringify({ engagement_id: 'Eng001', messages: [{ sender: 'Caller', time: '2026-11-20T10:00:00Z', text: 'Hi' }, { sender: 'Zoë Agent', text: 'Hello' }] });
    expect(renderText('messaging_transcript', 'messaging_transcript/Eng001', json, engagement).text).toBe(
      '[2026-11-20T10:00:00Z] Caller: Hi\nZoë Agent: Hello\n[zcc:messaging_transcript/Eng001]',
    );
  });

  it('text in a shape it does not know passes through unchanged', () => {
    expect(renderText('note', 'note/Eng001/N3', 'plain words', engagement).text).toBe('plain words\n[zcc:note/Eng001/N3]');
    expect(renderText('recording_transcript', 'recording_transcript/R2', '{"odd":1}', engagement).text).toBe('{"odd":1}\n[zcc:recording_transcript/R2]');
  });

  it('a linked recording says where and why', () => {
    const { text } = renderLink('recording', 'recording/R1', 'https://rec.example.com/recording/R1', engagement, 'over the limit');
    expect(text).toBe('Zoom recording: https://rec.example.com/recording/R1\n(over the limit)\n[zcc:recording/R1]');
  });
});

describe('link templates', () => {
  const request = { key: 'note/Eng 1/N#1', kind: 'note', engagementId: 'Eng 1', date: '2026-11-20', extension: 'json' } as PutRequest;
  it('encodes each value, keeping the key separators', () => {
    expect(expandTemplate('https://v.example.com/{kind}/{key}?e={engagementId}&d={date}.{extension}', request)).toBe(
      'https://v.example.com/note/note/Eng%201/N%231?e=Eng%201&d=2026-11-20.json',
    );
  });
});
