// A strict ServiceNow instance on loopback: /oauth_token.do (form bodies only; password, refresh_token and, when
// enabled, client_credentials grants), the Table API (incident and other task tables, sys_user, customer_contact,
// sys_journal_field as the work-notes journal) with encoded queries and `{"result": ...}` envelopes of strings, and
// the Attachment API (raw bodies streamed to disk and hashed, a configurable size cap, partial uploads discarded).
// Errors use ServiceNow's envelope; a rate-limit rule answers 429 with Retry-After and X-RateLimit-*.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from '../loopback.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CrmFakeView, CrmHeldFile, CrmHeldRecord, CrmHeldText, CrmLogEntry } from './view.js';

export interface ServicenowFakeOptions {
  /** The auth the destination config asks for. */
  auth?: 'basic' | 'client-credentials' | 'password';
  /** `glide.oauth.inbound.client.credential.grant_type.enabled` (off in a real instance until an admin sets it). */
  clientCredentialsEnabled?: boolean;
  /** `com.glide.attachment.max_size` in bytes (default 1024 MB). */
  fileLimitBytes?: number;
  /** Access token lifespan in seconds (default 1800). */
  tokenLifetimeSeconds?: number;
  /** A rate-limit rule for the integration user: requests per hour across the REST APIs. */
  rateLimitPerHour?: number;
  /** The table holding engagement records (the destination's `table`). */
  table?: string;
  /** The field holding our key (`record.field`); custom `u_` fields are created on the task tables. */
  keyField?: string;
  /** Users (sys_user) and CSM contacts (customer_contact) a phone number can find. */
  users?: { name: string; phone?: string; mobile_phone?: string }[];
  contacts?: { name: string; phone?: string; mobile_phone?: string }[];
  /** The longest journal entry kept; longer input is cut like any string field (default 4000). */
  journalMaxChars?: number;
  now?: () => number;
}

export interface ServicenowFake extends CrmFakeView {
  readonly url: string;
  faults: CrmFakeView['faults'] & {
    /** The next `times` requests of `method` whose path includes `pathIncludes` act, then answer 502 (a gateway lost the answer). */
    gatewayErrorAfterWrite(method: string, pathIncludes: string, times?: number): void;
  };
  /** Grants asked for at /oauth_token.do, in order, with the answer's status. */
  tokenRequests(): { grant: string; status: number }[];
  /** Refresh tokens stop working (expired after their 100 days, or revoked). */
  revokeRefreshTokens(): void;
  setClientCredentialsEnabled(on: boolean): void;
  /** Rows of a table as stored (journal fields are not columns; see `journal`). */
  rows(table: string): Record<string, string>[];
  journal(): JournalRow[];
  /** sys_id of a seeded user or contact, by name. */
  personId(name: string): string;
}

interface JournalRow {
  sys_id: string;
  element_id: string;
  element: 'work_notes' | 'comments';
  name: string;
  value: string;
  sys_created_on: string;
  sys_created_by: string;
  /** Insertion order, to order entries created in the same second. */
  serial: number;
}

interface Attachment {
  row: Record<string, string>;
  file: string;
  sha256: string;
  serial: number;
}

interface Table {
  fields: Set<string>;
  /** Reference fields and the table they point to. */
  references: Record<string, string>;
  prefix?: string;
  rows: Map<string, Record<string, string>>;
}

type Condition = { field: string; op: string; value: string };
interface Query {
  /** AND of groups; each group is an OR of conditions. */
  groups: Condition[][];
  order: { field: string; desc: boolean }[];
}

const MiB = 1024 * 1024;
const CLIENT_ID = 'zcc-fake-client';
const CLIENT_SECRET = 'fake-client-secret-1';
const USERNAME = 'zcc.integration';
const PASSWORD = 'fake-password-1';
const RULE_SYS_ID = 'a1f2c3d4e5f60718293a4b5c6d7e8f90';
const SYSTEM_FIELDS = ['sys_id', 'sys_created_on', 'sys_created_by', 'sys_updated_on', 'sys_updated_by', 'sys_mod_count'];
const TASK_FIELDS = [...SYSTEM_FIELDS, 'number', 'short_description', 'description', 'correlation_id', 'correlation_display', 'state', 'active', 'work_notes', 'comments', 'contact_type'];
const JOURNAL_FIELDS = ['work_notes', 'comments'];
const CORRELATION_ID_LENGTH = 100;
const ATTACHMENT_FIELDS = ['sys_id', 'file_name', 'content_type', 'size_bytes', 'size_compressed', 'compressed', 'download_link', 'table_name', 'table_sys_id', 'image_height', 'image_width', 'average_image_color', 'sys_created_on', 'sys_created_by', 'sys_updated_on', 'sys_updated_by', 'sys_mod_count', 'sys_tags', 'created_by_name', 'updated_by_name'];
const KINDS_WITH_ENGAGEMENT = ['note', 'disposition'];

class Failure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly detail: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export async function startServicenowFake(options: ServicenowFakeOptions = {}): Promise<ServicenowFake> {
  const now = options.now ?? Date.now;
  const fileLimitBytes = options.fileLimitBytes ?? 1024 * MiB;
  const tokenLifetime = options.tokenLifetimeSeconds ?? 1800;
  const journalMax = options.journalMaxChars ?? 4000;
  const recordTable = options.table ?? 'incident';
  const keyField = options.keyField ?? 'correlation_id';
  const dir = await mkdtemp(path.join(tmpdir(), 'zcc-servicenow-'));
  let clientCredentialsEnabled = options.clientCredentialsEnabled ?? true;
  let serial = 0;
  let writes = 0;
  let stormLeft = 0;
  let lostAnswers: { method: string; pathIncludes: string; times: number } | null = null;
  let dailySpent = false;
  const hourly = new Map<string, { windowEnd: number; count: number }>();
  const accessTokens = new Map<string, number>();
  const refreshTokens = new Set<string>();
  const tokenLog: { grant: string; status: number }[] = [];
  const log: CrmLogEntry[] = [];
  const journal: JournalRow[] = [];
  const attachments = new Map<string, Attachment>();
  const writeListeners: ((writes: number) => void)[] = [];
  const numbers = new Map<string, number>();

  const custom = keyField.startsWith('u_') ? [keyField] : [];
  const taskTable = (prefix: string, references: Record<string, string>): Table => ({
    fields: new Set([...TASK_FIELDS, ...custom, ...Object.keys(references)]),
    references,
    prefix,
    rows: new Map(),
  });
  const personTable = (): Table => ({ fields: new Set([...SYSTEM_FIELDS, 'name', 'user_name', 'phone', 'mobile_phone', 'email', 'active']), references: {}, rows: new Map() });
  const tables: Record<string, Table> = {
    incident: taskTable('INC', { caller_id: 'sys_user', opened_by: 'sys_user' }),
    interaction: taskTable('IMS', { opened_for: 'sys_user', opened_by: 'sys_user' }),
    sn_customerservice_case: taskTable('CS', { contact: 'customer_contact', opened_by: 'sys_user' }),
    sys_user: personTable(),
    customer_contact: personTable(),
  };
  const people = new Map<string, string>();
  const seed = (table: string, person: { name: string; phone?: string; mobile_phone?: string }) => {
    const row: Record<string, string> = { ...systemFields(), name: person.name, user_name: person.name.toLowerCase().replace(/\s+/g, '.'), phone: person.phone ?? '', mobile_phone: person.mobile_phone ?? '', email: '', active: 'true' };
    tables[table]!.rows.set(row.sys_id!, row);
    people.set(person.name, row.sys_id!);
  };
  seed('sys_user', { name: 'ZCC Integration' });
  for (const user of options.users ?? []) seed('sys_user', user);
  for (const contact of options.contacts ?? []) seed('customer_contact', contact);

  function newSysId(): string {
    return randomBytes(16).toString('hex');
  }
  function timestamp(): string {
    return new Date(now()).toISOString().slice(0, 19).replace('T', ' ');
  }
  function systemFields(): Record<string, string> {
    const at = timestamp();
    return { sys_id: newSysId(), sys_created_on: at, sys_created_by: USERNAME, sys_updated_on: at, sys_updated_by: USERNAME, sys_mod_count: '0' };
  }
  function wrote(): void {
    writes += 1;
    for (const listener of writeListeners) listener(writes);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake.service-now.test');
    const entry: CrmLogEntry = { at: now(), method: req.method ?? 'GET', path: url.pathname, status: 0 };
    log.push(entry);
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (status < 300 && lostAnswers && lostAnswers.times > 0 && req.method === lostAnswers.method && url.pathname.includes(lostAnswers.pathIncludes)) {
        lostAnswers.times -= 1;
        status = 502;
        body = '<html><body>502 Bad Gateway</body></html>';
      }
      entry.status = status;
      const retryAfter = headers['Retry-After'];
      if (retryAfter !== undefined) entry.retryAfterMs = Number(retryAfter) * 1000;
      if (status === 204) {
        res.writeHead(204, headers).end();
        return;
      }
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
      res.end(text);
    };
    const fail = (error: unknown) => {
      if (res.headersSent) return;
      if (error instanceof Failure) {
        answer(error.status, { error: { message: error.message, detail: error.detail }, status: 'failure' }, error.headers);
      } else {
        answer(500, { error: { message: 'Internal server error', detail: (error as Error).message }, status: 'failure' });
      }
    };
    if (url.pathname === '/oauth_token.do') {
      entry.token = true;
      void tokenEndpoint(req, answer).catch(fail);
      return;
    }
    void api(req, res, url, entry, answer).catch((error: unknown) => {
      req.resume();
      fail(error);
    });
  });

  async function tokenEndpoint(req: IncomingMessage, answer: (status: number, body: unknown) => void): Promise<void> {
    const raw = (await readBody(req, MiB)).toString('utf8');
    const refuse = (status: number, error: string, description: string, grant = '') => {
      tokenLog.push({ grant, status });
      answer(status, { error_description: description, error });
    };
    if (req.method !== 'POST') return refuse(405, 'invalid_request', 'method not allowed');
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return refuse(400, 'invalid_request', 'request body must be application/x-www-form-urlencoded');
    }
    const form = new URLSearchParams(raw);
    const grant = form.get('grant_type') ?? '';
    if (form.get('client_id') !== CLIENT_ID || form.get('client_secret') !== CLIENT_SECRET) return refuse(401, 'server_error', 'access_denied', grant);
    if (grant === 'client_credentials' && !clientCredentialsEnabled) return refuse(401, 'server_error', 'access_denied', grant);
    if (grant === 'password' && (form.get('username') !== USERNAME || form.get('password') !== PASSWORD)) return refuse(401, 'server_error', 'access_denied', grant);
    if (grant === 'refresh_token' && !refreshTokens.has(form.get('refresh_token') ?? '')) return refuse(401, 'server_error', 'access_denied', grant);
    if (!['client_credentials', 'password', 'refresh_token'].includes(grant)) return refuse(400, 'unsupported_grant_type', `grant type ${grant} is not supported`, grant);
    const accessToken = randomBytes(24).toString('base64url');
    accessTokens.set(accessToken, now() + tokenLifetime * 1000);
    const body: Record<string, unknown> = { access_token: accessToken, scope: 'useraccount', token_type: 'Bearer', expires_in: tokenLifetime - 1 };
    if (grant === 'password') {
      const refreshToken = randomBytes(24).toString('base64url');
      refreshTokens.add(refreshToken);
      body.refresh_token = refreshToken;
    }
    tokenLog.push({ grant, status: 200 });
    answer(200, body);
  }

  function authenticate(req: IncomingMessage): string {
    const header = String(req.headers.authorization ?? '');
    const [scheme, credential = ''] = header.split(' ');
    if (scheme === 'Basic' && Buffer.from(credential, 'base64').toString('utf8') === `${USERNAME}:${PASSWORD}`) return USERNAME;
    if (scheme === 'Bearer' && (accessTokens.get(credential) ?? 0) > now()) return USERNAME;
    throw new Failure(401, 'User Not Authenticated', 'Required to provide Auth information');
  }

  /** 429 from a storm, a spent hourly rule or the configured rule; otherwise the rule's headers (if any). */
  function rateLimit(user: string, apiName: string): Record<string, string> {
    const limit = options.rateLimitPerHour ?? 100;
    const denied = (retryAfter: number) =>
      new Failure(429, 'Rate limit exceeded', `Rate limit of ${limit} requests per hour for ${apiName} exceeded`, {
        'Retry-After': String(retryAfter),
        'X-RateLimit-Limit': String(limit),
        'X-RateLimit-Reset': String(Math.ceil(now() / 1000) + retryAfter),
        'X-RateLimit-Rule': RULE_SYS_ID,
      });
    if (stormLeft > 0) {
      stormLeft -= 1;
      throw denied(1);
    }
    if (dailySpent) throw denied(3600);
    if (options.rateLimitPerHour === undefined) return {};
    let window = hourly.get(user);
    if (!window || window.windowEnd <= now()) {
      window = { windowEnd: (Math.floor(now() / 3_600_000) + 1) * 3_600_000, count: 0 };
      hourly.set(user, window);
    }
    const resetSeconds = Math.ceil(window.windowEnd / 1000);
    if (window.count >= limit) throw denied(Math.max(1, resetSeconds - Math.ceil(now() / 1000)));
    window.count += 1;
    return { 'X-RateLimit-Limit': String(limit), 'X-RateLimit-Reset': String(resetSeconds), 'X-RateLimit-Rule': RULE_SYS_ID };
  }

  async function api(req: IncomingMessage, res: ServerResponse, url: URL, entry: CrmLogEntry, answer: (status: number, body: unknown, headers?: Record<string, string>) => void): Promise<void> {
    const user = authenticate(req);
    const segments = url.pathname.split('/').slice(1).map(decodeURIComponent);
    const isAttachment = segments[0] === 'api' && segments[1] === 'now' && segments[2] === 'attachment';
    const limitHeaders = rateLimit(user, isAttachment ? 'Attachment API' : 'Table API');
    const method = req.method ?? 'GET';
    const accept = String(req.headers.accept ?? '');
    if (!accept) throw new Failure(400, 'Missing required header', 'Accept header is required');
    if (!isAttachment && ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method) && !req.headers['content-type']) {
      throw new Failure(400, 'Missing required header', 'Content-Type header is required');
    }
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => answer(status, body, { ...limitHeaders, ...headers });
    if (segments[0] === 'api' && segments[1] === 'now' && segments[2] === 'table' && segments.length >= 4 && segments.length <= 5) {
      if (!/json|\*\/\*/.test(accept)) throw new Failure(406, 'Not Acceptable', `Accept ${accept} is not supported`);
      return tableApi(req, url, segments[3]!, segments[4], reply);
    }
    if (isAttachment) return attachmentApi(req, res, url, segments.slice(3), entry, reply);
    req.resume();
    throw new Failure(400, 'Requested URI does not represent any resource', null);
  }

  async function tableApi(req: IncomingMessage, url: URL, tableName: string, sysId: string | undefined, reply: (status: number, body: unknown, headers?: Record<string, string>) => void): Promise<void> {
    const method = req.method ?? 'GET';
    const params = url.searchParams;
    if (tableName === 'sys_journal_field') return journalApi(req, params, sysId, reply);
    const table = tables[tableName];
    if (!table) {
      req.resume();
      throw new Failure(400, `Invalid table ${tableName}`, null);
    }
    const render = (row: Record<string, string>) => renderRow(table, row, params);
    if (method === 'GET' && sysId === undefined) {
      req.resume();
      const { rows, total } = select([...table.rows.values()], params, table.fields);
      return reply(200, { result: rows.map(render) }, { 'X-Total-Count': String(total) });
    }
    if (method === 'POST' && sysId === undefined) {
      const fields = await jsonFields(req, table);
      const number = `${table.prefix ?? 'REC'}${String(1_0000 + ((numbers.get(tableName) ?? 0) + 1)).padStart(7, '0')}`;
      numbers.set(tableName, (numbers.get(tableName) ?? 0) + 1);
      const row: Record<string, string> = { ...Object.fromEntries([...table.fields].map((field) => [field, ''])), ...systemFields(), number, state: '1', active: 'true' };
      store(tableName, table, row, fields);
      table.rows.set(row.sys_id!, row);
      wrote();
      return reply(201, { result: render(row) }, { Location: `${baseUrl()}/api/now/table/${tableName}/${row.sys_id}` });
    }
    const row = sysId === undefined ? undefined : table.rows.get(sysId);
    if (sysId === undefined || !['GET', 'PUT', 'PATCH', 'DELETE'].includes(method)) {
      req.resume();
      throw new Failure(405, 'Method not Supported', `${method} is not supported on this resource`);
    }
    if (!row) {
      req.resume();
      throw new Failure(404, 'No Record found', "Record doesn't exist or ACL restricts the record retrieval");
    }
    if (method === 'GET') {
      req.resume();
      return reply(200, { result: render(row) });
    }
    if (method === 'DELETE') {
      req.resume();
      table.rows.delete(sysId);
      return reply(204, null);
    }
    const fields = await jsonFields(req, table);
    store(tableName, table, row, fields);
    row.sys_mod_count = String(Number(row.sys_mod_count) + 1);
    row.sys_updated_on = timestamp();
    wrote();
    return reply(200, { result: render(row) });
  }

  /** Sets columns (unknown fields are ignored, as ServiceNow does) and appends journal input as entries. */
  function store(tableName: string, table: Table, row: Record<string, string>, fields: Record<string, string>): void {
    for (const [field, value] of Object.entries(fields)) {
      if (!table.fields.has(field) || SYSTEM_FIELDS.includes(field) || field === 'number') continue;
      if (JOURNAL_FIELDS.includes(field)) {
        if (value.trim() === '') continue;
        serial += 1;
        journal.push({ sys_id: newSysId(), element_id: row.sys_id!, element: field as JournalRow['element'], name: tableName, value: value.slice(0, journalMax), sys_created_on: timestamp(), sys_created_by: USERNAME, serial });
        continue;
      }
      const referenced = table.references[field];
      if (referenced && value !== '' && !tables[referenced]?.rows.has(value)) continue;
      row[field] = field === 'correlation_id' ? value.slice(0, CORRELATION_ID_LENGTH) : value;
    }
  }

  function journalApi(req: IncomingMessage, params: URLSearchParams, sysId: string | undefined, reply: (status: number, body: unknown, headers?: Record<string, string>) => void): void {
    req.resume();
    const method = req.method ?? 'GET';
    const fields = new Set(['sys_id', 'element_id', 'element', 'name', 'value', 'sys_created_on', 'sys_created_by']);
    if (method === 'GET' && sysId === undefined) {
      const { rows, total } = select(journal as unknown as Record<string, string>[], params, fields);
      return reply(200, { result: rows }, { 'X-Total-Count': String(total) });
    }
    const index = journal.findIndex((row) => row.sys_id === sysId);
    if (sysId === undefined || !['GET', 'DELETE'].includes(method)) throw new Failure(403, 'Operation Failed', 'ACL Exception Insert Failed due to security constraints');
    if (index < 0) throw new Failure(404, 'No Record found', "Record doesn't exist or ACL restricts the record retrieval");
    if (method === 'DELETE') {
      journal.splice(index, 1);
      return reply(204, null);
    }
    return reply(200, { result: pick(journal[index] as unknown as Record<string, string>, params.get('sysparm_fields'), fields) });
  }

  async function attachmentApi(req: IncomingMessage, res: ServerResponse, url: URL, rest: string[], entry: CrmLogEntry, reply: (status: number, body: unknown, headers?: Record<string, string>) => void): Promise<void> {
    const method = req.method ?? 'GET';
    const params = url.searchParams;
    if (rest.length === 1 && rest[0] === 'file' && method === 'POST') return upload(req, params, entry, reply);
    req.resume();
    const fields = new Set(ATTACHMENT_FIELDS);
    if (rest.length === 0 && method === 'GET') {
      const { rows, total } = select([...attachments.values()].map((entry) => entry.row), params, fields);
      return reply(200, { result: rows }, { 'X-Total-Count': String(total) });
    }
    const found = rest[0] === undefined ? undefined : attachments.get(rest[0]);
    if (rest.length < 1 || rest.length > 2 || (rest.length === 2 && rest[1] !== 'file')) throw new Failure(400, 'Requested URI does not represent any resource', null);
    if (!found) throw new Failure(404, 'Record doesn\'t exist or ACL restricts the record retrieval', null);
    if (rest.length === 2 && method === 'GET') {
      res.writeHead(200, { 'content-type': found.row.content_type!, 'content-length': found.row.size_bytes!, 'x-attachment-metadata': asciiJson(found.row) });
      entry.status = 200;
      createReadStream(found.file).pipe(res);
      return;
    }
    if (rest.length === 1 && method === 'GET') return reply(200, { result: found.row });
    if (rest.length === 1 && method === 'DELETE') {
      attachments.delete(found.row.sys_id!);
      await unlink(found.file).catch(() => {});
      return reply(204, null);
    }
    throw new Failure(405, 'Method not Supported', `${method} is not supported on this resource`);
  }

  /** The raw body streams to a temp file and is hashed; only a complete body within the limit becomes an attachment. */
  async function upload(req: IncomingMessage, params: URLSearchParams, entry: CrmLogEntry, reply: (status: number, body: unknown, headers?: Record<string, string>) => void): Promise<void> {
    for (const name of ['table_name', 'table_sys_id', 'file_name']) {
      if (!params.get(name)) {
        req.resume();
        throw new Failure(400, `Missing parameter: ${name}`, null);
      }
    }
    const contentType = req.headers['content-type'];
    if (!contentType) {
      req.resume();
      throw new Failure(400, 'Missing required header', 'Content-Type header is required');
    }
    const tableName = params.get('table_name')!;
    const target = tables[tableName]?.rows.get(params.get('table_sys_id')!);
    if (!target) {
      req.resume();
      throw new Failure(404, 'Record doesn\'t exist or ACL restricts the record retrieval', `No ${tableName} record with sys_id ${params.get('table_sys_id')}`);
    }
    const tooLarge = new Failure(400, 'Failed to create the attachment. File part might be too large.', `Attachment exceeds the maximum size of ${fileLimitBytes} bytes`);
    if (Number(req.headers['content-length'] ?? 0) > fileLimitBytes) {
      req.resume();
      throw tooLarge;
    }
    const file = path.join(dir, `${newSysId()}.part`);
    const out = createWriteStream(file);
    // A cut-off upload destroys the file mid-write; its late write errors are expected, not crashes.
    out.on('error', () => undefined);
    const hash = createHash('sha256');
    let size = 0;
    let over = false;
    const complete = await new Promise<boolean>((resolve) => {
      let ended = false;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > fileLimitBytes) over = true;
        if (over || out.destroyed) return;
        hash.update(chunk);
        if (!out.write(chunk)) {
          req.pause();
          out.once('drain', () => req.resume());
        }
      });
      req.on('end', () => {
        ended = true;
        out.end(() => resolve(true));
      });
      req.on('close', () => {
        if (!ended) {
          out.destroy();
          resolve(false);
        }
      });
      req.on('error', () => undefined);
    });
    if (!complete || over) {
      await unlink(file).catch(() => {});
      if (!complete) {
        entry.status = 0;
        return;
      }
      throw tooLarge;
    }
    const at = timestamp();
    const sysId = newSysId();
    const row: Record<string, string> = {
      sys_id: sysId,
      file_name: params.get('file_name')!,
      content_type: String(contentType),
      size_bytes: String(size),
      size_compressed: String(size),
      compressed: 'false',
      download_link: `${baseUrl()}/api/now/attachment/${sysId}/file`,
      table_name: tableName,
      table_sys_id: target.sys_id!,
      image_height: '',
      image_width: '',
      average_image_color: '',
      sys_created_on: at,
      sys_created_by: USERNAME,
      sys_updated_on: at,
      sys_updated_by: USERNAME,
      sys_mod_count: '0',
      sys_tags: '',
      created_by_name: 'ZCC Integration',
      updated_by_name: 'ZCC Integration',
    };
    serial += 1;
    attachments.set(sysId, { row, file, sha256: hash.digest('hex'), serial });
    wrote();
    reply(201, { result: row }, { Location: `${baseUrl()}/api/now/attachment/${sysId}` });
  }

  async function jsonFields(req: IncomingMessage, table: Table): Promise<Record<string, string>> {
    const raw = (await readBody(req, 16 * MiB)).toString('utf8');
    if (!String(req.headers['content-type']).includes('application/json')) throw new Failure(415, 'Unsupported Media Type', `Content-Type ${String(req.headers['content-type'])} is not supported`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new Failure(400, 'Exception while reading request', 'The payload is not valid JSON.');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Failure(400, 'Exception while reading request', 'The payload is not a JSON object.');
    const fields: Record<string, string> = {};
    for (const [field, value] of Object.entries(parsed as Record<string, unknown>)) {
      if (value === null) fields[field] = '';
      else if (['string', 'number', 'boolean'].includes(typeof value)) fields[field] = String(value);
      else if (table.fields.has(field)) throw new Failure(400, 'Exception while reading request', `Invalid value for field ${field}`);
    }
    return fields;
  }

  function renderRow(table: Table, row: Record<string, string>, params: URLSearchParams): Record<string, unknown> {
    const picked: Record<string, unknown> = pick(row, params.get('sysparm_fields'), table.fields);
    for (const field of JOURNAL_FIELDS) if (field in picked) picked[field] = '';
    if (params.get('sysparm_exclude_reference_link') !== 'true') {
      for (const [field, referenced] of Object.entries(table.references)) {
        const value = picked[field];
        if (typeof value === 'string' && value !== '') picked[field] = { link: `${baseUrl()}/api/now/table/${referenced}/${value}`, value };
      }
    }
    return picked;
  }

  function baseUrl(): string {
    return `http://127.0.0.1:${listening.port}`;
  }

  const listening = await listenOnLoopback(server);
  const url = baseUrl();

  function heldRecords(): CrmHeldRecord[] {
    const table = tables[recordTable];
    if (!table) return [];
    return [...table.rows.values()]
      .filter((row) => (row[keyField] ?? '') !== '')
      .map((row) => {
        const externalId = row[keyField]!;
        const engagementId = externalId.replace(/^zcc:/, '');
        const entries = journal.filter((entry) => entry.element_id === row.sys_id);
        const texts: CrmHeldText[] = entries.map((entry) => ({ key: markerKey(entry.value), text: entry.value, id: entry.sys_id }));
        const files: CrmHeldFile[] = [...attachments.values()]
          .filter((entry) => entry.row.table_sys_id === row.sys_id)
          .map((entry) => ({ key: fileKey(entry.row.file_name!, engagementId), fileName: entry.row.file_name!, size: Number(entry.row.size_bytes), sha256: entry.sha256, id: entry.row.sys_id! }));
        return { externalId, engagementId, id: row.sys_id!, texts, files, internalOnly: entries.every((entry) => entry.element === 'work_notes') };
      });
  }

  return {
    type: 'servicenow',
    url,
    editsInPlace: false,
    fileLimitBytes,
    destinationConfig: (name, extra = {}) => ({
      name,
      type: 'servicenow',
      baseUrl: url,
      auth: options.auth ?? 'client-credentials',
      table: recordTable,
      ...(keyField !== 'correlation_id' ? { record: { field: keyField } } : {}),
      ...(fileLimitBytes !== 1024 * MiB ? { maxFileBytes: fileLimitBytes } : {}),
      ...extra,
    }),
    env: () => ({ SERVICENOW_CLIENT_ID: CLIENT_ID, SERVICENOW_CLIENT_SECRET: CLIENT_SECRET, SERVICENOW_USERNAME: USERNAME, SERVICENOW_PASSWORD: PASSWORD }),
    badEnv: () => ({ SERVICENOW_CLIENT_ID: CLIENT_ID, SERVICENOW_CLIENT_SECRET: 'wrong-secret', SERVICENOW_USERNAME: USERNAME, SERVICENOW_PASSWORD: 'wrong-password' }),
    records: heldRecords,
    log: () => [...log],
    faults: {
      rateLimitStorm: (count) => {
        stormLeft = count;
      },
      dailyLimit: (on) => {
        dailySpent = on;
      },
      expireTokens: () => {
        for (const token of accessTokens.keys()) accessTokens.set(token, 0);
      },
      gatewayErrorAfterWrite: (method, pathIncludes, times = 1) => {
        lostAnswers = { method, pathIncludes, times };
      },
    },
    onWrite: (listener) => {
      writeListeners.push(listener);
    },
    tokenRequests: () => [...tokenLog],
    revokeRefreshTokens: () => refreshTokens.clear(),
    setClientCredentialsEnabled: (on) => {
      clientCredentialsEnabled = on;
    },
    rows: (table) => [...(tables[table]?.rows.values() ?? [])].map((row) => ({ ...row })),
    journal: () => journal.map((row) => ({ ...row })),
    personId: (name) => {
      const id = people.get(name);
      if (!id) throw new Error(`no seeded person ${name}`);
      return id;
    },
    close: async () => {
      await listening.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Rows matching `sysparm_query`, ordered, then cut by `sysparm_offset`/`sysparm_limit` (default 10000). */
function select(all: Record<string, string>[], params: URLSearchParams, fields: Set<string>): { rows: Record<string, string>[]; total: number } {
  const query = parseEncodedQuery(params.get('sysparm_query') ?? '', fields);
  const matching = all.filter((row) => query.groups.every((group) => group.some((condition) => matches(row, condition))));
  for (const { field, desc } of [...query.order].reverse()) {
    matching.sort((a, b) => {
      const byField = (a[field] ?? '').localeCompare(b[field] ?? '');
      const bySerial = Number((a as { serial?: number }).serial ?? 0) - Number((b as { serial?: number }).serial ?? 0);
      return (desc ? -1 : 1) * (byField || bySerial);
    });
  }
  const limit = integerParam(params.get('sysparm_limit')) ?? 10_000;
  const offset = integerParam(params.get('sysparm_offset')) ?? 0;
  const picked = matching.slice(offset, offset + limit).map((row) => pick(row, params.get('sysparm_fields'), fields));
  return { rows: picked, total: matching.length };
}

function integerParam(value: string | null): number | null {
  return value !== null && /^\d+$/.test(value) ? Number(value) : null;
}

function pick(row: Record<string, string>, list: string | null, fields: Set<string>): Record<string, string> {
  const wanted = list ? list.split(',').map((field) => field.trim()).filter((field) => fields.has(field)) : [...fields];
  return Object.fromEntries(wanted.map((field) => [field, String(row[field] ?? '')]));
}

/**
 * An encoded query: conditions joined by `^` (AND) and `^OR` (OR with the previous one), `^^` a literal caret,
 * `ORDERBY`/`ORDERBYDESC` terms. A condition on an unknown field is dropped, as ServiceNow does by default.
 */
export function parseEncodedQuery(encoded: string, fields: Set<string>): Query {
  const terms: string[] = [];
  let current = '';
  for (let index = 0; index < encoded.length; index += 1) {
    const char = encoded[index];
    if (char === '^' && encoded[index + 1] === '^') {
      current += '^';
      index += 1;
    } else if (char === '^') {
      terms.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  terms.push(current);
  const query: Query = { groups: [], order: [] };
  for (const term of terms) {
    if (term === '' || term === 'EQ') continue;
    const order = /^ORDERBY(DESC)?(.+)$/.exec(term);
    if (order) {
      query.order.push({ field: order[2]!, desc: order[1] === 'DESC' });
      continue;
    }
    const alternative = term.startsWith('OR') && query.groups.length > 0;
    const condition = parseCondition(alternative ? term.slice(2) : term);
    if (!condition || !fields.has(condition.field)) continue;
    if (alternative) query.groups.at(-1)!.push(condition);
    else query.groups.push([condition]);
  }
  return query;
}

function parseCondition(term: string): Condition | null {
  const match = /^([a-z0-9_.]+?)(!=|=|NOT LIKE|LIKE|STARTSWITH|ENDSWITH|ISEMPTY|ISNOTEMPTY)(.*)$/s.exec(term);
  return match ? { field: match[1]!, op: match[2]!, value: match[3]! } : null;
}

function matches(row: Record<string, string>, { field, op, value }: Condition): boolean {
  const actual = String(row[field] ?? '');
  switch (op) {
    case '=':
      return actual === value;
    case '!=':
      return actual !== value;
    case 'LIKE':
      return actual.toLowerCase().includes(value.toLowerCase());
    case 'NOT LIKE':
      return !actual.toLowerCase().includes(value.toLowerCase());
    case 'STARTSWITH':
      return actual.toLowerCase().startsWith(value.toLowerCase());
    case 'ENDSWITH':
      return actual.toLowerCase().endsWith(value.toLowerCase());
    case 'ISEMPTY':
      return actual === '';
    case 'ISNOTEMPTY':
      return actual !== '';
    default:
      return false;
  }
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Failure(413, 'Request entity too large', null);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** JSON with non-ASCII characters escaped, so it fits in a header. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The key in a work note's marker line `[zcc:<key>]`, or '' for a note without one. */
function markerKey(text: string): string {
  return /^\[zcc:(.+)\]$/.exec(text.split('\n').at(-1) ?? '')?.[1] ?? '';
}

/** The artifact key an attachment's file name stands for: `recording-Rec1.mp4` → `recording/Rec1`. */
function fileKey(fileName: string, engagementId: string): string {
  const whole = /^([a-z_]+)\.[a-z0-9]{1,10}$/.exec(fileName);
  if (whole) return `${whole[1]}/${engagementId}`;
  const match = /^([a-z_]+)-(.+)\.[a-z0-9]{1,10}$/.exec(fileName);
  if (!match) return '';
  const [, kind, id] = match;
  return KINDS_WITH_ENGAGEMENT.includes(kind!) ? `${kind}/${engagementId}/${id}` : `${kind}/${id}`;
}
