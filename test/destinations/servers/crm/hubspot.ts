// A strict HubSpot on loopback: CRM v3 objects (calls, notes, contacts), v4 associations and Files v3, each request
// checked against HubSpot's own OpenAPI documents (./hubspot-openapi.ts) and answered with HubSpot's error bodies
// (crm-apis.md §5). State lives in memory (file bodies in a temp folder, streamed and hashed); it implements
// `CrmFakeView` for the shared scenarios, plus knobs for what only HubSpot does (a lagging search index, 207s).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from '../loopback.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import busboy from 'busboy';
import { matchOperation, validatePathParams, validateRequestBody, validateResponseBody, type MatchedOperation } from './hubspot-openapi.js';
import type { CrmFakeView, CrmHeldFile, CrmHeldRecord, CrmHeldText, CrmLogEntry } from './view.js';

export type ObjectType = 'calls' | 'notes' | 'contacts';

export interface HubspotFakeOptions {
  token?: string;
  /** Largest upload accepted (HubSpot's own number is unconfirmed; tests set it small). Default 300 MiB. */
  fileLimitBytes?: number;
  /** How long a written contact stays invisible to search (HubSpot's index lags writes). Default 2 s. */
  searchIndexLagMs?: number;
  /** Requests per rolling 10 s before TEN_SECONDLY_ROLLING (Professional/Enterprise: 190). */
  tenSecondlyMax?: number;
  /** Search requests per second before "You have reached your secondly limit." (unconfirmed: 5). */
  searchPerSecond?: number;
  dailyMax?: number;
  /** Custom properties created with `hasUniqueValue: true`, per object (default `zcc_key` on calls and notes). */
  uniqueProperties?: Partial<Record<ObjectType, string[]>>;
  /** Retry-After (seconds) on the storm's 429s; null sends none (whether HubSpot sends one is unconfirmed). */
  stormRetryAfterSeconds?: number | null;
}

interface StoredObject {
  id: string;
  type: ObjectType;
  properties: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  /** When search can see it. */
  indexedAt: number;
}

interface StoredFile {
  id: string;
  name: string;
  extension: string;
  folderPath: string;
  access: string;
  size: number;
  sha256: string;
  md5: string;
  disk: string;
  createdAt: string;
}

interface Association {
  fromType: ObjectType;
  fromId: string;
  toType: ObjectType;
  toId: string;
  typeId: number;
}

export interface HubspotFake extends CrmFakeView {
  readonly url: string;
  readonly token: string;
  /** A contact as if created in HubSpot's UI (searchable after the index lag). */
  addContact(properties: Record<string, string>): string;
  object(type: ObjectType, id: string): StoredObject | undefined;
  objects(type: ObjectType): StoredObject[];
  associationsOf(type: ObjectType, id: string, toType: ObjectType): string[];
  files(): StoredFile[];
  /** Answers the fake gave that HubSpot's spec does not allow (a bug in the fake; tests expect none). */
  contractErrors: string[];
  /** The next batch upsert input with this id value fails alone (a 207 with errors). */
  failUpsertOf(idValue: string): void;
  /** The next `count` search requests get the secondly-limit 429. */
  searchStorm(count: number): void;
  /** Revokes the token (a rotated private-app token): every later request gets 401. */
  revokeToken(): void;
}

// Default association types (crm-apis.md §5.2; @hubspot/api-client AssociationTypes). Neither the SDK enum nor the
// spec lists notes↔calls; HubSpot's v3 type name for it is "note_to_call". The adapter never reads these numbers.
const DEFAULT_TYPES: Record<string, number> = {
  'calls→contacts': 194,
  'contacts→calls': 193,
  'notes→contacts': 202,
  'contacts→notes': 201,
  'notes→calls': 0,
  'calls→notes': 0,
};

const CALL_STATUSES = ['BUSY', 'CALLING_CRM_USER', 'CANCELED', 'COMPLETED', 'CONNECTING', 'FAILED', 'IN_PROGRESS', 'NO_ANSWER', 'QUEUED', 'RINGING'];
const WRITABLE: Record<ObjectType, string[]> = {
  calls: [
    'hs_timestamp', 'hs_call_title', 'hs_call_body', 'hs_call_direction', 'hs_call_duration', 'hs_call_status', 'hs_call_disposition',
    'hs_call_from_number', 'hs_call_to_number', 'hs_call_recording_url', 'hs_call_source', 'hs_attachment_ids', 'hubspot_owner_id', 'hs_activity_type',
  ],
  notes: ['hs_timestamp', 'hs_note_body', 'hs_attachment_ids', 'hubspot_owner_id'],
  contacts: ['email', 'firstname', 'lastname', 'phone', 'mobilephone'],
};
const READ_ONLY = ['hs_object_id', 'hs_createdate', 'hs_lastmodifieddate'];
const NOTE_BODY_LIMIT = 65_536;
const MAX_JSON_BYTES = 20 * 1024 * 1024;
const BATCH_LIMIT = 100;
const AUTH_MESSAGE = 'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview';

class HubspotError extends Error {
  constructor(
    readonly status: number,
    readonly category: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** A problem with one batch input: the batch goes on with the others (207). */
interface InputProblem {
  message: string;
  category: string;
  id: string;
}

export async function startHubspotFake(options: HubspotFakeOptions = {}): Promise<HubspotFake> {
  const token = options.token ?? `pat-na1-${randomUUID()}`;
  const fileLimitBytes = options.fileLimitBytes ?? 300 * 1024 * 1024;
  const searchIndexLagMs = options.searchIndexLagMs ?? 2_000;
  const tenSecondlyMax = options.tenSecondlyMax ?? 190;
  const searchPerSecond = options.searchPerSecond ?? 5;
  const dailyMax = options.dailyMax ?? 1_000_000;
  const unique: Record<ObjectType, string[]> = { calls: ['zcc_key'], notes: ['zcc_key'], contacts: [], ...options.uniqueProperties };
  const stormRetryAfter = options.stormRetryAfterSeconds === undefined ? 1 : options.stormRetryAfterSeconds;
  const dir = await mkdtemp(path.join(tmpdir(), 'zcc-hubspot-fake-'));

  const objects: Record<ObjectType, Map<string, StoredObject>> = { calls: new Map(), notes: new Map(), contacts: new Map() };
  const associations: Association[] = [];
  const files = new Map<string, StoredFile>();
  const signed = new Map<string, string>();
  const log: CrmLogEntry[] = [];
  const contractErrors: string[] = [];
  const writeListeners: ((writes: number) => void)[] = [];
  const failingUpserts = new Set<string>();
  const recentRequests: number[] = [];
  const recentSearches: number[] = [];
  let tokenValid = true;
  let nextId = 10_001;
  let writes = 0;
  let dailyUsed = 0;
  let storm = 0;
  let searchStorm = 0;
  let dailyExhausted = false;
  let baseUrl = '';

  const newId = () => String(nextId++);
  const wrote = () => {
    writes += 1;
    for (const listener of writeListeners) listener(writes);
  };

  // ---- objects ----------------------------------------------------------------------------------------------------

  function findByUnique(type: ObjectType, property: string, value: string): StoredObject | undefined {
    for (const object of objects[type].values()) if (!object.archived && object.properties[property] === value) return object;
    return undefined;
  }

  function lookup(type: ObjectType, id: string, idProperty: string | undefined): StoredObject | undefined {
    if (idProperty) {
      checkIdProperty(type, idProperty);
      return findByUnique(type, idProperty, id);
    }
    const object = objects[type].get(id);
    return object && !object.archived ? object : undefined;
  }

  function checkIdProperty(type: ObjectType, idProperty: string): void {
    if (unique[type].includes(idProperty) || idProperty === 'hs_object_id') return;
    if (!WRITABLE[type].includes(idProperty) && !READ_ONLY.includes(idProperty)) {
      throw propertyError(idProperty, `Property "${idProperty}" does not exist`, 'PROPERTY_DOESNT_EXIST');
    }
    throw new HubspotError(400, 'VALIDATION_ERROR', `${idProperty} is not a unique identifier property for ${type}; idProperty must name a property with hasUniqueValue`);
  }

  function propertyError(name: string, message: string, error: string): HubspotError {
    const detail = [{ isValid: false, message, error, name, localizedErrorMessage: message }];
    return new HubspotError(400, 'VALIDATION_ERROR', `Property values were not valid: ${JSON.stringify(detail)}`);
  }

  /** HubSpot's checks on property values; throws the first problem. */
  function checkProperties(type: ObjectType, properties: Record<string, string>, creating: boolean): Record<string, string> {
    const clean: Record<string, string> = {};
    for (const [name, value] of Object.entries(properties)) {
      if (READ_ONLY.includes(name)) throw propertyError(name, `${name} is a read only property; its value cannot be set.`, 'READ_ONLY_VALUE');
      if (!WRITABLE[type].includes(name) && !unique[type].includes(name)) throw propertyError(name, `Property "${name}" does not exist`, 'PROPERTY_DOESNT_EXIST');
      clean[name] = checkValue(type, name, value);
    }
    if (creating && (type === 'calls' || type === 'notes') && !clean['hs_timestamp']) {
      throw propertyError('hs_timestamp', 'hs_timestamp is required', 'REQUIRED_PROPERTY');
    }
    return clean;
  }

  function checkValue(type: ObjectType, name: string, value: string): string {
    const invalid = (why: string) => propertyError(name, `${JSON.stringify(value)} was not a valid ${why}.`, 'INVALID_OPTION');
    switch (name) {
      case 'hs_timestamp': {
        const millis = /^\d+$/.test(value) ? Number(value) : /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2}))?$/.test(value) ? Date.parse(value) : NaN;
        if (Number.isNaN(millis)) throw propertyError(name, `${JSON.stringify(value)} is not a valid datetime (epoch milliseconds or ISO 8601 UTC).`, 'INVALID_DATE');
        return new Date(millis).toISOString();
      }
      case 'hs_call_duration':
        if (!/^\d+$/.test(value)) throw invalid('number');
        return value;
      case 'hs_call_direction':
        if (!['INBOUND', 'OUTBOUND'].includes(value)) throw invalid('option');
        return value;
      case 'hs_call_status':
        if (!CALL_STATUSES.includes(value)) throw invalid('option');
        return value;
      case 'hs_note_body':
        if (value.length > NOTE_BODY_LIMIT) {
          throw propertyError(name, `Property value for hs_note_body is ${value.length} characters long, above the limit of ${NOTE_BODY_LIMIT}.`, 'INVALID_LENGTH');
        }
        return value;
      case 'hs_attachment_ids': {
        if (value !== '' && !/^\d+(;\d+)*$/.test(value)) throw invalid('list of file ids separated by ";"');
        const missing = value.split(';').filter((id) => id !== '' && !files.has(id));
        if (missing.length > 0) throw propertyError(name, `File ids ${missing.join(', ')} do not exist.`, 'INVALID_OPTION');
        return value;
      }
      default:
        if (unique[type].includes(name) && value.length > 255) throw invalid('unique value (at most 255 characters)');
        return value;
    }
  }

  function view(object: StoredObject, wanted?: readonly string[]): Record<string, unknown> {
    const all: Record<string, string> = {
      ...object.properties,
      hs_object_id: object.id,
      hs_createdate: object.createdAt,
      hs_lastmodifieddate: object.updatedAt,
    };
    const properties = wanted && wanted.length > 0 ? Object.fromEntries(Object.entries(all).filter(([name]) => wanted.includes(name) || READ_ONLY.includes(name))) : all;
    return { id: object.id, properties, createdAt: object.createdAt, updatedAt: object.updatedAt, archived: object.archived };
  }

  function upsert(type: ObjectType, body: { inputs: { id: string; idProperty?: string; properties: Record<string, string> }[] }): { status: number; body: unknown } {
    const startedAt = new Date().toISOString();
    if (body.inputs.length > BATCH_LIMIT) throw new HubspotError(400, 'VALIDATION_ERROR', `Batch input is limited to ${BATCH_LIMIT} inputs; got ${body.inputs.length}.`);
    const ids = body.inputs.map((input) => input.id);
    const duplicates = ids.filter((id, index) => ids.indexOf(id) !== index);
    if (duplicates.length > 0) throw new HubspotError(400, 'VALIDATION_ERROR', `Duplicate IDs found in batch input: [${[...new Set(duplicates)].join(', ')}]. IDs must be unique`);
    const results: Record<string, unknown>[] = [];
    const problems: InputProblem[] = [];
    for (const input of body.inputs) {
      const idProperty = input.idProperty;
      if (!idProperty) throw new HubspotError(400, 'VALIDATION_ERROR', 'idProperty is required for batch upsert inputs');
      checkIdProperty(type, idProperty);
      try {
        if (failingUpserts.delete(input.id)) throw new HubspotError(400, 'VALIDATION_ERROR', `Injected failure for ${input.id}`);
        if (input.properties[idProperty] !== undefined && input.properties[idProperty] !== input.id) {
          throw propertyError(idProperty, `${idProperty} is the idProperty; its value comes from the input's id`, 'INVALID_OPTION');
        }
        const existing = findByUnique(type, idProperty, input.id);
        const clean = checkProperties(type, input.properties, !existing);
        const now = new Date().toISOString();
        let object = existing;
        if (object) {
          Object.assign(object.properties, clean);
          object.updatedAt = now;
        } else {
          object = { id: newId(), type, properties: { ...clean, [idProperty]: input.id }, createdAt: now, updatedAt: now, archived: false, indexedAt: Date.now() + searchIndexLagMs };
          objects[type].set(object.id, object);
        }
        wrote();
        const shown = view(object, [...Object.keys(input.properties), idProperty]);
        results.push({ ...shown, new: !existing });
      } catch (error) {
        if (!(error instanceof HubspotError)) throw error;
        problems.push({ message: error.message, category: error.category, id: input.id });
      }
    }
    if (problems.length > 0 && results.length === 0) throw new HubspotError(400, problems[0]!.category, problems[0]!.message);
    const completedAt = new Date().toISOString();
    if (problems.length === 0) return { status: 200, body: { status: 'COMPLETE', results, startedAt, completedAt } };
    const errors = problems.map((problem) => ({ status: 'error', category: problem.category, message: problem.message, context: { ids: [problem.id] }, errors: [], links: {} }));
    return { status: 207, body: { status: 'COMPLETE', results, errors, numErrors: errors.length, startedAt, completedAt } };
  }

  function batchRead(type: ObjectType, body: { idProperty?: string; inputs: { id: string }[]; properties: string[] }): { status: number; body: unknown } {
    const startedAt = new Date().toISOString();
    const results: Record<string, unknown>[] = [];
    const missing: string[] = [];
    for (const input of body.inputs) {
      const found = lookup(type, input.id, body.idProperty);
      if (found) results.push(view(found, body.properties));
      else missing.push(input.id);
    }
    const completedAt = new Date().toISOString();
    if (missing.length === 0) return { status: 200, body: { status: 'COMPLETE', results, startedAt, completedAt } };
    const singular = type.slice(0, -1).toUpperCase();
    const errors = [{ status: 'error', category: 'OBJECT_NOT_FOUND', message: `Could not get some ${singular} objects, they may be deleted or not exist. Check that ids are valid.`, context: { ids: missing }, errors: [], links: {} }];
    return { status: 207, body: { status: 'COMPLETE', results, errors, numErrors: 1, startedAt, completedAt } };
  }

  // ---- search -----------------------------------------------------------------------------------------------------

  interface Filter { propertyName: string; operator: string; value?: string; values?: string[] }
  function search(type: ObjectType, body: { filterGroups: { filters: Filter[] }[]; properties: string[]; limit: number; after: string }): unknown {
    const filterCount = body.filterGroups.reduce((sum, group) => sum + group.filters.length, 0);
    if (body.filterGroups.length > 5 || body.filterGroups.some((group) => group.filters.length > 10) || filterCount > 25) {
      throw new HubspotError(400, 'VALIDATION_ERROR', 'Search allows at most 5 filterGroups, 10 filters per group and 25 filters in total.');
    }
    if (body.limit > 200) throw new HubspotError(400, 'VALIDATION_ERROR', 'limit must be at most 200.');
    const matches = (object: StoredObject, filter: Filter): boolean => {
      const value = object.properties[filter.propertyName] ?? (filter.propertyName === 'hs_object_id' ? object.id : undefined);
      switch (filter.operator) {
        case 'EQ':
          return value !== undefined && value.toLowerCase() === (filter.value ?? '').toLowerCase();
        case 'NEQ':
          return value === undefined || value.toLowerCase() !== (filter.value ?? '').toLowerCase();
        case 'IN':
          return value !== undefined && (filter.values ?? []).includes(value);
        case 'HAS_PROPERTY':
          return value !== undefined && value !== '';
        case 'NOT_HAS_PROPERTY':
          return value === undefined || value === '';
        default:
          throw new HubspotError(400, 'VALIDATION_ERROR', `The fake does not implement operator ${filter.operator}.`);
      }
    };
    const now = Date.now();
    const visible = [...objects[type].values()].filter((object) => !object.archived && object.indexedAt <= now);
    const hits = visible.filter((object) => body.filterGroups.length === 0 || body.filterGroups.some((group) => group.filters.every((filter) => matches(object, filter))));
    const offset = Number(body.after) || 0;
    const page = hits.slice(offset, offset + body.limit);
    const next = offset + body.limit < hits.length ? { paging: { next: { after: String(offset + body.limit) } } } : {};
    return { total: hits.length, results: page.map((object) => view(object, body.properties)), ...next };
  }

  // ---- associations -------------------------------------------------------------------------------------------------

  function objectTypeOf(name: string): ObjectType {
    if (name === 'calls' || name === 'notes' || name === 'contacts') return name;
    throw new HubspotError(400, 'VALIDATION_ERROR', `Unable to infer object type from: ${name}`);
  }

  function requireObject(type: ObjectType, id: string): StoredObject {
    const object = lookup(type, id, undefined);
    if (!object) throw new HubspotError(404, 'OBJECT_NOT_FOUND', `No ${type.slice(0, -1)} with id ${id} exists`);
    return object;
  }

  function associateDefault(fromType: ObjectType, fromId: string, toType: ObjectType, toId: string): Record<string, unknown>[] {
    requireObject(fromType, fromId);
    requireObject(toType, toId);
    const forward = DEFAULT_TYPES[`${fromType}→${toType}`];
    const backward = DEFAULT_TYPES[`${toType}→${fromType}`];
    if (forward === undefined || backward === undefined) throw new HubspotError(400, 'VALIDATION_ERROR', `No default association type exists between ${fromType} and ${toType}`);
    const pairs: Association[] = [
      { fromType, fromId, toType, toId, typeId: forward },
      { fromType: toType, fromId: toId, toType: fromType, toId: fromId, typeId: backward },
    ];
    for (const pair of pairs) {
      const exists = associations.some((a) => a.fromType === pair.fromType && a.fromId === pair.fromId && a.toType === pair.toType && a.toId === pair.toId);
      if (!exists) associations.push(pair);
    }
    return pairs.map((pair) => ({ from: { id: pair.fromId }, to: { id: pair.toId }, associationSpec: { associationCategory: 'HUBSPOT_DEFINED', associationTypeId: pair.typeId } }));
  }

  function associationsOf(type: ObjectType, id: string, toType: ObjectType): string[] {
    return associations.filter((a) => a.fromType === type && a.fromId === id && a.toType === toType && !objects[toType].get(a.toId)?.archived).map((a) => a.toId);
  }

  function archive(type: ObjectType, id: string): void {
    const object = objects[type].get(id);
    if (object && !object.archived) {
      object.archived = true;
      wrote();
    }
  }

  // ---- files ----------------------------------------------------------------------------------------------------------

  function fileType(extension: string): string {
    if (['mp3', 'wav', 'm4a', 'ogg'].includes(extension)) return 'AUDIO';
    if (['mp4', 'mov', 'webm'].includes(extension)) return 'MOVIE';
    if (['png', 'jpg', 'jpeg', 'gif'].includes(extension)) return 'IMG';
    if (['txt', 'pdf', 'doc', 'docx', 'csv'].includes(extension)) return 'DOCUMENT';
    return 'OTHER';
  }

  function fileJson(file: StoredFile): Record<string, unknown> {
    const fullName = file.extension ? `${file.name}.${file.extension}` : file.name;
    return {
      id: file.id,
      name: file.name,
      extension: file.extension,
      path: `${file.folderPath.replace(/\/$/, '')}/${fullName}`,
      parentFolderId: '1001',
      size: file.size,
      type: fileType(file.extension),
      access: file.access,
      fileMd5: file.md5,
      url: `${baseUrl}/hubfs/${file.id}/${encodeURIComponent(fullName)}`,
      createdAt: file.createdAt,
      updatedAt: file.createdAt,
      archived: false,
      isUsableInContent: true,
    };
  }

  const ACCESS = ['PUBLIC_INDEXABLE', 'PUBLIC_NOT_INDEXABLE', 'HIDDEN_INDEXABLE', 'HIDDEN_NOT_INDEXABLE', 'HIDDEN_PRIVATE', 'HIDDEN_SENSITIVE', 'PRIVATE', 'SENSITIVE'];

  interface UploadOptions { access: string; duplicateValidationStrategy: string; duplicateValidationScope: string }
  function parseUploadOptions(raw: string | undefined): UploadOptions {
    if (raw === undefined) throw new HubspotError(400, 'VALIDATION_ERROR', 'options is required and must contain access');
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new HubspotError(400, 'VALIDATION_ERROR', 'options must be a JSON string representing FileUploadOptions');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HubspotError(400, 'VALIDATION_ERROR', 'options must be a JSON object');
    const known = ['access', 'ttl', 'overwrite', 'duplicateValidationStrategy', 'duplicateValidationScope'];
    const entries = parsed as Record<string, unknown>;
    const unknown = Object.keys(entries).filter((key) => !known.includes(key));
    if (unknown.length > 0) throw new HubspotError(400, 'VALIDATION_ERROR', `Unrecognized field(s) in options: ${unknown.join(', ')}`);
    const oneOf = (name: string, values: string[], fallback: string): string => {
      const value = entries[name] ?? fallback;
      if (typeof value !== 'string' || !values.includes(value)) throw new HubspotError(400, 'VALIDATION_ERROR', `options.${name} must be one of ${values.join(', ')}`);
      return value;
    };
    if (entries['overwrite'] !== undefined && typeof entries['overwrite'] !== 'boolean') throw new HubspotError(400, 'VALIDATION_ERROR', 'options.overwrite must be a boolean');
    return {
      access: oneOf('access', ACCESS, ''),
      duplicateValidationStrategy: oneOf('duplicateValidationStrategy', ['NONE', 'REJECT', 'RETURN_EXISTING'], 'NONE'),
      duplicateValidationScope: oneOf('duplicateValidationScope', ['ENTIRE_PORTAL', 'EXACT_FOLDER'], 'ENTIRE_PORTAL'),
    };
  }

  /** multipart/form-data: the file streams to disk while hashed; a cut-off or oversized upload leaves nothing. */
  function upload(req: IncomingMessage): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
    return new Promise((resolve, reject) => {
      let parser: busboy.Busboy;
      try {
        parser = busboy({ headers: req.headers, defParamCharset: 'utf8', limits: { files: 1, fileSize: fileLimitBytes, fields: 10 } });
      } catch {
        reject(new HubspotError(415, 'VALIDATION_ERROR', 'Content-Type must be multipart/form-data with a boundary'));
        return;
      }
      const fields: Record<string, string> = {};
      const disk = path.join(dir, `${randomBytes(8).toString('hex')}.upload`);
      let received: { name: string; size: number; sha256: string; md5: string; truncated: boolean } | null = null;
      let writing: Promise<void> | null = null;
      let failed = false;
      const fail = (error: unknown) => {
        if (failed) return;
        failed = true;
        req.unpipe(parser);
        req.resume();
        void unlink(disk).catch(() => {});
        reject(error);
      };
      parser.on('field', (name, value) => {
        fields[name] = value;
      });
      parser.on('file', (name, stream, info) => {
        if (name !== 'file') {
          stream.resume();
          fail(new HubspotError(400, 'VALIDATION_ERROR', `Unexpected file field ${name}; the file goes in "file"`));
          return;
        }
        const sha = createHash('sha256');
        const md5 = createHash('md5');
        let size = 0;
        const out = createWriteStream(disk);
        stream.on('data', (chunk: Buffer) => {
          size += chunk.length;
          sha.update(chunk);
          md5.update(chunk);
        });
        writing = new Promise<void>((done, broke) => {
          out.on('close', done);
          out.on('error', broke);
        });
        stream.on('limit', () => fail(new HubspotError(413, 'VALIDATION_ERROR', `File is larger than the ${fileLimitBytes} byte limit`)));
        stream.on('end', () => {
          received = { name: info.filename ?? 'file', size, sha256: sha.digest('hex'), md5: md5.digest('hex'), truncated: stream.truncated === true };
        });
        stream.pipe(out);
      });
      parser.on('error', (error) => fail(new HubspotError(400, 'VALIDATION_ERROR', `Malformed multipart body: ${(error as Error).message}`)));
      parser.on('close', () => {
        void (async () => {
          await writing;
          if (failed) return;
          const file = received;
          if (!file || file.truncated) throw new HubspotError(400, 'VALIDATION_ERROR', 'file is required');
          const unknown = Object.keys(fields).filter((name) => !['fileName', 'folderId', 'folderPath', 'options', 'charsetHunch'].includes(name));
          if (unknown.length > 0) throw new HubspotError(400, 'VALIDATION_ERROR', `Unrecognized field(s): ${unknown.join(', ')}`);
          if ((fields['folderId'] === undefined) === (fields['folderPath'] === undefined)) {
            throw new HubspotError(400, 'VALIDATION_ERROR', "Either 'folderId' or 'folderPath' is required, not both");
          }
          const settings = parseUploadOptions(fields['options']);
          const folderPath = fields['folderPath'] ?? `/folder-${fields['folderId']}`;
          const fullName = fields['fileName'] ?? file.name;
          const dot = fullName.lastIndexOf('.');
          const name = dot > 0 ? fullName.slice(0, dot) : fullName;
          const extension = dot > 0 ? fullName.slice(dot + 1).toLowerCase() : '';
          if (settings.duplicateValidationStrategy !== 'NONE') {
            const duplicate = [...files.values()].find(
              (candidate) => candidate.md5 === file.md5 && (settings.duplicateValidationScope === 'ENTIRE_PORTAL' || candidate.folderPath === folderPath),
            );
            if (duplicate) {
              await unlink(disk).catch(() => {});
              if (settings.duplicateValidationStrategy === 'REJECT') throw new HubspotError(409, 'CONFLICT', `Found a duplicate file with id ${duplicate.id}`);
              return { status: 201, body: fileJson(duplicate), headers: { location: `${baseUrl}/files/v3/files/${duplicate.id}` } };
            }
          }
          const stored: StoredFile = { id: newId(), name, extension, folderPath, access: settings.access, size: file.size, sha256: file.sha256, md5: file.md5, disk, createdAt: new Date().toISOString() };
          files.set(stored.id, stored);
          wrote();
          return { status: 201, body: fileJson(stored), headers: { location: `${baseUrl}/files/v3/files/${stored.id}` } };
        })().then(
          (answer) => answer && resolve(answer),
          (error: unknown) => fail(error),
        );
      });
      req.on('close', () => {
        if (!req.complete) fail(new Error('upload cut off'));
      });
      req.on('error', () => fail(new Error('upload cut off')));
      req.pipe(parser);
    });
  }

  async function removeFile(id: string): Promise<void> {
    const file = files.get(id);
    if (!file) throw new HubspotError(404, 'OBJECT_NOT_FOUND', `File ${id} does not exist`);
    files.delete(id);
    wrote();
    await unlink(file.disk).catch(() => {});
  }

  // ---- HTTP -------------------------------------------------------------------------------------------------------------

  function rateHeaders(): Record<string, string> {
    const now = Date.now();
    while (recentRequests.length > 0 && recentRequests[0]! <= now - 10_000) recentRequests.shift();
    const secondly = Math.ceil(tenSecondlyMax / 10);
    const lastSecond = recentRequests.filter((at) => at > now - 1_000).length;
    return {
      'x-hubspot-ratelimit-daily': String(dailyMax),
      'x-hubspot-ratelimit-daily-remaining': String(Math.max(0, dailyMax - dailyUsed)),
      'x-hubspot-ratelimit-interval-milliseconds': '10000',
      'x-hubspot-ratelimit-max': String(tenSecondlyMax),
      'x-hubspot-ratelimit-remaining': String(Math.max(0, tenSecondlyMax - recentRequests.length)),
      'x-hubspot-ratelimit-secondly': String(secondly),
      'x-hubspot-ratelimit-secondly-remaining': String(Math.max(0, secondly - lastSecond)),
    };
  }

  function rateLimitBody(message: string, policyName: string | undefined): Record<string, unknown> {
    return { status: 'error', message, errorType: 'RATE_LIMIT', correlationId: randomUUID(), ...(policyName ? { policyName } : {}), requestId: randomUUID() };
  }

  /** The limits HubSpot applies before it looks at the request: the storm, the daily allowance, the rolling window. */
  function limitAnswer(isSearch: boolean): { status: number; body: unknown; headers: Record<string, string>; retryAfterMs?: number } | null {
    const now = Date.now();
    if (dailyExhausted || dailyUsed >= dailyMax) {
      return { status: 429, body: rateLimitBody('You have reached your daily limit.', 'DAILY'), headers: rateHeaders() };
    }
    if (storm > 0) {
      storm -= 1;
      const headers = { ...rateHeaders(), 'x-hubspot-ratelimit-remaining': '0', ...(stormRetryAfter === null ? {} : { 'retry-after': String(stormRetryAfter) }) };
      return { status: 429, body: rateLimitBody('You have reached your ten secondly limit.', 'TEN_SECONDLY_ROLLING'), headers, retryAfterMs: stormRetryAfter === null ? undefined : stormRetryAfter * 1000 };
    }
    if (isSearch) {
      while (recentSearches.length > 0 && recentSearches[0]! <= now - 1_000) recentSearches.shift();
      if (searchStorm > 0 || recentSearches.length >= searchPerSecond) {
        if (searchStorm > 0) searchStorm -= 1;
        return { status: 429, body: rateLimitBody('You have reached your secondly limit.', undefined), headers: {} };
      }
      recentSearches.push(now);
    }
    rateHeaders();
    if (recentRequests.length >= tenSecondlyMax) {
      return { status: 429, body: rateLimitBody('You have reached your ten secondly limit.', 'TEN_SECONDLY_ROLLING'), headers: rateHeaders() };
    }
    recentRequests.push(now);
    dailyUsed += 1;
    return null;
  }

  function errorBody(error: HubspotError): Record<string, unknown> {
    return { status: 'error', message: error.message, correlationId: randomUUID(), category: error.category, ...error.extra };
  }

  async function readJson(req: IncomingMessage): Promise<unknown> {
    const type = String(req.headers['content-type'] ?? '');
    if (!/^application\/json\b/i.test(type)) {
      req.resume();
      throw new HubspotError(415, 'VALIDATION_ERROR', `Content type '${type}' not supported; use application/json`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_JSON_BYTES) throw new HubspotError(413, 'VALIDATION_ERROR', 'Request body too large');
      chunks.push(chunk as Buffer);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (error) {
      throw new HubspotError(400, 'VALIDATION_ERROR', `Invalid input JSON: ${(error as Error).message}`);
    }
  }

  function listOf(value: string | null): string[] {
    return value ? value.split(',').filter(Boolean) : [];
  }

  async function dispatch(matched: MatchedOperation, req: IncomingMessage, query: URLSearchParams): Promise<{ status: number; body?: unknown; headers?: Record<string, string> }> {
    const problems = validatePathParams(matched);
    if (problems.length > 0) throw new HubspotError(400, 'VALIDATION_ERROR', problems.join('; '));
    let body: unknown;
    if (matched.operation.requestBody?.content?.['application/json']) {
      body = await readJson(req);
      const invalid = validateRequestBody(matched, body);
      if (invalid.length > 0) throw new HubspotError(400, 'VALIDATION_ERROR', `Invalid input JSON: ${invalid.join('; ')}`);
    } else if (matched.template !== '/files/v3/files') {
      req.resume();
    }
    const p = matched.params;
    switch (`${matched.method} ${matched.template}`) {
      case 'POST /crm/v3/objects/calls/batch/upsert':
      case 'POST /crm/v3/objects/notes/batch/upsert':
        return upsert(matched.spec as ObjectType, body as Parameters<typeof upsert>[1]);
      case 'POST /crm/v3/objects/calls/batch/read':
      case 'POST /crm/v3/objects/notes/batch/read':
        return batchRead(matched.spec as ObjectType, body as Parameters<typeof batchRead>[1]);
      case 'GET /crm/v3/objects/calls/{callId}':
      case 'GET /crm/v3/objects/notes/{noteId}': {
        const type = matched.spec as ObjectType;
        const found = lookup(type, p['callId'] ?? p['noteId'] ?? '', query.get('idProperty') ?? undefined);
        if (!found) throw new HubspotError(404, 'OBJECT_NOT_FOUND', 'resource not found');
        return { status: 200, body: view(found, listOf(query.get('properties'))) };
      }
      case 'DELETE /crm/v3/objects/calls/{callId}':
      case 'DELETE /crm/v3/objects/notes/{noteId}':
        archive(matched.spec as ObjectType, p['callId'] ?? p['noteId'] ?? '');
        return { status: 204 };
      case 'POST /crm/v3/objects/contacts/search':
        return { status: 200, body: search('contacts', body as Parameters<typeof search>[1]) };
      case 'PUT /crm/v4/objects/{fromObjectType}/{fromObjectId}/associations/default/{toObjectType}/{toObjectId}': {
        const startedAt = new Date().toISOString();
        const results = associateDefault(objectTypeOf(p['fromObjectType']!), p['fromObjectId']!, objectTypeOf(p['toObjectType']!), p['toObjectId']!);
        return { status: 200, body: { status: 'COMPLETE', results, startedAt, completedAt: new Date().toISOString() } };
      }
      case 'POST /crm/v4/associations/{fromObjectType}/{toObjectType}/batch/associate/default': {
        const startedAt = new Date().toISOString();
        const fromType = objectTypeOf(p['fromObjectType']!);
        const toType = objectTypeOf(p['toObjectType']!);
        const inputs = (body as { inputs: { from: { id: string }; to: { id: string } }[] }).inputs;
        if (inputs.length > BATCH_LIMIT) throw new HubspotError(400, 'VALIDATION_ERROR', `Batch input is limited to ${BATCH_LIMIT} inputs`);
        const results = inputs.flatMap((input) => associateDefault(fromType, input.from.id, toType, input.to.id));
        return { status: 200, body: { status: 'COMPLETE', results, startedAt, completedAt: new Date().toISOString() } };
      }
      case 'GET /crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}': {
        const type = objectTypeOf(p['objectType']!);
        const toType = objectTypeOf(p['toObjectType']!);
        requireObject(type, p['objectId']!);
        const typeId = DEFAULT_TYPES[`${type}→${toType}`] ?? 0;
        const results = associationsOf(type, p['objectId']!, toType).map((toObjectId) => ({ toObjectId, associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId }] }));
        return { status: 200, body: { results } };
      }
      case 'POST /files/v3/files':
        return upload(req);
      case 'GET /files/v3/files/{fileId}': {
        const file = files.get(p['fileId']!);
        if (!file) throw new HubspotError(404, 'OBJECT_NOT_FOUND', `File ${p['fileId']} does not exist`);
        return { status: 200, body: fileJson(file) };
      }
      case 'DELETE /files/v3/files/{fileId}':
        await removeFile(p['fileId']!);
        return { status: 204 };
      case 'GET /files/v3/files/{fileId}/signed-url': {
        const file = files.get(p['fileId']!);
        if (!file) throw new HubspotError(404, 'OBJECT_NOT_FOUND', `File ${p['fileId']} does not exist`);
        const key = randomBytes(16).toString('hex');
        signed.set(key, file.id);
        const expiresAt = new Date(Date.now() + Number(query.get('expirationSeconds') ?? 3600) * 1000).toISOString();
        return { status: 200, body: { url: `${baseUrl}/signed/${key}`, expiresAt, name: file.name, extension: file.extension, size: file.size, type: fileType(file.extension) } };
      }
      default:
        throw new HubspotError(404, 'OBJECT_NOT_FOUND', `The fake does not implement ${matched.method} ${matched.template}`);
    }
  }

  function send(res: ServerResponse, entry: CrmLogEntry, status: number, body: unknown, headers: Record<string, string> = {}): void {
    entry.status = status;
    log.push(entry);
    if (body === undefined) {
      res.writeHead(status, headers).end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json;charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
    res.end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    const method = req.method ?? 'GET';
    const entry: CrmLogEntry = { at: Date.now(), method, path: url.pathname, status: 0 };
    // Signed URLs are served by HubSpot's CDN: no token, no API limits.
    const signedMatch = /^\/signed\/([0-9a-f]+)$/.exec(url.pathname);
    if (signedMatch && method === 'GET') {
      req.resume();
      const file = files.get(signed.get(signedMatch[1]!) ?? '');
      if (!file) return send(res, entry, 403, undefined);
      entry.status = 200;
      log.push(entry);
      res.writeHead(200, { 'content-length': String(file.size), 'content-type': 'application/octet-stream' });
      createReadStream(file.disk).pipe(res);
      return;
    }
    const authorization = req.headers.authorization ?? '';
    if (!tokenValid || authorization !== `Bearer ${token}`) {
      req.resume();
      return send(res, entry, 401, { status: 'error', message: AUTH_MESSAGE, correlationId: randomUUID(), category: 'INVALID_AUTHENTICATION' }, { 'x-hubspot-auth-failure': '401 Unauthorized' });
    }
    const matched = matchOperation(method, url.pathname);
    if ('error' in matched) {
      req.resume();
      if (matched.error === 'no-method') return send(res, entry, 405, { status: 'error', message: `HTTP ${method} is not supported by this URL`, correlationId: randomUUID(), category: 'VALIDATION_ERROR' });
      return send(res, entry, 404, { status: 'error', message: `Unable to route ${method} ${url.pathname}`, correlationId: randomUUID(), category: 'OBJECT_NOT_FOUND' });
    }
    const isSearch = matched.template.endsWith('/search');
    const limited = limitAnswer(isSearch);
    if (limited) {
      req.resume();
      if (limited.retryAfterMs !== undefined) entry.retryAfterMs = limited.retryAfterMs;
      return send(res, entry, limited.status, limited.body, limited.headers);
    }
    const headers = isSearch ? {} : rateHeaders();
    let answer: { status: number; body?: unknown; headers?: Record<string, string> };
    try {
      answer = await dispatch(matched, req, url.searchParams);
    } catch (error) {
      if (!(error instanceof HubspotError)) {
        if (!res.headersSent && !req.destroyed) send(res, entry, 500, { status: 'error', message: String(error), correlationId: randomUUID(), category: 'INTERNAL_ERROR' });
        else log.push({ ...entry, status: 499 });
        return;
      }
      answer = { status: error.status, body: errorBody(error) };
    }
    if (answer.body !== undefined) {
      const problems = validateResponseBody(matched, answer.status, answer.body);
      if (problems.length > 0) contractErrors.push(`${method} ${matched.template} ${answer.status}: ${problems.join('; ')}`);
    }
    send(res, entry, answer.status, answer.body, { ...headers, ...answer.headers });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(error));
    });
  });
  const listening = await listenOnLoopback(server);
  baseUrl = `http://127.0.0.1:${listening.port}`;
  const tokenEnv = 'HUBSPOT_FAKE_ACCESS_TOKEN';

  function heldRecords(): CrmHeldRecord[] {
    const field = unique.calls[0] ?? 'zcc_key';
    const noteField = unique.notes[0] ?? 'zcc_key';
    const held: CrmHeldRecord[] = [];
    for (const call of objects.calls.values()) {
      const externalId = call.properties[field];
      if (call.archived || externalId === undefined) continue;
      const texts: CrmHeldText[] = [];
      const heldFiles: CrmHeldFile[] = [];
      let internalOnly = true;
      for (const noteId of associationsOf('calls', call.id, 'notes')) {
        const note = objects.notes.get(noteId)!;
        const text = htmlToText(note.properties['hs_note_body'] ?? '');
        const key = /\[zcc:([^\]\n]+)\]\s*$/.exec(text)?.[1] ?? note.properties[noteField] ?? '';
        const attached = (note.properties['hs_attachment_ids'] ?? '').split(';').filter(Boolean);
        if (attached.length === 0) {
          texts.push({ key, text, id: note.id });
          continue;
        }
        for (const fileId of attached) {
          const file = files.get(fileId);
          if (!file) continue;
          if (file.access !== 'PRIVATE') internalOnly = false;
          heldFiles.push({ key, fileName: file.extension ? `${file.name}.${file.extension}` : file.name, size: file.size, sha256: file.sha256, id: file.id });
        }
      }
      held.push({ externalId, engagementId: externalId.replace(/^engagement\//, ''), id: call.id, texts, files: heldFiles, internalOnly });
    }
    return held;
  }

  return {
    type: 'hubspot',
    url: baseUrl,
    token,
    editsInPlace: true,
    fileLimitBytes,
    contractErrors,
    destinationConfig: (name, extra = {}) => ({ name, type: 'hubspot', baseUrl, accessTokenEnv: tokenEnv, maxFileBytes: fileLimitBytes, ...extra }),
    env: () => ({ [tokenEnv]: token }),
    badEnv: () => ({ [tokenEnv]: `pat-na1-${randomUUID()}` }),
    records: heldRecords,
    log: () => [...log],
    faults: {
      rateLimitStorm: (count) => {
        storm += count;
      },
      dailyLimit: (on) => {
        dailyExhausted = on;
      },
      // Private-app and service-key tokens do not expire and this fake issues none: nothing to expire. A rotated
      // (revoked) token is `revokeToken`.
      expireTokens: () => undefined,
    },
    onWrite: (listener) => {
      writeListeners.push(listener);
    },
    addContact: (properties) => {
      const now = new Date().toISOString();
      const contact: StoredObject = { id: newId(), type: 'contacts', properties: { ...properties }, createdAt: now, updatedAt: now, archived: false, indexedAt: Date.now() + searchIndexLagMs };
      objects.contacts.set(contact.id, contact);
      return contact.id;
    },
    object: (type, id) => objects[type].get(id),
    objects: (type) => [...objects[type].values()],
    associationsOf,
    files: () => [...files.values()],
    failUpsertOf: (idValue) => {
      failingUpserts.add(idValue);
    },
    searchStorm: (count) => {
      searchStorm += count;
    },
    revokeToken: () => {
      tokenValid = false;
    },
    close: async () => {
      await listening.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** What an agent reads in a note: HubSpot note bodies are HTML. */
export function htmlToText(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div)>\s*/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/\n+$/, '');
}
