// The Artifact type and the key rules of PRODUCT.md: every piece of engagement data has one stable key.

export const ARTIFACT_KINDS = [
  'recording',
  'recording_transcript',
  'messaging_transcript',
  'note',
  'disposition',
  'voicemail',
  'voicemail_transcript',
] as const;

export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

/** Which listing an artifact comes from; each source is windowed on its own timestamp. */
export const SOURCES = ['engagements', 'recordings', 'messages'] as const;
export type SourceName = (typeof SOURCES)[number];

export const SOURCE_OF_KIND: Record<ArtifactKind, SourceName> = {
  recording: 'recordings',
  recording_transcript: 'recordings',
  messaging_transcript: 'engagements',
  note: 'engagements',
  disposition: 'engagements',
  voicemail: 'messages',
  voicemail_transcript: 'messages',
};

/** The engagement's own record, carried with each of its artifacts as metadata. */
export interface EngagementInfo {
  engagementId: string;
  startTime?: string;
  endTime?: string;
  direction?: string;
  channel?: string;
  channelSource?: string;
  queueId?: string;
  queueName?: string;
  agents: { userId: string; displayName?: string }[];
  consumers: { consumerId?: string; displayName?: string; number?: string }[];
}

/** Bytes fetched from a Zoom URL (with the token), or content carried inline in a listing. */
export type ArtifactBody =
  | { type: 'download'; url: string; expectedSize?: number }
  | { type: 'inline'; text: string };

export interface Artifact {
  key: string;
  kind: ArtifactKind;
  engagementId: string;
  /** ISO timestamp the source is windowed on (recording end, engagement start, message creation). */
  listedAt: string;
  /** ISO timestamp that places the artifact in a destination's date layout; never changes for a key. */
  occurredAt: string;
  /** File extension without the dot, e.g. `mp4`, `json`, `txt`. */
  extension: string;
  contentType: string;
  /** A ready artifact can be pushed; a pending one's source is not ready yet (no transcript_url). */
  state: 'ready' | 'pending';
  body?: ArtifactBody;
  /**
   * What the source says about the content, compared with the ledger to see a change: a content hash for inline
   * artifacts (an edited note), and for downloads the stable identity of the remote file.
   */
  fingerprint: string;
  engagement: EngagementInfo;
}

/** Zoom ids are opaque base64url-ish strings; anything that could escape a path or break a key is refused. */
const SAFE_ID = /^[A-Za-z0-9_\-.=+~@]{1,128}$/;

export class InvalidIdError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
  ) {
    super(`invalid ${field} ${describeBadValue(value)}: expected 1-128 characters of A-Z a-z 0-9 _ - . = + ~ @, not "." or ".."`);
    this.name = 'InvalidIdError';
  }
}

function describeBadValue(value: unknown): string {
  if (typeof value !== 'string') return `(${value === null ? 'null' : typeof value})`;
  const shown = value.length > 40 ? `${value.slice(0, 40)}… (${value.length} chars)` : value;
  return JSON.stringify(shown);
}

export function checkId(field: string, value: unknown): string {
  if (typeof value !== 'string' || !SAFE_ID.test(value) || value === '.' || value === '..') {
    throw new InvalidIdError(field, value);
  }
  return value;
}

export const artifactKey = {
  recording: (recordingId: string) => `recording/${recordingId}`,
  recording_transcript: (recordingId: string) => `recording_transcript/${recordingId}`,
  messaging_transcript: (engagementId: string) => `messaging_transcript/${engagementId}`,
  note: (engagementId: string, noteId: string) => `note/${engagementId}/${noteId}`,
  disposition: (engagementId: string, dispositionId: string) => `disposition/${engagementId}/${dispositionId}`,
  voicemail: (messageId: string) => `voicemail/${messageId}`,
  voicemail_transcript: (messageId: string) => `voicemail_transcript/${messageId}`,
};

export function kindOfKey(key: string): ArtifactKind {
  const kind = key.slice(0, key.indexOf('/'));
  if (!(ARTIFACT_KINDS as readonly string[]).includes(kind)) throw new Error(`not an artifact key: ${key}`);
  return kind as ArtifactKind;
}

export function isArtifactKind(value: string): value is ArtifactKind {
  return (ARTIFACT_KINDS as readonly string[]).includes(value);
}
