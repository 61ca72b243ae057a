// What an event means for us: a verified body (webhook, WebSocket frame, flow call) is classified here, at the edge,
// into the work it asks for (which artifacts, and what to fetch), or refused with a reason before anything is stored.
import { checkId, InvalidIdError, type ArtifactKind } from '../artifacts.js';

export interface CarriedNote {
  note_id: string;
  note: string;
  user_id?: string;
  last_modified_time?: string;
}

export type Work =
  | { type: 'recording'; engagementId: string; recordingId: string; kinds: ArtifactKind[]; around: string }
  | { type: 'voicemail'; engagementId: string; messageId: string; kinds: ArtifactKind[]; around: string }
  | {
      type: 'engagement';
      engagementId: string;
      kinds: ArtifactKind[];
      /** Only these keys (an event about one note or disposition); null: every artifact of those kinds. */
      keys: string[] | null;
      /** What the event itself carries, used when Get Engagement does not show it yet. */
      carried: { notes: CarriedNote[]; dispositions: { disposition_id: string; disposition_name: string }[]; transcriptUrl: string | null };
      around: string;
    }
  | { type: 'deletion'; event: string; id: string };

export type Classified =
  | { outcome: 'work'; event: string; work: Work }
  | { outcome: 'ignored'; event: string }
  | { outcome: 'refused'; reason: 'invalid_json' | 'not_an_event' | 'missing_ids' | 'bad_id' };

const CC = 'contact_center.';
const ENGAGEMENT_TRIGGERS = new Set([
  `${CC}engagement_ended`,
  `${CC}cx_engagement_end_data_ready`,
  `${CC}legacy_engagement_end_data_ready`,
  `${CC}engagement_wrap_up_ended`,
]);
const DELETIONS: Record<string, string> = {
  [`${CC}recording_deleted`]: 'recording_id',
  [`${CC}recording_permanently_deleted`]: 'recording_id',
  [`${CC}inbox_message_deleted`]: 'message_id',
};

/** The event names the listener stores (others are answered 200 and dropped). */
export const HANDLED_EVENTS: readonly string[] = [
  `${CC}recording_completed`,
  `${CC}recording_transcript_completed`,
  `${CC}engagement_messaging_transcript_completed`,
  `${CC}engagement_note_added`,
  `${CC}engagement_disposition_added`,
  `${CC}inbox_message_received`,
  `${CC}voicemail_transcript_completed`,
  ...ENGAGEMENT_TRIGGERS,
  ...Object.keys(DELETIONS),
];

export interface ParsedEvent {
  event: string;
  eventTs: number | null;
  object: Record<string, unknown>;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The envelope of a Zoom event: `{event, event_ts, payload: {account_id, object}}`. */
export function parseEnvelope(body: unknown): ParsedEvent | null {
  if (!isObject(body) || typeof body.event !== 'string' || body.event.length === 0 || body.event.length > 200) return null;
  const payload = body.payload;
  if (!isObject(payload)) return null;
  // A number outside the dates JavaScript can hold (1e20) is no time at all: the event is dated when it was received.
  const eventTs = typeof body.event_ts === 'number' && !Number.isNaN(new Date(body.event_ts).getTime()) ? body.event_ts : null;
  return { event: body.event, eventTs, object: isObject(payload.object) ? payload.object : {} };
}

class MissingId extends Error {}

function id(object: Json, field: string): string {
  const value = object[field];
  if (value === undefined || value === null || value === '') throw new MissingId(field);
  return checkId(field, value);
}

function text(object: Json, field: string): string | undefined {
  const value = object[field];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function time(object: Json, ...fields: string[]): string | undefined {
  for (const field of fields) {
    const value = text(object, field);
    if (value !== undefined && !Number.isNaN(Date.parse(value))) return new Date(Date.parse(value)).toISOString();
  }
  return undefined;
}

/** Classifies a webhook body or WebSocket `content` (already parsed JSON). */
export function classifyZoomEvent(body: unknown, receivedAt: string): Classified {
  const parsed = parseEnvelope(body);
  if (!parsed) return { outcome: 'refused', reason: 'not_an_event' };
  const { event, object } = parsed;
  const fallback = parsed.eventTs !== null ? new Date(parsed.eventTs).toISOString() : receivedAt;
  try {
    const work = workFor(event, object, fallback);
    return work ? { outcome: 'work', event, work } : { outcome: 'ignored', event };
  } catch (error) {
    if (error instanceof MissingId) return { outcome: 'refused', reason: 'missing_ids' };
    if (error instanceof InvalidIdError) return { outcome: 'refused', reason: 'bad_id' };
    throw error;
  }
}

function workFor(event: string, object: Json, fallback: string): Work | null {
  const at = (...fields: string[]) => time(object, ...fields) ?? fallback;
  switch (event) {
    case `${CC}recording_completed`:
    case `${CC}recording_transcript_completed`:
      return {
        type: 'recording',
        engagementId: id(object, 'engagement_id'),
        recordingId: id(object, 'recording_id'),
        kinds: [event === `${CC}recording_completed` ? 'recording' : 'recording_transcript'],
        around: at('recording_start_time_ms', 'recording_end_time_ms', 'date_time_ms'),
      };
    case `${CC}inbox_message_received`:
    case `${CC}voicemail_transcript_completed`:
      return {
        type: 'voicemail',
        engagementId: id(object, 'engagement_id'),
        messageId: id(object, 'message_id'),
        kinds: [event === `${CC}inbox_message_received` ? 'voicemail' : 'voicemail_transcript'],
        around: at('date_time_ms'),
      };
    case `${CC}engagement_messaging_transcript_completed`: {
      const engagementId = id(object, 'engagement_id');
      const url = text(object, 'transcript_url');
      return engagementWork(engagementId, ['messaging_transcript'], null, at('date_time_ms'), { transcriptUrl: url && /^https?:\/\//.test(url) ? url : null });
    }
    case `${CC}engagement_note_added`: {
      const engagementId = id(object, 'engagement_id');
      const noteId = id(object, 'note_id');
      const note = typeof object.note === 'string' ? object.note : undefined;
      const carried: CarriedNote[] = note === undefined ? [] : [{ note_id: noteId, note, user_id: text(object, 'user_id'), last_modified_time: text(object, 'last_modified_time') }];
      return engagementWork(engagementId, ['note'], [`note/${engagementId}/${noteId}`], at('date_time_ms'), { notes: carried });
    }
    case `${CC}engagement_disposition_added`: {
      const engagementId = id(object, 'engagement_id');
      const dispositionId = id(object, 'disposition_id');
      const name = text(object, 'disposition_name');
      return engagementWork(engagementId, ['disposition'], [`disposition/${engagementId}/${dispositionId}`], at('date_time_ms'), {
        dispositions: name === undefined ? [] : [{ disposition_id: dispositionId, disposition_name: name }],
      });
    }
    default:
      if (ENGAGEMENT_TRIGGERS.has(event)) return engagementWork(id(object, 'engagement_id'), ['note', 'disposition'], null, at('start_time', 'date_time_ms'), {});
      if (DELETIONS[event]) return { type: 'deletion', event, id: id(object, DELETIONS[event]) };
      return null;
  }
}

function engagementWork(
  engagementId: string,
  kinds: ArtifactKind[],
  keys: string[] | null,
  around: string,
  carried: Partial<Extract<Work, { type: 'engagement' }>['carried']>,
): Work {
  return {
    type: 'engagement',
    engagementId,
    kinds,
    keys,
    carried: { notes: carried.notes ?? [], dispositions: carried.dispositions ?? [], transcriptUrl: carried.transcriptUrl ?? null },
    around,
  };
}

/** The normalised form a flow script's call is stored as: only what we use from untrusted customer JSON. */
export interface FlowEvent {
  engagement_id: string;
  flow_event: string | null;
}

export function parseFlowBody(body: unknown): FlowEvent | { refused: 'not_an_event' | 'missing_ids' | 'bad_id' } {
  if (!isObject(body)) return { refused: 'not_an_event' };
  const raw = body.engagement_id ?? body.engagementId;
  if (raw === undefined || raw === null || raw === '') return { refused: 'missing_ids' };
  try {
    const engagementId = checkId('engagement_id', raw);
    const name = body.event ?? body.flow_event;
    return { engagement_id: engagementId, flow_event: typeof name === 'string' ? name.slice(0, 100) : null };
  } catch {
    return { refused: 'bad_id' };
  }
}

/** Classifies a stored flow event (normalised by parseFlowBody). */
export function classifyFlowEvent(flow: FlowEvent, receivedAt: string): Classified {
  return { outcome: 'work', event: 'flow', work: engagementWork(flow.engagement_id, ['note', 'disposition', 'messaging_transcript'], null, receivedAt, {}) };
}
