// Microsoft Dynamics 365 / Dataverse: the engagement is a phone call activity upserted by an alternate key (or by a
// UUIDv5 of our key as its activityid); every text and file is a note (annotation) on it whose id is a UUIDv5 of the
// artifact key, so each write is a true upsert: repeated after a crash it lands on the same row, and an edited note
// is updated in place. Files go up as `documentbody` base64, or in UploadBlock blocks when larger than one block.
import { Readable } from 'node:stream';
import type { ArtifactKind, EngagementInfo } from '../artifacts.js';
import type { DynamicsDestinationConfig } from '../config-schema.js';
import { DestinationError, DestinationUnavailableError } from '../errors.js';
import { markerOf, type CrmAdapter, type CrmRecord, type FileEntry, type FoundEntry, type TextEntry } from './crm/adapter.js';
import { OAuthToken, secretFromEnv } from './crm/auth.js';
import { buildCrmDestination } from './crm/build.js';
import type { CrmDestination } from './crm/engine.js';
import { retryAfterMs, statusOf, type CrmAnswer, type CrmHttp, type CrmSignal } from './crm/http.js';
import { readHead, wholeBody } from './body.js';
import { BLOCK_BYTES, blockIdOf, blocksOf, UploadBlockBodies } from './dynamics/blocks.js';
import { Base64Decoder, parseContactIds, parseContinuationToken, parseMaxUpload, parsePhoneCall, type AnnotationRow, type PhoneCallRow } from './dynamics/answers.js';
import { isGuid, rawBytesFitting, recordKeyOf, uuidV5 } from './dynamics/ids.js';
import { phoneCallFields } from './dynamics/phonecall.js';

const LABEL = 'Dynamics 365';
/** `organization.maxuploadfilesize` default: 5 MB, measured on the base64 text. */
export const DEFAULT_MAX_UPLOAD_BASE64 = 5_242_880;
/** `annotation.notetext` MaxLength. */
const NOTE_TEXT_LIMIT = 100_000;
/** The OData headers Microsoft's examples send with every Web API request. */
const ODATA_HEADERS = { accept: 'application/json', 'odata-maxversion': '4.0', 'odata-version': '4.0', 'if-none-match': 'null' };
const JSON_BODY = { 'content-type': 'application/json; charset=utf-8' };

interface ApiCall {
  method: 'GET' | 'PATCH' | 'POST' | 'DELETE';
  /** After /api/data/v<version>, with its query. */
  path: string;
  json?: unknown;
  /** A body already serialized (UploadBlock's, written without a second copy). */
  raw?: Buffer;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface DynamicsAdapterOptions {
  name: string;
  baseUrl: string;
  apiVersion: string;
  alternateKey?: string;
  /** A text column that also gets our key when records are upserted by GUID (searchable in the UI). */
  keyField?: string;
  match: 'external-id' | 'contact';
  /** Learn the org's maxuploadfilesize (skipped when config `maxFileBytes` decides the limit anyway). */
  learnLimit: boolean;
}

export class DynamicsAdapter implements CrmAdapter {
  readonly label = LABEL;
  readonly textLimitChars = NOTE_TEXT_LIMIT;
  readonly entriesPerWrite = 1;
  private maxUploadBase64 = DEFAULT_MAX_UPLOAD_BASE64;
  private limitLookup: Promise<void> | null = null;
  private readonly closing = new AbortController();
  private readonly api: string;

  constructor(
    private readonly http: CrmHttp,
    private readonly options: DynamicsAdapterOptions,
  ) {
    this.api = `${options.baseUrl.replace(/\/+$/, '')}/api/data/v${options.apiVersion}`;
  }

  /** The org's limit is learned before the first file is weighed (the engine awaits this before `wantsBody`). */
  prepare(): Promise<void> {
    return this.learnLimit();
  }

  /** The raw size whose base64 fits the org's maxuploadfilesize (the default until the org has answered). */
  get fileLimitBytes(): number {
    return rawBytesFitting(this.maxUploadBase64);
  }

  async findRecord(engagement: EngagementInfo, signal?: AbortSignal): Promise<CrmRecord | null> {
    const row = await this.getOrNull<PhoneCallRow>(`/phonecalls(${this.recordAddress(engagement)})?$select=activityid,subject`, signal);
    return row ? recordOf(row) : null;
  }

  async createRecord(engagement: EngagementInfo, signal?: AbortSignal): Promise<CrmRecord> {
    const body: Record<string, unknown> = { ...phoneCallFields(engagement) };
    if (!this.options.alternateKey && this.options.keyField) body[this.options.keyField] = recordKeyOf(engagement.engagementId);
    if (this.options.match === 'contact') {
      const contactId = await this.findContact(engagement.consumers[0]?.number, signal);
      if (contactId) body['regardingobjectid_contact@odata.bind'] = `/contacts(${contactId})`;
    }
    const path = `/phonecalls(${this.recordAddress(engagement)})`;
    try {
      // Create-only (If-None-Match: *): a phone call that exists already (made by a parallel run, or closed by an
      // agent, which makes it read-only) is left as it is and read back instead.
      const { value } = await this.request<PhoneCallRow>(
        { method: 'PATCH', path: `${path}?$select=activityid,subject`, json: body, headers: { prefer: 'return=representation', 'if-none-match': '*' }, signal },
        parsePhoneCall,
      );
      return recordOf(value);
    } catch (error) {
      if (statusOf(error) !== 412) throw error;
      const existing = await this.getOrNull<PhoneCallRow>(`${path}?$select=activityid,subject`, signal);
      if (!existing) throw error;
      return recordOf(existing);
    }
  }

  async writeTexts(record: CrmRecord, entries: readonly TextEntry[], signal?: AbortSignal): Promise<string[]> {
    const locations: string[] = [];
    for (const entry of entries) {
      const id = uuidV5(entry.key);
      const body: Record<string, unknown> = { subject: entry.title.slice(0, 500), notetext: entry.text, ...bindingTo(record) };
      // An edited entry that was a .txt file before (a longer text) stops being one.
      if (entry.previous) Object.assign(body, { documentbody: null, filename: null, mimetype: null });
      await this.request({ method: 'PATCH', path: `/annotations(${id})`, json: body, signal });
      await this.dropPrevious(entry.previous, id);
      locations.push(locationOf(id));
    }
    return locations;
  }

  async attachFile(record: CrmRecord, file: FileEntry, signal?: AbortSignal): Promise<string> {
    const id = uuidV5(file.key);
    if (!file.previous && file.size !== undefined) {
      // A crash after the upload, before the ledger: the note is there with the whole file.
      const existing = await this.annotation(id, signal);
      if (existing?.isdocument && existing.filesize === file.size && sameId(existing._objectid_value, record.id)) {
        file.body.resume();
        return locationOf(id);
      }
    }
    const target = {
      subject: file.title.slice(0, 500),
      notetext: `${file.title}\n${markerOf(file.key)}`,
      filename: file.fileName.slice(0, 255),
      mimetype: file.contentType.slice(0, 256),
      ...bindingTo(record),
    };
    let whole = file.bytes;
    let stream = file.body;
    if (whole) {
      file.body.resume();
    } else {
      const head = await readHead(file.body, BLOCK_BYTES);
      if (head.ended) whole = wholeBody(head);
      else stream = head.rest;
    }
    if (whole && whole.length <= BLOCK_BYTES) {
      await this.request({ method: 'PATCH', path: `/annotations(${id})`, json: { ...target, documentbody: whole.toString('base64') }, signal });
    } else {
      await this.uploadInBlocks(id, target, whole ? Readable.from([whole]) : stream, signal);
    }
    await this.dropPrevious(file.previous, id);
    return locationOf(id);
  }

  async findEntry(record: CrmRecord, key: string, _kind: ArtifactKind): Promise<FoundEntry | null> {
    const id = uuidV5(key);
    const row = await this.annotation(id);
    if (!row || !sameId(row._objectid_value, record.id)) return null;
    const size = row.isdocument ? (row.filesize ?? 0) : Buffer.byteLength(row.notetext ?? '', 'utf8');
    return { location: locationOf(id), size };
  }

  async readEntry(location: string): Promise<Readable> {
    const id = idOf(location);
    const row = await this.annotation(id);
    if (!row) throw new DestinationError(this.options.name, `${LABEL} has no note ${id}`);
    if (!row.isdocument) return Readable.from([Buffer.from(row.notetext ?? '', 'utf8')]);
    const stream = this.http.got.stream(`${this.api}/annotations(${id})/documentbody/$value`, { headers: { ...ODATA_HEADERS, accept: 'text/plain' } });
    const decoder = new Base64Decoder();
    stream.on('error', (error: Error) => decoder.destroy(this.http.explain(error, { method: 'GET', url: stream.requestUrl ?? this.api })));
    return stream.pipe(decoder);
  }

  async removeEntry(location: string): Promise<void> {
    try {
      await this.request({ method: 'DELETE', path: `/annotations(${idOf(location)})` });
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  async close(): Promise<void> {
    this.closing.abort();
    await this.limitLookup?.catch(() => undefined);
  }

  /** Reads `organization.maxuploadfilesize` once per run; until it answers (or if it refuses) the default applies. */
  private learnLimit(): Promise<void> {
    if (!this.options.learnLimit) return Promise.resolve();
    this.limitLookup ??= this.request<number>({ method: 'GET', path: '/organizations?$select=maxuploadfilesize', signal: this.closing.signal }, parseMaxUpload)
      .then(({ value }) => {
        this.maxUploadBase64 = value;
      })
      .catch((error: unknown) => {
        const status = statusOf(error);
        // Refused (no Read on Organization, say): keep the default for the run. Busy or unreachable: ask again later.
        if (status === undefined || status === 429 || status >= 500) this.limitLookup = null;
        if (error instanceof DestinationUnavailableError) throw error;
      });
    return this.limitLookup;
  }

  private async uploadInBlocks(id: string, target: Record<string, unknown>, body: Readable, signal?: AbortSignal): Promise<void> {
    const annotation = { annotationid: id, ...target, '@odata.type': 'Microsoft.Dynamics.CRM.annotation' };
    const { value: token } = await this.request<string>({ method: 'POST', path: '/InitializeAnnotationBlocksUpload', json: { Target: annotation }, signal }, parseContinuationToken);
    const blockList: string[] = [];
    const bodies = new UploadBlockBodies(token);
    for await (const block of blocksOf(body)) {
      const blockId = blockIdOf(blockList.length);
      await this.request({ method: 'POST', path: '/UploadBlock', raw: bodies.body(blockId, block), signal });
      blockList.push(blockId);
    }
    await this.request({ method: 'POST', path: '/CommitAnnotationBlocksUpload', json: { Target: annotation, BlockList: blockList, FileContinuationToken: token }, signal });
  }

  private async dropPrevious(previous: string | undefined, id: string): Promise<void> {
    if (!previous || previous === locationOf(id) || !isLocation(previous)) return;
    await this.removeEntry(previous);
  }

  private async findContact(phone: string | undefined, signal?: AbortSignal): Promise<string | null> {
    if (!phone) return null;
    const literal = `'${phone.replace(/'/g, "''")}'`;
    const filter = encodeURIComponent(`telephone1 eq ${literal} or mobilephone eq ${literal}`);
    const { value } = await this.request<string[]>({ method: 'GET', path: `/contacts?$select=contactid&$filter=${filter}&$top=2`, signal }, parseContactIds);
    return value[0] ?? null;
  }

  private annotation(id: string, signal?: AbortSignal): Promise<AnnotationRow | null> {
    return this.getOrNull<AnnotationRow>(`/annotations(${id})?$select=annotationid,notetext,isdocument,filesize,_objectid_value`, signal);
  }

  /** `(<alternate key>='<our key>')` or `(<UUIDv5 of our key>)`. */
  private recordAddress(engagement: EngagementInfo): string {
    const key = recordKeyOf(engagement.engagementId);
    if (!this.options.alternateKey) return uuidV5(key);
    return `${this.options.alternateKey}='${encodeURIComponent(key.replace(/'/g, "''"))}'`;
  }

  private async getOrNull<T>(path: string, signal?: AbortSignal): Promise<T | null> {
    try {
      return (await this.request<T>({ method: 'GET', path, signal }, (body) => JSON.parse(body) as T)).value;
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw error;
    }
  }

  private async request<T = string>(
    call: ApiCall,
    parse?: (body: string) => T,
  ): Promise<{ value: T }> {
    const body = call.raw ?? (call.json === undefined ? undefined : JSON.stringify(call.json));
    return this.sendOnce(call, body, parse);
  }

  private async sendOnce<T>(
    call: ApiCall,
    body: string | Buffer | undefined,
    parse?: (body: string) => T,
  ): Promise<{ value: T }> {
    const { value } = await this.http.send<T>(
        {
          url: `${this.api}${call.path}`,
          method: call.method,
          headers: { ...ODATA_HEADERS, ...(body === undefined ? {} : JSON_BODY), ...call.headers },
          body,
          ...(call.signal ? { signal: call.signal } : {}),
        },
        parse === undefined ? undefined : (text) => parseAnswer(text, parse, `${call.method} ${call.path.split('?')[0]}`, this.options.name),
      );
    return { value };
  }
}

/** How Dataverse (and Entra ID, for the token) says slow down, token expired. */
export function classifyDynamics(answer: CrmAnswer): CrmSignal | null {
  // Service protection: 0x80072322 (requests), 0x80072321 (execution time), 0x80072326 (concurrency); all say Retry-After.
  if (answer.statusCode === 429) return { type: 'rate-limit', waitMs: retryAfterMs(answer.headers) };
  if (answer.statusCode === 401) return { type: 'auth-expired' };
  return null;
}


export interface DynamicsTestHooks {
  now?: () => number;
  groupDelayMs?: number;
}

export function createDynamicsDestination(config: DynamicsDestinationConfig, env: NodeJS.ProcessEnv, hooks: DynamicsTestHooks = {}): CrmDestination {
  const baseUrl = config.baseUrl.replace(/\/+$/, '');
  const clientId = secretFromEnv(env, config.clientIdEnv, config.name, 'the Entra ID application (client) id');
  const clientSecret = secretFromEnv(env, config.clientSecretEnv, config.name, 'the Entra ID client secret');
  const tokenUrl = config.tokenUrl ?? `https://login.microsoftonline.com/${encodeURIComponent(secretFromEnv(env, config.tenantIdEnv, config.name, 'the Entra ID tenant id'))}/oauth2/v2.0/token`;
  const tokens = new OAuthToken({
    destination: config.name,
    label: LABEL,
    tokenUrl,
    form: () => ({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: `${baseUrl}/.default` }),
    timeoutMs: 30_000,
    now: hooks.now,
  });
  return buildCrmDestination(config, {
    label: LABEL,
    tokens,
    classify: classifyDynamics,
    now: hooks.now,
    groupDelayMs: hooks.groupDelayMs,
    adapter: (http) =>
      new DynamicsAdapter(http, {
        name: config.name,
        baseUrl,
        apiVersion: config.apiVersion,
        alternateKey: config.alternateKey,
        keyField: config.record.field,
        match: config.record.match,
        learnLimit: config.maxFileBytes === undefined,
      }),
  });
}

function bindingTo(record: CrmRecord): Record<string, string> {
  return { 'objectid_phonecall@odata.bind': `/phonecalls(${record.id})` };
}

function recordOf(row: PhoneCallRow): CrmRecord {
  return { id: row.activityid, label: `phone call "${row.subject ?? row.activityid}"` };
}

function locationOf(annotationId: string): string {
  return `annotation/${annotationId}`;
}

function isLocation(location: string): boolean {
  return /^annotation\/[0-9a-f-]{36}$/i.test(location) && isGuid(location.slice('annotation/'.length));
}

function idOf(location: string): string {
  if (!isLocation(location)) throw new DestinationError('dynamics', `not a ${LABEL} note location: ${location}`);
  return location.slice('annotation/'.length);
}

function sameId(a: string | null | undefined, b: string): boolean {
  return typeof a === 'string' && a.toLowerCase() === b.toLowerCase();
}



function parseAnswer<T>(text: string, parse: (body: string) => T, request: string, destination: string): T {
  try {
    return parse(text);
  } catch (error) {
    throw new DestinationError(destination, `${LABEL} answered ${request} with an unexpected body: ${(error as Error).message}`);
  }
}

