// Zendesk's JSON answers parsed into typed values at the edge: a missing or mistyped field is an error naming the
// request here, not a crash further in.
import type { ZendeskAttachment, ZendeskComment } from './comments.js';

export interface ZendeskTicket {
  id: number;
  externalId: string | null;
  createdAt: string;
  status: string;
  subject: string;
  requesterId: number | null;
}

export interface ZendeskUpload {
  token: string;
  attachments: ZendeskAttachment[];
}

export class ZendeskAnswerError extends Error {
  override name = 'ZendeskAnswerError';
}

type Json = Record<string, unknown>;

function parseObject(body: string, what: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new ZendeskAnswerError(`${what}: the answer is not JSON`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ZendeskAnswerError(`${what}: the answer is not a JSON object`);
  return value as Json;
}

function objectField(source: Json, field: string, what: string): Json {
  const value = source[field];
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ZendeskAnswerError(`${what}: no "${field}" object in the answer`);
  return value as Json;
}

function arrayField(source: Json, field: string, what: string): unknown[] {
  const value = source[field];
  if (!Array.isArray(value)) throw new ZendeskAnswerError(`${what}: no "${field}" array in the answer`);
  return value;
}

function idOf(source: Json, what: string): number {
  const id = source.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id)) throw new ZendeskAnswerError(`${what}: an item without a numeric id`);
  return id;
}

function asObject(value: unknown, what: string): Json {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ZendeskAnswerError(`${what}: an item is not an object`);
  return value as Json;
}

function ticketOf(value: unknown, what: string): ZendeskTicket {
  const ticket = asObject(value, what);
  return {
    id: idOf(ticket, what),
    externalId: typeof ticket.external_id === 'string' ? ticket.external_id : null,
    createdAt: typeof ticket.created_at === 'string' ? ticket.created_at : '',
    status: typeof ticket.status === 'string' ? ticket.status : '',
    subject: typeof ticket.subject === 'string' ? ticket.subject : '',
    requesterId: typeof ticket.requester_id === 'number' ? ticket.requester_id : null,
  };
}

function attachmentOf(value: unknown, what: string): ZendeskAttachment {
  const attachment = asObject(value, what);
  const { file_name: fileName, size, content_url: contentUrl } = attachment;
  if (typeof fileName !== 'string' || typeof size !== 'number' || typeof contentUrl !== 'string') {
    throw new ZendeskAnswerError(`${what}: an attachment without file_name, size or content_url`);
  }
  return { id: idOf(attachment, what), fileName, size, contentUrl };
}

function commentOf(value: unknown, what: string): ZendeskComment {
  const comment = asObject(value, what);
  const attachments = Array.isArray(comment.attachments) ? comment.attachments.map((item) => attachmentOf(item, what)) : [];
  return { id: idOf(comment, what), body: typeof comment.body === 'string' ? comment.body : '', public: comment.public === true, attachments };
}

/** `{"tickets":[...]}` of `GET /api/v2/tickets?external_id=`. */
export function parseTickets(body: string, what: string): ZendeskTicket[] {
  return arrayField(parseObject(body, what), 'tickets', what).map((item) => ticketOf(item, what));
}

/** `{"ticket":{...}}` of a ticket create. */
export function parseTicket(body: string, what: string): ZendeskTicket {
  return ticketOf(objectField(parseObject(body, what), 'ticket', what), what);
}

/** The comment a ticket create or update added, from its audit's `Comment` event (the event id is the comment id). */
export function parseAddedComment(body: string, what: string): ZendeskComment {
  const audit = objectField(parseObject(body, what), 'audit', what);
  const event = arrayField(audit, 'events', what).find((item) => asObject(item, what).type === 'Comment');
  if (!event) throw new ZendeskAnswerError(`${what}: the audit has no Comment event`);
  return commentOf(event, what);
}

/** One page of `GET /api/v2/tickets/{id}/comments` with cursor pagination. */
export function parseCommentPage(body: string, what: string): { comments: ZendeskComment[]; next: string | null } {
  const page = parseObject(body, what);
  const comments = arrayField(page, 'comments', what).map((item) => commentOf(item, what));
  const meta = page.meta && typeof page.meta === 'object' ? (page.meta as Json) : {};
  const links = page.links && typeof page.links === 'object' ? (page.links as Json) : {};
  const next = meta.has_more === true && typeof links.next === 'string' ? links.next : null;
  return { comments, next };
}

/** `{"upload":{"token":..., "attachment":{...}, "attachments":[...]}}` of `POST /api/v2/uploads`. */
export function parseUpload(body: string, what: string): ZendeskUpload {
  const upload = objectField(parseObject(body, what), 'upload', what);
  if (typeof upload.token !== 'string' || upload.token === '') throw new ZendeskAnswerError(`${what}: no upload token in the answer`);
  const attachments = Array.isArray(upload.attachments)
    ? upload.attachments.map((item) => attachmentOf(item, what))
    : upload.attachment
      ? [attachmentOf(upload.attachment, what)]
      : [];
  return { token: upload.token, attachments };
}

/** `{"attachment":{...}}` of `GET /api/v2/attachments/{id}`. */
export function parseAttachment(body: string, what: string): ZendeskAttachment {
  return attachmentOf(objectField(parseObject(body, what), 'attachment', what), what);
}

/** User ids from `GET /api/v2/search?query=type:user ...`. */
export function parseUserIds(body: string, what: string): number[] {
  return arrayField(parseObject(body, what), 'results', what)
    .map((item) => asObject(item, what))
    .filter((item) => item.result_type === undefined || item.result_type === 'user')
    .map((item) => idOf(item, what));
}
