// ServiceNow's Table and Attachment APIs behind the CRM adapter. The engagement's record is a task (incident by
// default) found by our key in `correlation_id` and created when missing (the Table API has no upsert). Text goes
// into `work_notes`, an internal journal: entries are appended, never edited, so an edited note is a new work note
// saying it replaces the earlier one, and every write first reads the record's journal for its marker (a crash
// after the write). Files are sys_attachment rows, uploaded as the raw body.
import { Readable } from 'node:stream';
import type { OptionsInit } from 'got';
import type { ArtifactKind, EngagementInfo } from '../../artifacts.js';
import { MEDIA_KINDS } from '../../config-schema.js';
import { DestinationError } from '../../errors.js';
import { markerOf, type CrmAdapter, type CrmRecord, type FileEntry, type FoundEntry, type TextEntry } from '../crm/adapter.js';
import { RETRY_ONLY_REFUSED, statusOf, type CrmHttp } from '../crm/http.js';
import { leafName } from '../paths.js';
import { formatLocation, parseLocation, parseResultList, parseResultObject, queryValue, required, type Row } from './api.js';

const MiB = 1024 * 1024;
/** `com.glide.attachment.max_size` default. */
export const SERVICENOW_FILE_LIMIT = 1024 * MiB;
/**
 * A journal entry is a multi-line text field (4,000 characters by default); an edited note's first line
 * (EDITED_LINE) must fit too. Longer texts go up as .txt attachments.
 */
export const SERVICENOW_TEXT_LIMIT = 3900;
/** `correlation_id` on task is a 100-character string; a longer value would be cut and never found again. */
const CORRELATION_ID_LENGTH = 100;
/** First line of a work note that stands for an edited version: journal entries cannot be changed. */
export const EDITED_LINE = '(Edited in Zoom: this work note replaces the earlier one for the same item.)';

export interface ServicenowAdapterOptions {
  /** The destination's name, for errors. */
  name: string;
  baseUrl: string;
  table: string;
  /** The field holding our key: `correlation_id` unless configured. */
  keyField: string;
  /** `contact`: the consumer's phone number finds the caller the new record is opened for. */
  match: 'external-id' | 'contact';
}

interface JournalEntry {
  sysId: string;
  value: string;
}

export class ServicenowAdapter implements CrmAdapter {
  readonly label = 'ServiceNow';
  readonly fileLimitBytes = SERVICENOW_FILE_LIMIT;
  readonly textLimitChars = SERVICENOW_TEXT_LIMIT;
  // One PATCH makes one journal entry; PRODUCT.md asks for one entry per artifact, so entries are never grouped.
  readonly entriesPerWrite = 1;

  constructor(
    private readonly http: CrmHttp,
    private readonly options: ServicenowAdapterOptions,
  ) {}

  async findRecord(engagement: EngagementInfo, signal?: AbortSignal): Promise<CrmRecord | null> {
    const { table, keyField } = this.options;
    const key = recordKeyOf(engagement);
    const rows = await this.list(`/api/now/table/${table}`, { sysparm_query: `${keyField}=${queryValue(key)}`, sysparm_fields: 'sys_id,number', sysparm_limit: '2' }, signal);
    const [first, second] = rows;
    if (!first) return null;
    if (second) {
      throw new DestinationError(
        this.options.name,
        `ServiceNow holds more than one ${table} record with ${keyField}=${key} (${first.number ?? first.sys_id} and ${second.number ?? second.sys_id}); keep one and clear ${keyField} on the other`,
      );
    }
    return recordOf(first);
  }

  async createRecord(engagement: EngagementInfo, signal?: AbortSignal): Promise<CrmRecord> {
    const { table, keyField, name } = this.options;
    const key = recordKeyOf(engagement);
    if (keyField === 'correlation_id' && key.length > CORRELATION_ID_LENGTH) {
      throw new DestinationError(name, `the key ${key} is longer than ServiceNow's ${CORRELATION_ID_LENGTH}-character correlation_id; set record.field to a longer custom field`);
    }
    const caller = this.options.match === 'contact' ? await this.findContact(engagement, signal) : null;
    const fields: Record<string, string> = {
      short_description: shortDescriptionOf(engagement),
      [keyField]: key,
      correlation_display: 'zcc-reconcile',
      ...(caller ? { [caller.field]: caller.sysId } : {}),
    };
    const { value } = await this.send(
      { method: 'POST', url: this.url(`/api/now/table/${table}`, { sysparm_fields: 'sys_id,number', sysparm_exclude_reference_link: 'true' }), json: fields, retry: RETRY_ONLY_REFUSED, signal },
      parseResultObject,
    );
    return recordOf(value);
  }

  async writeTexts(record: CrmRecord, entries: readonly TextEntry[], signal?: AbortSignal): Promise<string[]> {
    const locations: string[] = [];
    for (const entry of entries) locations.push(await this.writeText(record, entry, signal));
    return locations;
  }

  async attachFile(record: CrmRecord, file: FileEntry, signal?: AbortSignal): Promise<string> {
    const existing = await this.attachments(record, { 'file_name=': file.fileName }, signal);
    const same = file.previous === undefined && file.size !== undefined ? existing.find((row) => Number(row.size_bytes) === file.size) : undefined;
    if (same) {
      file.body.destroy();
      return formatLocation({ type: 'attachment', sysId: required(same, 'sys_id', 'an attachment') });
    }
    const uploaded = await this.upload(record, file, signal);
    // The new copy is in place; only now do the earlier ones go.
    const stale = new Set(existing.map((row) => row.sys_id).filter((id): id is string => id !== undefined && id !== uploaded));
    const previous = file.previous === undefined ? null : attachmentIdOf(file.previous);
    if (previous !== null && previous !== uploaded) stale.add(previous);
    for (const sysId of stale) await this.removeEntry(formatLocation({ type: 'attachment', sysId }));
    return formatLocation({ type: 'attachment', sysId: uploaded });
  }

  async findEntry(record: CrmRecord, key: string, kind: ArtifactKind): Promise<FoundEntry | null> {
    // Text is mostly a work note (or a .txt file when long); media mostly a file (or a work note with its link).
    const media = (MEDIA_KINDS as readonly string[]).includes(kind);
    const lookups = media ? [() => this.findFile(record, key, kind), () => this.findNote(record, key)] : [() => this.findNote(record, key), () => this.findFile(record, key, kind)];
    for (const lookup of lookups) {
      const found = await lookup();
      if (found) return found;
    }
    return null;
  }

  async readEntry(location: string): Promise<Readable> {
    const parsed = parseLocation(this.options.name, location);
    if (parsed.type === 'work_notes') {
      const { value } = await this.send(
        { method: 'GET', url: this.url(`/api/now/table/sys_journal_field/${parsed.sysId}`, { sysparm_fields: 'value' }) },
        parseResultObject,
      );
      return Readable.from([Buffer.from(value.value ?? '', 'utf8')]);
    }
    const url = this.url(`/api/now/attachment/${parsed.sysId}/file`);
    // Checked first, so a missing file is an error here rather than a failing stream later.
    await this.send({ method: 'GET', url: this.url(`/api/now/attachment/${parsed.sysId}`) });
    return this.http.got.stream(url, { headers: { accept: '*/*' } });
  }

  async removeEntry(location: string): Promise<void> {
    const parsed = parseLocation(this.options.name, location);
    const path = parsed.type === 'attachment' ? `/api/now/attachment/${parsed.sysId}` : `/api/now/table/sys_journal_field/${parsed.sysId}`;
    try {
      await this.send({ method: 'DELETE', url: this.url(path), headers: { 'content-type': 'application/json' } });
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  async close(): Promise<void> {
    // Nothing held open: got's agent sockets close on their own.
  }

  /**
   * One work note per entry. A journal entry with the same marker and the same text is the one we wrote before a
   * crash; an earlier version (or the ledger's `previous`) makes this one an edit, marked as replacing it.
   */
  private async writeText(record: CrmRecord, entry: TextEntry, signal?: AbortSignal): Promise<string> {
    const earlier = await this.journalWithMarker(record, markerOf(entry.key), signal);
    const edited = `${EDITED_LINE}\n${entry.text}`;
    const done =
      earlier.find((note) => note.value === edited) ??
      earlier.find((note) => note.value === entry.text && (entry.previous === undefined || formatLocation({ type: 'work_notes', sysId: note.sysId }) === entry.previous));
    if (done) return formatLocation({ type: 'work_notes', sysId: done.sysId });
    const text = entry.previous !== undefined || earlier.length > 0 ? edited : entry.text;
    await this.send(
      { method: 'PATCH', url: this.url(`/api/now/table/${this.options.table}/${record.id}`, { sysparm_fields: 'sys_id' }), json: { work_notes: text }, retry: RETRY_ONLY_REFUSED, signal },
      parseResultObject,
    );
    const written = (await this.journalWithMarker(record, markerOf(entry.key), signal)).find((note) => note.value === text);
    if (!written) {
      throw new DestinationError(this.options.name, `ServiceNow accepted the work note for ${entry.key} on ${record.label}, but it is not in sys_journal_field (was it cut short?)`);
    }
    return formatLocation({ type: 'work_notes', sysId: written.sysId });
  }

  private async findNote(record: CrmRecord, key: string): Promise<FoundEntry | null> {
    const note = (await this.journalWithMarker(record, markerOf(key)))[0];
    return note ? { location: formatLocation({ type: 'work_notes', sysId: note.sysId }), size: Buffer.byteLength(note.value, 'utf8') } : null;
  }

  private async findFile(record: CrmRecord, key: string, kind: ArtifactKind): Promise<FoundEntry | null> {
    const stem = fileStemOf(key, kind);
    if (stem === null) return null;
    const rows = await this.attachments(record, { file_nameSTARTSWITH: `${stem}.` });
    const file = rows.find((row) => stemOf(row.file_name ?? '') === stem);
    return file ? { location: formatLocation({ type: 'attachment', sysId: required(file, 'sys_id', 'an attachment') }), size: Number(file.size_bytes) } : null;
  }

  /** The record's work notes whose last line is `marker`, newest first. */
  private async journalWithMarker(record: CrmRecord, marker: string, signal?: AbortSignal): Promise<JournalEntry[]> {
    const query = `element_id=${queryValue(record.id)}^element=work_notes^valueLIKE${queryValue(marker)}^ORDERBYDESCsys_created_on`;
    const rows = await this.list('/api/now/table/sys_journal_field', { sysparm_query: query, sysparm_fields: 'sys_id,value', sysparm_limit: '100' }, signal);
    return rows
      .map((row) => ({ sysId: required(row, 'sys_id', 'a journal entry'), value: row.value ?? '' }))
      .filter((note) => note.value.split('\n').at(-1) === marker);
  }

  private async attachments(record: CrmRecord, match: Record<string, string>, signal?: AbortSignal): Promise<Row[]> {
    const conditions = [`table_sys_id=${queryValue(record.id)}`, ...Object.entries(match).map(([condition, value]) => `${condition}${queryValue(value)}`)];
    return this.list('/api/now/attachment', { sysparm_query: conditions.join('^'), sysparm_limit: '100' }, signal);
  }

  private async upload(record: CrmRecord, file: FileEntry, signal?: AbortSignal): Promise<string> {
    const url = this.url('/api/now/attachment/file', { table_name: this.options.table, table_sys_id: record.id, file_name: file.fileName });
    const headers = { 'content-type': file.contentType || 'application/octet-stream', ...(file.size !== undefined ? { 'content-length': String(file.size) } : {}) };
    // Bytes held in memory can be sent again after a 429; a stream goes once (a 429 still pauses everyone).
    const options: OptionsInit & { url: string } = file.bytes
      ? { method: 'POST', url, headers, body: file.bytes, signal, retry: RETRY_ONLY_REFUSED }
      : { method: 'POST', url, headers, body: file.body, signal, retry: { limit: 0 } };
    const { value } = await this.send(options, parseResultObject);
    return required(value, 'sys_id', 'the upload');
  }

  private async findContact(engagement: EngagementInfo, signal?: AbortSignal): Promise<{ field: string; sysId: string } | null> {
    const number = engagement.consumers[0]?.number;
    if (!number) return null;
    // Customer Service cases name a CSM contact; other task tables a user (caller).
    const [table, field] = this.options.table === 'sn_customerservice_case' ? ['customer_contact', 'contact'] : ['sys_user', 'caller_id'];
    const value = queryValue(number);
    const rows = await this.list(`/api/now/table/${table}`, { sysparm_query: `phone=${value}^ORmobile_phone=${value}`, sysparm_fields: 'sys_id', sysparm_limit: '1' }, signal);
    return rows[0]?.sys_id ? { field, sysId: rows[0].sys_id } : null;
  }

  private async list(path: string, query: Record<string, string>, signal?: AbortSignal): Promise<Row[]> {
    return (await this.send({ method: 'GET', url: this.url(path, query), signal }, parseResultList)).value;
  }

  private url(path: string, query: Record<string, string> = {}): string {
    const search = new URLSearchParams(query).toString();
    return `${this.options.baseUrl}${path}${search ? `?${search}` : ''}`;
  }

  /** Every request says it takes JSON (ServiceNow answers 400 without Accept). */
  private async send<T = string>(options: OptionsInit & { url: string }, parse?: (body: string) => T): Promise<{ value: T }> {
    const headers = { accept: 'application/json', ...(options.headers as Record<string, string> | undefined) };
    return this.http.send({ ...options, headers }, parse);
  }
}

/** Our key for the engagement's record. */
export function recordKeyOf(engagement: Pick<EngagementInfo, 'engagementId'>): string {
  return `zcc:${engagement.engagementId}`;
}

function recordOf(row: Row): CrmRecord {
  const sysId = required(row, 'sys_id', 'a record');
  return { id: sysId, label: row.number || sysId };
}

function shortDescriptionOf(engagement: EngagementInfo): string {
  const what = [engagement.direction, engagement.channel].filter(Boolean).join(' ');
  const who = engagement.consumers[0]?.displayName ?? engagement.consumers[0]?.number;
  return `Zoom Contact Center ${what ? `${what} ` : ''}engagement ${engagement.engagementId}${who ? ` with ${who}` : ''}`.slice(0, 160);
}

/** The file name an artifact's attachment has, without its extension (`recording-Rec1`), or null for a foreign key. */
function fileStemOf(key: string, kind: ArtifactKind): string | null {
  try {
    return stemOf(leafName({ key, kind, engagementId: key.split('/')[1] ?? '', date: '', extension: 'x' }));
  } catch {
    return null;
  }
}

/** The sys_id of an earlier copy that was an attachment; a work note (or a foreign location) is left alone. */
function attachmentIdOf(location: string): string | null {
  const match = /^attachment\/([0-9a-f]{32})$/.exec(location);
  return match ? match[1]! : null;
}

function stemOf(fileName: string): string {
  return fileName.replace(/\.[a-z0-9]{1,10}$/, '');
}

