// Salesforce's REST API behind CrmAdapter. The engagement is a completed call Task upserted by our external-id field
// (`engagement:<id>`); a note is a child Task upserted by the same field with its own key (a true upsert: crash-safe
// and edited in place), or a block of the engagement Task's Description; a file is a ContentVersion published to the
// Task, found again by the marker in its Title.
import { Readable } from 'node:stream';
import type { ArtifactKind, EngagementInfo } from '../../artifacts.js';
import { MEDIA_KINDS } from '../../config-schema.js';
import type { CrmAdapter, CrmRecord, FileEntry, FoundEntry, TextEntry } from '../crm/adapter.js';
import { markerOf } from '../crm/adapter.js';
import { statusOf, type CrmHttp } from '../crm/http.js';
import { titleOf } from '../crm/render.js';
import { dropBlock, putBlock, readBlock } from './blocks.js';
import { ContentFiles } from './files.js';
import {
  asObject,
  externalIdOf,
  externalIdPath,
  optionalString,
  parseSaveResult,
  SalesforceRest,
  soqlString,
  stringField,
} from './rest.js';

/** Task.Description ("Comments") holds 32,000 characters. */
export const DESCRIPTION_LIMIT = 32_000;
/** ContentVersion through the sObject resources: 2 GB. */
export const CONTENT_VERSION_LIMIT = 2 * 1024 * 1024 * 1024;

export interface SalesforceAdapterOptions {
  destination: string;
  http: CrmHttp;
  apiRoot: () => Promise<string>;
  /** The API version in the URL: before 46.0 an upsert that updates answers 204 without a body. */
  apiVersion: number;
  keyField: string;
  match: 'external-id' | 'contact';
  notes: 'description' | 'child-tasks';
}

/** The engagement's Task, with what its child Tasks copy (who it is about, the day). */
interface TaskRecord extends CrmRecord {
  engagementId: string;
  whoId?: string;
  activityDate?: string;
}

export class SalesforceAdapter implements CrmAdapter {
  readonly label = 'Salesforce';
  readonly fileLimitBytes = CONTENT_VERSION_LIMIT;
  readonly textLimitChars = DESCRIPTION_LIMIT;
  readonly entriesPerWrite: number;
  private readonly rest: SalesforceRest;
  private readonly files: ContentFiles;
  /** Description edits of one Task run one after another (read, change, write back). */
  private readonly descriptionQueue = new Map<string, Promise<unknown>>();

  constructor(private readonly options: SalesforceAdapterOptions) {
    this.rest = new SalesforceRest({ destination: options.destination, http: options.http, apiRoot: options.apiRoot });
    this.files = new ContentFiles(this.rest);
    this.entriesPerWrite = options.notes === 'description' ? 20 : 1;
  }

  async findRecord(engagement: EngagementInfo, signal?: AbortSignal): Promise<CrmRecord | null> {
    const key = engagementKey(engagement.engagementId);
    const path = `${externalIdPath(this.options.keyField, key)}?fields=Id,WhoId,ActivityDate`;
    const task = await this.rest.jsonOrNull(path, (value) => asObject(value, 'Task'), { signal }).catch((error: unknown) => {
      throw this.ambiguous(error, key);
    });
    if (!task) return null;
    return toRecord(stringField(task, 'Id', 'Task'), engagement.engagementId, optionalString(task, 'WhoId'), optionalString(task, 'ActivityDate'));
  }

  async createRecord(engagement: EngagementInfo, signal?: AbortSignal): Promise<CrmRecord> {
    const whoId = this.options.match === 'contact' ? await this.contactFor(engagement, signal) : undefined;
    const fields = engagementTask(engagement, whoId, this.options.notes);
    let id: string;
    try {
      id = await this.upsertTask(engagementKey(engagement.engagementId), { ...fields, TaskSubtype: 'Call' }, signal);
    } catch (error) {
      // TaskSubtype is settable on create only: the Task appeared since findRecord (another process); use it.
      const found = statusOf(error) === 400 && /TaskSubtype/.test(String(error)) ? await this.findRecord(engagement, signal) : null;
      if (!found) throw error;
      return found;
    }
    return toRecord(id, engagement.engagementId, whoId, fields.ActivityDate);
  }

  async writeTexts(record: CrmRecord, entries: readonly TextEntry[], signal?: AbortSignal): Promise<string[]> {
    const task = taskRecord(record);
    let locations: string[];
    if (this.options.notes === 'child-tasks') {
      locations = [];
      for (const entry of entries) locations.push(await this.writeChildTask(task, entry, signal));
    } else {
      locations = await this.inDescriptionQueue(task.id, () => this.writeDescription(task, entries, signal));
    }
    // A text that was long enough to be a .txt file before: that copy goes once this one is in place.
    for (const entry of entries) if (entry.previous?.startsWith('file/')) await this.removeEntry(entry.previous);
    return locations;
  }

  async attachFile(record: CrmRecord, file: FileEntry, signal?: AbortSignal): Promise<string> {
    const location = await this.files.attach(record.id, fileTitle(taskRecord(record).engagementId, file.kind, file.key), file, signal);
    // An edited text that outgrew a Task's Description: its earlier block or child Task goes once the file is in place.
    if (file.previous !== undefined && !file.previous.startsWith('file/')) await this.removeEntry(file.previous);
    return location;
  }

  /** A text entry (a note, or a media file's link) or a file; media look for a file first, text for text first. */
  async findEntry(record: CrmRecord, key: string, kind: ArtifactKind): Promise<FoundEntry | null> {
    const task = taskRecord(record);
    const findFile = async () => {
      const file = await this.files.find(fileTitle(task.engagementId, kind, key));
      return file ? { location: `file/${file.versionId}`, size: file.size } : null;
    };
    const findText = async () => {
      if (this.options.notes === 'description') {
        const block = readBlock(await this.description(task.id), key);
        if (block !== null) return { location: descriptionLocation(task.id, key), size: Buffer.byteLength(block) };
      }
      const child = await this.childTask(key);
      return child ? { location: `task/${child.id}`, size: Buffer.byteLength(child.description) } : null;
    };
    const media = (MEDIA_KINDS as readonly string[]).includes(kind);
    return media ? ((await findFile()) ?? (await findText())) : ((await findText()) ?? (await findFile()));
  }

  async readEntry(location: string): Promise<Readable> {
    const parsed = parseLocation(location);
    switch (parsed.type) {
      case 'task':
        return Readable.from([Buffer.from(await this.description(parsed.id), 'utf8')]);
      case 'description': {
        const block = readBlock(await this.description(parsed.id), parsed.key);
        if (block === null) throw this.rest.fail(`Task ${parsed.id} holds no entry for ${parsed.key}`);
        return Readable.from([Buffer.from(block, 'utf8')]);
      }
      case 'file':
        return this.files.read(parsed.id);
    }
  }

  async removeEntry(location: string): Promise<void> {
    const parsed = parseLocation(location);
    switch (parsed.type) {
      case 'task':
        await this.rest.send(`/sobjects/Task/${parsed.id}`, { method: 'DELETE' }).catch(ignoreNotFound);
        return;
      case 'description':
        await this.inDescriptionQueue(parsed.id, async () => {
          const current = await this.description(parsed.id).catch((error: unknown) => (statusOf(error) === 404 ? null : Promise.reject(error)));
          if (current === null) return;
          const next = dropBlock(current, parsed.key);
          if (next !== current) await this.setDescription(parsed.id, next);
        });
        return;
      case 'file':
        await this.files.remove(parsed.id);
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.descriptionQueue.values());
  }

  /** PATCH …/sobjects/Task/<keyField>/<value>: 201 created, 200 (204 before v46) updated, 300 several matches. */
  private async upsertTask(key: string, fields: Record<string, unknown>, signal?: AbortSignal): Promise<string> {
    const path = externalIdPath(this.options.keyField, key);
    let answer: { status: number; body: string };
    try {
      answer = await this.rest.send(path, { method: 'PATCH', json: fields, signal });
    } catch (error) {
      throw this.ambiguous(error, key);
    }
    if (answer.status === 204 || answer.body.trim() === '') {
      // Before v46 an update answers 204 without a body: read the id back.
      return this.rest.json(`${path}?fields=Id`, (value) => stringField(asObject(value, 'Task'), 'Id', 'Task'), { signal });
    }
    return parseSaveResult(JSON.parse(answer.body) as unknown).id;
  }

  private ambiguous(error: unknown, key: string): unknown {
    if (statusOf(error) !== 300) return error;
    return this.rest.fail(
      `holds several Tasks with ${this.options.keyField} = "${externalIdOf(key)}" (answered 300 Multiple Choices); mark the field Unique and remove the duplicates`,
      error,
    );
  }

  private async contactFor(engagement: EngagementInfo, signal?: AbortSignal): Promise<string | undefined> {
    const number = engagement.consumers.find((consumer) => consumer.number)?.number;
    if (!number) return undefined;
    const contacts = await this.rest.query(
      `SELECT Id FROM Contact WHERE Phone = ${soqlString(number)} OR MobilePhone = ${soqlString(number)} LIMIT 2`,
      (contact) => stringField(contact, 'Id', 'Contact'),
      signal,
    );
    // Two contacts with the number: hanging the call under either could be wrong, so under neither.
    return contacts.length === 1 ? contacts[0] : undefined;
  }

  private async writeChildTask(task: TaskRecord, entry: TextEntry, signal?: AbortSignal): Promise<string> {
    const fields: Record<string, unknown> = {
      Subject: clip(entry.title, 255),
      Description: entry.text,
      Status: 'Completed',
      CallObject: task.engagementId,
      IsVisibleInSelfService: false,
    };
    if (task.whoId) fields.WhoId = task.whoId;
    if (task.activityDate) fields.ActivityDate = task.activityDate;
    return `task/${await this.upsertTask(entry.key, fields, signal)}`;
  }

  private async childTask(key: string): Promise<{ id: string; description: string } | null> {
    const path = `${externalIdPath(this.options.keyField, key)}?fields=Id,Description`;
    const task = await this.rest.jsonOrNull(path, (value) => asObject(value, 'Task')).catch((error: unknown) => {
      throw this.ambiguous(error, key);
    });
    return task ? { id: stringField(task, 'Id', 'Task'), description: optionalString(task, 'Description') ?? '' } : null;
  }

  /** Blocks that fit go into the Description in one write; one that would overflow it becomes a child Task. */
  private async writeDescription(task: TaskRecord, entries: readonly TextEntry[], signal?: AbortSignal): Promise<string[]> {
    const current = await this.description(task.id, signal);
    let next = current;
    const locations: (string | null)[] = [];
    const overflow: number[] = [];
    for (const [index, entry] of entries.entries()) {
      const candidate = putBlock(next, entry.key, entry.text);
      if (entry.previous?.startsWith('task/') || candidate.length > DESCRIPTION_LIMIT) {
        overflow.push(index);
        locations.push(null);
        // An edited block that no longer fits moves to its child Task: the old block leaves the Description.
        next = dropBlock(next, entry.key);
      } else {
        next = candidate;
        locations.push(descriptionLocation(task.id, entry.key));
      }
    }
    // Child Tasks first: a block dropped from the Description is only gone once its child Task holds the text.
    for (const index of overflow) locations[index] = await this.writeChildTask(task, entries[index]!, signal);
    if (next !== current) await this.setDescription(task.id, next, signal);
    return locations.map((location) => location!);
  }

  private async description(taskId: string, signal?: AbortSignal): Promise<string> {
    const task = await this.rest.json(`/sobjects/Task/${taskId}?fields=Description`, (value) => asObject(value, 'Task'), { signal });
    return optionalString(task, 'Description') ?? '';
  }

  private async setDescription(taskId: string, description: string, signal?: AbortSignal): Promise<void> {
    await this.rest.send(`/sobjects/Task/${taskId}`, { method: 'PATCH', json: { Description: description }, signal });
  }

  private inDescriptionQueue<T>(taskId: string, work: () => Promise<T>): Promise<T> {
    const before = this.descriptionQueue.get(taskId) ?? Promise.resolve();
    const run = before.catch(() => undefined).then(work);
    const tail = run.catch(() => undefined);
    this.descriptionQueue.set(taskId, tail);
    void tail.then(() => {
      if (this.descriptionQueue.get(taskId) === tail) this.descriptionQueue.delete(taskId);
    });
    return run;
  }
}

/** Our key for the engagement's Task. */
export function engagementKey(engagementId: string): string {
  return `engagement/${engagementId}`;
}

function toRecord(id: string, engagementId: string, whoId?: string, activityDate?: string): TaskRecord {
  return { id, label: `Task ${id}`, engagementId, whoId, activityDate };
}

function taskRecord(record: CrmRecord): TaskRecord {
  const candidate = record as Partial<TaskRecord>;
  if (typeof candidate.engagementId !== 'string') throw new Error(`not a Salesforce Task record: ${record.label}`);
  return record as TaskRecord;
}

/** The engagement as a completed call an agent reads in the activity timeline. */
function engagementTask(engagement: EngagementInfo, whoId: string | undefined, notes: SalesforceAdapterOptions['notes']): Record<string, unknown> & { ActivityDate?: string } {
  const direction = engagement.direction?.toLowerCase();
  const callType = direction === 'inbound' ? 'Inbound' : direction === 'outbound' ? 'Outbound' : undefined;
  const seconds = durationSeconds(engagement);
  const activityDate = engagement.startTime && /^\d{4}-\d{2}-\d{2}/.test(engagement.startTime) ? engagement.startTime.slice(0, 10) : undefined;
  const fields: Record<string, unknown> & { ActivityDate?: string } = {
    Subject: clip(['Zoom Contact Center', engagement.direction, engagement.channel ?? 'engagement', engagement.engagementId].filter(Boolean).join(' '), 255),
    Status: 'Completed',
    CallObject: engagement.engagementId,
    IsVisibleInSelfService: false,
  };
  if (callType) fields.CallType = callType;
  if (seconds !== undefined) fields.CallDurationInSeconds = seconds;
  if (activityDate) fields.ActivityDate = activityDate;
  if (whoId) fields.WhoId = whoId;
  // With notes as Description blocks the Description is theirs; otherwise it says what the call was.
  if (notes === 'child-tasks') fields.Description = summaryOf(engagement);
  return fields;
}

function durationSeconds(engagement: EngagementInfo): number | undefined {
  if (!engagement.startTime || !engagement.endTime) return undefined;
  const seconds = Math.round((Date.parse(engagement.endTime) - Date.parse(engagement.startTime)) / 1000);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

function summaryOf(engagement: EngagementInfo): string {
  const agents = engagement.agents.map((agent) => agent.displayName ?? agent.userId).join(', ');
  const consumer = engagement.consumers[0];
  const lines = [
    `Zoom Contact Center engagement ${engagement.engagementId}`,
    engagement.channel || engagement.direction ? `Channel: ${[engagement.direction, engagement.channel].filter(Boolean).join(' ')}` : null,
    engagement.queueName ? `Queue: ${engagement.queueName}` : null,
    agents ? `Agents: ${agents}` : null,
    consumer ? `Consumer: ${[consumer.displayName, consumer.number].filter(Boolean).join(' ')}` : null,
    engagement.startTime ? `Started: ${engagement.startTime}` : null,
  ];
  return lines.filter((line): line is string => line !== null && line.trim() !== '').join('\n');
}

/** The ContentVersion Title: what the file is, then the key's marker (how a re-run finds it). */
function fileTitle(engagementId: string, kind: ArtifactKind, key: string): string {
  const titled = `${titleOf(kind, engagementId)} ${markerOf(key)}`;
  return titled.length <= 255 ? titled : markerOf(key);
}

function descriptionLocation(taskId: string, key: string): string {
  return `description/${taskId}/${encodeURIComponent(key)}`;
}

type Location = { type: 'task'; id: string } | { type: 'file'; id: string } | { type: 'description'; id: string; key: string };

const SALESFORCE_ID = /^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$/;

function parseLocation(location: string): Location {
  const [type, id, key] = location.split('/');
  if (id && SALESFORCE_ID.test(id)) {
    if ((type === 'task' || type === 'file') && key === undefined) return { type, id };
    if (type === 'description' && key) return { type, id, key: decodeURIComponent(key) };
  }
  throw new Error(`not a Salesforce location: ${location}`);
}

function ignoreNotFound(error: unknown): void {
  if (statusOf(error) !== 404) throw error;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
