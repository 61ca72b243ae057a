// A strict fake of Microsoft Dataverse's Web API (phone calls, contacts, notes with files, the chunked note upload)
// and of the Entra ID token endpoint, on one loopback server. It answers as crm-apis.md §4 says Dataverse does: OData
// headers required, PATCH-by-key upserts (204, or 201/200 with Prefer: return=representation), If-Match/If-None-Match
// conditions, read-only closed phone calls, maxuploadfilesize on the base64 text (0x80044a02), service-protection
// 429s, and every error in the {"error":{"code","message"}} envelope. Files are kept in a temp folder, blocks too.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from '../loopback.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CrmFakeView, CrmHeldRecord, CrmLogEntry } from './view.js';

export interface DynamicsFakeOptions {
  /** organization.maxuploadfilesize: the largest base64 text of a note's file (default 5,242,880). */
  maxUploadFileSize?: number;
  /** A phonecall alternate key the org defines (a text column); requests by another key column fail. */
  alternateKey?: string;
  /** Custom text columns the org has on phonecall (besides the alternate key). */
  customColumns?: string[];
  tokenLifetimeSeconds?: number;
  /** Retry-After (seconds) of the daily-limit fault's 429. */
  dailyLimitRetryAfterSeconds?: number;
}

export interface FakePhoneCall {
  activityid: string;
  columns: Record<string, unknown>;
  statecode: number;
  statuscode: number;
  regardingContactId: string | null;
  version: number;
}

export interface FakeAnnotation {
  annotationid: string;
  subject: string | null;
  notetext: string | null;
  filename: string | null;
  mimetype: string | null;
  objectId: string;
  file: { path: string; size: number; sha256: string } | null;
  version: number;
}

export interface FakeContact {
  contactid: string;
  fullname: string;
  telephone1?: string;
  mobilephone?: string;
}

export interface DynamicsFake extends CrmFakeView {
  url: string;
  tokenUrl: string;
  phoneCalls(): FakePhoneCall[];
  annotations(): FakeAnnotation[];
  addContact(contact: Omit<FakeContact, 'contactid'>): string;
  /** Closes a phone call as an agent would (statecode 1 Completed, statuscode 2 Made): it becomes read-only. */
  completePhoneCall(activityid: string): void;
  setMaxUploadFileSize(base64Chars: number): void;
  /** Every request's headers, for header checks. */
  requests: { method: string; path: string; headers: IncomingMessage['headers'] }[];
}

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT_ID = '51f81489-12ee-4a9e-aaae-a2591f45987d';
const CLIENT_SECRET = 'fake-dynamics-secret';
const MiB = 1024 * 1024;
const BODY_CAP = 64 * MiB;
const BLOCK_CAP = 4 * MiB;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Strict base64 (a linear check: a repeated group in a regex overflows V8's stack on megabytes of text). */
const isBase64 = (text: string): boolean => text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text);
/** Characters Dataverse cannot take in an alternate key value addressed in a URL. */
const KEY_BREAKERS = /[/<>*%&:\\?+]/;

type Json = Record<string, unknown>;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const notFoundRow = (entity: string, id: string) => new ApiError(404, '0x80040217', `${entity} With Id = ${id} Does Not Exist`);
const payloadError = (detail: string) => new ApiError(400, '0x80048d19', `Error identified in Payload provided by the user for Entity :'', ----> InnerException : ${detail}`);
const unknownProperty = (name: string, entity: string) => new ApiError(400, '0x80060888', `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${entity}'.`);
const tooBig = () => new ApiError(400, '0x80044a02', 'Attachment file size is too big.');

type ColumnType = 'string' | 'memo' | 'boolean' | 'int' | 'datetime' | 'choice';
const PHONECALL_COLUMNS: Record<string, { type: ColumnType; max?: number }> = {
  subject: { type: 'string', max: 200 },
  description: { type: 'memo', max: 2000 },
  phonenumber: { type: 'string', max: 200 },
  directioncode: { type: 'boolean' },
  actualdurationminutes: { type: 'int' },
  actualstart: { type: 'datetime' },
  actualend: { type: 'datetime' },
  scheduledstart: { type: 'datetime' },
  scheduledend: { type: 'datetime' },
  category: { type: 'string', max: 250 },
  subcategory: { type: 'string', max: 250 },
  leftvoicemail: { type: 'boolean' },
  prioritycode: { type: 'choice' },
};
const ANNOTATION_COLUMNS: Record<string, { type: ColumnType; max?: number }> = {
  subject: { type: 'string', max: 500 },
  notetext: { type: 'memo', max: 100_000 },
  filename: { type: 'string', max: 255 },
  mimetype: { type: 'string', max: 256 },
};

export async function startDynamicsFake(options: DynamicsFakeOptions = {}): Promise<DynamicsFake> {
  const dir = await mkdtemp(path.join(tmpdir(), 'zcc-dynamics-fake-'));
  let maxUpload = options.maxUploadFileSize ?? 5_242_880;
  const lifetime = options.tokenLifetimeSeconds ?? 3599;
  const customColumns = new Set([...(options.customColumns ?? []), ...(options.alternateKey ? [options.alternateKey] : [])]);
  const tokens = new Map<string, { expiresAt: number; revoked: boolean }>();
  const phoneCalls = new Map<string, FakePhoneCall>();
  const annotations = new Map<string, FakeAnnotation>();
  const contacts = new Map<string, FakeContact>();
  const uploads = new Map<string, { target: Json; annotationid: string; blocks: Map<string, { path: string; size: number }> }>();
  const log: CrmLogEntry[] = [];
  const requests: DynamicsFake['requests'] = [];
  const listeners: ((writes: number) => void)[] = [];
  let writes = 0;
  let storm = 0;
  let dailyLimit = false;
  let orgUrl = '';

  const wrote = () => {
    writes += 1;
    for (const listener of listeners) listener(writes);
  };

  // --- Entra ID: POST /{tenant}/oauth2/v2.0/token
  const token = (form: URLSearchParams, tenant: string): { status: number; body: Json } => {
    const entraError = (status: number, error: string, code: number, description: string) => ({
      status,
      body: { error, error_description: `AADSTS${code}: ${description}`, error_codes: [code], timestamp: new Date().toISOString(), trace_id: randomUUID(), correlation_id: randomUUID() },
    });
    if (tenant !== TENANT) return entraError(400, 'invalid_request', 90002, `Tenant '${tenant}' not found.`);
    if (form.get('grant_type') !== 'client_credentials') return entraError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    if (form.get('client_id') !== CLIENT_ID) return entraError(400, 'unauthorized_client', 700016, `Application with identifier '${form.get('client_id')}' was not found in the directory.`);
    if (form.get('client_secret') !== CLIENT_SECRET) return entraError(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
    const scope = form.get('scope') ?? '';
    if (!scope.endsWith('/.default')) return entraError(400, 'invalid_scope', 1002012, `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.`);
    if (scope !== `${orgUrl}/.default`) return entraError(400, 'invalid_resource', 500011, `The resource principal named ${scope.slice(0, -'/.default'.length)} was not found in the tenant named ${tenant}.`);
    const accessToken = `eyJ0eXAiOiJKV1Qi.${randomBytes(24).toString('base64url')}`;
    tokens.set(accessToken, { expiresAt: Date.now() + lifetime * 1000, revoked: false });
    return { status: 200, body: { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken } };
  };

  // --- the Web API
  const checkRequest = (req: IncomingMessage): void => {
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const issued = bearer ? tokens.get(bearer) : undefined;
    if (!issued || issued.revoked || issued.expiresAt <= Date.now()) {
      throw new ApiError(401, '', '', { 'www-authenticate': `Bearer authorization_uri=https://login.microsoftonline.com/${TENANT}/oauth2/authorize, resource_id=${orgUrl}/` });
    }
    if (dailyLimit) {
      throw new ApiError(429, '0x80072322', 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.', { 'retry-after': String(options.dailyLimitRetryAfterSeconds ?? 3600) });
    }
    if (storm > 0) {
      storm -= 1;
      throw new ApiError(429, '0x80072322', 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.', { 'retry-after': '1' });
    }
    for (const [header, value] of [['odata-maxversion', '4.0'], ['odata-version', '4.0']] as const) {
      if (req.headers[header] !== value) throw new ApiError(400, '0x80048d19', `The request must carry the header ${header}: ${value}.`);
    }
    if (req.headers['if-none-match'] === undefined) throw new ApiError(400, '0x80048d19', 'The request must carry If-None-Match (null, * or an ETag).');
    const accept = String(req.headers.accept ?? '');
    if (!/application\/json|text\/plain|\*\/\*/.test(accept)) throw new ApiError(406, '0x80048d19', `The Accept header '${accept}' is not supported.`);
  };

  const select = (query: URLSearchParams, allowed: Set<string>, entity: string): string[] | null => {
    const raw = query.get('$select');
    if (raw === null) return null;
    const columns = raw.split(',').map((column) => column.trim());
    for (const column of columns) if (!allowed.has(column)) throw unknownProperty(column, entity);
    return columns;
  };

  const checkColumns = (body: Json, columns: Record<string, { type: ColumnType; max?: number }>, entity: string, extra: Set<string>): void => {
    for (const [name, value] of Object.entries(body)) {
      if (name.includes('@odata.bind') || extra.has(name)) continue;
      const column = columns[name];
      if (!column) throw new ApiError(400, '0x80048d19', `Invalid property '${name}' was found in entity 'Microsoft.Dynamics.CRM.${entity}'.`);
      if (value === null) continue;
      const ok =
        column.type === 'boolean'
          ? typeof value === 'boolean'
          : column.type === 'int'
            ? Number.isInteger(value)
            : column.type === 'choice'
              ? value === 0 || value === 1 || value === 2
              : column.type === 'datetime'
                ? typeof value === 'string' && !Number.isNaN(Date.parse(value))
                : typeof value === 'string';
      if (!ok) throw payloadError(`Cannot convert the value of '${name}' to the type of column ${name} (${column.type}).`);
      if (column.max !== undefined && typeof value === 'string' && value.length > column.max) {
        throw new ApiError(400, '0x80044331', `A validation error occurred. The length of the '${name}' attribute of the '${entity}' entity exceeded the maximum allowed length of '${column.max}'.`);
      }
    }
  };

  /** If-Match: * (update only), If-None-Match: * (create only), If-Match: W/"<version>" (optimistic concurrency). */
  const conditions = (req: IncomingMessage, version: number | undefined, entity: string, id: string): void => {
    const ifMatch = req.headers['if-match'];
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifMatch !== undefined && version === undefined) throw new ApiError(404, '', `${entity} With Id = ${id} Does Not Exist`);
    if (ifNoneMatch === '*' && version !== undefined) throw new ApiError(412, '', 'A record with matching key values already exists.');
    if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== `W/"${version}"`) {
      throw new ApiError(412, '', "The version of the existing record doesn't match the RowVersion property provided.");
    }
  };

  const boundPhoneCall = (body: Json): string | undefined => {
    const bindings = Object.keys(body).filter((name) => name.endsWith('@odata.bind'));
    for (const name of bindings) {
      if (name !== 'objectid_phonecall@odata.bind') throw new ApiError(400, '0x80048d19', `An undeclared property '${name.split('@')[0]}' which only has property annotations in the payload but no property value was found in the payload.`);
    }
    const value = body['objectid_phonecall@odata.bind'];
    if (value === undefined) return undefined;
    const id = typeof value === 'string' ? /^\/?phonecalls\(([^)]+)\)$/.exec(value)?.[1] : undefined;
    if (!id || !GUID.test(id)) throw payloadError(`'${String(value)}' is not a valid record URL for objectid_phonecall.`);
    if (!phoneCalls.has(id.toLowerCase())) throw notFoundRow('phonecall', id);
    return id.toLowerCase();
  };

  const rowOfPhoneCall = (call: FakePhoneCall, columns: string[] | null): Json => {
    const all: Json = { activityid: call.activityid, ...call.columns, statecode: call.statecode, statuscode: call.statuscode, _regardingobjectid_value: call.regardingContactId };
    const picked = columns ? Object.fromEntries(columns.map((column) => [column, all[column] ?? null])) : all;
    return { '@odata.etag': `W/"${call.version}"`, ...picked, activityid: call.activityid };
  };

  const rowOfAnnotation = (note: FakeAnnotation, columns: string[] | null): Json => {
    const all: Json = {
      annotationid: note.annotationid,
      subject: note.subject,
      notetext: note.notetext,
      filename: note.filename,
      mimetype: note.mimetype,
      isdocument: note.file !== null,
      filesize: note.file?.size ?? 0,
      _objectid_value: note.objectId,
    };
    const picked = columns ? Object.fromEntries(columns.map((column) => [column, all[column] ?? null])) : all;
    return { '@odata.etag': `W/"${note.version}"`, ...picked, annotationid: note.annotationid };
  };

  /** `(guid)` or `(<alternate key>='value')` → the phone call's id (or null when it does not exist) and how to create it. */
  const phoneCallAddress = (address: string): { id: string | null; newId: string; keyValue?: string } => {
    if (GUID.test(address)) {
      const id = address.toLowerCase();
      return { id: phoneCalls.has(id) ? id : null, newId: id };
    }
    const match = /^([a-z_][a-z0-9_]*)='((?:[^']|'')*)'$/.exec(address);
    if (!match) throw new ApiError(400, '0x80060888', `Bad Request - Error in query syntax: '${address}' is not a key.`);
    const [, column, quoted] = match as unknown as [string, string, string];
    if (column !== options.alternateKey) throw new ApiError(400, '0x80060888', `The key attribute '${column}' is not defined as an alternate key for entity phonecall.`);
    const value = quoted.replace(/''/g, "'");
    if (KEY_BREAKERS.test(value)) throw new ApiError(400, '0x80060888', `The alternate key value '${value}' contains a character that cannot be used in a URL.`);
    const existing = [...phoneCalls.values()].find((call) => call.columns[column] === value);
    return { id: existing?.activityid ?? null, newId: randomUUID(), keyValue: value };
  };

  const upsertPhoneCall = (req: IncomingMessage, address: string, body: Json, query: URLSearchParams): { status: number; body?: Json; id: string } => {
    const { id, newId, keyValue } = phoneCallAddress(address);
    const existing = id ? phoneCalls.get(id) : undefined;
    conditions(req, existing?.version, 'phonecall', id ?? newId);
    const columns = select(query, new Set(['activityid', 'statecode', 'statuscode', '_regardingobjectid_value', ...Object.keys(PHONECALL_COLUMNS), ...customColumns]), 'phonecall');
    if ('statecode' in body || 'statuscode' in body) {
      throw new ApiError(400, '0x80040203', existing ? 'Use SetState or a statecode update without other columns to close an activity.' : 'statecode is not valid on create.');
    }
    const writable = { ...body };
    let regarding: string | null | undefined;
    for (const name of Object.keys(writable).filter((key) => key.endsWith('@odata.bind'))) {
      if (name !== 'regardingobjectid_contact@odata.bind') throw new ApiError(400, '0x80048d19', `An undeclared property '${name.split('@')[0]}' was found in the payload.`);
      const contactId = /^\/?contacts\(([^)]+)\)$/.exec(String(writable[name]))?.[1]?.toLowerCase();
      if (!contactId || !contacts.has(contactId)) throw notFoundRow('contact', String(contactId));
      regarding = contactId;
      delete writable[name];
    }
    checkColumns(writable, PHONECALL_COLUMNS, 'phonecall', customColumns);
    if (existing) {
      if (existing.statecode !== 0) throw new ApiError(400, '0x80043b1c', 'This phonecall is closed (completed or canceled) and cannot be edited.');
      if (keyValue !== undefined) delete writable[options.alternateKey!];
      Object.assign(existing.columns, writable);
      if (regarding !== undefined) existing.regardingContactId = regarding;
      existing.version += 1;
    } else {
      // On create, a key column in the body wins over the URL's value.
      const columnsOnCreate = keyValue !== undefined ? { [options.alternateKey!]: keyValue, ...writable } : writable;
      phoneCalls.set(newId, { activityid: newId, columns: columnsOnCreate, statecode: 0, statuscode: 1, regardingContactId: regarding ?? null, version: 1 });
    }
    wrote();
    const call = phoneCalls.get(id ?? newId)!;
    const representation = /return=representation/.test(String(req.headers.prefer ?? ''));
    return representation ? { status: existing ? 200 : 201, body: rowOfPhoneCall(call, columns), id: call.activityid } : { status: 204, id: call.activityid };
  };

  const storeFile = async (base64: string): Promise<{ path: string; size: number; sha256: string }> => {
    if (!isBase64(base64)) throw payloadError('documentbody is not a valid Base64 string.');
    if (base64.length > maxUpload) throw tooBig();
    const bytes = Buffer.from(base64, 'base64');
    const file = path.join(dir, `${randomUUID()}.file`);
    await writeFile(file, bytes);
    return { path: file, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  };

  const noteFields = (body: Json, allowDocument: boolean): Json => {
    const fields = { ...body };
    delete fields['objectid_phonecall@odata.bind'];
    delete fields.annotationid;
    delete fields['@odata.type'];
    if (!allowDocument && 'documentbody' in fields) throw payloadError('documentbody cannot be set with the block upload messages.');
    const { documentbody: _document, isdocument: _isdocument, ...columns } = fields;
    checkColumns(columns, ANNOTATION_COLUMNS, 'annotation', new Set());
    return fields;
  };

  const putAnnotation = async (id: string, body: Json, file: FakeAnnotation['file'] | undefined): Promise<boolean> => {
    const objectId = boundPhoneCall(body);
    const fields = noteFields(body, file === undefined);
    const existing = annotations.get(id);
    if (!existing && !objectId) throw payloadError('A note must be bound to its record (objectid_<table>@odata.bind).');
    let nextFile = file === undefined ? existing?.file ?? null : file;
    if (file === undefined && 'documentbody' in fields) nextFile = typeof fields.documentbody === 'string' ? await storeFile(fields.documentbody) : null;
    if (existing?.file && existing.file !== nextFile) void unlink(existing.file.path).catch(() => {});
    const pick = (name: keyof typeof ANNOTATION_COLUMNS) => (name in fields ? (fields[name] as string | null) : (existing?.[name as 'subject'] ?? null));
    annotations.set(id, {
      annotationid: id,
      subject: pick('subject'),
      notetext: pick('notetext'),
      filename: pick('filename'),
      mimetype: pick('mimetype'),
      objectId: objectId ?? existing!.objectId,
      file: nextFile,
      version: (existing?.version ?? 0) + 1,
    });
    wrote();
    return existing !== undefined;
  };

  const annotationTarget = (body: Json): { target: Json; id: string } => {
    const target = body.Target;
    if (!target || typeof target !== 'object' || Array.isArray(target)) throw payloadError('Target is required.');
    const typed = target as Json;
    if (typed['@odata.type'] !== 'Microsoft.Dynamics.CRM.annotation') throw payloadError("Target must have '@odata.type': 'Microsoft.Dynamics.CRM.annotation'.");
    const id = typed.annotationid;
    if (typeof id !== 'string' || !GUID.test(id)) throw new ApiError(400, '0x80040203', 'The annotation passed as Target must have an annotationid value.');
    return { target: typed, id: id.toLowerCase() };
  };

  const commit = async (body: Json): Promise<Json> => {
    const session = uploads.get(String(body.FileContinuationToken));
    if (!session) throw new ApiError(400, '0x80040203', 'Invalid FileContinuationToken.');
    const { target, id } = annotationTarget(body);
    if (id !== session.annotationid) throw new ApiError(400, '0x80040203', 'The Target does not match the initialized upload.');
    const list = body.BlockList;
    if (!Array.isArray(list) || list.length === 0 || !list.every((blockId) => typeof blockId === 'string' && session.blocks.has(blockId))) {
      throw new ApiError(400, '0x80040203', 'BlockList names a block that was not uploaded.');
    }
    uploads.delete(String(body.FileContinuationToken));
    const file = path.join(dir, `${randomUUID()}.file`);
    const hash = createHash('sha256');
    let size = 0;
    const out = createWriteStream(file);
    for (const blockId of list as string[]) {
      const block = session.blocks.get(blockId)!;
      await pipeline(createReadStream(block.path), new Transform({ transform(chunk: Buffer, _e, done) { hash.update(chunk); size += chunk.length; done(null, chunk); } }), out, { end: false });
    }
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
    await Promise.all([...session.blocks.values()].map((block) => unlink(block.path).catch(() => {})));
    if (4 * Math.ceil(size / 3) > maxUpload) {
      await unlink(file).catch(() => {});
      throw tooBig();
    }
    await putAnnotation(id, target, { path: file, size, sha256: hash.digest('hex') });
    return { '@odata.context': `${orgUrl}/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.CommitAnnotationBlocksUploadResponse`, AnnotationId: id, FileSizeInBytes: size };
  };

  const uploadBlock = async (body: Json): Promise<void> => {
    const session = uploads.get(String(body.FileContinuationToken));
    if (!session) throw new ApiError(400, '0x80040203', 'Invalid FileContinuationToken.');
    const { BlockId: blockId, BlockData: data } = body;
    if (typeof blockId !== 'string' || !isBase64(blockId) || Buffer.from(blockId, 'base64').length > 64) {
      throw new ApiError(400, '0x80040203', 'BlockId must be a Base64 string of at most 64 bytes before encoding.');
    }
    const first = session.blocks.keys().next().value;
    if (first !== undefined && first.length !== blockId.length) throw new ApiError(400, '0x80040203', 'All BlockId values of one file must have the same length.');
    if (typeof data !== 'string' || !isBase64(data)) throw payloadError('BlockData is not a valid Base64 string.');
    const bytes = Buffer.from(data, 'base64');
    if (bytes.length > BLOCK_CAP) throw new ApiError(400, '0x80040203', 'BlockData must be 4 MB or less.');
    const file = path.join(dir, `${randomUUID()}.block`);
    await writeFile(file, bytes);
    session.blocks.set(blockId, { path: file, size: bytes.length });
  };

  const api = async (req: IncomingMessage, res: ServerResponse, route: string, query: URLSearchParams): Promise<void> => {
    checkRequest(req);
    const method = req.method ?? 'GET';
    const body = method === 'PATCH' || method === 'POST' ? await readJson(req) : {};
    const json = (status: number, value: Json, headers: Record<string, string> = {}) => send(res, status, value, headers);
    const entityId = (set: string, id: string) => ({ 'odata-entityid': `${orgUrl}/api/data/v9.2/${set}(${id})` });
    const onlyMethods = (...allowed: string[]) => {
      if (!allowed.includes(method)) throw new ApiError(405, '0x80060888', `The requested resource does not support http method '${method}'.`);
    };

    let match: RegExpExecArray | null;
    if (route === 'organizations') {
      onlyMethods('GET');
      const columns = select(query, new Set(['organizationid', 'maxuploadfilesize', 'name']), 'organization');
      const row: Json = { organizationid: '0f4a1c3e-2d5b-4e6f-8a7b-9c0d1e2f3a4b', maxuploadfilesize: maxUpload, name: 'fake' };
      return json(200, { '@odata.context': `${orgUrl}/api/data/v9.2/$metadata#organizations`, value: [columns ? Object.fromEntries(['organizationid', ...columns].map((c) => [c, row[c]])) : row] });
    }
    if (route === 'contacts') {
      onlyMethods('GET');
      const columns = select(query, new Set(['contactid', 'fullname', 'telephone1', 'mobilephone']), 'contact');
      const found = [...contacts.values()].filter(contactFilter(query.get('$filter')));
      const top = Number(query.get('$top') ?? 5000);
      const rows = found.slice(0, top).map((contact) => (columns ? Object.fromEntries(['contactid', ...columns].map((c) => [c, contact[c as keyof FakeContact] ?? null])) : contact));
      return json(200, { '@odata.context': `${orgUrl}/api/data/v9.2/$metadata#contacts`, value: rows });
    }
    if ((match = /^phonecalls\((.+)\)$/.exec(route))) {
      onlyMethods('GET', 'PATCH');
      if (method === 'GET') {
        const { id } = phoneCallAddress(match[1]!);
        const columns = select(query, new Set(['activityid', 'statecode', 'statuscode', '_regardingobjectid_value', ...Object.keys(PHONECALL_COLUMNS), ...customColumns]), 'phonecall');
        if (!id) throw notFoundRow('phonecall', match[1]!);
        return json(200, rowOfPhoneCall(phoneCalls.get(id)!, columns));
      }
      const result = upsertPhoneCall(req, match[1]!, body, query);
      if (result.body) return json(result.status, result.body, { etag: String(result.body['@odata.etag']), ...entityId('phonecalls', result.id) });
      return json(204, {}, entityId('phonecalls', result.id));
    }
    if ((match = /^annotations\(([^)]+)\)\/documentbody\/\$value$/.exec(route))) {
      onlyMethods('GET');
      const note = annotations.get(match[1]!.toLowerCase());
      if (!note) throw notFoundRow('annotation', match[1]!);
      if (!note.file) return json(204, {});
      res.writeHead(200, { 'content-type': 'text/plain', 'odata-version': '4.0' });
      await pipeline(createReadStream(note.file.path), new Base64Encoder(), res);
      return;
    }
    if ((match = /^annotations\(([^)]+)\)$/.exec(route))) {
      onlyMethods('GET', 'PATCH', 'DELETE');
      const id = match[1]!.toLowerCase();
      if (!GUID.test(id)) throw new ApiError(400, '0x80060888', `Bad Request - Error in query syntax: '${id}' is not a Guid.`);
      const note = annotations.get(id);
      if (method === 'GET') {
        const columns = select(query, new Set(['annotationid', 'subject', 'notetext', 'filename', 'mimetype', 'isdocument', 'filesize', '_objectid_value']), 'annotation');
        if (!note) throw notFoundRow('annotation', id);
        return json(200, rowOfAnnotation(note, columns));
      }
      if (method === 'DELETE') {
        if (!note) throw notFoundRow('annotation', id);
        annotations.delete(id);
        if (note.file) await unlink(note.file.path).catch(() => {});
        return json(204, {});
      }
      conditions(req, note?.version, 'annotation', id);
      const updated = await putAnnotation(id, body, undefined);
      if (/return=representation/.test(String(req.headers.prefer ?? ''))) return json(updated ? 200 : 201, rowOfAnnotation(annotations.get(id)!, null));
      return json(204, {}, entityId('annotations', id));
    }
    if (route === 'InitializeAnnotationBlocksUpload') {
      onlyMethods('POST');
      const { target, id } = annotationTarget(body);
      if (!annotations.has(id) && boundPhoneCall(target) === undefined) throw payloadError('A note must be bound to its record (objectid_<table>@odata.bind).');
      boundPhoneCall(target);
      noteFields(target, false);
      const continuation = randomBytes(32).toString('base64');
      uploads.set(continuation, { target, annotationid: id, blocks: new Map() });
      return json(200, { '@odata.context': `${orgUrl}/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.InitializeAnnotationBlocksUploadResponse`, FileContinuationToken: continuation });
    }
    if (route === 'UploadBlock') {
      onlyMethods('POST');
      await uploadBlock(body);
      return json(204, {});
    }
    if (route === 'CommitAnnotationBlocksUpload') {
      onlyMethods('POST');
      return json(200, await commit(body));
    }
    throw new ApiError(404, '0x8006088a', `Resource not found for the segment '${route.split(/[(/]/)[0]}'.`);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const entry: CrmLogEntry = { at: Date.now(), method: req.method ?? 'GET', path: url.pathname, status: 0 };
    requests.push({ method: entry.method, path: `${url.pathname}${url.search}`, headers: req.headers });
    res.on('finish', () => {
      entry.status = res.statusCode;
      const retryAfter = res.getHeader('retry-after');
      if (retryAfter !== undefined) entry.retryAfterMs = Number(retryAfter) * 1000;
      log.push(entry);
    });
    const tokenPath = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
    if (tokenPath) {
      entry.token = true;
      void readText(req, 1024 * 1024).then(
        (text) => {
          if (req.method !== 'POST' || !String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
            send(res, 400, { error: 'invalid_request', error_description: "AADSTS900144: The request body must contain the following parameter: 'grant_type'.", error_codes: [900144] });
            return;
          }
          const answer = token(new URLSearchParams(text), decodeURIComponent(tokenPath[1]!));
          send(res, answer.status, answer.body);
        },
        () => res.destroy(),
      );
      return;
    }
    const apiPath = /^\/api\/data\/v9\.[0-2]\/(.+)$/.exec(url.pathname);
    if (!apiPath) {
      req.resume();
      send(res, 404, { error: { code: '0x8006088a', message: `Resource not found for the segment '${url.pathname.split('/')[1] ?? ''}'.` } });
      return;
    }
    api(req, res, decodeURIComponent(apiPath[1]!), url.searchParams).catch((error: unknown) => {
      if (error instanceof BodyCutOff) return; // the client went away mid-body: nothing was applied
      if (res.headersSent) {
        res.destroy();
        return;
      }
      req.resume();
      if (error instanceof ApiError) {
        if (error.status === 401) {
          for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
          res.writeHead(401).end();
          return;
        }
        send(res, error.status, { error: { code: error.code, message: error.message } }, error.headers);
        return;
      }
      send(res, 500, { error: { code: '0x80040216', message: `An unexpected error occurred: ${(error as Error).message}` } });
    });
  });
  const listening = await listenOnLoopback(server);
  const url = `http://127.0.0.1:${listening.port}`;
  orgUrl = url;
  const tokenUrl = `${url}/${TENANT}/oauth2/v2.0/token`;

  const heldRecord = (call: FakePhoneCall): CrmHeldRecord => {
    const key = options.alternateKey ? call.columns[options.alternateKey] : undefined;
    const marker = /\[zcc:engagement\/(.+)\]$/.exec(String(call.columns.description ?? ''))?.[1];
    const externalId = typeof key === 'string' ? key : marker !== undefined ? `engagement/${marker}` : call.activityid;
    const engagementId = typeof key === 'string' ? decodeRecordKey(key) : (marker ?? '');
    const notes = [...annotations.values()].filter((note) => note.objectId === call.activityid);
    const keyOf = (note: FakeAnnotation) => /\[zcc:(.+)\]\s*$/.exec(note.notetext ?? '')?.[1] ?? '';
    return {
      externalId,
      engagementId,
      id: call.activityid,
      texts: notes.filter((note) => !note.file).map((note) => ({ key: keyOf(note), text: note.notetext ?? '', id: note.annotationid })),
      files: notes
        .filter((note) => note.file)
        .map((note) => ({ key: keyOf(note), fileName: note.filename ?? '', size: note.file!.size, sha256: note.file!.sha256, id: note.annotationid })),
      // Power Pages shows a note to customers only when its text starts with *WEB*; we never write that.
      internalOnly: notes.every((note) => !(note.notetext ?? '').startsWith('*WEB*')),
    };
  };

  return {
    type: 'dynamics',
    url,
    tokenUrl,
    requests,
    editsInPlace: true,
    get fileLimitBytes() {
      return Math.floor(maxUpload / 4) * 3;
    },
    destinationConfig: (name, extra = {}) => ({
      name,
      type: 'dynamics',
      baseUrl: url,
      tokenUrl,
      ...(options.alternateKey ? { alternateKey: options.alternateKey } : {}),
      ...extra,
    }),
    env: () => ({ DYNAMICS_TENANT_ID: TENANT, DYNAMICS_CLIENT_ID: CLIENT_ID, DYNAMICS_CLIENT_SECRET: CLIENT_SECRET }),
    badEnv: () => ({ DYNAMICS_TENANT_ID: TENANT, DYNAMICS_CLIENT_ID: CLIENT_ID, DYNAMICS_CLIENT_SECRET: 'not-the-secret' }),
    records: () => [...phoneCalls.values()].map(heldRecord),
    phoneCalls: () => [...phoneCalls.values()],
    annotations: () => [...annotations.values()],
    log: () => [...log],
    faults: {
      rateLimitStorm: (count) => {
        storm += count;
      },
      dailyLimit: (on) => {
        dailyLimit = on;
      },
      expireTokens: () => {
        for (const issued of tokens.values()) issued.revoked = true;
      },
    },
    onWrite: (listener) => {
      listeners.push(listener);
    },
    addContact: (contact) => {
      const contactid = randomUUID();
      contacts.set(contactid, { contactid, ...contact });
      return contactid;
    },
    completePhoneCall: (activityid) => {
      const call = phoneCalls.get(activityid.toLowerCase());
      if (!call) throw new Error(`no phone call ${activityid}`);
      call.statecode = 1;
      call.statuscode = 2;
    },
    setMaxUploadFileSize: (base64Chars) => {
      maxUpload = base64Chars;
    },
    close: async () => {
      await listening.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `$filter` of `telephone1 eq '…' or mobilephone eq '…'` (the only shape the fake understands; others are 400). */
function contactFilter(filter: string | null): (contact: FakeContact) => boolean {
  if (filter === null) return () => true;
  const terms = filter.split(' or ').map((term) => {
    const match = /^(\w+) eq '((?:[^']|'')*)'$/.exec(term.trim());
    if (!match) throw new ApiError(400, '0x80060888', `Syntax error in $filter '${filter}'.`);
    const [, column, quoted] = match as unknown as [string, string, string];
    if (!['telephone1', 'mobilephone', 'fullname'].includes(column)) throw unknownProperty(column, 'contact');
    return { column: column as keyof FakeContact, value: quoted.replace(/''/g, "'") };
  });
  return (contact) => terms.some((term) => contact[term.column] === term.value);
}

function decodeRecordKey(value: string): string {
  return value.replace(/^zcc-/, '').replace(/~([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

class BodyCutOff extends Error {}

function readText(req: IncomingMessage, cap: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let complete = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > cap) {
        reject(new ApiError(413, '', 'Request Entity Too Large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      complete = true;
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('close', () => {
      if (!complete) reject(new BodyCutOff('the request body was cut off'));
    });
    req.on('error', () => reject(new BodyCutOff('the request body was cut off')));
  });
}

async function readJson(req: IncomingMessage): Promise<Json> {
  if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
    req.resume();
    throw new ApiError(415, '0x80048d19', 'The request must have Content-Type: application/json.');
  }
  const text = await readText(req, BODY_CAP);
  try {
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as Json;
  } catch (error) {
    throw payloadError(`Microsoft.OData.ODataException: Invalid JSON. ${(error as Error).message}`);
  }
}

function send(res: ServerResponse, status: number, body: Json, headers: Record<string, string> = {}): void {
  // setHeader (not writeHead's argument), so the log can read Retry-After back.
  for (const [name, value] of Object.entries({ 'odata-version': '4.0', ...headers })) res.setHeader(name, value);
  if (status === 204) {
    res.writeHead(204).end();
    return;
  }
  const text = JSON.stringify(body);
  res.setHeader('content-type', 'application/json; odata.metadata=minimal');
  res.setHeader('content-length', String(Buffer.byteLength(text)));
  res.writeHead(status).end(text);
}

/** bytes → base64 text as they stream (3 bytes at a time). */
class Base64Encoder extends Transform {
  private carry = Buffer.alloc(0);

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const joined = Buffer.concat([this.carry, chunk]);
    const usable = joined.length - (joined.length % 3);
    this.carry = joined.subarray(usable);
    callback(null, joined.subarray(0, usable).toString('base64'));
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.carry.length > 0 ? this.carry.toString('base64') : undefined);
  }
}

/** The fake's secrets and addresses for a fake started elsewhere (a child process) on `port`. */
export function dynamicsFakeAccess(port: number): { config: Record<string, unknown>; env: Record<string, string> } {
  const url = `http://127.0.0.1:${port}`;
  return {
    config: { type: 'dynamics', baseUrl: url, tokenUrl: `${url}/${TENANT}/oauth2/v2.0/token` },
    env: { DYNAMICS_TENANT_ID: TENANT, DYNAMICS_CLIENT_ID: CLIENT_ID, DYNAMICS_CLIENT_SECRET: CLIENT_SECRET },
  };
}
