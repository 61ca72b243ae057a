// A strict Salesforce org on loopback: the OAuth token endpoint (form bodies only; client_credentials and JWT bearer
// assertions verified against the connected app's certificate; answers without expires_in), and REST API
// /services/data/vNN.N with Bearer sessions: Task upsert by external id (201 / 200 created:false, 204 before v46, 300
// on several matches), Task by id, SOQL for Contact/Task/ContentVersion, ContentVersion inserts as JSON base64 (37.5 MB
// cap) or multipart `entity_content` + `VersionData` (streamed to disk, hashed, size-capped, partial uploads
// discarded), VersionData downloads and ContentDocument deletes. Errors are JSON arrays of {message, errorCode,
// fields}; every API answer carries Sforce-Limit-Info. Faults: the daily allocation (403 REQUEST_LIMIT_EXCEEDED),
// overload (503 SERVER_UNAVAILABLE with Retry-After) and expired sessions (401 INVALID_SESSION_ID).
import { createHash, createVerify, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from '../loopback.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import busboy from 'busboy';
import type { CrmFakeView, CrmHeldFile, CrmHeldRecord, CrmHeldText, CrmLogEntry } from './view.js';

export interface SalesforceFakeOptions {
  /** The auth the destination config asks for (default client-credentials). */
  auth?: 'client-credentials' | 'jwt';
  clientId?: string;
  clientSecret?: string;
  username?: string;
  /** The certificate's public key JWT assertions are checked with; without it the fake makes a key pair. */
  jwtPublicKey?: KeyObject;
  /** The `aud` a JWT must carry (default https://login.salesforce.com). */
  audience?: string;
  /** ContentVersion size cap in bytes (default 2 GB). */
  fileLimitBytes?: number;
  /** The External ID + Unique field on Task (default ZCC_Key__c). */
  keyField?: string;
  /** The org's daily API allocation shown in Sforce-Limit-Info (default 100,000). */
  apiAllocation?: number;
}

export interface TaskRow extends Record<string, unknown> {
  Id: string;
}

export interface VersionRow {
  Id: string;
  ContentDocumentId: string;
  Title: string;
  PathOnClient: string;
  FirstPublishLocationId: string | null;
  ContentSize: number;
  IsLatest: boolean;
  CreatedDate: string;
  sha256: string;
  file: string;
  serial: number;
  /** How the bytes came: base64 in JSON or a multipart part. */
  uploadedAs: 'json' | 'multipart';
}

export interface SalesforceFake extends CrmFakeView {
  readonly url: string;
  faults: CrmFakeView['faults'] & {
    /** The next `times` requests of `method` whose path includes `pathIncludes` act, then answer 502 (a gateway lost the answer). */
    gatewayErrorAfterWrite(method: string, pathIncludes: string, times?: number): void;
  };
  readonly keyField: string;
  /** The private key of the fake's own certificate (when no jwtPublicKey was given), PEM. */
  readonly privateKeyPem: string | null;
  tasks(): TaskRow[];
  versions(): VersionRow[];
  /** A Contact a phone number can find; returns its Id. */
  seedContact(fields: { LastName: string; Phone?: string; MobilePhone?: string }): string;
  /** A Task put in place directly (e.g. two with one key, as a non-unique field allows); returns its Id. */
  seedTask(fields: Record<string, unknown>): string;
  /** Token requests in order, with their grant and answer. */
  tokenRequests(): { grant: string; status: number }[];
}

type FieldType = 'string' | 'textarea' | 'picklist' | 'date' | 'int' | 'boolean' | 'reference';

interface FieldSpec {
  type: FieldType;
  max?: number;
  values?: readonly string[];
  restricted?: boolean;
  createOnly?: boolean;
  label?: string;
}

interface SalesforceErrorBody {
  message: string;
  errorCode: string;
  fields?: string[];
}

class SalesforceFailure extends Error {
  constructor(
    readonly status: number,
    readonly errors: SalesforceErrorBody[],
    readonly headers: Record<string, string> = {},
  ) {
    super(errors[0]?.message ?? String(status));
  }
}

const fail = (status: number, errorCode: string, message: string, fields?: string[]) =>
  new SalesforceFailure(status, [{ message, errorCode, ...(fields ? { fields } : {}) }]);

const notFound = (message = 'The requested resource does not exist') => fail(404, 'NOT_FOUND', message);

const TASK_FIELDS: Record<string, FieldSpec> = {
  Subject: { type: 'string', max: 255 },
  Description: { type: 'textarea', max: 32_000, label: 'Comments' },
  Status: { type: 'picklist', max: 40, values: ['Not Started', 'In Progress', 'Completed', 'Waiting on someone else', 'Deferred'] },
  Priority: { type: 'picklist', max: 40, values: ['High', 'Normal', 'Low'] },
  ActivityDate: { type: 'date' },
  WhoId: { type: 'reference' },
  CallType: { type: 'picklist', max: 40, values: ['Inbound', 'Outbound', 'Internal'], restricted: true },
  CallDurationInSeconds: { type: 'int' },
  CallDisposition: { type: 'string', max: 255 },
  CallObject: { type: 'string', max: 255 },
  TaskSubtype: { type: 'picklist', values: ['Task', 'Email', 'ListEmail', 'Cadence', 'Call', 'LinkedIn'], restricted: true, createOnly: true },
  IsVisibleInSelfService: { type: 'boolean' },
};
const TASK_READ_ONLY = ['Id', 'CreatedDate', 'IsClosed'];
const CONTACT_FIELDS = ['Id', 'LastName', 'Phone', 'MobilePhone', 'AccountId'];
const VERSION_FIELDS = ['Id', 'ContentDocumentId', 'Title', 'PathOnClient', 'FirstPublishLocationId', 'ContentSize', 'IsLatest', 'CreatedDate'];
const VERSION_WRITABLE = new Set(['Title', 'PathOnClient', 'FirstPublishLocationId', 'Description', 'ReasonForChange', 'ContentLocation']);
/** Non-multipart blob inserts: 50 MB of text, 37.5 MB of base64. */
const JSON_BODY_LIMIT = 50 * 1024 * 1024;
const BASE64_LIMIT = 37.5 * 1024 * 1024;
const ID_SHAPE = /^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$/;
const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export async function startSalesforceFake(options: SalesforceFakeOptions = {}): Promise<SalesforceFake> {
  const auth = options.auth ?? 'client-credentials';
  const clientId = options.clientId ?? '3MVG9fake.consumer.key';
  const clientSecret = options.clientSecret ?? 'fake-consumer-secret';
  const username = options.username ?? 'integration@zcc.example.com';
  const audience = options.audience ?? 'https://login.salesforce.com';
  const fileLimitBytes = options.fileLimitBytes ?? 2 * 1024 * 1024 * 1024;
  const keyField = options.keyField ?? 'ZCC_Key__c';
  const allocation = options.apiAllocation ?? 100_000;
  // The fake's own certificate, only when JWT is asked for and the test brought no key of its own.
  const ownPair = auth === 'jwt' && !options.jwtPublicKey ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : null;
  const publicKey = options.jwtPublicKey ?? ownPair?.publicKey ?? null;
  const privateKeyPem = ownPair ? ownPair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() : null;

  const dir = await mkdtemp(path.join(tmpdir(), 'zcc-salesforce-'));
  const sessions = new Set<string>();
  const tasks = new Map<string, TaskRow>();
  const contacts = new Map<string, Record<string, unknown>>();
  const versions = new Map<string, VersionRow>();
  const entries: CrmLogEntry[] = [];
  const tokenLog: { grant: string; status: number }[] = [];
  const writeListeners: ((writes: number) => void)[] = [];
  let writes = 0;
  let apiUsage = 0;
  let serial = 0;
  let stormLeft = 0;
  let lostAnswers: { method: string; pathIncludes: string; times: number } | null = null;
  let dailyLimit = false;
  let baseUrl = '';

  const taskFields: Record<string, FieldSpec> = { ...TASK_FIELDS, [keyField]: { type: 'string', max: 255 } };
  const newId = (prefix: string) => `${prefix}5g00000${(serial += 1).toString(36).padStart(8, '0')}`;
  const accepted = () => {
    writes += 1;
    for (const listener of writeListeners) listener(writes);
  };

  // --- the token endpoint -----------------------------------------------------------------------------------------
  const oauthError = (error: string, description: string) => ({ status: 400, body: { error, error_description: description } });

  function verifyAssertion(assertion: string): { status: number; body: Record<string, unknown> } | null {
    const parts = assertion.split('.');
    if (parts.length !== 3) return oauthError('invalid_grant', 'invalid assertion');
    const [head, claims, signature] = parts as [string, string, string];
    let header: Record<string, unknown>;
    let payload: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as Record<string, unknown>;
      payload = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return oauthError('invalid_grant', 'invalid assertion');
    }
    if (header.alg !== 'RS256') return oauthError('invalid_grant', 'invalid assertion algorithm');
    if (!publicKey) return oauthError('invalid_grant', 'no certificate uploaded for this connected app');
    const valid = createVerify('RSA-SHA256').update(`${head}.${claims}`).verify(publicKey, Buffer.from(signature, 'base64url'));
    if (!valid) return oauthError('invalid_grant', 'invalid assertion signature');
    if (payload.iss !== clientId) return oauthError('invalid_client_id', 'client identifier invalid');
    if (payload.aud !== audience) return oauthError('invalid_grant', 'audience is invalid');
    if (payload.sub !== username) return oauthError('invalid_grant', 'user hasn\'t approved this consumer');
    const now = Date.now() / 1000;
    if (typeof payload.exp !== 'number' || payload.exp < now) return oauthError('invalid_grant', 'expired authorization code');
    if (payload.exp > now + 300) return oauthError('invalid_grant', 'assertion expiry too far in the future');
    return null;
  }

  async function handleToken(req: IncomingMessage, res: ServerResponse, entry: CrmLogEntry): Promise<void> {
    entry.token = true;
    const raw = (await readBody(req, 64 * 1024)).toString('utf8');
    const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    let answer: { status: number; body: Record<string, unknown> };
    const form = new URLSearchParams(raw);
    const grant = form.get('grant_type') ?? '';
    if (req.method !== 'POST' || type !== 'application/x-www-form-urlencoded') {
      answer = oauthError('invalid_request', 'must use HTTP POST with application/x-www-form-urlencoded');
    } else if (grant === 'client_credentials') {
      if (form.get('client_id') !== clientId) answer = oauthError('invalid_client_id', 'client identifier invalid');
      else if (form.get('client_secret') !== clientSecret) answer = oauthError('invalid_client', 'invalid client credentials');
      else answer = { status: 200, body: issueToken() };
    } else if (grant === JWT_GRANT) {
      answer = verifyAssertion(form.get('assertion') ?? '') ?? { status: 200, body: issueToken() };
    } else {
      answer = oauthError('unsupported_grant_type', 'grant type not supported');
    }
    tokenLog.push({ grant, status: answer.status });
    sendJson(res, entry, answer.status, answer.body);
  }

  function issueToken(): Record<string, unknown> {
    const token = `00D5g000000ORGID!${randomBytes(24).toString('base64url')}`;
    sessions.add(token);
    return {
      access_token: token,
      instance_url: baseUrl,
      id: `${baseUrl}/id/00D5g000000ORGIDEAA/0055g000001USERAAA`,
      token_type: 'Bearer',
      issued_at: String(Date.now()),
      signature: randomBytes(32).toString('base64'),
      scope: 'api',
    };
  }

  // --- the REST API -----------------------------------------------------------------------------------------------
  function limitHeaders(): Record<string, string> {
    return { 'sforce-limit-info': `api-usage=${apiUsage}/${allocation}` };
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, entry: CrmLogEntry, url: URL): Promise<void> {
    apiUsage += 1;
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    if (!bearer || !sessions.has(bearer)) throw fail(401, 'INVALID_SESSION_ID', 'Session expired or invalid');
    if (dailyLimit) throw fail(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.');
    if (stormLeft > 0) {
      stormLeft -= 1;
      entry.retryAfterMs = 1000;
      throw new SalesforceFailure(503, [{ message: 'Server temporarily unavailable.', errorCode: 'SERVER_UNAVAILABLE' }], { 'retry-after': '1' });
    }
    const match = /^\/services\/data\/v(\d{2,3})\.(\d)(\/.*)?$/.exec(url.pathname);
    const version = match ? Number(`${match[1]}.${match[2]}`) : 0;
    if (!match || version < 20 || version > 64) throw notFound();
    const segments = (match[3] ?? '/').split('/').slice(1).map((segment) => decodeURIComponent(segment));
    const method = req.method ?? 'GET';
    const [resource, object, idOrField, value, blob] = segments;
    if (resource === 'query' && segments.length === 1) {
      allow(method, ['GET']);
      return sendJson(res, entry, 200, runQuery(url.searchParams.get('q') ?? '', version));
    }
    if (resource !== 'sobjects' || !object) throw notFound();
    if (object === 'Task') {
      if (idOrField === undefined) throw fail(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${method}' not allowed. Allowed are HEAD,GET,POST`);
      if (value !== undefined && segments.length === 4) return taskByExternalId(req, res, entry, idOrField, value, version, url);
      if (segments.length === 3) return taskById(req, res, entry, idOrField, url);
      throw notFound();
    }
    if (object === 'ContentVersion') {
      if (idOrField === undefined) {
        allow(method, ['POST']);
        const row = await insertVersion(req);
        return sendJson(res, entry, 201, { id: row.Id, success: true, errors: [] });
      }
      const row = versions.get(idOrField);
      if (!row) throw notFound();
      allow(method, ['GET']);
      if (segments.length === 3) return sendJson(res, entry, 200, select('ContentVersion', versionRecord(row), url.searchParams.get('fields'), VERSION_FIELDS, version));
      if (segments.length === 4 && value === 'VersionData' && blob === undefined) return sendFile(res, entry, row);
      throw notFound();
    }
    if (object === 'ContentDocument' && idOrField !== undefined && segments.length === 3) {
      allow(method, ['DELETE']);
      const own = [...versions.values()].filter((row) => row.ContentDocumentId === idOrField);
      if (own.length === 0) throw fail(404, 'ENTITY_IS_DELETED', 'entity is deleted');
      for (const row of own) {
        versions.delete(row.Id);
        void unlink(row.file).catch(() => {});
      }
      accepted();
      return sendEmpty(res, entry, 204);
    }
    if (object === 'Contact') throw fail(405, 'METHOD_NOT_ALLOWED', 'this fake serves Contact through SOQL only');
    throw notFound(`The requested resource does not exist`);
  }

  function taskByExternalId(req: IncomingMessage, res: ServerResponse, entry: CrmLogEntry, field: string, value: string, version: number, url: URL): Promise<void> | void {
    if (field !== keyField) throw notFound(`Provided external ID field does not exist or is not accessible: ${field}`);
    const matches = [...tasks.values()].filter((task) => task[keyField] === value);
    if (matches.length > 1) {
      return sendJson(res, entry, 300, matches.map((task) => `/services/data/v${version.toFixed(1)}/sobjects/Task/${task.Id}`));
    }
    const method = req.method ?? 'GET';
    allow(method, ['GET', 'PATCH', 'DELETE']);
    if (method === 'GET') {
      if (!matches[0]) throw notFound();
      return sendJson(res, entry, 200, select('Task', matches[0], url.searchParams.get('fields'), taskColumns(), version));
    }
    if (method === 'DELETE') {
      if (!matches[0]) throw notFound();
      tasks.delete(matches[0].Id);
      accepted();
      return sendEmpty(res, entry, 204);
    }
    return readJson(req).then((body) => {
      if (value.length > 255) throw fail(400, 'STRING_TOO_LONG', `${keyField}: data value too large: ${value.slice(0, 40)}... (max length=255)`, [keyField]);
      if ('Id' in body || keyField in body) {
        throw fail(400, 'INVALID_FIELD', `The external ID field or Id cannot be specified in the request body of an upsert: ${'Id' in body ? 'Id' : keyField}`);
      }
      const existing = matches[0];
      if (!existing) {
        if (url.searchParams.get('updateOnly') === 'true') throw notFound();
        const task = createTask({ ...body, [keyField]: value });
        accepted();
        return sendJson(res, entry, 201, { id: task.Id, success: true, errors: [], ...(version >= 46 ? { created: true } : {}) });
      }
      updateTask(existing, body);
      accepted();
      if (version < 46) return sendEmpty(res, entry, 204);
      return sendJson(res, entry, 200, { id: existing.Id, success: true, errors: [], created: false });
    });
  }

  function taskById(req: IncomingMessage, res: ServerResponse, entry: CrmLogEntry, id: string, url: URL): Promise<void> | void {
    if (!ID_SHAPE.test(id)) throw notFound(`Provided external ID field does not exist or is not accessible: ${id}`);
    const task = tasks.get(id);
    if (!task) throw notFound();
    const method = req.method ?? 'GET';
    allow(method, ['GET', 'PATCH', 'DELETE']);
    if (method === 'GET') return sendJson(res, entry, 200, select('Task', task, url.searchParams.get('fields'), taskColumns(), 62));
    if (method === 'DELETE') {
      tasks.delete(id);
      accepted();
      return sendEmpty(res, entry, 204);
    }
    return readJson(req).then((body) => {
      if ('Id' in body) throw fail(400, 'INVALID_FIELD_FOR_INSERT_UPDATE', 'Unable to create/update fields: Id.', ['Id']);
      updateTask(task, body);
      accepted();
      sendEmpty(res, entry, 204);
    });
  }

  function taskColumns(): string[] {
    return [...TASK_READ_ONLY, ...Object.keys(taskFields)];
  }

  function checkTaskFields(body: Record<string, unknown>, creating: boolean): void {
    for (const [name, value] of Object.entries(body)) {
      const spec = taskFields[name];
      if (!spec) {
        if (TASK_READ_ONLY.includes(name)) throw fail(400, 'INVALID_FIELD_FOR_INSERT_UPDATE', `Unable to create/update fields: ${name}.`, [name]);
        throw fail(400, 'INVALID_FIELD', `No such column '${name}' on sobject of type Task`);
      }
      if (spec.createOnly && !creating) {
        throw fail(400, 'INVALID_FIELD_FOR_INSERT_UPDATE', `Unable to create/update fields: ${name}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`, [name]);
      }
      checkValue(name, spec, value);
    }
    if (creating && (body.Status === undefined || body.Status === null || body.Status === '')) {
      throw fail(400, 'REQUIRED_FIELD_MISSING', 'Required fields are missing: [Status]', ['Status']);
    }
  }

  function checkValue(name: string, spec: FieldSpec, value: unknown): void {
    if (value === null) return;
    const wrongType = () => fail(400, 'JSON_PARSER_ERROR', `Cannot deserialize instance of ${spec.type} from ${typeof value} value ${JSON.stringify(value)?.slice(0, 40)} or request may be missing a required field`);
    switch (spec.type) {
      case 'int':
        if (typeof value !== 'number' || !Number.isInteger(value)) throw wrongType();
        return;
      case 'boolean':
        if (typeof value !== 'boolean') throw wrongType();
        return;
      case 'date':
        if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(value))) throw wrongType();
        return;
      case 'reference':
        if (typeof value !== 'string') throw wrongType();
        if (!ID_SHAPE.test(value)) throw fail(400, 'MALFORMED_ID', `${name}: id value of incorrect type: ${value}`, [name]);
        if (!contacts.has(value)) throw fail(400, 'INVALID_CROSS_REFERENCE_KEY', `${name}: invalid cross reference id`, [name]);
        return;
      default:
        if (typeof value !== 'string') throw wrongType();
        if (spec.max !== undefined && value.length > spec.max) {
          throw fail(400, 'STRING_TOO_LONG', `${spec.label ?? name}: data value too large: ${value.slice(0, 40)}... (max length=${spec.max})`, [name]);
        }
        if (spec.restricted && spec.values && !spec.values.includes(value)) {
          throw fail(400, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', `${name}: bad value for restricted picklist field: ${value}`, [name]);
        }
    }
  }

  function createTask(body: Record<string, unknown>): TaskRow {
    const { [keyField]: key, ...fields } = body;
    checkTaskFields(fields, true);
    if (typeof key === 'string' && [...tasks.values()].some((task) => task[keyField] === key)) {
      throw fail(400, 'DUPLICATE_VALUE', `duplicate value found: ${keyField} duplicates value on record with id: ${[...tasks.values()].find((task) => task[keyField] === key)!.Id}`, [keyField]);
    }
    const task: TaskRow = { Id: newId('00T'), CreatedDate: new Date().toISOString(), IsVisibleInSelfService: false, Priority: 'Normal', ...fields, [keyField]: key ?? null };
    task.IsClosed = task.Status === 'Completed';
    tasks.set(task.Id, task);
    return task;
  }

  function updateTask(task: TaskRow, body: Record<string, unknown>): void {
    checkTaskFields(body, false);
    Object.assign(task, body);
    task.IsClosed = task.Status === 'Completed';
  }

  // --- files ------------------------------------------------------------------------------------------------------
  async function insertVersion(req: IncomingMessage): Promise<VersionRow> {
    const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === 'application/json') return insertJsonVersion(req);
    if (type === 'multipart/form-data') return insertMultipartVersion(req);
    req.resume();
    throw fail(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type header specified in HTTP request is not supported: ${type || '(none)'}`);
  }

  async function insertJsonVersion(req: IncomingMessage): Promise<VersionRow> {
    const body = await readJson(req, JSON_BODY_LIMIT);
    const { VersionData: data, ...fields } = body;
    checkVersionFields(fields);
    if (typeof data !== 'string') throw fail(400, 'REQUIRED_FIELD_MISSING', 'Required fields are missing: [VersionData]', ['VersionData']);
    if (data.length > BASE64_LIMIT) throw fail(400, 'STRING_TOO_LONG', `VersionData: base64 data larger than ${BASE64_LIMIT} characters; use a multipart request`, ['VersionData']);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw fail(400, 'JSON_PARSER_ERROR', 'VersionData: not valid base64');
    const bytes = Buffer.from(data, 'base64');
    checkSize(bytes.length);
    const file = path.join(dir, `${randomBytes(8).toString('hex')}.bin`);
    await writeFile(file, bytes);
    return commitVersion(fields, file, bytes.length, createHash('sha256').update(bytes).digest('hex'), 'json');
  }

  function insertMultipartVersion(req: IncomingMessage): Promise<VersionRow> {
    return new Promise<VersionRow>((resolve, reject) => {
      let parser: busboy.Busboy;
      try {
        parser = busboy({ headers: req.headers, limits: { fileSize: fileLimitBytes + 1, files: 1, fields: 1 } });
      } catch {
        req.resume();
        reject(fail(400, 'MALFORMED_REQUEST', 'multipart body without a boundary'));
        return;
      }
      let entity: Record<string, unknown> | null = null;
      let stored: Promise<{ file: string; size: number; sha256: string }> | null = null;
      let failure: SalesforceFailure | null = null;
      let partial: string | null = null;
      const refuse = (error: SalesforceFailure) => {
        failure ??= error;
      };
      parser.on('field', (name, value) => {
        if (name !== 'entity_content') return refuse(fail(400, 'INVALID_MULTIPART_REQUEST', `unexpected part ${name}; expected entity_content`));
        try {
          entity = JSON.parse(value) as Record<string, unknown>;
        } catch {
          refuse(fail(400, 'JSON_PARSER_ERROR', 'entity_content is not JSON'));
        }
      });
      parser.on('file', (name, stream) => {
        if (name !== 'VersionData' || entity === null) {
          refuse(fail(400, 'INVALID_MULTIPART_REQUEST', name !== 'VersionData' ? `unexpected binary part ${name}; expected VersionData` : 'entity_content must come before VersionData'));
          stream.resume();
          return;
        }
        const file = path.join(dir, `${randomBytes(8).toString('hex')}.partial`);
        partial = file;
        const out = createWriteStream(file);
        const hash = createHash('sha256');
        let size = 0;
        stream.on('data', (chunk: Buffer) => {
          size += chunk.length;
          hash.update(chunk);
        });
        stream.on('limit', () => refuse(fail(400, 'FILE_SIZE_LIMIT_EXCEEDED', `file exceeds the maximum size of ${fileLimitBytes} bytes`)));
        stream.pipe(out);
        stored = new Promise((done, broken) => {
          out.on('close', () => done({ file, size, sha256: hash.digest('hex') }));
          out.on('error', broken);
        });
      });
      const discard = () => {
        if (partial) void unlink(partial).catch(() => {});
      };
      parser.on('error', () => {
        discard();
        reject(fail(400, 'INVALID_MULTIPART_REQUEST', 'the multipart body ended early or is malformed'));
      });
      req.on('close', () => {
        if (req.complete) return;
        discard();
        reject(fail(400, 'INVALID_MULTIPART_REQUEST', 'upload cut off'));
      });
      parser.on('close', () => {
        void (async () => {
          const body = await stored;
          if (failure || !body || !entity) {
            discard();
            return reject(failure ?? fail(400, 'REQUIRED_FIELD_MISSING', 'Required fields are missing: [VersionData]', ['VersionData']));
          }
          try {
            checkVersionFields(entity);
            checkSize(body.size);
            resolve(commitVersion(entity, body.file, body.size, body.sha256, 'multipart'));
          } catch (error) {
            discard();
            reject(error);
          }
        })().catch(reject);
      });
      req.pipe(parser);
    });
  }

  function checkVersionFields(fields: Record<string, unknown>): void {
    for (const [name, value] of Object.entries(fields)) {
      if (!VERSION_WRITABLE.has(name)) throw fail(400, 'INVALID_FIELD', `No such column '${name}' on sobject of type ContentVersion`);
      if (typeof value !== 'string') throw fail(400, 'JSON_PARSER_ERROR', `Cannot deserialize instance of string from ${typeof value} value for ${name}`);
    }
    if (typeof fields.PathOnClient !== 'string' || fields.PathOnClient === '') {
      throw fail(400, 'REQUIRED_FIELD_MISSING', 'Required fields are missing: [PathOnClient]', ['PathOnClient']);
    }
    if (typeof fields.Title === 'string' && fields.Title.length > 255) throw fail(400, 'STRING_TOO_LONG', 'Title: data value too large (max length=255)', ['Title']);
    const parent = fields.FirstPublishLocationId;
    if (parent !== undefined) {
      if (typeof parent !== 'string' || !ID_SHAPE.test(parent)) throw fail(400, 'MALFORMED_ID', `First Published Location: id value of incorrect type: ${String(parent)}`, ['FirstPublishLocationId']);
      if (!tasks.has(parent)) throw fail(400, 'FIELD_INTEGRITY_EXCEPTION', 'First Published Location: id value of incorrect type', ['FirstPublishLocationId']);
    }
  }

  function checkSize(size: number): void {
    if (size > fileLimitBytes) throw fail(400, 'FILE_SIZE_LIMIT_EXCEEDED', `file exceeds the maximum size of ${fileLimitBytes} bytes`);
  }

  function commitVersion(fields: Record<string, unknown>, file: string, size: number, sha256: string, uploadedAs: VersionRow['uploadedAs']): VersionRow {
    const pathOnClient = String(fields.PathOnClient);
    const row: VersionRow = {
      Id: newId('068'),
      ContentDocumentId: newId('069'),
      Title: typeof fields.Title === 'string' && fields.Title !== '' ? fields.Title : pathOnClient.replace(/\.[^.]*$/, ''),
      PathOnClient: pathOnClient,
      FirstPublishLocationId: typeof fields.FirstPublishLocationId === 'string' ? fields.FirstPublishLocationId : null,
      ContentSize: size,
      IsLatest: true,
      CreatedDate: new Date().toISOString(),
      sha256,
      file,
      serial: (serial += 1),
      uploadedAs,
    };
    versions.set(row.Id, row);
    accepted();
    return row;
  }

  function versionRecord(row: VersionRow): Record<string, unknown> {
    const { sha256: _sha, file: _file, serial: _serial, uploadedAs: _uploadedAs, ...fields } = row;
    return fields;
  }

  function sendFile(res: ServerResponse, entry: CrmLogEntry, row: VersionRow): void {
    entry.status = 200;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(row.ContentSize), ...limitHeaders() });
    createReadStream(row.file).pipe(res);
  }

  // --- SOQL -------------------------------------------------------------------------------------------------------
  function runQuery(soql: string, version: number): Record<string, unknown> {
    const query = parseSoql(soql);
    const sources: Record<string, { rows: () => Record<string, unknown>[]; columns: string[] }> = {
      Contact: { rows: () => [...contacts.values()], columns: CONTACT_FIELDS },
      Task: { rows: () => [...tasks.values()], columns: taskColumns() },
      ContentVersion: { rows: () => [...versions.values()].map(versionRecord), columns: VERSION_FIELDS },
    };
    const source = sources[query.object];
    if (!source) throw fail(400, 'INVALID_TYPE', `sObject type '${query.object}' is not supported.`);
    for (const field of [...query.fields, ...query.conditions.map((condition) => condition.field), ...(query.orderBy ? [query.orderBy.field] : [])]) {
      if (!source.columns.includes(field)) throw fail(400, 'INVALID_FIELD', `No such column '${field}' on entity '${query.object}'.`);
    }
    const test = (row: Record<string, unknown>) => {
      const results = query.conditions.map((condition) => row[condition.field] === condition.value);
      return results.length === 0 || (query.joiner === 'OR' ? results.some(Boolean) : results.every(Boolean));
    };
    let rows = source.rows().filter(test);
    if (query.orderBy) {
      const { field, descending } = query.orderBy;
      rows = rows
        .map((row, index) => ({ row, index }))
        .sort((a, b) => (compare(a.row[field], b.row[field]) || a.index - b.index) * (descending ? -1 : 1))
        .map(({ row }) => row);
    }
    if (query.limit !== undefined) rows = rows.slice(0, query.limit);
    return {
      totalSize: rows.length,
      done: true,
      records: rows.map((row) => ({
        attributes: { type: query.object, url: `/services/data/v${version.toFixed(1)}/sobjects/${query.object}/${String(row.Id)}` },
        ...Object.fromEntries(query.fields.map((field) => [field, row[field] ?? null])),
      })),
    };
  }

  function select(object: string, row: Record<string, unknown>, fieldsParam: string | null, columns: string[], version: number): Record<string, unknown> {
    const fields = fieldsParam ? fieldsParam.split(',').map((field) => field.trim()) : columns;
    for (const field of fields) if (!columns.includes(field)) throw fail(400, 'INVALID_FIELD', `No such column '${field}' on sobject of type ${object}`);
    return {
      attributes: { type: object, url: `/services/data/v${version.toFixed(1)}/sobjects/${object}/${String(row.Id)}` },
      ...Object.fromEntries(fields.map((field) => [field, row[field] ?? null])),
    };
  }

  // --- plumbing ---------------------------------------------------------------------------------------------------
  function sendJson(res: ServerResponse, entry: CrmLogEntry, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (status < 300 && lostAnswers && lostAnswers.times > 0 && entry.method === lostAnswers.method && entry.path.includes(lostAnswers.pathIncludes)) {
      lostAnswers.times -= 1;
      entry.status = 502;
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><body>502 Bad Gateway</body></html>');
      return;
    }
    entry.status = status;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...(entry.token ? {} : limitHeaders()), ...headers });
    res.end(text);
  }

  function sendEmpty(res: ServerResponse, entry: CrmLogEntry, status: number): void {
    entry.status = status;
    res.writeHead(status, limitHeaders());
    res.end();
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const entry: CrmLogEntry = { at: Date.now(), method: req.method ?? 'GET', path: url.pathname, status: 0 };
    entries.push(entry);
    const work = url.pathname === '/services/oauth2/token' ? handleToken(req, res, entry) : handleApi(req, res, entry, url);
    Promise.resolve(work).catch((error: unknown) => {
      const failure = error instanceof SalesforceFailure ? error : fail(500, 'UNKNOWN_EXCEPTION', error instanceof Error ? error.message : String(error));
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // An answer before the whole request body arrived: drain it, so the client reads the answer.
      if (!req.complete) req.resume();
      sendJson(res, entry, failure.status, failure.errors, failure.headers);
    });
  });
  const listening = await listenOnLoopback(server);
  baseUrl = `http://127.0.0.1:${listening.port}`;

  const engagementPrefix = 'engagement:';

  function heldRecords(): CrmHeldRecord[] {
    const all = [...tasks.values()];
    return all
      .filter((task) => typeof task[keyField] === 'string' && (task[keyField] as string).startsWith(engagementPrefix))
      .map((task) => {
        const externalId = task[keyField] as string;
        const engagementId = externalId.slice(engagementPrefix.length);
        const children = all.filter((child) => child !== task && child.CallObject === engagementId && typeof child[keyField] === 'string' && !(child[keyField] as string).startsWith(engagementPrefix));
        const texts: CrmHeldText[] = [
          ...blocksOf(typeof task.Description === 'string' ? task.Description : '').map((block) => ({ ...block, id: task.Id })),
          ...children.flatMap((child) => {
            const text = typeof child.Description === 'string' ? child.Description : '';
            const key = markerKey(text.split('\n').at(-1) ?? '');
            return key ? [{ key, text, id: child.Id }] : [];
          }),
        ];
        const files: CrmHeldFile[] = [...versions.values()]
          .filter((row) => row.IsLatest && row.FirstPublishLocationId === task.Id)
          .sort((a, b) => a.serial - b.serial)
          .map((row) => ({ key: markerKey(/\[zcc:.*\]$/.exec(row.Title)?.[0] ?? '') ?? '', fileName: row.PathOnClient, size: row.ContentSize, sha256: row.sha256, id: row.Id }));
        return { externalId, engagementId, id: task.Id, texts, files, internalOnly: [task, ...children].every((row) => row.IsVisibleInSelfService !== true) };
      });
  }

  return {
    type: 'salesforce',
    url: baseUrl,
    keyField,
    privateKeyPem,
    editsInPlace: true,
    fileLimitBytes,
    destinationConfig: (name, extra = {}) => ({
      name,
      type: 'salesforce',
      baseUrl,
      auth,
      ...(options.audience ? { audience } : {}),
      ...(keyField !== 'ZCC_Key__c' ? { record: { field: keyField } } : {}),
      ...(fileLimitBytes < 2 * 1024 * 1024 * 1024 ? { maxFileBytes: fileLimitBytes } : {}),
      ...extra,
    }),
    env: () => ({
      SALESFORCE_CLIENT_ID: clientId,
      SALESFORCE_CLIENT_SECRET: clientSecret,
      SALESFORCE_USERNAME: username,
      ...(privateKeyPem ? { SALESFORCE_PRIVATE_KEY: Buffer.from(privateKeyPem).toString('base64') } : {}),
    }),
    badEnv: () => {
      const stranger = auth === 'jwt' ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() : null;
      return {
        SALESFORCE_CLIENT_ID: clientId,
        SALESFORCE_CLIENT_SECRET: `${clientSecret}-wrong`,
        SALESFORCE_USERNAME: username,
        ...(stranger ? { SALESFORCE_PRIVATE_KEY: Buffer.from(stranger).toString('base64') } : {}),
      };
    },
    records: heldRecords,
    log: () => entries.map((entry) => ({ ...entry })),
    faults: {
      rateLimitStorm: (count) => {
        stormLeft = count;
      },
      dailyLimit: (on) => {
        dailyLimit = on;
      },
      expireTokens: () => sessions.clear(),
      gatewayErrorAfterWrite: (method, pathIncludes, times = 1) => {
        lostAnswers = { method, pathIncludes, times };
      },
    },
    onWrite: (listener) => {
      writeListeners.push(listener);
    },
    tasks: () => [...tasks.values()].map((task) => ({ ...task })),
    versions: () => [...versions.values()].map((row) => ({ ...row })),
    seedContact: (fields) => {
      const id = newId('003');
      contacts.set(id, { Id: id, AccountId: null, Phone: null, MobilePhone: null, ...fields });
      return id;
    },
    seedTask: (fields) => {
      const task: TaskRow = { Id: newId('00T'), CreatedDate: new Date().toISOString(), Status: 'Completed', IsVisibleInSelfService: false, ...fields };
      tasks.set(task.Id, task);
      return task.Id;
    },
    tokenRequests: () => tokenLog.map((request) => ({ ...request })),
    close: async () => {
      await listening.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Description blocks ending in a marker line: what an agent reads for each key. */
function blocksOf(description: string): { key: string; text: string }[] {
  const blocks: { key: string; text: string }[] = [];
  let current: string[] = [];
  for (const line of description.split('\n')) {
    current.push(line);
    const key = markerKey(line);
    if (key) {
      blocks.push({ key, text: current.join('\n').replace(/^\n+/, '') });
      current = [];
    }
  }
  return blocks;
}

function markerKey(line: string): string | null {
  return /^\[zcc:(.+)\]$/.exec(line.trim())?.[1] ?? null;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  return String(a) < String(b) ? -1 : 1;
}

function allow(method: string, allowed: string[]): void {
  if (!allowed.includes(method)) throw fail(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${method}' not allowed. Allowed are ${allowed.join(',')}`);
}

interface Soql {
  fields: string[];
  object: string;
  conditions: { field: string; value: string | number | boolean }[];
  joiner: 'AND' | 'OR';
  orderBy?: { field: string; descending: boolean };
  limit?: number;
}

/** The SOQL this fake understands: SELECT a, b FROM X [WHERE f = lit (AND|OR f = lit)…] [ORDER BY f [ASC|DESC]] [LIMIT n]. */
function parseSoql(soql: string): Soql {
  const malformed = (detail: string) => fail(400, 'MALFORMED_QUERY', `${detail}: ${soql.slice(0, 120)}`);
  const head = /^\s*SELECT\s+(.+?)\s+FROM\s+([A-Za-z_][A-Za-z0-9_]*)\s*(.*)$/is.exec(soql);
  if (!head) throw malformed('unexpected token');
  const fields = head[1]!.split(',').map((field) => field.trim());
  if (fields.some((field) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(field))) throw malformed('unexpected token in SELECT');
  let rest = head[3]!.trim();
  const query: Soql = { fields, object: head[2]!, conditions: [], joiner: 'AND' };
  const joiners = new Set<string>();
  if (/^WHERE\s/i.test(rest)) {
    rest = rest.slice(5).trim();
    for (;;) {
      const condition = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^'\\]|\\.)*'|true|false|null|-?\d+(?:\.\d+)?)\s*/i.exec(rest);
      if (!condition) throw malformed('unexpected token in WHERE');
      const literal = condition[2]!;
      const value = literal.startsWith("'") ? unescapeSoql(literal.slice(1, -1)) : /^(true|false)$/i.test(literal) ? literal.toLowerCase() === 'true' : Number(literal);
      query.conditions.push({ field: condition[1]!, value });
      rest = rest.slice(condition[0].length);
      const joiner = /^(AND|OR)\s+/i.exec(rest);
      if (!joiner) break;
      joiners.add(joiner[1]!.toUpperCase());
      rest = rest.slice(joiner[0].length);
    }
    if (joiners.size > 1) throw malformed('unexpected token: mixing AND and OR needs parentheses');
    query.joiner = joiners.has('OR') ? 'OR' : 'AND';
  }
  const order = /^ORDER\s+BY\s+([A-Za-z_][A-Za-z0-9_]*)(?:\s+(ASC|DESC))?\s*/i.exec(rest);
  if (order) {
    query.orderBy = { field: order[1]!, descending: order[2]?.toUpperCase() === 'DESC' };
    rest = rest.slice(order[0].length);
  }
  const limit = /^LIMIT\s+(\d+)\s*/i.exec(rest);
  if (limit) {
    query.limit = Number(limit[1]);
    rest = rest.slice(limit[0].length);
  }
  if (rest.trim() !== '') throw malformed(`unexpected token: ${rest.trim().split(/\s+/)[0]}`);
  return query;
}

function unescapeSoql(text: string): string {
  return text.replace(/\\(.)/g, (_match, char: string) => ({ n: '\n', r: '\r', t: '\t' })[char] ?? char);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      throw fail(413, 'REQUEST_ENTITY_TOO_LARGE', `Maximum size of request reached. Maximum size of request is ${limit} bytes.`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage, limit = 16 * 1024 * 1024): Promise<Record<string, unknown>> {
  const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    throw fail(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type header specified in HTTP request is not supported: ${type || '(none)'}`);
  }
  const text = (await readBody(req, limit)).toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw fail(400, 'JSON_PARSER_ERROR', `Unexpected character in JSON body at input location [1,1]`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw fail(400, 'JSON_PARSER_ERROR', 'Cannot deserialize instance of sObject from a non-object value');
  return body as Record<string, unknown>;
}
