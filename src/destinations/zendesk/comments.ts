// What we write into Zendesk comments and how we find it again. Comments cannot be edited, so one private comment
// carries several entries, each a section of its own: a header line, the entry's text, and its marker as last line.
// A file rides on a comment of its own (one upload), whose only section names the file.
import type { EngagementInfo } from '../../artifacts.js';
import { markerOf } from '../crm/adapter.js';

const HEADER = /^── (.+) ──$/;
const MARKER = /^\[zcc:(.+)\]$/;

/** One of our entries inside a comment, as Zendesk holds it. */
export interface Section {
  key: string;
  /** The entry's text as written (its last line the marker), without the header line. */
  text: string;
  /** Header plus text: what a redaction removes. */
  whole: string;
}

export interface ZendeskAttachment {
  id: number;
  fileName: string;
  size: number;
  contentUrl: string;
}

export interface ZendeskComment {
  id: number;
  body: string;
  public: boolean;
  attachments: ZendeskAttachment[];
}

export function sectionOf(title: string, text: string, replaces?: string): string {
  const header = replaces ? `${title}, edited: replaces the earlier version (${replaces})` : title;
  return `── ${header.replace(/\s+/g, ' ')} ──\n${text}`;
}

export function commentBody(sections: readonly string[]): string {
  return sections.join('\n\n');
}

/** Our sections in a comment body, in order; text by anyone else (and redacted sections) is skipped. */
export function sectionsOf(body: string): Section[] {
  const sections: Section[] = [];
  let header: string | null = null;
  let lines: string[] = [];
  for (const line of body.replace(/\r\n/g, '\n').split('\n')) {
    if (HEADER.test(line)) {
      header = line;
      lines = [];
      continue;
    }
    if (header === null) continue;
    lines.push(line);
    const marker = MARKER.exec(line.trim());
    if (marker) {
      const text = lines.join('\n');
      sections.push({ key: marker[1]!, text, whole: `${header}\n${text}` });
      header = null;
    }
  }
  return sections;
}

/** Same words, ignoring what a CRM may do to whitespace at line ends. */
export function sameText(a: string, b: string): boolean {
  const normal = (text: string) => text.replace(/\r\n/g, '\n').split('\n').map((line) => line.trimEnd()).join('\n').trim();
  return normal(a) === normal(b);
}

/** The newest entry for a key on a ticket: a text section, or a file's live attachment; null when none. */
export type HeldEntry =
  | { type: 'text'; comment: ZendeskComment; section: Section }
  | { type: 'file'; comment: ZendeskComment; attachment: ZendeskAttachment };

export function newestEntry(comments: readonly ZendeskComment[], key: string, fileName?: string): HeldEntry | null {
  for (const comment of [...comments].sort((a, b) => b.id - a.id)) {
    const section = sectionsOf(comment.body).filter((candidate) => candidate.key === key).at(-1);
    if (!section) continue;
    if (comment.attachments.length === 0) return { type: 'text', comment, section };
    const attachment = comment.attachments.find((candidate) => isLive(candidate) && (fileName === undefined || candidate.fileName === fileName));
    // A file comment whose attachment was redacted (removed or replaced) holds nothing; an older one may.
    if (attachment) return { type: 'file', comment, attachment };
  }
  return null;
}

/** A redacted attachment stays on the comment as an empty "redacted.txt". */
function isLive(attachment: ZendeskAttachment): boolean {
  return !(attachment.fileName === 'redacted.txt' && attachment.size === 0);
}

/** The private first comment a ticket needs: what the engagement was, for the agent who opens the ticket. */
export function describeEngagement(engagement: EngagementInfo): string {
  const lines = [`Zoom Contact Center engagement ${engagement.engagementId}`];
  const add = (label: string, value: string | undefined) => {
    if (value) lines.push(`${label}: ${value}`);
  };
  add('Channel', [engagement.channel, engagement.channelSource].filter(Boolean).join(' / ') || undefined);
  add('Direction', engagement.direction);
  add('Queue', engagement.queueName ?? engagement.queueId);
  add('Started', engagement.startTime);
  add('Ended', engagement.endTime);
  add('Agents', engagement.agents.map((agent) => agent.displayName ?? agent.userId).join(', ') || undefined);
  add('Customer', engagement.consumers.map((consumer) => [consumer.displayName, consumer.number].filter(Boolean).join(' ')).filter(Boolean).join(', ') || undefined);
  lines.push('Notes, dispositions, transcripts and recordings follow as private comments.');
  return lines.join('\n');
}

export function subjectOf(engagement: EngagementInfo): string {
  const what = [engagement.direction, engagement.channel].filter(Boolean).join(' ');
  return `Zoom Contact Center ${what ? `${what} ` : ''}engagement ${engagement.engagementId}`.slice(0, 250);
}

/** The text of a file's comment: which artifact the attachment is, with the marker that finds it again. */
export function fileText(fileName: string, size: number | undefined, key: string): string {
  return `File: ${fileName}${size === undefined ? '' : ` (${size} bytes)`}\n${markerOf(key)}`;
}
