// Each artifact PUT (or POSTed) to a URL template, with an Idempotency-Key naming the artifact and its version and the
// artifact's description as JSON in X-Zcc-Metadata. A body of up to `bufferBytes` is held in memory, so its sha256
// travels with it (metadata, Content-Digest) and a 5xx/429/reset is retried; a larger one streams through once
// (a one-pass download cannot be replayed): its failure fails the artifact for this run, and the next run retries.
import { createHash } from 'node:crypto';
import { Duration } from 'luxon';
import type { Readable } from 'node:stream';
import got, { HTTPError, RequestError, type Got } from 'got';
import { HTTP_URL_PLACEHOLDERS, type HttpDestinationConfig } from '../config-schema.js';
import { ConfigError, DestinationError } from '../errors.js';
import { foreignLine } from '../foreign-text.js';
import { redactor } from '../redact.js';
import { meterBody, readHead, wholeBody, whenAnswered } from './body.js';
import { asciiJson } from './object-store.js';
import { objectPath, type ObjectAddress } from './paths.js';
import type { Destination, PutRequest, PutResult, StoredObject } from './types.js';

const MiB = 1024 * 1024;
export const METADATA_HEADER = 'x-zcc-metadata';
/** 5xx that a retry can fix (not 501 Not Implemented, 505 HTTP Version Not Supported), and 429. */
const RETRY_STATUSES = [429, ...Array.from({ length: 100 }, (_, i) => 500 + i).filter((status) => status !== 501 && status !== 505)];

export interface HttpRetry {
  limit: number;
  maxBackoffMs: number;
  /** A Retry-After longer than this is not waited for. */
  maxRetryAfterMs: number;
}

export interface HttpDestinationOptions {
  name: string;
  /** With {kind} {key} {engagementId} {date}, each replaced by the URL-encoded value. */
  url: string;
  method?: 'PUT' | 'POST';
  /** Sent with every request; already resolved (no ${NAME} left). */
  headers?: Record<string, string>;
  timeoutMs?: number;
  retry?: HttpRetry;
  bufferBytes?: number;
}

/** The description sent in X-Zcc-Metadata (and expected back from HEAD for stat). */
export interface MetadataHeader {
  key: string;
  kind: string;
  engagementId: string;
  date: string;
  occurredAt: string;
  contentType: string;
  size?: number;
  sha256?: string;
  metadata: Record<string, string>;
}

/** `${NAME}` in a header value is the environment variable NAME; a missing one is a config error naming it. */
export function resolveHeaders(destination: string, headers: Record<string, string>, env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([header, template]) => [
      header,
      template.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, variable: string) => {
        const value = env[variable];
        if (!value) throw new ConfigError(`environment variable ${variable}`, undefined, `a value for header ${header} of destination ${destination}`);
        if (/[\r\n\u0000]/.test(value)) throw new ConfigError(`environment variable ${variable}`, '(hidden)', 'a value without line breaks');
        return value;
      }),
    ]),
  );
}

export class HttpDestination implements Destination {
  readonly type = 'http';
  readonly name: string;
  private readonly template: string;
  private readonly origin: string;
  private readonly method: 'PUT' | 'POST';
  private readonly headers: Record<string, string>;
  private readonly bufferBytes: number;
  private readonly client: Got;
  /**
   * An endpoint may echo our headers in its error text (`bad credentials: Bearer …`), and the message goes into the
   * ledger: each configured header value, and each word of one, is blanked (whole values first).
   */
  private readonly withoutSecrets: (text: string) => string;

  static fromConfig(config: HttpDestinationConfig, env: NodeJS.ProcessEnv): HttpDestination {
    return new HttpDestination({
      name: config.name,
      url: config.url,
      method: config.method,
      headers: resolveHeaders(config.name, config.headers, env),
      timeoutMs: Duration.fromISO(config.timeout).toMillis(),
      retry: {
        limit: config.retry.limit,
        maxBackoffMs: Duration.fromISO(config.retry.maxBackoff).toMillis(),
        maxRetryAfterMs: Duration.fromISO(config.retry.maxRetryAfter).toMillis(),
      },
      bufferBytes: config.bufferMiB * MiB,
    });
  }

  constructor(options: HttpDestinationOptions) {
    this.name = options.name;
    this.template = options.url;
    this.origin = new URL(fillTemplate(options.url, { kind: 'x', key: 'x', engagementId: 'x', date: 'x' })).origin;
    this.method = options.method ?? 'PUT';
    this.headers = { ...options.headers };
    const secrets = Object.values(this.headers)
      .flatMap((value) => [value, ...value.split(/\s+/)])
      .sort((a, b) => b.length - a.length);
    this.withoutSecrets = redactor({}, () => secrets);
    this.bufferBytes = options.bufferBytes ?? 8 * MiB;
    const timeoutMs = options.timeoutMs ?? 60_000;
    const retry = options.retry ?? { limit: 5, maxBackoffMs: 30_000, maxRetryAfterMs: 120_000 };
    this.client = got.extend({
      // Not `request`/`send`: a long upload that keeps moving must not be cut.
      timeout: { connect: Math.min(timeoutMs, 10_000), socket: timeoutMs, response: timeoutMs },
      // A redirect could carry our headers elsewhere; it fails the request instead.
      followRedirect: false,
      retry: {
        limit: retry.limit,
        // POST is safe to repeat here: the Idempotency-Key names the artifact.
        methods: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'],
        statusCodes: RETRY_STATUSES,
        backoffLimit: retry.maxBackoffMs,
        maxRetryAfter: retry.maxRetryAfterMs,
      },
    });
  }

  async put(request: PutRequest, body: Readable, signal?: AbortSignal): Promise<PutResult> {
    let url: string;
    try {
      signal?.throwIfAborted();
      url = this.urlFor(request);
    } catch (error) {
      body.destroy();
      throw error;
    }
    const meter = meterBody(body, request.size, signal);
    try {
      const head = await readHead(meter, this.bufferBytes, request.size);
      const upload = head.ended
        ? this.buffered(request, wholeBody(head), meter.sha256)
        : { body: head.rest, headers: this.putHeaders(request, request.size), retry: { limit: 0 } };
      const response = await this.client(url, { method: this.method, ...upload, signal });
      this.checkStatus(response.statusCode, this.method, url, request.key);
      return { location: url };
    } catch (error) {
      meter.destroy();
      throw this.failure(this.method, url, request.key, error);
    }
  }

  async stat(request: ObjectAddress): Promise<StoredObject | null> {
    const url = this.urlFor(request);
    try {
      const response = await this.client(url, { method: 'HEAD', headers: this.headers });
      this.checkStatus(response.statusCode, 'HEAD', url, request.key);
      const size = Number(response.headers['content-length'] ?? Number.NaN);
      if (!Number.isSafeInteger(size)) throw new Error('HEAD answered without a Content-Length');
      return { location: url, size, metadata: metadataOf(response.headers[METADATA_HEADER]) };
    } catch (error) {
      if (error instanceof HTTPError && [404, 410].includes(error.response.statusCode)) return null;
      throw this.failure('HEAD', url, request.key, error);
    }
  }

  async read(location: string): Promise<Readable> {
    const url = this.checkLocation(location);
    const stream = this.client.stream(url, { headers: this.headers, retry: { limit: 0 } });
    return whenAnswered(
      stream,
      (error) => this.failure('GET', url, location, error),
      (response) => this.checkStatus(response.statusCode, 'GET', url, location),
    );
  }

  async remove(location: string): Promise<void> {
    const url = this.checkLocation(location);
    try {
      const response = await this.client(url, { method: 'DELETE', headers: this.headers });
      this.checkStatus(response.statusCode, 'DELETE', url, location);
    } catch (error) {
      if (error instanceof HTTPError && [404, 410].includes(error.response.statusCode)) return;
      throw this.failure('DELETE', url, location, error);
    }
  }

  async close(): Promise<void> {}

  /** The template filled in; objectPath refuses the ids no destination accepts. */
  private urlFor(request: ObjectAddress): string {
    objectPath(request);
    return fillTemplate(this.template, { kind: request.kind, key: request.key, engagementId: request.engagementId, date: request.date });
  }

  /** A body in memory: its size and sha256 are known, and got can send it again on a retry. */
  private buffered(request: PutRequest, bytes: Buffer, sha256: string): { body: Buffer; headers: Record<string, string> } {
    const digest = `sha-256=:${Buffer.from(sha256, 'hex').toString('base64')}:`;
    return { body: bytes, headers: { ...this.putHeaders(request, bytes.length, sha256), 'content-digest': digest } };
  }

  private putHeaders(request: PutRequest, size: number | undefined, sha256?: string): Record<string, string> {
    const description: MetadataHeader = {
      key: request.key,
      kind: request.kind,
      engagementId: request.engagementId,
      date: request.date,
      occurredAt: request.occurredAt,
      contentType: request.contentType,
      ...(size !== undefined ? { size } : {}),
      ...(sha256 ? { sha256 } : {}),
      metadata: request.metadata,
    };
    return {
      ...this.headers,
      'content-type': request.contentType,
      'idempotency-key': idempotencyKey(request.key, request.fingerprint),
      [METADATA_HEADER]: asciiJson(description),
      ...(size !== undefined ? { 'content-length': String(size) } : {}),
    };
  }

  /** got treats an unfollowed redirect as success; for us anything but 2xx is not stored. */
  private checkStatus(status: number, method: string, url: string, key: string): void {
    if (status < 200 || status > 299) {
      throw new DestinationError(this.name, `${key}: ${method} ${withoutQuery(url)} answered ${status} (redirects are not followed)`);
    }
  }

  /** Locations come back from the ledger; our headers (secrets) only ever go to the configured origin. */
  private checkLocation(location: string): string {
    let url: URL | null = null;
    try {
      url = new URL(location);
    } catch {
      // reported below
    }
    if (url?.origin !== this.origin) throw new DestinationError(this.name, `location ${JSON.stringify(location)} is not under ${this.origin}`);
    return url.href;
  }

  private failure(method: string, url: string, key: string, error: unknown): Error {
    if (error instanceof DestinationError || error instanceof ConfigError) return error;
    const where = `${method} ${withoutQuery(url)}`;
    if (error instanceof HTTPError) {
      const { statusCode, statusMessage } = error.response;
      // Header secrets are blanked before the cut (a secret cut short would no longer match).
      const text = typeof error.response.body === 'string' ? foreignLine(this.withoutSecrets(error.response.body.slice(0, 8192)), 200) : '';
      const refused = statusCode >= 400 && statusCode < 500 && statusCode !== 429;
      const tries = error.request.retryCount > 0 ? ` (after ${error.request.retryCount} retries)` : '';
      const detail = `${where} answered ${statusCode} ${statusMessage ?? ''}`.trim() + (text ? `: ${text}` : '');
      return new DestinationError(this.name, `${key}: ${detail}${refused ? ' (refused, not retried)' : tries}`, { cause: error });
    }
    const message = error instanceof RequestError ? `${where}: ${error.message}` : error instanceof Error ? error.message : String(error);
    return new DestinationError(this.name, `${key}: ${message}`, { cause: error });
  }
}

export function fillTemplate(template: string, values: Record<(typeof HTTP_URL_PLACEHOLDERS)[number], string>): string {
  return template.replace(/\{(kind|key|engagementId|date)\}/g, (_match, name: keyof typeof values) => encodeURIComponent(values[name]));
}

/**
 * The key, and the version when known (`<key>#<16 hex of the fingerprint's sha256>`): a retry of one version repeats
 * it, an edited note is a new operation (an endpoint that follows the Idempotency-Key draft refuses a reused key with
 * another payload). Percent-encoded only when it is not plain printable ASCII (not a valid header value otherwise).
 */
export function idempotencyKey(key: string, fingerprint?: string): string {
  const named = /^[\u0021-\u007e]([\u0020-\u007e]*[\u0021-\u007e])?$/.test(key) ? key : encodeURI(key);
  return fingerprint === undefined ? named : `${named}#${createHash('sha256').update(fingerprint).digest('hex').slice(0, 16)}`;
}

function metadataOf(header: string | string[] | undefined): Record<string, string> {
  if (typeof header !== 'string') return {};
  const parsed = JSON.parse(header) as Partial<MetadataHeader>;
  const metadata = parsed.metadata;
  if (!metadata || typeof metadata !== 'object') return {};
  return Object.fromEntries(Object.entries(metadata).filter((pair): pair is [string, string] => typeof pair[1] === 'string'));
}

function withoutQuery(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}${parsed.search ? '?…' : ''}`;
}
