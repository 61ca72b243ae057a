// The config's shape, declared once. config.schema.json is generated from it (npm run schema).
import { Duration } from 'luxon';
import { z } from 'zod';
import { ARTIFACT_KINDS } from './artifacts.js';

const isoDuration = z
  .string()
  .refine((text) => Duration.fromISO(text).isValid && Duration.fromISO(text).toMillis() >= 0, {
    message: 'an ISO-8601 duration such as "P2D" or "PT2M"',
  });

const timezone = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, { message: 'an IANA time zone such as "UTC" or "America/New_York"' });

const kind = z.enum(ARTIFACT_KINDS);
const name = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a name of 1-64 letters, digits, "_", "." or "-"');

const destinationBase = { name, kinds: z.array(kind).min(1).optional() };

export const filesystemDestinationSchema = z.strictObject({
  ...destinationBase,
  type: z.literal('filesystem'),
  path: z.string().min(1),
});

const SEVEN_DAYS_MS = 7 * 86_400_000;

/** How long a handed-out link stays valid: S3 presigned URLs cannot outlive 7 days, and we hold Azure to the same. */
const linkLifetime = z.string().refine(
  (text) => {
    const duration = Duration.fromISO(text);
    return duration.isValid && duration.toMillis() >= 1000 && duration.toMillis() <= SEVEN_DAYS_MS;
  },
  { message: 'an ISO-8601 duration from "PT1S" to "P7D" (7 days)' },
);

/** An object-name prefix: relative segments joined by "/", never "." or "..", no control characters. */
const objectPrefix = z
  .string()
  .max(512)
  .refine(
    (prefix) =>
      prefix === '' ||
      prefix
        .replace(/\/$/, '')
        .split('/')
        .every((segment) => segment !== '' && segment !== '.' && segment !== '..' && !/[\u0000-\u001f\u007f\\]/.test(segment)),
    { message: 'a relative prefix such as "zcc/" (segments joined by "/", no "..", no leading "/")' },
  );

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name such as "MY_TOKEN"');
const httpUrl = z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' });
const uploadConcurrency = z.number().int().min(1).max(16).default(2);

export const s3DestinationSchema = z
  .strictObject({
    ...destinationBase,
    type: z.literal('s3'),
    bucket: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name: 3-63 lowercase letters, digits, "." or "-"'),
    prefix: objectPrefix.default(''),
    /** Default: the AWS SDK's chain (AWS_REGION, the profile). */
    region: z.string().min(1).optional(),
    /** An S3-compatible store's URL; default: AWS for the region. */
    endpoint: httpUrl.optional(),
    forcePathStyle: z.boolean().default(false),
    serverSideEncryption: z.enum(['AES256', 'aws:kms', 'aws:kms:dsse']).optional(),
    kmsKeyId: z.string().min(1).optional(),
    /** Bodies up to one part go up as one PUT (with their sha256 in metadata); larger ones as a multipart upload. */
    partSizeMiB: z.number().int().min(5).max(5120).default(5),
    uploadConcurrency,
    linkLifetime: linkLifetime.default('PT1H'),
  })
  .refine((s3) => s3.kmsKeyId === undefined || s3.serverSideEncryption?.startsWith('aws:kms') === true, {
    message: 'kmsKeyId only with serverSideEncryption "aws:kms" or "aws:kms:dsse"',
    path: ['kmsKeyId'],
  });

export const azureBlobDestinationSchema = z.strictObject({
  ...destinationBase,
  type: z.literal('azure-blob'),
  container: z
    .string()
    .regex(/^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, 'a container name: 3-63 lowercase letters, digits and single "-"'),
  prefix: objectPrefix.default(''),
  /** The blob service URL; default: https://<account>.blob.core.windows.net (or the connection string's). */
  endpoint: httpUrl.optional(),
  connectionStringEnv: envName.default('AZURE_STORAGE_CONNECTION_STRING'),
  accountEnv: envName.default('AZURE_STORAGE_ACCOUNT'),
  accountKeyEnv: envName.default('AZURE_STORAGE_KEY'),
  sasTokenEnv: envName.default('AZURE_STORAGE_SAS_TOKEN'),
  /** Bodies up to one block go up as one Put Blob; larger ones as staged blocks committed at the end. */
  blockSizeMiB: z.number().int().min(1).max(4000).default(8),
  uploadConcurrency,
  linkLifetime: linkLifetime.default('PT1H'),
});

export const HTTP_URL_PLACEHOLDERS = ['kind', 'key', 'engagementId', 'date'] as const;
/** Headers the http destination sets itself; a configured one would break its protocol. */
const RESERVED_HEADERS = ['content-length', 'transfer-encoding', 'host', 'connection', 'idempotency-key', 'x-zcc-metadata', 'content-digest'];

const urlTemplate = z
  .string()
  .refine((template) => [...template.matchAll(/\{([^{}]*)\}/g)].every((m) => (HTTP_URL_PLACEHOLDERS as readonly string[]).includes(m[1] ?? '')), {
    message: `a URL whose placeholders are among ${HTTP_URL_PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`,
  })
  .refine((template) => isAllowedHttpTarget(template.replace(/\{[^{}]*\}/g, 'x')), {
    message: 'an https:// URL template (plain http only for a loopback host such as 127.0.0.1)',
  });

const headerValue = z
  .string()
  .max(8192)
  .refine((value) => !/[\r\n\u0000]/.test(value), { message: 'a header value without line breaks' })
  .refine((value) => [...value.matchAll(/\$\{([^}]*)\}/g)].every((m) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(m[1] ?? '')), {
    message: 'a header value whose ${NAME} references name environment variables',
  });

export const httpDestinationSchema = z.strictObject({
  ...destinationBase,
  type: z.literal('http'),
  url: urlTemplate,
  method: z.enum(['PUT', 'POST']).default('PUT'),
  /** Values may name environment variables as ${NAME}; they are read when the destination opens. */
  headers: z
    .record(z.string(), headerValue)
    .superRefine((headers, context) => {
      for (const header of Object.keys(headers)) {
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(header)) {
          context.addIssue({ code: 'custom', path: [header], message: 'an HTTP header name (letters, digits, "-" ...)' });
        } else if (RESERVED_HEADERS.includes(header.toLowerCase())) {
          context.addIssue({ code: 'custom', path: [header], message: `a header other than ${RESERVED_HEADERS.join(', ')} (set by the destination)` });
        }
      }
    })
    .default({}),
  /** Idle socket and time-to-response limit; a long upload that keeps moving is never cut. */
  timeout: isoDuration.default('PT60S'),
  retry: z
    .strictObject({
      limit: z.number().int().min(0).max(20).default(5),
      maxBackoff: isoDuration.default('PT30S'),
      /** A Retry-After longer than this fails the artifact for this run instead of waiting. */
      maxRetryAfter: isoDuration.default('PT2M'),
    })
    .default({ limit: 5, maxBackoff: 'PT30S', maxRetryAfter: 'PT2M' }),
  /** Bodies up to this size are held in memory, so a 5xx/429 can be retried and their sha256 sent; larger ones stream once. */
  bufferMiB: z.number().int().min(0).max(64).default(8),
});

export const destinationSchema = z.discriminatedUnion('type', [
  filesystemDestinationSchema,
  s3DestinationSchema,
  azureBlobDestinationSchema,
  httpDestinationSchema,
]);

export const DESTINATION_TYPES = destinationSchema.options.map((option) => option.shape.type.value);

/** https anywhere; plain http only to loopback, so header secrets never cross a network in clear text. */
export function isAllowedHttpTarget(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === 'https:') return true;
  if (parsed.protocol !== 'http:') return false;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

// --- listen (the real-time path): where the webhook/flow server listens, and the optional WebSocket subscription.
const urlPath = z.string().regex(/^\/[A-Za-z0-9._~\/-]{0,200}$/, 'a URL path starting with "/", such as "/zoom/events"');
const LISTEN_DEFAULTS = {
  host: '127.0.0.1',
  port: 8787,
  webhookPath: '/zoom/events',
  flowPath: '/flow/events',
  websocket: { url: 'wss://ws.zoom.us/ws', subscriptionId: null },
};

export const listenSchema = z
  .strictObject({
    host: z.string().min(1).default(LISTEN_DEFAULTS.host),
    port: z.number().int().min(0).max(65535).default(LISTEN_DEFAULTS.port),
    webhookPath: urlPath.default(LISTEN_DEFAULTS.webhookPath),
    flowPath: urlPath.default(LISTEN_DEFAULTS.flowPath),
    websocket: z
      .strictObject({
        url: z.url({ protocol: /^wss?$/, error: 'a ws:// or wss:// URL' }).default(LISTEN_DEFAULTS.websocket.url),
        subscriptionId: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'a subscription id').nullable().default(null),
      })
      .default(LISTEN_DEFAULTS.websocket),
  })
  .refine((listen) => listen.webhookPath !== listen.flowPath, { message: 'webhookPath and flowPath must differ', path: ['flowPath'] })
  .default(LISTEN_DEFAULTS);

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  zoom: z
    .strictObject({
      apiBaseUrl: z.url().default('https://api.zoom.us/v2'),
      oauthTokenUrl: z.url().default('https://zoom.us/oauth/token'),
      downloadHosts: z.array(z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'a host or host:port')).min(1)
        .default(['api.zoom.us', 'zoom.us']),
      timezone: timezone.default('UTC'),
      maxWait: isoDuration.default('PT2M'),
      rateLimits: z
        .strictObject({
          Light: z.number().positive().default(20),
          Medium: z.number().positive().default(10),
          Heavy: z.number().positive().default(5),
        })
        .default({ Light: 20, Medium: 10, Heavy: 5 }),
      rateShare: z.number().gt(0).max(1).default(1),
      requestTimeout: isoDuration.default('PT60S'),
      retry: z
        .strictObject({
          limit: z.number().int().min(0).max(20).default(5),
          maxBackoff: isoDuration.default('PT30S'),
        })
        .default({ limit: 5, maxBackoff: 'PT30S' }),
      downloadRate: z.number().positive().optional(),
    })
    .default({
      apiBaseUrl: 'https://api.zoom.us/v2',
      oauthTokenUrl: 'https://zoom.us/oauth/token',
      downloadHosts: ['api.zoom.us', 'zoom.us'],
      timezone: 'UTC',
      maxWait: 'PT2M',
      rateLimits: { Light: 20, Medium: 10, Heavy: 5 },
      rateShare: 1,
      requestTimeout: 'PT60S',
      retry: { limit: 5, maxBackoff: 'PT30S' },
    }),
  window: z
    .strictObject({
      lookback: isoDuration.default('P2D'),
      pendingTimeout: isoDuration.default('P3D'),
    })
    .default({ lookback: 'P2D', pendingTimeout: 'P3D' }),
  maxAttempts: z.number().int().min(1).max(1000).default(10),
  ledger: z.strictObject({ path: z.string().min(1).default('./zcc-ledger.sqlite') }).default({ path: './zcc-ledger.sqlite' }),
  concurrency: z.number().int().min(1).max(64).default(8),
  kinds: z.array(kind).min(1).default([...ARTIFACT_KINDS]),
  destinations: z
    .array(destinationSchema)
    .min(1)
    .default([{ name: 'archive', type: 'filesystem', path: './archive' }]),
  listen: listenSchema,
});

export type Config = z.output<typeof configSchema>;
export type DestinationConfig = z.output<typeof destinationSchema>;
export type S3DestinationConfig = z.output<typeof s3DestinationSchema>;
export type AzureBlobDestinationConfig = z.output<typeof azureBlobDestinationSchema>;
export type HttpDestinationConfig = z.output<typeof httpDestinationSchema>;

/** The published JSON Schema (config.schema.json), derived from the schema above. */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://github.com/zcc-reconcile/zcc-reconcile/config.schema.json',
    title: 'zcc-reconcile config',
  };
}
