// The three sources (engagements, recordings, inbox messages) listed over one chunk and turned into artifacts.
// A stale page token or a short listing restarts the chunk; the diff makes the repeated items harmless.
import type { Artifact, SourceName } from '../artifacts.js';
import { ListingIncompleteError } from '../errors.js';
import type { Window } from '../window.js';
import type { ZoomClient } from './client.js';
import { engagementToArtifacts, messageToArtifacts, recordingToArtifacts, type InvalidItem, type ItemMapper } from './mapping.js';

export type { InvalidItem } from './mapping.js';
import { pages, StalePageTokenError, type ListRequest } from './pages.js';

export interface ListedPage {
  artifacts: Artifact[];
  invalid: InvalidItem[];
  /** More pages follow in this walk. */
  more: boolean;
  /** How many more pages this walk needs by the endpoint's total_records; null where it reports none (recordings). */
  pagesLeft: number | null;
}

const RESTARTS = 2;

export function zoomTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function requestFor(source: SourceName, chunk: Window): { request: ListRequest; map: ItemMapper; idField: string } {
  const bounds = { from: zoomTime(chunk.from), to: zoomTime(chunk.to) };
  switch (source) {
    case 'engagements':
      return {
        request: {
          path: '/contact_center/engagements',
          // The Z of a date-time is read as a literal by this endpoint, so the zone is always sent.
          query: { ...bounds, timezone: 'UTC', page_size: '100' },
          itemsField: 'engagements',
          label: 'Medium',
        },
        map: engagementToArtifacts,
        idField: 'engagement_id',
      };
    case 'recordings':
      return {
        request: {
          path: '/contact_center/recordings',
          query: { ...bounds, query_date_type: 'recording_end_time', page_size: '300' },
          itemsField: 'recordings',
          label: 'Medium',
        },
        map: recordingToArtifacts,
        idField: 'recording_id',
      };
    case 'messages':
      return {
        request: { path: '/contact_center/inboxes/messages', query: { ...bounds, page_size: '300' }, itemsField: 'messages', label: 'Medium' },
        map: messageToArtifacts,
        idField: 'message_id',
      };
  }
}

/**
 * Lists one source over one chunk, yielding the artifacts whose source time lies in [chunk.from, chunk.to): Zoom's
 * `to` is inclusive, so an item exactly at the end belongs to the next chunk. A key listed twice (a restart, an item
 * that moved between pages) is yielded twice: the caller keeps the set of keys it has handled.
 */
export async function* listChunk(client: ZoomClient, source: SourceName, chunk: Window): AsyncGenerator<ListedPage> {
  const { request, map, idField } = requestFor(source, chunk);
  const pageSize = Number(request.query.page_size);
  for (let attempt = 0; ; attempt++) {
    const pass = new ListingPass(idField);
    let total: number | null = null;
    try {
      for await (const page of pages(client, request)) {
        total = page.totalRecords ?? total;
        const kept = pass.page(page.items);
        const pagesLeft = !page.more ? 0 : total === null ? null : Math.ceil(Math.max(0, total - pass.listed()) / pageSize);
        const listed: ListedPage = { artifacts: [], invalid: [], more: page.more, pagesLeft };
        for (const item of kept) {
          const mapped = map(item);
          if ('invalid' in mapped) {
            listed.invalid.push(mapped.invalid);
            continue;
          }
          for (const artifact of mapped.artifacts) {
            const at = Date.parse(artifact.listedAt);
            if (at >= chunk.from.getTime() && at < chunk.to.getTime()) listed.artifacts.push(artifact);
          }
        }
        yield listed;
      }
    } catch (error) {
      if (error instanceof StalePageTokenError && attempt < RESTARTS) continue;
      if (error instanceof StalePageTokenError) {
        throw new ListingIncompleteError(`${request.path} ${chunkLabel(chunk)}: page token still stale after ${RESTARTS} restarts`);
      }
      throw error;
    }
    const doubt = pass.doubt(total);
    if (doubt === null) return;
    if (attempt < RESTARTS) continue;
    throw new ListingIncompleteError(`${request.path} ${chunkLabel(chunk)}: ${doubt} after ${RESTARTS} restarts`);
  }
}

/**
 * One walk through a chunk's pages. Items that moved to an earlier page while it paged are missed by it: total_records
 * shows that where the endpoint has it; where it does not (recordings), an item seen again on a later page shows the
 * list shifted under the walk. Either way the chunk is listed again.
 */
class ListingPass {
  private readonly ids = new Set<string>();
  private withoutId = 0;
  private shifted = false;

  constructor(private readonly idField: string) {}

  /** The page's items, minus those repeated within it. */
  page(items: readonly unknown[]): unknown[] {
    const onPage = new Set<string>();
    const kept: unknown[] = [];
    for (const item of items) {
      const id = (item as Record<string, unknown> | null)?.[this.idField];
      if (typeof id !== 'string') {
        this.withoutId++;
        kept.push(item);
        continue;
      }
      if (onPage.has(id)) continue;
      onPage.add(id);
      if (this.ids.has(id)) this.shifted = true;
      this.ids.add(id);
      kept.push(item);
    }
    return kept;
  }

  /** Distinct items listed so far. */
  listed(): number {
    return this.ids.size + this.withoutId;
  }

  /** Why this walk may have missed items, or null when it is complete. */
  doubt(total: number | null): string | null {
    const listed = this.listed();
    if (total !== null) return listed < total ? `listed ${listed} distinct items of ${total}` : null;
    return this.shifted ? 'items kept moving between pages' : null;
  }
}

function chunkLabel(chunk: Window): string {
  return `[${zoomTime(chunk.from)}, ${zoomTime(chunk.to)})`;
}
