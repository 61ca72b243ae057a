// A strict fake of Zendesk Support's Ticketing API v2 on loopback (crm-apis.md §2): Basic `{email}/token:{token}` and
// OAuth Bearer auth with Zendesk's two 401 bodies, tickets listed by external_id (duplicates when seeded), ticket
// create with Idempotency-Key replay (`x-idempotency-lookup`), comments only through ticket create/update (`public`
// defaults to true, a first comment is required, 5,000 at most), raw-body uploads streamed to disk with 60-minute
// tokens, `token=` chaining and a size limit, the 30-updates-per-10-minutes-per-ticket and 100-updates-per-minute
// limits as 429 text/plain + Retry-After, redaction, and a search index that lags behind writes.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from '../loopback.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CrmFakeView, CrmHeldFile, CrmHeldRecord, CrmHeldText, CrmLogEntry } from './view.js';
import {
  badAuth,
  badToken,
  COMMENT_FIELDS,
  header,
  invalid,
  invalidEndpoint,
  markerSections,
  notFound,
  readJson,
  Refusal,
  TICKET_FIELDS,
  ticketInput,
  tooMany,
  type Answer,
} from './zendesk-wire.js';

const MINUTE = 60_000;

export interface ZendeskFakeOptions {
  /** Which flow `destinationConfig` picks; the fake accepts both. Default `api-token`. */
  auth?: 'api-token' | 'oauth';
  /** Largest upload (default 50 MB, unconfirmed for the API). */
  fileLimitBytes?: number;
  /** `expires_in` of issued OAuth tokens; null leaves it out (tokens then live until expired by a fault). */
  tokenLifetimeSeconds?: number | null;
  ticketUpdatesPer10Minutes?: number;
  accountUpdatesPerMinute?: number;
  /** How long a write takes to reach the search index. */
  searchLagMs?: number;
  uploadTokenLifetimeMs?: number;
  idempotencyLifetimeMs?: number;
  maxComments?: number;
  /** What an unknown, expired or used upload token in a comment gets: silently dropped (default) or a 422. */
  badUploadTokens?: 'drop' | 'refuse';
  /** End users to seed (for `record.match: "contact"`). */
  users?: { name: string; phone: string }[];
  now?: () => number;
}

interface Attachment {
  id: number;
  fileName: string;
  contentType: string;
  size: number;
  sha256: string;
  file: string | null;
  contentToken: string;
  uploadedAt: number;
  used: boolean;
}

interface Comment {
  id: number;
  auditId: number;
  authorId: number;
  body: string;
  public: boolean;
  attachments: Attachment[];
  createdAt: number;
}

interface Ticket {
  id: number;
  externalId: string | null;
  subject: string;
  requesterId: number;
  tags: string[];
  status: string;
  isPublic: boolean;
  comments: Comment[];
  createdAt: number;
  updatedAt: number;
  updates: number[];
  /** Tickets made as follow-ups of this one after it was closed (`followup_ids`). */
  followupIds: number[];
}

interface User {
  id: number;
  name: string;
  phone: string | null;
  role: 'end-user' | 'agent';
  createdAt: number;
}

export interface ZendeskFake extends CrmFakeView {
  readonly url: string;
  readonly credentials: { email: string; apiToken: string; clientId: string; clientSecret: string };
  /** A ticket made outside our tool (e.g. a duplicate external id), returned by id. */
  seedTicket(externalId: string, createdAt?: number): number;
  /** Bytes of uploads that arrived whole and are held now (attached, or waiting for a comment). */
  heldUploads(): number;
  /** Requests answered, with their auth header kind, for tests of one flow. */
  requests(): { method: string; path: string; status: number; auth: 'basic' | 'bearer' | 'none'; idempotency?: string; lookup?: string }[];
  /** Every comment of a ticket as stored (body, public, attachment names). */
  comments(ticketId: number): { id: number; body: string; public: boolean; files: string[] }[];
  issuedTokens(): number;
  ticket(id: number): { externalId: string | null; subject: string; requesterId: number; tags: string[]; status: string; followupIds: number[] } | undefined;
  /** An agent closes a ticket (as Zendesk does some days after solved): it takes no update after that. */
  closeTicket(id: number): void;
  userId(name: string): number | undefined;
}

export async function startZendeskFake(options: ZendeskFakeOptions = {}): Promise<ZendeskFake> {
  const now = options.now ?? Date.now;
  const fileLimit = options.fileLimitBytes ?? 50 * 1024 * 1024;
  const perTicket = options.ticketUpdatesPer10Minutes ?? 30;
  const perAccount = options.accountUpdatesPerMinute ?? 100;
  const searchLag = options.searchLagMs ?? 1_000;
  const uploadLifetime = options.uploadTokenLifetimeMs ?? 60 * MINUTE;
  const idempotencyLifetime = options.idempotencyLifetimeMs ?? 120 * MINUTE;
  const maxComments = options.maxComments ?? 5_000;
  const credentials = { email: 'integration@acme.example', apiToken: `zd-${randomBytes(12).toString('hex')}`, clientId: 'zcc_reconcile', clientSecret: randomBytes(16).toString('hex') };
  const dir = await mkdtemp(path.join(tmpdir(), 'zcc-zendesk-fake-'));

  let nextId = 1000;
  const newId = () => (nextId += 1);
  const agent: User = { id: 1, name: 'Integration', phone: null, role: 'agent', createdAt: 0 };
  const users: User[] = [agent, ...(options.users ?? []).map((user) => ({ id: newId(), name: user.name, phone: user.phone, role: 'end-user' as const, createdAt: 0 }))];
  const tickets = new Map<number, Ticket>();
  const attachments = new Map<number, Attachment>();
  const uploads = new Map<string, { attachmentIds: number[]; expiresAt: number; used: boolean }>();
  const accessTokens = new Map<string, { expired: boolean; expiresAt: number | null }>();
  const idempotency = new Map<string, { hash: string; at: number; answer: Answer }>();
  const accountUpdates: number[] = [];
  const log: CrmLogEntry[] = [];
  const seen: ReturnType<ZendeskFake['requests']> = [];
  const listeners: ((writes: number) => void)[] = [];
  let writes = 0;
  let storm = 0;
  let daily = false;
  let url = '';

  const wrote = () => {
    writes += 1;
    for (const listener of listeners) listener(writes);
  };

  // ---- JSON shapes, as Zendesk answers them ----
  const attachmentJson = (a: Attachment) => ({
    url: `${url}/api/v2/attachments/${a.id}.json`,
    id: a.id,
    file_name: a.fileName,
    content_url: `${url}/attachments/token/${a.contentToken}/?name=${encodeURIComponent(a.fileName)}`,
    mapped_content_url: `${url}/attachments/token/${a.contentToken}/?name=${encodeURIComponent(a.fileName)}`,
    content_type: a.contentType,
    size: a.size,
    width: null,
    height: null,
    inline: false,
    deleted: false,
    malware_access_override: false,
    malware_scan_result: 'malware_not_found',
    thumbnails: [],
  });
  const commentJson = (c: Comment) => ({
    id: c.id,
    type: 'Comment',
    author_id: c.authorId,
    body: c.body,
    html_body: `<div class="zd-comment" dir="auto">${c.body.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/\n/g, '<br>')}</div>`,
    plain_body: c.body,
    public: c.public,
    attachments: c.attachments.map(attachmentJson),
    audit_id: c.auditId,
    via: { channel: 'api', source: { from: {}, to: {}, rel: null } },
    created_at: new Date(c.createdAt).toISOString(),
    metadata: { system: {}, custom: {} },
  });
  const ticketJson = (t: Ticket) => ({
    url: `${url}/api/v2/tickets/${t.id}.json`,
    id: t.id,
    external_id: t.externalId,
    subject: t.subject,
    raw_subject: t.subject,
    description: t.comments[0]?.body ?? '',
    status: t.status,
    requester_id: t.requesterId,
    submitter_id: agent.id,
    tags: t.tags,
    followup_ids: t.followupIds,
    is_public: t.isPublic,
    created_at: new Date(t.createdAt).toISOString(),
    updated_at: new Date(t.updatedAt).toISOString(),
  });
  const auditJson = (t: Ticket, c: Comment) => ({
    id: c.auditId,
    ticket_id: t.id,
    created_at: new Date(c.createdAt).toISOString(),
    author_id: c.authorId,
    events: [{ ...commentJson(c), audit_id: undefined }],
  });

  // ---- auth ----
  const authKind = (req: IncomingMessage): 'basic' | 'bearer' | 'none' => {
    const header = req.headers.authorization ?? '';
    return header.startsWith('Basic ') ? 'basic' : header.startsWith('Bearer ') ? 'bearer' : 'none';
  };
  const authenticate = (req: IncomingMessage): Answer | null => {
    const header = req.headers.authorization ?? '';
    if (header.startsWith('Bearer ')) {
      const token = accessTokens.get(header.slice(7));
      if (!token || token.expired || (token.expiresAt !== null && token.expiresAt <= now())) return badToken();
      return null;
    }
    if (header.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
      return decoded === `${credentials.email}/token:${credentials.apiToken}` ? null : badAuth();
    }
    return badAuth();
  };

  const issueToken = (body: unknown): Answer => {
    const input = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    if (input.grant_type !== 'client_credentials') {
      return { status: 400, json: { error: 'unsupported_grant_type', error_description: 'The authorization grant type is not supported by the authorization server.' } };
    }
    if (input.client_id !== credentials.clientId || input.client_secret !== credentials.clientSecret) {
      return { status: 401, json: { error: 'invalid_client', error_description: 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.' } };
    }
    const token = randomBytes(24).toString('hex');
    const lifetime = options.tokenLifetimeSeconds === undefined ? 7200 : options.tokenLifetimeSeconds;
    accessTokens.set(token, { expired: false, expiresAt: lifetime === null ? null : now() + lifetime * 1000 });
    return { status: 200, json: { access_token: token, token_type: 'bearer', scope: typeof input.scope === 'string' ? input.scope : 'read', ...(lifetime === null ? {} : { expires_in: lifetime }) } };
  };

  // ---- limits ----
  const prune = (times: number[], windowMs: number) => {
    while (times.length > 0 && times[0]! <= now() - windowMs) times.shift();
  };
  const updateLimit = (ticket: Ticket): Answer | null => {
    prune(ticket.updates, 10 * MINUTE);
    if (ticket.updates.length >= perTicket) {
      return tooMany((ticket.updates[0]! + 10 * MINUTE - now()) / 1000, `Number of allowed updates to ticket ${ticket.id} per 10 minutes exceeded`);
    }
    prune(accountUpdates, MINUTE);
    if (accountUpdates.length >= perAccount) return tooMany((accountUpdates[0]! + MINUTE - now()) / 1000, 'Number of allowed ticket updates per minute exceeded');
    return null;
  };

  // ---- uploads ----
  const liveUpload = (token: string) => {
    const upload = uploads.get(token);
    if (!upload || upload.used || upload.expiresAt <= now()) return null;
    return upload;
  };
  const expireUploads = () => {
    for (const [token, upload] of uploads) {
      if (upload.used || upload.expiresAt > now()) continue;
      // An upload never used in a comment is deleted: its URL answers 404 from now on.
      for (const id of upload.attachmentIds) dropAttachment(id);
      uploads.delete(token);
    }
  };
  const dropAttachment = (id: number) => {
    const attachment = attachments.get(id);
    if (attachment?.file) void unlink(attachment.file).catch(() => {});
    attachments.delete(id);
  };

  const receiveUpload = (req: IncomingMessage, query: URLSearchParams): Promise<Answer> =>
    new Promise((resolve) => {
      const fileName = query.get('filename');
      const contentType = String(req.headers['content-type'] ?? '');
      const chained = query.get('token');
      const refuse = (answer: Answer) => {
        req.resume();
        req.on('end', () => resolve(answer));
        req.on('error', () => resolve(answer));
      };
      if (!fileName) return refuse(invalid('filename', 'Filename: cannot be blank', 'BlankValue'));
      if (!contentType || /^application\/(json|x-www-form-urlencoded)/.test(contentType)) {
        return refuse({ status: 400, json: { error: 'InvalidValue', description: 'Send the raw file bytes with the file\'s own Content-Type' } });
      }
      if (chained !== null && !liveUpload(chained)) return refuse(invalid('token', 'Token: is invalid'));
      const file = path.join(dir, `${randomBytes(8).toString('hex')}.upload`);
      const out = createWriteStream(file);
      const hash = createHash('sha256');
      let size = 0;
      let complete = false;
      out.on('error', () => {});
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= fileLimit) hash.update(chunk);
      });
      req.on('end', () => (complete = true));
      req.pipe(out);
      out.on('close', () => {
        const whole = complete && (req.headers['content-length'] === undefined || Number(req.headers['content-length']) === size);
        if (!whole) {
          // Cut off midway: nothing is kept.
          void unlink(file).catch(() => {});
          resolve({ status: 0 });
          return;
        }
        if (size > fileLimit) {
          void unlink(file).catch(() => {});
          resolve(invalid('base', `File size is larger than the ${fileLimit} byte limit`, 'TooLarge'));
          return;
        }
        const attachment: Attachment = { id: newId(), fileName, contentType, size, sha256: hash.digest('hex'), file, contentToken: randomBytes(12).toString('hex'), uploadedAt: now(), used: false };
        attachments.set(attachment.id, attachment);
        const token = chained ?? randomBytes(10).toString('hex').slice(0, 15);
        const upload = uploads.get(token) ?? { attachmentIds: [], expiresAt: now() + uploadLifetime, used: false };
        upload.attachmentIds.push(attachment.id);
        uploads.set(token, upload);
        wrote();
        const all = upload.attachmentIds.map((id) => attachments.get(id)).filter((a): a is Attachment => a !== undefined);
        resolve({ status: 201, json: { upload: { token, expires_at: new Date(upload.expiresAt).toISOString(), attachment: attachmentJson(attachment), attachments: all.map(attachmentJson) } } });
      });
      req.on('close', () => {
        if (!complete) out.destroy();
      });
      req.on('error', () => out.destroy());
    });

  // ---- tickets and comments ----
  const checkComment = (value: unknown, ticket: Ticket | null): { comment: Omit<Comment, 'id' | 'auditId' | 'createdAt'> } | Answer => {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return invalid('comment', 'Comment: is invalid');
    const input = value as Record<string, unknown>;
    const unknown = Object.keys(input).find((field) => !COMMENT_FIELDS.has(field));
    if (unknown) return invalid(`comment.${unknown}`, `${unknown} is not a comment field`);
    const body = input.body ?? input.html_body;
    if (body !== undefined && typeof body !== 'string') return invalid('comment.body', 'Body: must be a string');
    if (input.public !== undefined && typeof input.public !== 'boolean') return invalid('comment.public', 'Public: must be true or false');
    if (input.uploads !== undefined && !(Array.isArray(input.uploads) && input.uploads.every((token) => typeof token === 'string'))) {
      return invalid('comment.uploads', 'Uploads: must be an array of tokens');
    }
    const found: Attachment[] = [];
    for (const token of (input.uploads as string[] | undefined) ?? []) {
      const upload = liveUpload(token);
      if (!upload) {
        if (options.badUploadTokens === 'refuse') return invalid('comment.uploads', `Upload token ${token} is invalid`);
        continue;
      }
      found.push(...upload.attachmentIds.map((id) => attachments.get(id)).filter((a): a is Attachment => a !== undefined));
    }
    if (!String(body ?? '').trim() && found.length === 0) return invalid('description', 'Description: cannot be blank', 'BlankValue');
    // `public` defaults to true, unless the ticket's first comment was private.
    const isPublic = typeof input.public === 'boolean' ? input.public : ticket ? ticket.isPublic : true;
    return { comment: { authorId: typeof input.author_id === 'number' ? input.author_id : agent.id, body: String(body ?? ''), public: isPublic, attachments: found } };
  };
  const consume = (raw: unknown) => {
    for (const token of Array.isArray(raw) ? raw : []) {
      const upload = typeof token === 'string' ? liveUpload(token) : null;
      if (upload) upload.used = true;
    }
  };
  const checkTicketFields = (input: Record<string, unknown>): Answer | null => {
    const unknown = Object.keys(input).find((field) => !TICKET_FIELDS.has(field));
    if (unknown) return invalid(unknown, `${unknown} is not a ticket field`);
    if (input.external_id !== undefined && input.external_id !== null && typeof input.external_id !== 'string') return invalid('external_id', 'External id: must be a string');
    if (input.subject !== undefined && typeof input.subject !== 'string') return invalid('subject', 'Subject: must be a string');
    if (input.tags !== undefined && !(Array.isArray(input.tags) && input.tags.every((tag) => typeof tag === 'string'))) return invalid('tags', 'Tags: must be strings');
    if (input.requester_id !== undefined && !users.some((user) => user.id === input.requester_id)) return invalid('requester', 'Requester: is invalid');
    return null;
  };
  const addComment = (ticket: Ticket, comment: Omit<Comment, 'id' | 'auditId' | 'createdAt'>): Comment => {
    const stored: Comment = { ...comment, id: newId(), auditId: newId(), createdAt: now() };
    for (const attachment of stored.attachments) attachment.used = true;
    ticket.comments.push(stored);
    ticket.updatedAt = now();
    return stored;
  };

  const createTicket = (body: unknown, req: IncomingMessage): Answer => {
    const input = ticketInput(body);
    if (!input) return { status: 400, json: { error: 'InvalidValue', description: 'The body must be {"ticket": {...}}' } };
    const key = header(req.headers['idempotency-key']);
    const hash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
    if (key !== undefined) {
      const earlier = idempotency.get(key);
      if (earlier && earlier.at + idempotencyLifetime > now()) {
        if (earlier.hash !== hash) return { status: 400, json: { error: 'IdempotentRequestError', description: 'The request does not match the original request made with this idempotency key' } };
        return { ...earlier.answer, headers: { ...earlier.answer.headers, 'x-idempotency-lookup': 'hit' } };
      }
    }
    const refused = checkTicketFields(input);
    if (refused) return refused;
    // A follow-up of a closed ticket (the parameter has no effect with other tickets); it inherits the closed ticket's
    // tags unless the request names its own.
    let followed: Ticket | undefined;
    if (input.via_followup_source_id !== undefined) {
      const source = typeof input.via_followup_source_id === 'number' ? tickets.get(input.via_followup_source_id) : undefined;
      if (!source) return invalid('via_followup_source_id', 'Via followup source: is invalid');
      if (source.status === 'closed') followed = source;
    }
    const first = input.comment ?? (typeof input.description === 'string' ? { body: input.description } : undefined);
    if (first === undefined) return invalid('description', 'Description: cannot be blank', 'BlankValue');
    const checked = checkComment(first, null);
    if ('status' in checked) return checked;
    const ticket: Ticket = {
      id: newId(),
      externalId: typeof input.external_id === 'string' ? input.external_id : null,
      subject: typeof input.subject === 'string' ? input.subject : checked.comment.body.slice(0, 60),
      requesterId: typeof input.requester_id === 'number' ? input.requester_id : agent.id,
      tags: (input.tags as string[] | undefined) ?? [...(followed?.tags ?? [])],
      status: typeof input.status === 'string' ? input.status : 'new',
      isPublic: checked.comment.public,
      comments: [],
      createdAt: now(),
      updatedAt: now(),
      updates: [],
      followupIds: [],
    };
    tickets.set(ticket.id, ticket);
    followed?.followupIds.push(ticket.id);
    consume((first as Record<string, unknown>).uploads);
    const comment = addComment(ticket, checked.comment);
    wrote();
    const answer: Answer = { status: 201, json: { ticket: ticketJson(ticket), audit: auditJson(ticket, comment) }, headers: { location: `${url}/api/v2/tickets/${ticket.id}.json` } };
    if (key !== undefined) idempotency.set(key, { hash, at: now(), answer });
    return { ...answer, headers: { ...answer.headers, ...(key === undefined ? {} : { 'x-idempotency-lookup': 'miss' }) } };
  };

  const updateTicket = (ticket: Ticket, body: unknown): Answer => {
    const input = ticketInput(body);
    if (!input) return { status: 400, json: { error: 'InvalidValue', description: 'The body must be {"ticket": {...}}' } };
    const limited = updateLimit(ticket);
    if (limited) return limited;
    const refused = checkTicketFields(input);
    if (refused) return refused;
    if (ticket.status === 'closed') return invalid('status', 'Status: closed prevents ticket update', 'ClosedPreventsUpdate');
    let comment: Comment | null = null;
    if (input.comment !== undefined) {
      if (ticket.comments.length >= maxComments) return invalid('base', `Ticket has reached the limit of ${maxComments} comments`, 'TooManyComments');
      const checked = checkComment(input.comment, ticket);
      if ('status' in checked) return checked;
      consume((input.comment as Record<string, unknown>).uploads);
      comment = addComment(ticket, checked.comment);
    }
    if (typeof input.status === 'string') ticket.status = input.status;
    if (Array.isArray(input.tags)) ticket.tags = input.tags as string[];
    ticket.updates.push(now());
    accountUpdates.push(now());
    wrote();
    return { status: 200, json: { ticket: ticketJson(ticket), audit: comment ? auditJson(ticket, comment) : { id: newId(), ticket_id: ticket.id, events: [] } } };
  };

  const listComments = (ticket: Ticket, query: URLSearchParams): Answer => {
    const ordered = query.get('sort_order') === 'desc' ? [...ticket.comments].reverse() : ticket.comments;
    const cursorSize = query.get('page[size]');
    if (cursorSize !== null) {
      const size = Number(cursorSize);
      if (!Number.isInteger(size) || size < 1 || size > 100) return { status: 400, json: { error: 'InvalidPaginationParameter', description: 'page[size] must be between 1 and 100' } };
      const after = query.get('page[after]');
      const start = after === null ? 0 : ordered.findIndex((comment) => String(comment.id) === Buffer.from(after, 'base64url').toString('utf8')) + 1;
      const page = ordered.slice(start, start + size);
      const last = page.at(-1);
      const hasMore = start + size < ordered.length;
      const cursor = last ? Buffer.from(String(last.id)).toString('base64url') : null;
      const base = `${url}/api/v2/tickets/${ticket.id}/comments.json?page%5Bsize%5D=${size}`;
      return {
        status: 200,
        json: {
          comments: page.map(commentJson),
          meta: { has_more: hasMore, after_cursor: cursor, before_cursor: page[0] ? Buffer.from(String(page[0].id)).toString('base64url') : null },
          links: { prev: null, next: hasMore && cursor ? `${base}&page%5Bafter%5D=${cursor}` : null },
        },
      };
    }
    const perPage = Math.min(Number(query.get('per_page') ?? 100) || 100, 100);
    const pageNumber = Math.max(Number(query.get('page') ?? 1) || 1, 1);
    const page = ordered.slice((pageNumber - 1) * perPage, pageNumber * perPage);
    const more = pageNumber * perPage < ordered.length;
    return {
      status: 200,
      json: {
        comments: page.map(commentJson),
        next_page: more ? `${url}/api/v2/tickets/${ticket.id}/comments.json?page=${pageNumber + 1}&per_page=${perPage}` : null,
        previous_page: pageNumber > 1 ? `${url}/api/v2/tickets/${ticket.id}/comments.json?page=${pageNumber - 1}&per_page=${perPage}` : null,
        count: ordered.length,
      },
    };
  };

  const search = (query: string): Answer => {
    const terms = new Map<string, string>();
    for (const term of query.trim().split(/\s+/)) {
      const colon = term.indexOf(':');
      if (colon > 0) terms.set(term.slice(0, colon), term.slice(colon + 1));
    }
    const visible = (createdAt: number) => createdAt + searchLag <= now();
    const results: unknown[] = [];
    if (terms.get('type') === 'user' || terms.has('role') || terms.has('phone')) {
      const phone = terms.get('phone');
      const digits = (value: string | null) => (value ?? '').replace(/\D/g, '');
      for (const user of users) {
        if (!visible(user.createdAt)) continue;
        if (terms.has('role') && user.role !== terms.get('role')) continue;
        if (phone !== undefined) {
          const wanted = digits(phone);
          const held = digits(user.phone);
          if (!held || (phone.startsWith('*') ? !held.endsWith(wanted) : held !== wanted)) continue;
        }
        results.push({ id: user.id, name: user.name, phone: user.phone, role: user.role, result_type: 'user' });
      }
    } else if (terms.get('type') === 'ticket') {
      for (const ticket of tickets.values()) {
        if (!visible(ticket.createdAt)) continue;
        if (terms.has('external_id') && ticket.externalId !== terms.get('external_id')) continue;
        results.push({ ...ticketJson(ticket), result_type: 'ticket' });
      }
    }
    return { status: 200, json: { results, facets: null, next_page: null, previous_page: null, count: results.length } };
  };

  const redactText = (comment: Comment, body: unknown): Answer => {
    const text = body && typeof body === 'object' ? (body as Record<string, unknown>).text : undefined;
    if (typeof text !== 'string' || text === '') return invalid('text', 'Text: cannot be blank', 'BlankValue');
    comment.body = comment.body.split(text).join(text.replace(/[^\n]/g, '▇'));
    return { status: 200, json: { comment: commentJson(comment) } };
  };

  const redactAttachment = (comment: Comment, attachmentId: number): Answer => {
    const index = comment.attachments.findIndex((attachment) => attachment.id === attachmentId);
    const attachment = comment.attachments[index];
    if (!attachment) return notFound();
    if (attachment.file) void unlink(attachment.file).catch(() => {});
    const redacted: Attachment = { ...attachment, fileName: 'redacted.txt', contentType: 'text/plain', size: 0, sha256: createHash('sha256').digest('hex'), file: null };
    comment.attachments[index] = redacted;
    attachments.set(redacted.id, redacted);
    return { status: 200, json: { attachment: attachmentJson(redacted) } };
  };

  const findComment = (ticketId: number, commentId: number) => tickets.get(ticketId)?.comments.find((comment) => comment.id === commentId);

  // ---- routing ----
  const route = async (req: IncomingMessage, res: ServerResponse, method: string, pathname: string, query: URLSearchParams): Promise<Answer | 'streamed'> => {
    const p = pathname.replace(/\.json$/, '');
    let m: RegExpExecArray | null;
    if (method === 'POST' && p === '/api/v2/uploads') return receiveUpload(req, query);
    if (method === 'GET' && (m = /^\/attachments\/token\/([a-f0-9]+)\/?$/.exec(pathname))) {
      req.resume();
      expireUploads();
      const attachment = [...attachments.values()].find((candidate) => candidate.contentToken === m![1]);
      if (!attachment) return notFound();
      res.writeHead(200, { 'content-type': attachment.contentType, 'content-length': String(attachment.size) });
      if (attachment.file) createReadStream(attachment.file).pipe(res);
      else res.end();
      return 'streamed';
    }
    const body = method === 'PUT' || method === 'POST' ? await readJson(req) : (req.resume(), undefined);
    if (body instanceof Refusal) return body.answer;
    if (method === 'GET' && p === '/api/v2/tickets') {
      const externalId = query.get('external_id');
      const found = [...tickets.values()].filter((ticket) => externalId === null || ticket.externalId === externalId);
      return { status: 200, json: { tickets: found.map(ticketJson), next_page: null, previous_page: null, count: found.length } };
    }
    if (method === 'POST' && p === '/api/v2/tickets') return createTicket(body, req);
    if ((m = /^\/api\/v2\/tickets\/(\d+)$/.exec(p))) {
      const ticket = tickets.get(Number(m[1]));
      if (method === 'GET') return ticket ? { status: 200, json: { ticket: ticketJson(ticket) } } : notFound();
      if (method === 'PUT') return ticket ? updateTicket(ticket, body) : notFound();
      return invalidEndpoint();
    }
    if (method === 'GET' && (m = /^\/api\/v2\/tickets\/(\d+)\/comments$/.exec(p))) {
      const ticket = tickets.get(Number(m[1]));
      return ticket ? listComments(ticket, query) : notFound();
    }
    if (method === 'PUT' && (m = /^\/api\/v2\/tickets\/(\d+)\/comments\/(\d+)\/redact$/.exec(p))) {
      const comment = findComment(Number(m[1]), Number(m[2]));
      return comment ? redactText(comment, body) : notFound();
    }
    if (method === 'PUT' && (m = /^\/api\/v2\/tickets\/(\d+)\/comments\/(\d+)\/attachments\/(\d+)\/redact$/.exec(p))) {
      const comment = findComment(Number(m[1]), Number(m[2]));
      return comment ? redactAttachment(comment, Number(m[3])) : notFound();
    }
    if (method === 'GET' && (m = /^\/api\/v2\/attachments\/(\d+)$/.exec(p))) {
      expireUploads();
      const attachment = attachments.get(Number(m[1]));
      return attachment ? { status: 200, json: { attachment: attachmentJson(attachment) } } : notFound();
    }
    if (method === 'DELETE' && (m = /^\/api\/v2\/uploads\/([A-Za-z0-9]+)$/.exec(p))) {
      const upload = uploads.get(m[1]!);
      if (!upload || upload.used) return notFound();
      for (const id of upload.attachmentIds) dropAttachment(id);
      uploads.delete(m[1]!);
      return { status: 204 };
    }
    if (method === 'GET' && p === '/api/v2/search') return search(query.get('query') ?? '');
    return invalidEndpoint();
  };

  const server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const parsed = new URL(req.url ?? '/', 'http://fake');
    const entry: CrmLogEntry = { at: now(), method, path: parsed.pathname, status: 0 };
    const tokenEndpoint = parsed.pathname === '/oauth/tokens';
    if (tokenEndpoint) entry.token = true;
    log.push(entry);
    const send = (answer: Answer) => {
      entry.status = answer.status;
      if (answer.status === 429) entry.retryAfterMs = Number(answer.headers?.['retry-after'] ?? 0) * 1000;
      seen.push({
        method,
        path: parsed.pathname,
        status: answer.status,
        auth: authKind(req),
        idempotency: header(req.headers['idempotency-key']),
        lookup: answer.headers?.['x-idempotency-lookup'],
      });
      if (answer.status === 0) return; // the client went away
      const headers: Record<string, string> = { 'x-rate-limit': '700', 'x-rate-limit-remaining': '699', ...answer.headers };
      if (answer.text !== undefined) {
        res.writeHead(answer.status, { ...headers, 'content-type': 'text/plain; charset=utf-8' }).end(answer.text);
      } else if (answer.json !== undefined) {
        res.writeHead(answer.status, { ...headers, 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(answer.json));
      } else {
        res.writeHead(answer.status, headers).end();
      }
    };
    const discardThen = (answer: Answer) => {
      req.resume();
      req.on('end', () => send(answer));
      req.on('error', () => {});
    };
    void (async () => {
      if (tokenEndpoint) {
        if (method !== 'POST') return discardThen(invalidEndpoint());
        if (!/^application\/json/.test(String(req.headers['content-type'] ?? ''))) {
          return discardThen({ status: 400, json: { error: 'invalid_request', error_description: 'The request body must be JSON.' } });
        }
        const body = await readJson(req);
        return send(body instanceof Refusal ? body.answer : issueToken(body));
      }
      if (storm > 0) {
        storm -= 1;
        return discardThen(tooMany(1, 'Number of allowed API requests per minute exceeded'));
      }
      if (daily) return discardThen(tooMany(3600, 'API usage for this account is throttled'));
      const refused = authenticate(req);
      if (refused) return discardThen(refused);
      const answer = await route(req, res, method, parsed.pathname, parsed.searchParams);
      if (answer === 'streamed') {
        entry.status = 200;
        seen.push({ method, path: parsed.pathname, status: 200, auth: authKind(req) });
        return;
      }
      send(answer);
    })().catch((error: unknown) => send({ status: 500, text: `fake error: ${(error as Error).message}` }));
  });
  const listening = await listenOnLoopback(server);
  url = `http://127.0.0.1:${listening.port}`;

  const heldRecord = (ticket: Ticket): CrmHeldRecord => {
    const texts: CrmHeldText[] = [];
    const files: CrmHeldFile[] = [];
    for (const comment of ticket.comments) {
      const sections = markerSections(comment.body);
      if (comment.attachments.length > 0) {
        const key = sections[0]?.key;
        if (!key) continue;
        for (const attachment of comment.attachments) {
          if (attachment.fileName === 'redacted.txt' && attachment.size === 0) continue;
          files.push({ key, fileName: attachment.fileName, size: attachment.size, sha256: attachment.sha256, id: String(attachment.id) });
        }
        continue;
      }
      sections.forEach((section, index) => texts.push({ key: section.key, text: section.text, id: `${comment.id}#${index}` }));
    }
    const externalId = ticket.externalId ?? '';
    return { externalId, engagementId: externalId.slice('zcc:'.length), id: String(ticket.id), texts, files, internalOnly: ticket.comments.every((comment) => !comment.public) };
  };

  return {
    type: 'zendesk',
    url,
    credentials,
    editsInPlace: false,
    fileLimitBytes: fileLimit,
    destinationConfig(name, extra = {}) {
      return {
        name,
        type: 'zendesk',
        baseUrl: url,
        auth: options.auth ?? 'api-token',
        ...(options.fileLimitBytes === undefined ? {} : { maxFileBytes: fileLimit }),
        ...extra,
      };
    },
    env() {
      return { ZENDESK_EMAIL: credentials.email, ZENDESK_API_TOKEN: credentials.apiToken, ZENDESK_CLIENT_ID: credentials.clientId, ZENDESK_CLIENT_SECRET: credentials.clientSecret };
    },
    badEnv() {
      return { ZENDESK_EMAIL: credentials.email, ZENDESK_API_TOKEN: 'revoked-token', ZENDESK_CLIENT_ID: credentials.clientId, ZENDESK_CLIENT_SECRET: 'wrong-secret' };
    },
    records() {
      return [...tickets.values()].filter((ticket) => ticket.externalId?.startsWith('zcc:')).map(heldRecord);
    },
    log: () => [...log],
    requests: () => [...seen],
    comments(ticketId) {
      return (tickets.get(ticketId)?.comments ?? []).map((comment) => ({ id: comment.id, body: comment.body, public: comment.public, files: comment.attachments.map((a) => a.fileName) }));
    },
    issuedTokens: () => accessTokens.size,
    ticket(id) {
      const ticket = tickets.get(id);
      return ticket && { externalId: ticket.externalId, subject: ticket.subject, requesterId: ticket.requesterId, tags: ticket.tags, status: ticket.status, followupIds: [...ticket.followupIds] };
    },
    closeTicket(id) {
      const ticket = tickets.get(id);
      if (!ticket) throw new Error(`no ticket ${id}`);
      ticket.status = 'closed';
    },
    userId: (name) => users.find((user) => user.name === name)?.id,
    heldUploads() {
      expireUploads();
      return [...attachments.values()].filter((attachment) => attachment.file !== null).reduce((total, attachment) => total + attachment.size, 0);
    },
    seedTicket(externalId, createdAt = now()) {
      const ticket: Ticket = {
        id: newId(),
        externalId,
        subject: 'seeded',
        requesterId: agent.id,
        tags: [],
        status: 'open',
        isPublic: false,
        comments: [],
        createdAt,
        updatedAt: createdAt,
        updates: [],
        followupIds: [],
      };
      ticket.comments.push({ id: newId(), auditId: newId(), authorId: agent.id, body: 'seeded ticket', public: false, attachments: [], createdAt });
      tickets.set(ticket.id, ticket);
      return ticket.id;
    },
    faults: {
      rateLimitStorm(count) {
        storm = count;
      },
      dailyLimit(on) {
        daily = on;
      },
      expireTokens() {
        for (const token of accessTokens.values()) token.expired = true;
      },
    },
    onWrite(listener) {
      listeners.push(listener);
    },
    async close() {
      await listening.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
