// The REST plumbing the Salesforce adapter stands on: requests through the destination's CrmHttp (so pauses, token
// refresh and the run-wide stop apply), answers parsed at the edge, SOQL string literals, and our keys as external-id
// values.
import type { Readable } from 'node:stream';
import type { OptionsInit } from 'got';
import { DestinationError } from '../../errors.js';
import { statusOf, type CrmHttp } from '../crm/http.js';


export interface RestOptions {
  destination: string;
  http: CrmHttp;
  /** `https://<instance>/services/data/vNN.N`, known once a token was fetched. */
  apiRoot: () => Promise<string>;
}

export interface SaveResult {
  id: string;
  created?: boolean;
}

export class SalesforceRest {
  constructor(private readonly options: RestOptions) {}

  get destination(): string {
    return this.options.destination;
  }

  async url(path: string): Promise<string> {
    return `${await this.options.apiRoot()}${path}`;
  }

  /** The answer's body, or an error naming the request (pauses, refresh and the run-wide stop are the client's). */
  async send(path: string, options: Omit<OptionsInit, 'url'> = {}): Promise<{ status: number; body: string }> {
    const url = await this.url(path).catch((error: unknown) => {
      throw this.options.http.explain(error, { url: path });
    });
    const { response } = await this.options.http.send({ ...options, url });
    return { status: response.statusCode, body: response.body };
  }

  async json<T>(path: string, parse: (value: unknown) => T, options: Omit<OptionsInit, 'url'> = {}): Promise<T> {
    const { body } = await this.send(path, options);
    return parse(parseJson(body, path));
  }

  /** Like `json`, but a 404 NOT_FOUND is null. */
  async jsonOrNull<T>(path: string, parse: (value: unknown) => T, options: Omit<OptionsInit, 'url'> = {}): Promise<T | null> {
    try {
      return await this.json(path, parse, options);
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw error;
    }
  }

  /** A streamed GET (for file bytes); got's afterResponse hooks do not run on streams, so callers check first. */
  async stream(path: string): Promise<Readable> {
    return this.options.http.got.stream(await this.url(path));
  }

  async query<T>(soql: string, parse: (record: Record<string, unknown>) => T, signal?: AbortSignal): Promise<T[]> {
    const answer = await this.json(`/query?q=${encodeURIComponent(soql)}`, (value) => parseQuery(value, this.destination), { signal });
    return answer.map(parse);
  }

  fail(message: string, cause?: unknown): DestinationError {
    return new DestinationError(this.destination, `Salesforce ${message}`, cause === undefined ? undefined : { cause });
  }
}


function parseJson(body: string, path: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new Error(`Salesforce answered ${path.split('?')[0]} with a body that is not JSON`);
  }
}

export function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`Salesforce ${what}: expected a JSON object`);
  return value as Record<string, unknown>;
}

export function stringField(record: Record<string, unknown>, field: string, what: string): string {
  const value = record[field];
  if (typeof value !== 'string' || value === '') throw new Error(`Salesforce ${what}: ${field} missing`);
  return value;
}

export function optionalString(record: Record<string, unknown>, field: string): string | undefined {
  const value = record[field];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** `{id, success, errors, created}` of a create or upsert. */
export function parseSaveResult(value: unknown): SaveResult {
  const result = asObject(value, 'save result');
  if (result.success !== true) throw new Error(`Salesforce save result: success is not true: ${JSON.stringify(result.errors ?? null).slice(0, 200)}`);
  return { id: stringField(result, 'id', 'save result'), created: typeof result.created === 'boolean' ? result.created : undefined };
}

function parseQuery(value: unknown, destination: string): Record<string, unknown>[] {
  const answer = asObject(value, 'query result');
  if (!Array.isArray(answer.records)) throw new Error('Salesforce query result: records missing');
  if (answer.done === false) throw new DestinationError(destination, 'Salesforce query matched more records than one page holds');
  return answer.records.map((record) => asObject(record, 'query record'));
}

/** A SOQL string literal: quotes and backslashes escaped, line breaks written as escapes. */
export function soqlString(value: string): string {
  const escaped = value.replace(/[\\'"\n\r\t]/g, (char) => ({ '\\': '\\\\', "'": "\\'", '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[char] ?? char);
  return `'${escaped}'`;
}

/**
 * Our key as an external-id value in a URL path: "/" becomes ":" (Salesforce routes on the path, so a slash, even
 * encoded, is not safe there), the rest is percent-encoded.
 */
export function externalIdOf(key: string): string {
  return key.replace(/\//g, ':');
}

export function externalIdPath(keyField: string, key: string): string {
  return `/sobjects/Task/${keyField}/${encodeURIComponent(externalIdOf(key))}`;
}
