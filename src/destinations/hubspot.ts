// HubSpot as a CRM destination: each engagement is a `calls` object upserted by a unique custom property
// (`record.field`, default `zcc_key`, value `engagement/<id>`); its texts are `notes` upserted by the same property
// with the artifact key, so a retry or an edit lands on the same note; files go to Files v3 (private) and hang on a
// note by `hs_attachment_ids`. Notes are associated with the call (and the contact, with `record.match: "contact"`).
import { Readable } from 'node:stream';
import type { EngagementInfo } from '../artifacts.js';
import type { HubspotDestinationConfig } from '../config-schema.js';
import { markerOf, type CrmAdapter, type CrmRecord, type FileEntry, type FoundEntry, type TextEntry } from './crm/adapter.js';
import { secretFromEnv, staticHeaders } from './crm/auth.js';
import { buildCrmDestination } from './crm/build.js';
import type { CrmDestination } from './crm/engine.js';
import { retryAfterMs, type CrmAnswer, type CrmHttp, type CrmSignal } from './crm/http.js';
import { HubspotApi, type HubspotObject } from './hubspot/api.js';

const LABEL = 'HubSpot';
/** `hs_note_body` holds at most 65,536 characters (crm-apis.md §5.3). */
export const NOTE_BODY_LIMIT = 65_536;
/**
 * HubSpot's upload limit is set by a knowledge-base article whose number no stored source gave; 300 MiB is our
 * assumption. `maxFileBytes` overrides it.
 */
export const HUBSPOT_FILE_LIMIT_BYTES = 300 * 1024 * 1024;
const SECONDLY_MESSAGE = 'You have reached your secondly limit.';

export function createHubspotDestination(config: HubspotDestinationConfig, env: NodeJS.ProcessEnv): CrmDestination {
  const token = secretFromEnv(env, config.accessTokenEnv, config.name, 'the HubSpot private app or service key access token');
  return buildCrmDestination(config, {
    label: LABEL,
    tokens: staticHeaders({ authorization: `Bearer ${token}` }),
    classify: hubspotClassifier(config.accessTokenEnv),
    // 190 requests per 10 s per account (Professional/Enterprise), shared by every app on it: keep well under.
    defaultRequestsPerSecond: 15,
    adapter: (http) => new HubspotAdapter(http, config),
  });
}

/**
 * HubSpot's answers that concern the whole destination. Rate limits are told by the 429's `policyName` (waits as
 * @hubspot/api-client: 10 s for TEN_SECONDLY_ROLLING, 1 s for the search's secondly limit, unless Retry-After says);
 * DAILY ends the run. The token is static, so a 401 is refused credentials, never a refresh.
 */
export function hubspotClassifier(tokenVariable: string): (answer: CrmAnswer) => CrmSignal | null {
  return (answer) => {
    if (answer.statusCode === 401) {
      const { category } = errorFields(answer.body);
      return { type: 'auth-refused', message: `401 ${category ?? 'INVALID_AUTHENTICATION'} (check the token in ${tokenVariable})` };
    }
    if (answer.statusCode !== 429) return null;
    const { policyName, message } = errorFields(answer.body);
    if (policyName === 'DAILY') return { type: 'daily-limit', message: message ?? 'policy DAILY' };
    const told = retryAfterMs(answer.headers);
    if (policyName === 'TEN_SECONDLY_ROLLING') return { type: 'rate-limit', waitMs: told ?? 10_000 };
    if (message === SECONDLY_MESSAGE) return { type: 'rate-limit', waitMs: told ?? 1_000 };
    return { type: 'rate-limit', waitMs: told };
  };
}

function errorFields(body: string): { category?: string; policyName?: string; message?: string } {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    const text = (value: unknown) => (typeof value === 'string' ? value.slice(0, 200) : undefined);
    return { category: text(parsed['category']), policyName: text(parsed['policyName']), message: text(parsed['message']) };
  } catch {
    return {};
  }
}

/** A location: `note/<noteId>` for a text entry, `file/<noteId>/<fileId>` for a file on its note. */
type Location = { type: 'note'; noteId: string } | { type: 'file'; noteId: string; fileId: string };

/** The file id of a location that names one (`file/<note>/<file>`), else null. */
function fileOf(location: string): string | null {
  const parts = location.split('/');
  return parts[0] === 'file' && parts.length === 3 && parts[2] ? parts[2] : null;
}

function parseLocation(location: string): Location {
  const parts = location.split('/');
  if (parts[0] === 'note' && parts.length === 2 && parts[1]) return { type: 'note', noteId: parts[1] };
  if (parts[0] === 'file' && parts.length === 3 && parts[1] && parts[2]) return { type: 'file', noteId: parts[1], fileId: parts[2] };
  throw new Error(`not a HubSpot location: ${location}`);
}

export class HubspotAdapter implements CrmAdapter {
  readonly label = LABEL;
  readonly fileLimitBytes = HUBSPOT_FILE_LIMIT_BYTES;
  readonly textLimitChars = NOTE_BODY_LIMIT;
  /** Notes per batch upsert (HubSpot takes up to 100; ten keeps a request well under a megabyte). */
  readonly entriesPerWrite = 10;
  private readonly api: HubspotApi;
  private readonly field: string;
  /** Per call: its hs_timestamp (notes go on the timeline beside it) and the contact it hangs under. */
  private readonly calls = new Map<string, { timestamp?: string; contactId?: string }>();

  constructor(
    http: CrmHttp,
    private readonly config: Pick<HubspotDestinationConfig, 'name' | 'baseUrl' | 'record' | 'folderPath'>,
  ) {
    this.api = new HubspotApi(http, config.baseUrl.replace(/\/+$/, ''), config.name);
    this.field = config.record.field ?? 'zcc_key';
  }

  async findRecord(engagement: EngagementInfo, signal?: AbortSignal): Promise<CrmRecord | null> {
    const key = recordKey(engagement);
    const found = (await this.api.readByUnique('calls', this.field, [key], ['hs_timestamp'], signal)).get(key);
    if (!found) return null;
    this.calls.set(found.id, { timestamp: found.properties['hs_timestamp'] });
    if (this.config.record.match === 'contact') await this.ensureContact(found.id, engagement, signal);
    return recordOf(found);
  }

  async createRecord(engagement: EngagementInfo, signal?: AbortSignal): Promise<CrmRecord> {
    const key = recordKey(engagement);
    const properties = callProperties(engagement);
    const call = (await this.api.upsert('calls', this.field, [{ id: key, properties }], signal)).get(key)!;
    this.calls.set(call.id, { timestamp: properties['hs_timestamp'] });
    if (this.config.record.match === 'contact') await this.ensureContact(call.id, engagement, signal);
    return recordOf(call);
  }

  /**
   * One batch upsert keyed by the artifact keys: a retry after a crash or an edited note lands on the same note, so
   * `previous` needs no lookup. A text too long as HTML goes up as a .txt file instead.
   */
  async writeTexts(record: CrmRecord, entries: readonly TextEntry[], signal?: AbortSignal): Promise<string[]> {
    const locations: string[] = new Array<string>(entries.length);
    const inline: { index: number; entry: TextEntry; body: string }[] = [];
    for (const [index, entry] of entries.entries()) {
      const body = noteHtml(entry.title, entry.text);
      if (body.length <= NOTE_BODY_LIMIT) inline.push({ index, entry, body });
      else locations[index] = await this.attachFile(record, textFile(entry), signal);
    }
    if (inline.length > 0) {
      const hsTimestamp = this.timestampOf(record);
      const inputs = inline.map(({ entry, body }) => ({ id: entry.key, properties: { hs_timestamp: hsTimestamp, hs_note_body: body, hs_attachment_ids: '' } }));
      const notes = await this.api.upsert('notes', this.field, inputs, signal);
      const noteIds = inline.map(({ entry }) => notes.get(entry.key)!.id);
      await this.associateNotes(record, noteIds, signal);
      inline.forEach(({ index }, position) => {
        locations[index] = `note/${noteIds[position]}`;
      });
      // An edited text short enough to be inline again: its note no longer points at the .txt file of the longer version.
      for (const { entry } of inline) {
        const previous = entry.previous ? fileOf(entry.previous) : null;
        if (previous) await this.api.deleteFile(previous);
      }
    }
    return locations;
  }

  /**
   * Uploads the file, then points the key's note at it. A copy of the same size that is not the version being replaced
   * is kept: it is this one, written before a crash.
   */
  async attachFile(record: CrmRecord, file: FileEntry, signal?: AbortSignal): Promise<string> {
    const existing = await this.noteOf(file.key, signal);
    const previousFileId = attachmentOf(existing);
    if (existing && previousFileId && file.size !== undefined && `file/${existing.id}/${previousFileId}` !== file.previous) {
      const held = await this.api.fileInfo(previousFileId, signal);
      if (held && held.size === file.size) {
        file.body.resume();
        await this.associateNotes(record, [existing.id], signal);
        return `file/${existing.id}/${previousFileId}`;
      }
    }
    const uploaded = await this.api.uploadFile(file, this.config.folderPath, signal);
    const body = noteHtml(file.title, `${file.fileName} (${uploaded.size} bytes, in HubSpot's files under ${this.config.folderPath})\n${markerOf(file.key)}`);
    const properties = { hs_timestamp: this.timestampOf(record), hs_note_body: body, hs_attachment_ids: uploaded.id };
    const note = (await this.api.upsert('notes', this.field, [{ id: file.key, properties }], signal)).get(file.key)!;
    await this.associateNotes(record, [note.id], signal);
    // Replaced: the new file is in place before the old one goes.
    if (previousFileId && previousFileId !== uploaded.id) await this.api.deleteFile(previousFileId);
    return `file/${note.id}/${uploaded.id}`;
  }

  async findEntry(_record: CrmRecord, key: string): Promise<FoundEntry | null> {
    const note = await this.noteOf(key);
    if (!note) return null;
    const fileId = attachmentOf(note);
    if (!fileId) return { location: `note/${note.id}`, size: Buffer.byteLength(noteText(note.properties['hs_note_body'] ?? ''), 'utf8') };
    const file = await this.api.fileInfo(fileId);
    return file ? { location: `file/${note.id}/${file.id}`, size: file.size } : null;
  }

  async readEntry(location: string): Promise<Readable> {
    const parsed = parseLocation(location);
    if (parsed.type === 'file') return this.api.download(parsed.fileId);
    const note = await this.api.getObject('notes', parsed.noteId, ['hs_note_body']);
    if (!note) throw new Error(`HubSpot note ${parsed.noteId} does not exist`);
    return Readable.from([Buffer.from(noteText(note.properties['hs_note_body'] ?? ''), 'utf8')]);
  }

  async removeEntry(location: string): Promise<void> {
    const parsed = parseLocation(location);
    await this.api.archive('notes', parsed.noteId);
    if (parsed.type === 'file') await this.api.deleteFile(parsed.fileId);
  }

  async close(): Promise<void> {
    this.calls.clear();
  }

  private noteOf(key: string, signal?: AbortSignal): Promise<HubspotObject | undefined> {
    return this.api.readByUnique('notes', this.field, [key], ['hs_note_body', 'hs_attachment_ids'], signal).then((found) => found.get(key));
  }

  private timestampOf(record: CrmRecord): string {
    return this.calls.get(record.id)?.timestamp ?? new Date().toISOString();
  }

  /** Notes hang on the call (default association, idempotent), and on its contact when there is one. */
  private async associateNotes(record: CrmRecord, noteIds: string[], signal?: AbortSignal): Promise<void> {
    await this.api.associateDefaultBatch('notes', 'calls', noteIds.map((id) => ({ from: id, to: record.id })), signal);
    const contactId = this.calls.get(record.id)?.contactId;
    if (contactId) await this.api.associateDefaultBatch('notes', 'contacts', noteIds.map((id) => ({ from: id, to: contactId })), signal);
  }

  /**
   * The call hangs under the contact with the consumer's phone number. Checked on every find, not only on create:
   * a crash between the upsert and the association must not leave the call loose. Search is used only for contacts,
   * which we never write (HubSpot's search index lags writes).
   */
  private async ensureContact(callId: string, engagement: EngagementInfo, signal?: AbortSignal): Promise<void> {
    const state = this.calls.get(callId) ?? {};
    this.calls.set(callId, state);
    const [associated] = await this.api.associatedIds('calls', callId, 'contacts', signal);
    if (associated) {
      state.contactId = associated;
      return;
    }
    const phone = engagement.consumers[0]?.number;
    if (!phone) return;
    const contactId = await this.api.contactByPhone(phone, signal);
    if (!contactId) return;
    await this.api.associateDefault('calls', callId, 'contacts', contactId, signal);
    state.contactId = contactId;
  }
}

/** Our key for the engagement's call. */
function recordKey(engagement: EngagementInfo): string {
  return `engagement/${engagement.engagementId}`;
}

function recordOf(call: HubspotObject): CrmRecord {
  return { id: call.id, label: `call ${call.id}` };
}

function attachmentOf(note: HubspotObject | undefined): string | undefined {
  return note?.properties['hs_attachment_ids']?.split(';').find((id) => id !== '');
}

/** The call's properties (all strings, as HubSpot wants them); times and direction only when Zoom gave them. */
export function callProperties(engagement: EngagementInfo): Record<string, string> {
  const start = engagement.startTime ? Date.parse(engagement.startTime) : NaN;
  const end = engagement.endTime ? Date.parse(engagement.endTime) : NaN;
  const direction = engagement.direction?.toUpperCase();
  const consumer = engagement.consumers[0];
  const properties: Record<string, string> = {
    hs_timestamp: new Date(Number.isNaN(start) ? Date.now() : start).toISOString(),
    hs_call_title: `Zoom Contact Center ${engagement.channel ?? 'engagement'} ${engagement.engagementId}`,
    hs_call_status: 'COMPLETED',
    hs_call_body: callSummaryHtml(engagement),
  };
  if (direction === 'INBOUND' || direction === 'OUTBOUND') properties['hs_call_direction'] = direction;
  if (!Number.isNaN(start) && !Number.isNaN(end) && end >= start) properties['hs_call_duration'] = String(end - start);
  if (consumer?.number) properties[direction === 'OUTBOUND' ? 'hs_call_to_number' : 'hs_call_from_number'] = consumer.number;
  return properties;
}

function callSummaryHtml(engagement: EngagementInfo): string {
  const consumer = engagement.consumers[0];
  const lines = [
    `Zoom Contact Center engagement ${engagement.engagementId}`,
    engagement.channel ? `Channel: ${engagement.channel}${engagement.channelSource ? ` (${engagement.channelSource})` : ''}` : null,
    engagement.direction ? `Direction: ${engagement.direction}` : null,
    engagement.queueName || engagement.queueId ? `Queue: ${engagement.queueName ?? engagement.queueId}` : null,
    engagement.agents.length > 0 ? `Agents: ${engagement.agents.map((agent) => agent.displayName ?? agent.userId).join(', ')}` : null,
    consumer ? `Consumer: ${[consumer.displayName, consumer.number].filter(Boolean).join(' ') || consumer.consumerId || 'unknown'}` : null,
    engagement.startTime ? `Start: ${engagement.startTime}` : null,
    engagement.endTime ? `End: ${engagement.endTime}` : null,
  ];
  return lines.filter((line): line is string => line !== null).map(escapeHtml).join('<br>');
}

/** HubSpot shows a note body as HTML: the title in bold, then each line of the text as its own line. */
export function noteHtml(title: string, text: string): string {
  return `<strong>${escapeHtml(title)}</strong><br>${text.split(/\r?\n/).map(escapeHtml).join('<br>')}`;
}

/** The text of a note body as we wrote it (`noteHtml` reversed). */
export function noteText(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div)>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A text entry too long for a note body, as a .txt file on its note. */
function textFile(entry: TextEntry): FileEntry {
  const bytes = Buffer.from(entry.text, 'utf8');
  const name = entry.key.split('/').map((part) => part.replace(/[^A-Za-z0-9_.=+~@-]/g, '_')).join('-');
  return { key: entry.key, kind: entry.kind, title: entry.title, fileName: `${name}.txt`, contentType: 'text/plain; charset=utf-8', size: bytes.length, body: Readable.from([bytes]), bytes };
}
