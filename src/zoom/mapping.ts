// List items to artifacts with the keys of PRODUCT.md. Ids are checked here, at the edge, before any key or path is
// built from them.
import { createHash } from 'node:crypto';
import { artifactKey, checkId, InvalidIdError, type Artifact, type ArtifactKind, type EngagementInfo } from '../artifacts.js';
import { describeIssue, engagementItem, messageItem, recordingItem, type EngagementItem } from './items.js';
import type { z } from 'zod';

export interface InvalidItem {
  kind: ArtifactKind;
  /** A stable reference to the bad item that cannot escape a path: a hash of its id. */
  ref: string;
  reason: string;
}

export function invalidRef(value: unknown): string {
  return `invalid-${createHash('sha256').update(JSON.stringify(value ?? null) ?? 'null').digest('hex').slice(0, 16)}`;
}

export type ItemMapper = (item: unknown) => { artifacts: Artifact[] } | { invalid: InvalidItem };

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function parse<T>(schema: z.ZodType<T>, item: unknown, kind: ArtifactKind, idField: string): T | { invalid: InvalidItem } {
  const result = schema.safeParse(item);
  const rawId = (item as Record<string, unknown> | null)?.[idField];
  if (!result.success) return { invalid: { kind, ref: invalidRef(rawId ?? item), reason: `${idField} ${describeRaw(rawId)}: ${describeIssue(result.error)}` } };
  return result.data;
}

function describeRaw(value: unknown): string {
  if (typeof value !== 'string') return '(missing)';
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

function guardIds(kind: ArtifactKind, rawId: unknown, build: () => Artifact[]): { artifacts: Artifact[] } | { invalid: InvalidItem } {
  try {
    return { artifacts: build() };
  } catch (error) {
    if (error instanceof InvalidIdError) return { invalid: { kind, ref: invalidRef(rawId), reason: error.message } };
    throw error;
  }
}

function engagementInfo(item: EngagementItem, engagementId: string): EngagementInfo {
  const channel = item.channels?.[0];
  const queue = item.queues?.[0];
  return {
    engagementId,
    startTime: item.start_time,
    endTime: item.end_time ?? undefined,
    direction: item.direction ?? undefined,
    channel: channel?.channel ?? undefined,
    channelSource: channel?.channel_source ?? undefined,
    queueId: queue?.cc_queue_id ?? undefined,
    queueName: queue?.queue_name ?? undefined,
    agents: (item.agents ?? []).map((agent) => ({ userId: agent.user_id, displayName: agent.display_name ?? undefined })),
    consumers: (item.consumers ?? []).map((consumer) => ({
      consumerId: consumer.consumer_id ?? undefined,
      displayName: consumer.consumer_display_name ?? undefined,
      number: consumer.consumer_number ?? undefined,
    })),
  };
}

function inline(kind: ArtifactKind, key: string, engagement: EngagementInfo, at: string, content: object): Artifact {
  const text = `${JSON.stringify(content, null, 2)}\n`;
  return {
    key,
    kind,
    engagementId: engagement.engagementId,
    listedAt: at,
    occurredAt: at,
    extension: 'json',
    contentType: 'application/json',
    state: 'ready',
    body: { type: 'inline', text },
    fingerprint: `sha256:${sha256(text)}`,
    engagement,
  };
}

export const engagementToArtifacts: ItemMapper = (raw) => {
  const item = parse(engagementItem, raw, 'note', 'engagement_id');
  if ('invalid' in item) return item;
  return guardIds('note', item.engagement_id, () => {
    const engagementId = checkId('engagement_id', item.engagement_id);
    const info = engagementInfo(item, engagementId);
    const at = normalise(item.start_time);
    const artifacts: Artifact[] = [];
    for (const note of item.notes ?? []) {
      const noteId = checkId('note_id', note.note_id);
      artifacts.push(
        inline('note', artifactKey.note(engagementId, noteId), info, at, {
          engagement_id: engagementId,
          note_id: noteId,
          user_id: note.user_id ?? null,
          last_modified_time: note.last_modified_time ?? null,
          note: note.note,
        }),
      );
    }
    for (const disposition of item.dispositions ?? []) {
      const dispositionId = checkId('disposition_id', disposition.disposition_id);
      artifacts.push(
        inline('disposition', artifactKey.disposition(engagementId, dispositionId), info, at, {
          engagement_id: engagementId,
          disposition_id: dispositionId,
          disposition_name: disposition.disposition_name,
        }),
      );
    }
    if ((item.channels ?? []).some((channel) => channel.channel === 'messaging')) {
      artifacts.push(download('messaging_transcript', artifactKey.messaging_transcript(engagementId), info, at, at, item.transcript_url, 'json', 'application/json', engagementId));
    }
    return artifacts;
  });
};

export const recordingToArtifacts: ItemMapper = (raw) => {
  const item = parse(recordingItem, raw, 'recording', 'recording_id');
  if ('invalid' in item) return item;
  return guardIds('recording', item.recording_id, () => {
    const recordingId = checkId('recording_id', item.recording_id);
    const engagementId = checkId('engagement_id', item.engagement_id);
    const info: EngagementInfo = {
      engagementId,
      direction: item.direction ?? undefined,
      channel: item.channel ?? undefined,
      queueId: item.cc_queue_id ?? undefined,
      queueName: item.queue_name ?? undefined,
      agents: item.user_id ? [{ userId: item.user_id, displayName: item.display_name ?? undefined }] : [],
      consumers: (item.consumers ?? []).map((consumer) => ({ displayName: consumer.consumer_name ?? undefined, number: consumer.consumer_number ?? undefined })),
    };
    const video = item.channel === 'video';
    return [
      download('recording', artifactKey.recording(recordingId), info, item.recording_end_time, item.recording_start_time, item.download_url, video ? 'mp4' : 'mp3', video ? 'video/mp4' : 'audio/mpeg', recordingId),
      download('recording_transcript', artifactKey.recording_transcript(recordingId), info, item.recording_end_time, item.recording_start_time, item.transcript_url, 'vtt', 'text/vtt', recordingId),
    ];
  });
};

export const messageToArtifacts: ItemMapper = (raw) => {
  const item = parse(messageItem, raw, 'voicemail', 'message_id');
  if ('invalid' in item) return item;
  return guardIds('voicemail', item.message_id, () => {
    const messageId = checkId('message_id', item.message_id);
    const engagementId = checkId('engagement_id', item.engagement_id);
    const info: EngagementInfo = {
      engagementId,
      queueId: item.cc_queue_id ?? item.cci_queue_id ?? item.queue_id ?? undefined,
      queueName: item.queue_name ?? undefined,
      agents: [],
      consumers: [{ consumerId: item.consumer_id ?? undefined, displayName: item.consumer_display_name ?? undefined, number: item.consumer_number ?? undefined }],
    };
    return [
      download('voicemail', artifactKey.voicemail(messageId), info, item.created_at, item.created_at, item.download_url, 'mp3', 'audio/mpeg', messageId),
      download('voicemail_transcript', artifactKey.voicemail_transcript(messageId), info, item.created_at, item.created_at, item.transcript_url, 'txt', 'text/plain', messageId),
    ];
  });
};

function download(
  kind: ArtifactKind,
  key: string,
  engagement: EngagementInfo,
  listedAt: string,
  occurredAt: string,
  url: string | null | undefined,
  extension: string,
  contentType: string,
  sourceId: string,
): Artifact {
  return {
    key,
    kind,
    engagementId: engagement.engagementId,
    listedAt: normalise(listedAt),
    occurredAt: normalise(occurredAt),
    extension,
    contentType,
    state: url ? 'ready' : 'pending',
    body: url ? { type: 'download', url } : undefined,
    // The remote file never changes under its id; a delivered download stays delivered.
    fingerprint: `zoom:${kind}:${sourceId}`,
    engagement,
  };
}

function normalise(iso: string): string {
  return new Date(Date.parse(iso)).toISOString();
}
