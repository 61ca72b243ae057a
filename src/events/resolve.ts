// From an event's work to the artifacts the polling path would list for it: fetch what the event does not carry
// (recordings and voicemails have no download_url in their events) and map it with the polling path's own mapping,
// so keys, fingerprints and layout are identical on both paths.
import type { Artifact } from '../artifacts.js';
import type { Clock } from '../clock.js';
import { ZoomApiError } from '../errors.js';
import type { ZoomClient } from '../zoom/client.js';
import { engagementToArtifacts, messageToArtifacts, recordingToArtifacts, type ItemMapper } from '../zoom/mapping.js';
import { pages } from '../zoom/pages.js';
import { zoomTime } from '../zoom/sources.js';
import type { Work } from './events.js';

export interface Resolution {
  /** What the event asked for, as the polling path would list it (ready, or pending when its source is not). */
  artifacts: Artifact[];
  /** Asked for but not visible at Zoom yet (engagement not complete, recording still processing). */
  missing: string[];
}

const DAY = 86_400_000;
/** Zoom answers these while an engagement is not complete or its recordings are not listed yet. */
const NOT_YET = new Set([2901, 2805]);

export class ResolveError extends Error {
  override name = 'ResolveError';
}

export async function resolveWork(zoom: ZoomClient, work: Exclude<Work, { type: 'deletion' }>, clock: Clock): Promise<Resolution> {
  try {
    switch (work.type) {
      case 'recording':
        return await findListed(zoom, {
          path: `/contact_center/engagements/${encodeURIComponent(work.engagementId)}/recordings`,
          query: { ...around(work.around, clock), page_size: '300' },
          itemsField: 'recordings',
          idField: 'recording_id',
          id: work.recordingId,
          map: recordingToArtifacts,
          keys: work.kinds.map((kind) => `${kind}/${work.recordingId}`),
        });
      case 'voicemail':
        return await findListed(zoom, {
          path: '/contact_center/inboxes/messages',
          query: { ...around(work.around, clock), engagement_id: work.engagementId, page_size: '300' },
          itemsField: 'messages',
          idField: 'message_id',
          id: work.messageId,
          map: messageToArtifacts,
          keys: work.kinds.map((kind) => `${kind}/${work.messageId}`),
        });
      case 'engagement':
        return await engagementArtifacts(zoom, work);
    }
  } catch (error) {
    if (error instanceof ZoomApiError && error.status === 404 && error.code !== undefined && NOT_YET.has(error.code)) {
      return { artifacts: [], missing: [`${work.type} of engagement ${work.engagementId}: ${error.message}`] };
    }
    throw error;
  }
}

/** Both bounds, always: a day either side of the event's time, never past now. */
function around(iso: string, clock: Clock): { from: string; to: string } {
  const at = Date.parse(iso);
  const now = clock.now().getTime();
  const to = Math.max(Math.min(at + DAY, now + 60_000), at + 60_000);
  return { from: zoomTime(new Date(at - DAY)), to: zoomTime(new Date(to)) };
}

interface ListedLookup {
  path: string;
  query: Record<string, string>;
  itemsField: string;
  idField: string;
  id: string;
  map: ItemMapper;
  keys: string[];
}

async function findListed(zoom: ZoomClient, lookup: ListedLookup): Promise<Resolution> {
  for await (const page of pages(zoom, { path: lookup.path, query: lookup.query, itemsField: lookup.itemsField, label: 'Medium' })) {
    const item = page.items.find((entry) => (entry as Record<string, unknown> | null)?.[lookup.idField] === lookup.id);
    if (item === undefined) continue;
    return pick(lookup.map(item), lookup.keys);
  }
  return { artifacts: [], missing: lookup.keys.map((key) => `${key}: not listed by ${lookup.path} yet`) };
}

function pick(mapped: ReturnType<ItemMapper>, keys: readonly string[] | null, kinds?: readonly string[]): Resolution {
  if ('invalid' in mapped) throw new ResolveError(mapped.invalid.reason);
  const artifacts = mapped.artifacts.filter((artifact) => (keys ? keys.includes(artifact.key) : kinds?.includes(artifact.kind)));
  const found = new Set(artifacts.map((artifact) => artifact.key));
  return { artifacts, missing: (keys ?? []).filter((key) => !found.has(key)).map((key) => `${key}: not on the engagement yet`) };
}

async function engagementArtifacts(zoom: ZoomClient, work: Extract<Work, { type: 'engagement' }>): Promise<Resolution> {
  const body = await zoom.getJson(`/contact_center/engagements/${encodeURIComponent(work.engagementId)}`, new URLSearchParams(), 'Light');
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ResolveError('Get Engagement answered with a body that is not an object');
  const item = { ...(body as Record<string, unknown>) };
  // What the event carries is newer than what Get Engagement shows seconds after it (a note saved during wrap-up).
  item.notes = mergeById(item.notes, work.carried.notes, 'note_id');
  item.dispositions = mergeById(item.dispositions, work.carried.dispositions, 'disposition_id');
  if (!item.transcript_url && work.carried.transcriptUrl) item.transcript_url = work.carried.transcriptUrl;
  return pick(engagementToArtifacts(item), work.keys, work.kinds);
}

function mergeById<T extends object>(listed: unknown, carried: readonly T[], idField: keyof T & string): unknown {
  if (carried.length === 0) return listed;
  const items = Array.isArray(listed) ? [...(listed as unknown[])] : [];
  for (const entry of carried) {
    if (!items.some((item) => (item as Record<string, unknown> | null)?.[idField] === entry[idField])) items.push(entry);
  }
  return items;
}
