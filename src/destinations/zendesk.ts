// Zendesk Support as a destination: one ticket per engagement (found by `external_id`, created with an
// Idempotency-Key and a private first comment), every entry a private comment. Comments cannot be edited, so several
// entries share one comment (each a section with its marker) to stay far below the 30-updates-per-10-minutes limit
// of a ticket, and an edited note becomes a new section saying it replaces the earlier one. Files are uploaded raw
// (`POST /api/v2/uploads`), then attached by their token to a comment of their own. A ticket agents closed takes no
// update: what comes later goes to a follow-up ticket (`via_followup_source_id`) with the same external id.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { OptionsInit } from 'got';
import type { ArtifactKind, EngagementInfo } from '../artifacts.js';
import type { ZendeskDestinationConfig } from '../config-schema.js';
import { ConfigError, DestinationError } from '../errors.js';
import { whenAnswered } from './body.js';
import type { CrmAdapter, CrmRecord, FileEntry, FoundEntry, TextEntry } from './crm/adapter.js';
import { buildCrmDestination } from './crm/build.js';
import type { CrmDestination } from './crm/engine.js';
import { statusOf, type CrmHttp } from './crm/http.js';
import { apiToken, classifyZendesk, oauthTokens } from './zendesk/auth.js';
import { parseAddedComment, parseAttachment, parseCommentPage, parseTicket, parseTickets, parseUpload, parseUserIds, ZendeskAnswerError, type ZendeskTicket } from './zendesk/api.js';
import { commentBody, describeEngagement, fileText, newestEntry, sameText, sectionOf, sectionsOf, subjectOf, type ZendeskComment } from './zendesk/comments.js';

export { classifyZendesk } from './zendesk/auth.js';

const LABEL = 'Zendesk';
const MB = 1024 * 1024;
/** Zendesk's per-file limit for ticket attachments (help-center figure; unconfirmed for the API). */
const FILE_LIMIT_BYTES = 50 * MB;
/** The longest entry text; a comment carries up to COMMENT_LIMIT_CHARS of sections (limit unconfirmed: ~64 KB). */
const TEXT_LIMIT_CHARS = 60_000;
const COMMENT_LIMIT_CHARS = 64_000;
/** Entries one comment carries: a ticket takes 30 updates per 10 minutes, an engagement's texts fit in one or two. */
const ENTRIES_PER_COMMENT = 20;

export interface ZendeskSettings {
  destination: string;
  baseUrl: string;
  match: 'external-id' | 'contact';
}

export interface ZendeskTestHooks {
  now?: () => number;
  groupDelayMs?: number;
}

export function createZendeskDestination(config: ZendeskDestinationConfig, env: NodeJS.ProcessEnv, hooks: ZendeskTestHooks = {}): CrmDestination {
  if (config.record.field !== undefined && config.record.field !== 'external_id') {
    throw new ConfigError(`destinations.${config.name}.record.field`, config.record.field, '"external_id" (the only ticket field Zendesk lists tickets by)');
  }
  const baseUrl = config.baseUrl.replace(/\/+$/, '');
  const oauth = config.auth === 'oauth';
  return buildCrmDestination(config, {
    label: LABEL,
    tokens: oauth ? oauthTokens(config, env, baseUrl, hooks.now) : apiToken(config, env),
    classify: classifyZendesk(oauth),
    adapter: (http) => new ZendeskAdapter(http, { destination: config.name, baseUrl, match: config.record.match }),
    now: hooks.now,
    groupDelayMs: hooks.groupDelayMs,
  });
}

type Location = { type: 'comment'; ticketId: number; commentId: number; key: string } | { type: 'attachment'; ticketId: number; commentId: number; attachmentId: number };

const textLocation = (ticketId: number, commentId: number, key: string) => `comment/${ticketId}/${commentId}/${encodeURIComponent(key)}`;
const fileLocation = (ticketId: number, commentId: number, attachmentId: number) => `attachment/${ticketId}/${commentId}/${attachmentId}`;

function parseLocation(location: string): Location | null {
  const comment = /^comment\/(\d+)\/(\d+)\/(.+)$/.exec(location);
  if (comment) {
    let key: string;
    try {
      key = decodeURIComponent(comment[3]!);
    } catch {
      return null;
    }
    return { type: 'comment', ticketId: Number(comment[1]), commentId: Number(comment[2]), key };
  }
  const attachment = /^attachment\/(\d+)\/(\d+)\/(\d+)$/.exec(location);
  if (attachment) return { type: 'attachment', ticketId: Number(attachment[1]), commentId: Number(attachment[2]), attachmentId: Number(attachment[3]) };
  return null;
}

interface NewComment {
  body: string;
  public: false;
  uploads?: string[];
}

export class ZendeskAdapter implements CrmAdapter {
  readonly label = LABEL;
  readonly fileLimitBytes = FILE_LIMIT_BYTES;
  readonly textLimitChars = TEXT_LIMIT_CHARS;
  readonly entriesPerWrite = ENTRIES_PER_COMMENT;
  private readonly api: string;
  /** Closed ticket → the open follow-up that takes its later entries (one per closed ticket, for this process). */
  private readonly followUps = new Map<number, Promise<number>>();

  constructor(
    private readonly http: CrmHttp,
    private readonly settings: ZendeskSettings,
  ) {
    this.api = `${settings.baseUrl}/api/v2`;
  }

  async findRecord(engagement: EngagementInfo, signal?: AbortSignal): Promise<CrmRecord | null> {
    const id = pickTicket(await this.ticketsWith(externalIdOf(engagement), signal));
    return id === null ? null : recordOf(id);
  }

  async createRecord(engagement: EngagementInfo, signal?: AbortSignal): Promise<CrmRecord> {
    const requesterId = this.settings.match === 'contact' ? await this.findContact(engagement, signal) : undefined;
    const body = {
      ticket: {
        subject: subjectOf(engagement),
        external_id: externalIdOf(engagement),
        tags: ['zoom_contact_center'],
        // A ticket needs a first comment; private, so the whole ticket stays agents-only.
        comment: { body: describeEngagement(engagement), public: false },
        ...(requesterId === undefined ? {} : { requester_id: requesterId }),
      },
    };
    // Same request, same key: a retry or a re-run after a crash gets the stored answer instead of a second ticket.
    const idempotencyKey = `zcc-${createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 40)}`;
    const ticket = await this.call(
      { url: `${this.api}/tickets`, method: 'POST', json: body, headers: { 'idempotency-key': idempotencyKey }, signal },
      'POST /api/v2/tickets',
      parseTicket,
    );
    return recordOf(ticket.id);
  }

  async writeTexts(record: CrmRecord, entries: readonly TextEntry[], signal?: AbortSignal): Promise<string[]> {
    const ticketId = await this.writableTicket(Number(record.id));
    const comments = await this.listComments(ticketId, signal);
    const locations: string[] = [];
    const pending: { index: number; key: string; section: string }[] = [];
    entries.forEach((entry, index) => {
      const held = newestEntry(comments, entry.key);
      if (held?.type === 'text' && sameText(held.section.text, entry.text)) {
        // Written before, but the ledger never heard (a crash after the write): nothing to add.
        locations[index] = textLocation(ticketId, held.comment.id, entry.key);
        return;
      }
      const replaces = held ? `comment ${held.comment.id}` : previousComment(entry.previous);
      pending.push({ index, key: entry.key, section: sectionOf(entry.title, entry.text, replaces) });
    });
    for (const batch of packed(pending, COMMENT_LIMIT_CHARS, ENTRIES_PER_COMMENT)) {
      const added = await this.addComment(ticketId, { body: commentBody(batch.map((item) => item.section)), public: false }, signal);
      for (const item of batch) locations[item.index] = textLocation(added.ticketId, added.comment.id, item.key);
    }
    return locations;
  }

  async attachFile(record: CrmRecord, file: FileEntry, signal?: AbortSignal): Promise<string> {
    const ticketId = await this.writableTicket(Number(record.id));
    const comments = await this.listComments(ticketId, signal);
    const held = newestEntry(comments, file.key, file.fileName);
    const heldFile = held?.type === 'file' ? { commentId: held.comment.id, attachment: held.attachment } : null;
    const heldLocation = heldFile ? fileLocation(ticketId, heldFile.commentId, heldFile.attachment.id) : undefined;
    if (heldFile && heldLocation !== file.previous && file.size !== undefined && heldFile.attachment.size === file.size) {
      // Attached before, but the ledger never heard (a crash after the write).
      await drain(file.body);
      return heldLocation!;
    }
    const upload = await this.upload(file, signal);
    let added: { ticketId: number; comment: ZendeskComment };
    try {
      const uploaded = upload.attachments.reduce((total, attachment) => total + attachment.size, 0);
      if (file.size !== undefined && uploaded !== file.size) {
        throw new DestinationError(this.settings.destination, `${LABEL} stored ${uploaded} bytes of ${file.fileName}, expected ${file.size}`);
      }
      const replaces = held ? `comment ${held.comment.id}` : previousComment(file.previous);
      const body = commentBody([sectionOf(file.title, fileText(file.fileName, file.size ?? uploaded, file.key), replaces)]);
      added = await this.addComment(ticketId, { body, public: false, uploads: [upload.token] }, signal);
    } catch (error) {
      await this.deleteUpload(upload.token);
      throw error;
    }
    const { comment } = added;
    const attached = comment.attachments.find((attachment) => attachment.fileName === file.fileName) ?? comment.attachments[0];
    if (!attached) {
      // The comment says "File: …" with no file: its marker must not pass for a delivery on the next run.
      await this.redactSection(added.ticketId, comment.id, sectionsOf(comment.body)[0]?.whole).catch(() => undefined);
      throw new DestinationError(this.settings.destination, `${LABEL} added comment ${comment.id} to ticket ${added.ticketId} without ${file.fileName} (the upload token was dropped)`);
    }
    // The new copy is in place before the old one goes; a failed redaction leaves the old one, never neither.
    if (heldFile) await this.redactAttachment(ticketId, heldFile.commentId, heldFile.attachment.id).catch(() => undefined);
    return fileLocation(added.ticketId, comment.id, attached.id);
  }

  /** The entry in the engagement's ticket, else in the other tickets of its follow-up chain (same external id), newest first. */
  async findEntry(record: CrmRecord, key: string, _kind: ArtifactKind): Promise<FoundEntry | null> {
    const ticketId = await this.writableTicket(Number(record.id));
    const found = await this.entryIn(ticketId, key);
    if (found) return found;
    const ticket = await this.ticket(ticketId);
    if (ticket.externalId === null) return null;
    const others = (await this.ticketsWith(ticket.externalId)).filter((other) => other.id !== ticketId).map((other) => other.id);
    for (const id of others.sort((a, b) => b - a)) {
      const entry = await this.entryIn(id, key);
      if (entry) return entry;
    }
    return null;
  }

  private async entryIn(ticketId: number, key: string): Promise<FoundEntry | null> {
    const held = newestEntry(await this.listComments(ticketId), key);
    if (!held) return null;
    if (held.type === 'text') return { location: textLocation(ticketId, held.comment.id, key), size: Buffer.byteLength(held.section.text, 'utf8') };
    return { location: fileLocation(ticketId, held.comment.id, held.attachment.id), size: held.attachment.size };
  }

  async readEntry(location: string): Promise<Readable> {
    const where = this.locate(location);
    if (where.type === 'comment') {
      const section = await this.sectionAt(where.ticketId, where.commentId, where.key);
      if (!section) throw new DestinationError(this.settings.destination, `${LABEL} ticket ${where.ticketId} has no entry ${where.key} in comment ${where.commentId}`);
      return Readable.from([Buffer.from(section.text, 'utf8')]);
    }
    const attachment = await this.call({ url: `${this.api}/attachments/${where.attachmentId}` }, `GET /api/v2/attachments/${where.attachmentId}`, parseAttachment);
    return this.download(attachment.contentUrl);
  }

  async removeEntry(location: string): Promise<void> {
    const where = this.locate(location);
    if (where.type === 'attachment') {
      await this.redactAttachment(where.ticketId, where.commentId, where.attachmentId);
      return;
    }
    const section = await this.sectionAt(where.ticketId, where.commentId, where.key);
    await this.redactSection(where.ticketId, where.commentId, section?.whole);
  }

  async close(): Promise<void> {}

  private locate(location: string): Location {
    const where = parseLocation(location);
    if (!where) throw new DestinationError(this.settings.destination, `not a ${LABEL} location: ${JSON.stringify(location.slice(0, 100))}`);
    return where;
  }

  /** The consumer's end-user profile, by phone (digits only, as Zendesk's search wants them); the lowest id wins. */
  private async findContact(engagement: EngagementInfo, signal?: AbortSignal): Promise<number | undefined> {
    const digits = (engagement.consumers[0]?.number ?? '').replace(/\D/g, '');
    if (!digits) return undefined;
    const query = `type:user role:end-user phone:${digits}`;
    const ids = await this.call({ url: `${this.api}/search?query=${encodeURIComponent(query)}`, signal }, 'GET /api/v2/search', parseUserIds);
    return ids.length === 0 ? undefined : Math.min(...ids);
  }

  /** Every comment of a ticket, oldest first (cursor pagination, 100 a page). */
  private async listComments(ticketId: number, signal?: AbortSignal): Promise<ZendeskComment[]> {
    const comments: ZendeskComment[] = [];
    let url: string | null = `${this.api}/tickets/${ticketId}/comments?page%5Bsize%5D=100`;
    while (url) {
      this.checkOrigin(url);
      const page: { comments: ZendeskComment[]; next: string | null } = await this.call({ url, signal }, `GET /api/v2/tickets/${ticketId}/comments`, parseCommentPage);
      comments.push(...page.comments);
      url = page.next;
    }
    return comments;
  }

  private async sectionAt(ticketId: number, commentId: number, key: string) {
    const comment = (await this.listComments(ticketId)).find((candidate) => candidate.id === commentId);
    return comment ? sectionsOf(comment.body).filter((section) => section.key === key).at(-1) : undefined;
  }

  /**
   * A comment on the ticket, or on its follow-up when agents closed it (Zendesk refuses any update to a closed ticket
   * with a 422). Not replayed after a 5xx or a reset (it might have landed): only a 429 is retried.
   */
  private async addComment(ticketId: number, comment: NewComment, signal?: AbortSignal): Promise<{ ticketId: number; comment: ZendeskComment }> {
    const put = (id: number) =>
      this.call(
        { url: `${this.api}/tickets/${id}`, method: 'PUT', json: { ticket: { comment } }, retry: { statusCodes: [429] }, signal },
        `PUT /api/v2/tickets/${id}`,
        parseAddedComment,
      );
    try {
      return { ticketId, comment: await put(ticketId) };
    } catch (error) {
      if (statusOf(error) !== 422) throw error;
      const ticket = await this.ticket(ticketId, signal);
      if (ticket.status !== 'closed') throw error;
      const followUp = await this.followUpOf(ticket, signal);
      return { ticketId: followUp, comment: await put(followUp) };
    }
  }

  /** The ticket that takes writes meant for `ticketId`: its follow-up once this process found it closed. */
  private async writableTicket(ticketId: number): Promise<number> {
    const followUp = this.followUps.get(ticketId);
    return followUp ? followUp.catch(() => ticketId) : ticketId;
  }

  /**
   * The open ticket that continues a closed one: a follow-up made before (by an earlier run or another process: it
   * carries the same external id), else a new one, created with an Idempotency-Key so that processes racing on the
   * same closed ticket make one.
   */
  private followUpOf(closed: ZendeskTicket, signal?: AbortSignal): Promise<number> {
    let followUp = this.followUps.get(closed.id);
    if (!followUp) {
      followUp = this.findOrCreateFollowUp(closed, signal);
      this.followUps.set(closed.id, followUp);
      followUp.catch(() => this.followUps.delete(closed.id));
    }
    return followUp;
  }

  private async findOrCreateFollowUp(closed: ZendeskTicket, signal?: AbortSignal): Promise<number> {
    if (closed.externalId !== null) {
      const tickets = await this.ticketsWith(closed.externalId, signal);
      const open = pickTicket(tickets.filter((ticket) => ticket.id !== closed.id && ticket.status !== 'closed'));
      if (open !== null) return open;
    }
    const body = {
      ticket: {
        via_followup_source_id: closed.id,
        subject: closed.subject,
        ...(closed.externalId === null ? {} : { external_id: closed.externalId }),
        ...(closed.requesterId === null ? {} : { requester_id: closed.requesterId }),
        comment: { body: `Follow-up of closed ticket #${closed.id}: later notes, dispositions, transcripts and recordings of this engagement follow as private comments.`, public: false },
      },
    };
    const idempotencyKey = `zcc-${createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 40)}`;
    const ticket = await this.call(
      { url: `${this.api}/tickets`, method: 'POST', json: body, headers: { 'idempotency-key': idempotencyKey }, signal },
      'POST /api/v2/tickets',
      parseTicket,
    );
    return ticket.id;
  }

  private ticket(ticketId: number, signal?: AbortSignal): Promise<ZendeskTicket> {
    return this.call({ url: `${this.api}/tickets/${ticketId}`, signal }, `GET /api/v2/tickets/${ticketId}`, parseTicket);
  }

  /** The tickets carrying `externalId` exactly (Zendesk's lookup is trusted no further than that). */
  private async ticketsWith(externalId: string, signal?: AbortSignal): Promise<ZendeskTicket[]> {
    const tickets = await this.call(
      { url: `${this.api}/tickets?external_id=${encodeURIComponent(externalId)}`, signal },
      'GET /api/v2/tickets?external_id=',
      parseTickets,
    );
    return tickets.filter((ticket) => ticket.externalId === externalId);
  }

  /** The raw bytes as the request body: from memory when held (so a 429 can be retried), else streamed once. */
  private async upload(file: FileEntry, signal?: AbortSignal) {
    let bodyError: Error | undefined;
    const remember = (error: Error) => (bodyError ??= error);
    file.body.once('error', remember);
    const options: OptionsInit & { url: string } = {
      url: `${this.api}/uploads?filename=${encodeURIComponent(file.fileName)}`,
      method: 'POST',
      headers: { 'content-type': file.contentType, ...(file.size === undefined ? {} : { 'content-length': String(file.size) }) },
      ...(file.bytes ? { body: file.bytes } : { body: file.body, retry: { limit: 0 } }),
      signal,
    };
    try {
      return await this.call(options, 'POST /api/v2/uploads', parseUpload);
    } catch (error) {
      // The body's own failure (a reset download) says more than got's wrapper of it.
      throw bodyError ?? error;
    } finally {
      file.body.off('error', remember);
    }
  }

  private async deleteUpload(token: string): Promise<void> {
    await this.call({ url: `${this.api}/uploads/${encodeURIComponent(token)}`, method: 'DELETE' }, 'DELETE /api/v2/uploads/{token}', () => undefined).catch(() => undefined);
  }

  /** Comments cannot be deleted, only redacted: the section (marker included) becomes ▇ characters. */
  private async redactSection(ticketId: number, commentId: number, text: string | undefined): Promise<void> {
    if (!text) return;
    const path = `/api/v2/tickets/${ticketId}/comments/${commentId}/redact`;
    await this.call({ url: `${this.settings.baseUrl}${path}`, method: 'PUT', json: { text } }, `PUT ${path}`, () => undefined);
  }

  private async redactAttachment(ticketId: number, commentId: number, attachmentId: number): Promise<void> {
    const path = `/api/v2/tickets/${ticketId}/comments/${commentId}/attachments/${attachmentId}/redact`;
    try {
      await this.call({ url: `${this.settings.baseUrl}${path}`, method: 'PUT', json: {} }, `PUT ${path}`, () => undefined);
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  /** An attachment's bytes from its content_url, only from the configured Zendesk host (it gets our credentials). */
  private async download(url: string): Promise<Readable> {
    this.checkOrigin(url);
    const stream = this.http.got.stream(url, { retry: { limit: 0 } });
    return whenAnswered(stream, (error) => this.http.explain(error, { url }));
  }

  private checkOrigin(url: string): void {
    if (new URL(url).origin !== new URL(this.settings.baseUrl).origin) {
      throw new DestinationError(this.settings.destination, `${LABEL} pointed at ${new URL(url).origin}, outside ${new URL(this.settings.baseUrl).origin}; not sending credentials there`);
    }
  }

  /** One request through the destination's client (pauses, refresh and stop apply), its answer parsed. */
  private async call<T>(options: OptionsInit & { url: string }, what: string, parse: (body: string, what: string) => T): Promise<T> {
    const headers = { accept: 'application/json', ...(options.headers as Record<string, string> | undefined) };
    try {
      const { value } = await this.http.send({ ...options, headers }, (body) => parse(body, what));
      return value;
    } catch (error) {
      if (error instanceof ZendeskAnswerError) throw new DestinationError(this.settings.destination, `${LABEL} ${error.message}`);
      throw error;
    }
  }
}

function recordOf(id: number): CrmRecord {
  return { id: String(id), label: `ticket ${id}` };
}

/**
 * The id of the engagement's ticket among those carrying its external id. External ids are not unique in Zendesk:
 * the oldest open one (lowest id) wins, so every run and every process writes to the same one; when all are closed,
 * the newest (the end of the follow-up chain), whose closed state the first write finds.
 */
function pickTicket(tickets: readonly ZendeskTicket[]): number | null {
  if (tickets.length === 0) return null;
  const open = tickets.filter((ticket) => ticket.status !== 'closed').map((ticket) => ticket.id);
  return open.length > 0 ? Math.min(...open) : Math.max(...tickets.map((ticket) => ticket.id));
}

function externalIdOf(engagement: EngagementInfo): string {
  return `zcc:${engagement.engagementId}`;
}

function previousComment(previous: string | undefined): string | undefined {
  const where = previous ? parseLocation(previous) : null;
  return where ? `comment ${where.commentId}` : undefined;
}

/** Sections grouped into comments of at most `limitChars` and `perComment` entries, in order. */
function packed<T extends { section: string }>(items: readonly T[], limitChars: number, perComment: number): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let chars = 0;
  for (const item of items) {
    const added = item.section.length + (current.length > 0 ? 2 : 0);
    if (current.length > 0 && (chars + added > limitChars || current.length >= perComment)) {
      batches.push(current);
      current = [];
      chars = 0;
    }
    chars += current.length > 0 ? added : item.section.length;
    current.push(item);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}


async function drain(body: Readable): Promise<void> {
  for await (const _chunk of body) {
    // read to the end, so the push engine sees every byte counted
  }
}
