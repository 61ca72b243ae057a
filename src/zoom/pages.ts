// Paging through next_page_token as an async generator, with the guards the field reports ask for: a token that
// comes back (at once, or after others: A, B, A) is a loop, not a page; a stale token is reported so the caller can
// restart its chunk.
import { ListingIncompleteError, ZoomApiError } from '../errors.js';
import type { ZoomClient } from './client.js';
import type { RateLabel } from './pacer.js';

export interface ListRequest {
  path: string;
  query: Record<string, string>;
  itemsField: string;
  label: RateLabel;
}

export interface Page {
  items: unknown[];
  totalRecords: number | null;
  /** A next_page_token came with this page. */
  more: boolean;
}

export class StalePageTokenError extends Error {
  override name = 'StalePageTokenError';
}

export async function* pages(client: ZoomClient, request: ListRequest): AsyncGenerator<Page> {
  let token = '';
  // Every token of this pass (one short string per page: about 1 MB for a month of 100k engagements a day), the only
  // way to see a cycle longer than one page.
  const followed = new Set<string>();
  for (;;) {
    const query = new URLSearchParams(request.query);
    if (token) query.set('next_page_token', token);
    let body: unknown;
    try {
      body = await client.getJson(request.path, query, request.label);
    } catch (error) {
      if (token && error instanceof ZoomApiError && error.status === 400 && error.code === 300) {
        throw new StalePageTokenError(`${request.path}: ${error.message}`);
      }
      throw error;
    }
    const page = parseEnvelope(body, request);
    yield { items: page.items, totalRecords: page.totalRecords, more: page.next !== '' };
    if (!page.next) return;
    if (followed.has(page.next)) {
      throw new ListingIncompleteError(`${request.path} returned the same next_page_token twice; stopped to avoid a loop`);
    }
    followed.add(page.next);
    token = page.next;
  }
}

function parseEnvelope(body: unknown, request: ListRequest): { items: unknown[]; totalRecords: number | null; next: string } {
  if (body === null || typeof body !== 'object') {
    throw new ZoomApiError(`${request.path} answered with a body that is not a JSON object`, 200, undefined, request.path);
  }
  const record = body as Record<string, unknown>;
  const items = record[request.itemsField];
  if (!Array.isArray(items)) {
    throw new ZoomApiError(`${request.path} answered without a "${request.itemsField}" array`, 200, undefined, request.path);
  }
  const next = record.next_page_token;
  if (next !== undefined && next !== null && typeof next !== 'string') {
    throw new ZoomApiError(`${request.path} answered with a next_page_token that is not a string`, 200, undefined, request.path);
  }
  const total = record.total_records;
  return { items, totalRecords: typeof total === 'number' ? total : null, next: next ?? '' };
}
