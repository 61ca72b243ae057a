// The HubSpot requests the destination makes (CRM v3 objects, v4 associations, Files v3), each answer parsed into a
// small typed value at this edge. Every request goes through the destination's CrmHttp (pauses, stop, auth header).
import { Readable } from 'node:stream';
import got from 'got';
import { DestinationError } from '../../errors.js';
import type { FileEntry } from '../crm/adapter.js';
import { statusOf, type CrmHttp } from '../crm/http.js';
import { multipartBody } from './multipart.js';

export type ObjectType = 'calls' | 'notes' | 'contacts';

export interface HubspotObject {
  id: string;
  properties: Record<string, string>;
}

export interface HubspotFile {
  id: string;
  size: number;
}

/** One property value as HubSpot sends it (a string; unset ones come as null or are left out). */
type Properties = Record<string, string>;

export class HubspotApi {
  constructor(
    private readonly http: CrmHttp,
    private readonly baseUrl: string,
    private readonly destination: string,
  ) {}

  /** Creates or updates objects by the value of a unique property; resolves to each object by that value. */
  async upsert(type: ObjectType, idProperty: string, inputs: { id: string; properties: Properties }[], signal?: AbortSignal): Promise<Map<string, HubspotObject>> {
    const body = { inputs: inputs.map((input) => ({ idProperty, id: input.id, properties: input.properties })) };
    const answer = await this.json('POST', `/crm/v3/objects/${type}/batch/upsert`, body, signal);
    this.failOnBatchErrors(answer, `upsert of ${type}`);
    const byValue = new Map<string, HubspotObject>();
    for (const result of resultsOf(answer)) {
      const value = result.properties[idProperty];
      if (value !== undefined) byValue.set(value, result);
    }
    // Batch answers are not in input order and need not echo the unique property: read back what is unaccounted for.
    const missing = inputs.map((input) => input.id).filter((id) => !byValue.has(id));
    if (missing.length > 0) {
      for (const [value, object] of await this.readByUnique(type, idProperty, missing, [], signal)) byValue.set(value, object);
    }
    const lost = inputs.map((input) => input.id).filter((id) => !byValue.has(id));
    if (lost.length > 0) throw new DestinationError(this.destination, `HubSpot accepted the ${type} upsert but does not return ${lost.join(', ')}`);
    return byValue;
  }

  /** Objects by the values of a unique property (missing ones are simply absent). */
  async readByUnique(type: ObjectType, idProperty: string, values: string[], properties: string[], signal?: AbortSignal): Promise<Map<string, HubspotObject>> {
    const body = { idProperty, inputs: values.map((id) => ({ id })), properties: [...new Set([...properties, idProperty])], propertiesWithHistory: [] };
    const answer = await this.json('POST', `/crm/v3/objects/${type}/batch/read`, body, signal);
    const found = new Map<string, HubspotObject>();
    for (const result of resultsOf(answer)) {
      const value = result.properties[idProperty];
      if (value !== undefined) found.set(value, result);
    }
    return found;
  }

  async getObject(type: ObjectType, id: string, properties: string[]): Promise<HubspotObject | null> {
    const query = properties.length > 0 ? `?properties=${properties.map(encodeURIComponent).join(',')}` : '';
    try {
      return objectOf(await this.json('GET', `/crm/v3/objects/${type}/${encodeURIComponent(id)}${query}`));
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw error;
    }
  }

  async archive(type: ObjectType, id: string): Promise<void> {
    await this.http.send({ method: 'DELETE', url: this.url(`/crm/v3/objects/${type}/${encodeURIComponent(id)}`) });
  }

  /** The first contact whose phone or mobile phone is exactly `phone`. */
  async contactByPhone(phone: string, signal?: AbortSignal): Promise<string | null> {
    const filterGroups = ['phone', 'mobilephone'].map((propertyName) => ({ filters: [{ propertyName, operator: 'EQ', value: phone }] }));
    // The spec requires every field of PublicObjectSearchRequest, `after` and `sorts` included.
    const body = { filterGroups, properties: ['phone', 'mobilephone'], limit: 1, sorts: [], after: '0' };
    const answer = await this.json('POST', '/crm/v3/objects/contacts/search', body, signal);
    return resultsOf(answer)[0]?.id ?? null;
  }

  /** HubSpot's default (unlabelled) association between two objects; idempotent. */
  async associateDefault(fromType: ObjectType, fromId: string, toType: ObjectType, toId: string, signal?: AbortSignal): Promise<void> {
    const path = `/crm/v4/objects/${fromType}/${encodeURIComponent(fromId)}/associations/default/${toType}/${encodeURIComponent(toId)}`;
    await this.http.send({ method: 'PUT', url: this.url(path), signal });
  }

  async associateDefaultBatch(fromType: ObjectType, toType: ObjectType, pairs: { from: string; to: string }[], signal?: AbortSignal): Promise<void> {
    if (pairs.length === 0) return;
    const body = { inputs: pairs.map((pair) => ({ from: { id: pair.from }, to: { id: pair.to } })) };
    await this.json('POST', `/crm/v4/associations/${fromType}/${toType}/batch/associate/default`, body, signal);
  }

  async associatedIds(type: ObjectType, id: string, toType: ObjectType, signal?: AbortSignal): Promise<string[]> {
    const answer = await this.json('GET', `/crm/v4/objects/${type}/${encodeURIComponent(id)}/associations/${toType}`, undefined, signal);
    const results = (answer as { results?: unknown }).results;
    if (!Array.isArray(results)) throw this.malformed('association list');
    return results.map((result: unknown) => String((result as { toObjectId?: unknown }).toObjectId ?? ''));
  }

  /** Uploads one file (multipart, streamed unless its bytes are at hand) as a private file in `folderPath`. */
  async uploadFile(file: FileEntry, folderPath: string, signal?: AbortSignal): Promise<HubspotFile> {
    const options = JSON.stringify({ access: 'PRIVATE', overwrite: false, duplicateValidationStrategy: 'NONE', duplicateValidationScope: 'EXACT_FOLDER' });
    const form = multipartBody({ options, folderPath, fileName: file.fileName }, { field: 'file', fileName: file.fileName, contentType: file.contentType }, file.bytes ?? file.body);
    const url = this.url('/files/v3/files');
    let answer: unknown;
    try {
      const response = await this.http.got.post(url, {
        body: form.body,
        headers: { 'content-type': form.contentType, ...(form.length === undefined ? {} : { 'content-length': String(form.length) }) },
        // A stream cannot be sent twice; a 429 still pauses the destination through the client's hooks.
        retry: form.replayable ? undefined : { limit: 0 },
        signal,
        responseType: 'text',
      });
      answer = parseJson(response.body, () => this.malformed('file upload answer'));
    } catch (error) {
      // The file's own failure (a reset download, an abort) says more than the request it cut short.
      throw form.sourceError() ?? this.http.explain(error, { method: 'POST', url });
    }
    return fileOf(answer, () => this.malformed('file upload answer'));
  }

  async fileInfo(id: string, signal?: AbortSignal): Promise<HubspotFile | null> {
    try {
      return fileOf(await this.json('GET', `/files/v3/files/${encodeURIComponent(id)}`, undefined, signal), () => this.malformed('file'));
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw error;
    }
  }

  async deleteFile(id: string): Promise<void> {
    try {
      await this.http.send({ method: 'DELETE', url: this.url(`/files/v3/files/${encodeURIComponent(id)}`) });
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  /** A private file's bytes, through a short-lived signed URL. */
  async download(id: string): Promise<Readable> {
    const answer = await this.json('GET', `/files/v3/files/${encodeURIComponent(id)}/signed-url?expirationSeconds=300`);
    const url = (answer as { url?: unknown }).url;
    if (typeof url !== 'string') throw this.malformed('signed URL');
    // The signed URL is HubSpot's CDN, not the API: plain got, so the API token never goes to that host.
    return got.stream(url, { retry: { limit: 2 } });
  }

  private url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  private async json(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
    const { value } = await this.http.send(
      { method: method as 'GET', url: this.url(path), ...(body === undefined ? {} : { json: body }), signal },
      (text) => parseJson(text, () => this.malformed(`answer to ${method} ${path}`)),
    );
    return value;
  }

  /** A 207 (some inputs failed) fails the whole write: what did go through is idempotent and goes again. */
  private failOnBatchErrors(answer: unknown, what: string): void {
    const errors = (answer as { errors?: unknown }).errors;
    if (!Array.isArray(errors) || errors.length === 0) return;
    const messages = errors.map((error: unknown) => {
      const entry = (error ?? {}) as { category?: unknown; message?: unknown; context?: { ids?: unknown } };
      const ids = Array.isArray(entry.context?.ids) ? ` (${entry.context.ids.join(', ')})` : '';
      return `${String(entry.category ?? 'ERROR')}: ${String(entry.message ?? '')}${ids}`;
    });
    throw new DestinationError(this.destination, `HubSpot refused part of the ${what}: ${messages.join('; ').slice(0, 400)}`);
  }

  private malformed(what: string): DestinationError {
    return new DestinationError(this.destination, `HubSpot sent a malformed ${what}`);
  }
}

function parseJson(text: string, malformed: () => Error): unknown {
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw malformed();
  }
}

function objectOf(value: unknown): HubspotObject {
  const entry = (value ?? {}) as { id?: unknown; properties?: unknown };
  const properties: Properties = {};
  if (entry.properties && typeof entry.properties === 'object') {
    for (const [name, property] of Object.entries(entry.properties)) if (typeof property === 'string') properties[name] = property;
  }
  return { id: String(entry.id ?? ''), properties };
}

function resultsOf(answer: unknown): HubspotObject[] {
  const results = (answer as { results?: unknown }).results;
  return Array.isArray(results) ? results.map(objectOf).filter((object) => object.id !== '') : [];
}

function fileOf(value: unknown, malformed: () => Error): HubspotFile {
  const entry = (value ?? {}) as { id?: unknown; size?: unknown };
  if (typeof entry.id !== 'string' && typeof entry.id !== 'number') throw malformed();
  return { id: String(entry.id), size: typeof entry.size === 'number' ? entry.size : Number(entry.size ?? NaN) };
}

