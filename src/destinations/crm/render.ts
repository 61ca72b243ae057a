// Text an agent reads on the CRM record: a note with its author, a disposition, a transcript as speaker lines.
// Unknown shapes pass through unchanged rather than failing: the words matter more than the layout.
import type { ArtifactKind, EngagementInfo } from '../../artifacts.js';
import { markerOf } from './adapter.js';

export interface Rendered {
  title: string;
  /** The readable text, its last line the key's marker. */
  text: string;
}

const TITLES: Record<ArtifactKind, string> = {
  note: 'Zoom note',
  disposition: 'Zoom disposition',
  recording_transcript: 'Zoom recording transcript',
  messaging_transcript: 'Zoom messaging transcript',
  voicemail_transcript: 'Zoom voicemail transcript',
  recording: 'Zoom recording',
  voicemail: 'Zoom voicemail',
};

export function titleOf(kind: ArtifactKind, engagementId: string): string {
  return `${TITLES[kind]} (engagement ${engagementId})`;
}

export function renderText(kind: ArtifactKind, key: string, source: string, engagement: EngagementInfo): Rendered {
  return { title: titleOf(kind, engagement.engagementId), text: `${renderBody(kind, source, engagement).trimEnd()}\n${markerOf(key)}` };
}

/** The text for a media artifact linked rather than attached. */
export function renderLink(kind: ArtifactKind, key: string, url: string, engagement: EngagementInfo, reason: string): Rendered {
  return { title: titleOf(kind, engagement.engagementId), text: `${TITLES[kind]}: ${url}\n(${reason})\n${markerOf(key)}` };
}

function renderBody(kind: ArtifactKind, source: string, engagement: EngagementInfo): string {
  switch (kind) {
    case 'note':
      return renderNote(source, engagement);
    case 'disposition':
      return renderDisposition(source);
    case 'recording_transcript':
      return renderVtt(source);
    case 'messaging_transcript':
      return renderMessages(source);
    default:
      return source;
  }
}

function parseObject(source: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(source);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function renderNote(source: string, engagement: EngagementInfo): string {
  const note = parseObject(source);
  if (!note || typeof note.note !== 'string') return source;
  const userId = typeof note.user_id === 'string' ? note.user_id : null;
  const author = userId ? (engagement.agents.find((agent) => agent.userId === userId)?.displayName ?? userId) : null;
  const edited = typeof note.last_modified_time === 'string' ? note.last_modified_time : null;
  const byline = [author ? `by ${author}` : null, edited ? `at ${edited}` : null].filter(Boolean).join(' ');
  return `Note${byline ? ` ${byline}` : ''}:\n${note.note}`;
}

function renderDisposition(source: string): string {
  const disposition = parseObject(source);
  return disposition && typeof disposition.disposition_name === 'string' ? `Disposition: ${disposition.disposition_name}` : source;
}

/** WebVTT cues → "[mm:ss] Speaker: words" (the speaker is in the cue text, as Zoom writes it). */
export function renderVtt(source: string): string {
  if (!source.startsWith('WEBVTT')) return source;
  const lines: string[] = [];
  for (const block of source.split(/\r?\n\r?\n/).slice(1)) {
    const rows = block.split(/\r?\n/).filter((row) => row.trim() !== '');
    const timing = rows.findIndex((row) => row.includes('-->'));
    if (timing < 0) continue;
    const start = (rows[timing] ?? '').split('-->')[0]?.trim() ?? '';
    const words = rows.slice(timing + 1).join(' ').trim();
    if (words) lines.push(`[${shortTime(start)}] ${words}`);
  }
  return lines.length > 0 ? lines.join('\n') : source;
}

function shortTime(vtt: string): string {
  const match = /^(?:(\d+):)?(\d{2}):(\d{2})/.exec(vtt);
  if (!match) return vtt;
  const hours = Number(match[1] ?? 0);
  return hours > 0 ? `${hours}:${match[2]}:${match[3]}` : `${match[2]}:${match[3]}`;
}

/** A messaging transcript's `messages` → "[time] sender: text". */
function renderMessages(source: string): string {
  const transcript = parseObject(source);
  const messages = transcript?.messages;
  if (!Array.isArray(messages)) return source;
  const lines = messages.map((message: unknown) => {
    const entry = (message && typeof message === 'object' ? message : {}) as Record<string, unknown>;
    const time = typeof entry.time === 'string' ? `[${entry.time}] ` : '';
    const sender = typeof entry.sender === 'string' ? entry.sender : 'unknown';
    return `${time}${sender}: ${typeof entry.text === 'string' ? entry.text : ''}`;
  });
  return lines.join('\n');
}
