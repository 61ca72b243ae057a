// The config's shape, declared once. config.schema.json is generated from it (npm run schema).
import { Duration } from 'luxon';
import { z } from 'zod';
import { ARTIFACT_KINDS } from './artifacts.js';
import { SOCKET_URL_EXPECTED, socketTokenMayGoTo } from './zoom/hosts.js';

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
  /**
   * A stored access policy on the container: links are SAS under it (its permissions and expiry; revoke them all by
   * removing it). Without it, each link carries its own read-only permission and `linkLifetime`.
   */
  linkPolicy: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a stored access policy identifier of up to 64 characters').optional(),
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
  })
  // Two artifacts must never share a URL (one would overwrite the other), and every URL must share the origin the
  // headers are sent to (verify and doctor read and delete there).
  .refine((template) => template.includes('{key}'), { message: 'a URL template that names each artifact with {key}' })
  .refine((template) => originOf(template.replace(/\{[^{}]*\}/g, 'x')) === originOf(template.replace(/\{[^{}]*\}/g, 'y')), {
    message: 'a URL template whose placeholders are in its path or query, not in its scheme, host or port',
  });

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

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

// CRM destinations share one shape (PRODUCT.md "Destinations"): where the API is, how the engagement's record is
// found or created, and per kind whether it becomes text, a file or a link. Each CRM adds its own auth and fields.
export const TEXT_KINDS = ['note', 'disposition', 'recording_transcript', 'messaging_transcript', 'voicemail_transcript'] as const;
export const MEDIA_KINDS = ['recording', 'voicemail'] as const;
export const CRM_LINK_PLACEHOLDERS = ['key', 'kind', 'engagementId', 'date', 'extension'] as const;
const attachMode = z.enum(['text', 'file', 'link', 'none']);
/** The refusal of a URL that credentials travel to (a CRM's, Zoom's token and API URLs). */
const CREDENTIALS_IN_CLEAR = { message: 'an https:// URL (plain http only to loopback)' };
const crmUrl = httpUrl.refine(isAllowedHttpTarget, CREDENTIALS_IN_CLEAR);

const crmBase = {
  ...destinationBase,
  baseUrl: crmUrl,
  tokenUrl: crmUrl.optional(),
  record: z
    .strictObject({
      /**
       * `external-id`: the record carrying the engagement's key in `field` is found or created. `contact`: the
       * consumer's phone number finds a contact, and the engagement's activity (still keyed by `field`) hangs under it.
       */
      match: z.enum(['external-id', 'contact']).default('external-id'),
      /** The searchable field holding our key; each CRM has a default. */
      field: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,79}$/, 'a field name of letters, digits and "_"').optional(),
      /** False: only existing records are written to; an engagement without one fails (and is retried next run). */
      create: z.boolean().default(true),
    })
    .default({ match: 'external-id', create: true }),
  /** Per kind; text kinds take `text` (default) or `file`, media `file` (default) or `link`; `none` skips the kind. */
  attach: z.partialRecord(kind, attachMode).default({}),
  /** Our own authenticated viewer for a stored copy, e.g. "https://recordings.example.com/{key}". */
  linkTemplate: z
    .string()
    .refine((template) => /^https:\/\//.test(template) || isAllowedHttpTarget(template.replace(/\{[^{}]*\}/g, 'x')), {
      message: `an https:// URL template with ${CRM_LINK_PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`,
    })
    .optional(),
  /** A storage destination (s3, azure-blob) whose copy a link points to; it must take the linked kinds. */
  linkFrom: name.optional(),
  /** Lifetime of a link minted by `linkFrom`; default: that destination's `linkLifetime`. */
  linkLifetime: linkLifetime.optional(),
  /** The CRM's file size limit in bytes; above it a file becomes a link. Each CRM has a default. */
  maxFileBytes: z.number().int().min(1).optional(),
  /** Paces requests to stay under the CRM's limit instead of meeting its 429s (default: HubSpot 15, others unpaced). */
  requestsPerSecond: z.number().positive().max(1000).optional(),
  requestTimeout: isoDuration.default('PT60S'),
  retry: z
    .strictObject({
      limit: z.number().int().min(0).max(20).default(5),
      maxBackoff: isoDuration.default('PT30S'),
      /** A Retry-After longer than this ends the destination's work for the run instead of waiting. */
      maxRetryAfter: isoDuration.default('PT5M'),
    })
    .default({ limit: 5, maxBackoff: 'PT30S', maxRetryAfter: 'PT5M' }),
};

/** Text kinds become text or a .txt file; media become a file or a link; any kind may be `none`. */
function checkAttach(crm: { attach: Partial<Record<(typeof ARTIFACT_KINDS)[number], string>> }, context: z.RefinementCtx): void {
  for (const [artifactKind, mode] of Object.entries(crm.attach)) {
    if (mode === 'text' && (MEDIA_KINDS as readonly string[]).includes(artifactKind)) {
      context.addIssue({ code: 'custom', path: ['attach', artifactKind], message: `"file", "link" or "none" for ${artifactKind} (media is not text)` });
    }
  }
}

export const salesforceDestinationSchema = z.strictObject({
  ...crmBase,
  type: z.literal('salesforce'),
  apiVersion: z.string().regex(/^\d{2,3}\.0$/, 'an API version such as "62.0"').default('62.0'),
  auth: z.enum(['client-credentials', 'jwt']).default('client-credentials'),
  clientIdEnv: envName.default('SALESFORCE_CLIENT_ID'),
  clientSecretEnv: envName.default('SALESFORCE_CLIENT_SECRET'),
  /** JWT bearer flow: the integration user's username and the PEM private key of the connected app's certificate. */
  usernameEnv: envName.default('SALESFORCE_USERNAME'),
  privateKeyEnv: envName.default('SALESFORCE_PRIVATE_KEY'),
  /** JWT audience: https://login.salesforce.com, or https://test.salesforce.com for a sandbox. */
  audience: httpUrl.default('https://login.salesforce.com'),
  /** Notes and dispositions go into the engagement Task's Description, or each into a child Task of its own. */
  notes: z.enum(['description', 'child-tasks']).default('child-tasks'),
}).superRefine(checkAttach);

export const zendeskDestinationSchema = z.strictObject({
  ...crmBase,
  type: z.literal('zendesk'),
  auth: z.enum(['api-token', 'oauth']).default('api-token'),
  emailEnv: envName.default('ZENDESK_EMAIL'),
  apiTokenEnv: envName.default('ZENDESK_API_TOKEN'),
  /** OAuth: a client-credentials grant at {baseUrl}/oauth/tokens. */
  clientIdEnv: envName.default('ZENDESK_CLIENT_ID'),
  clientSecretEnv: envName.default('ZENDESK_CLIENT_SECRET'),
}).superRefine(checkAttach);

export const servicenowDestinationSchema = z.strictObject({
  ...crmBase,
  type: z.literal('servicenow'),
  /** The task-based table holding engagement records. */
  table: z.string().regex(/^[a-z][a-z0-9_]{0,79}$/, 'a table name such as "incident"').default('incident'),
  auth: z.enum(['basic', 'client-credentials', 'password']).default('client-credentials'),
  clientIdEnv: envName.default('SERVICENOW_CLIENT_ID'),
  clientSecretEnv: envName.default('SERVICENOW_CLIENT_SECRET'),
  usernameEnv: envName.default('SERVICENOW_USERNAME'),
  passwordEnv: envName.default('SERVICENOW_PASSWORD'),
}).superRefine(checkAttach);

export const dynamicsDestinationSchema = z.strictObject({
  ...crmBase,
  type: z.literal('dynamics'),
  apiVersion: z.string().regex(/^9\.\d$/, 'a Web API version such as "9.2"').default('9.2'),
  /** The phonecall alternate key column; without one, records are upserted by a GUID derived from our key. */
  alternateKey: z.string().regex(/^[a-z][a-z0-9_]{0,49}$/, 'a column logical name such as "new_zcckey"').optional(),
  tenantIdEnv: envName.default('DYNAMICS_TENANT_ID'),
  clientIdEnv: envName.default('DYNAMICS_CLIENT_ID'),
  clientSecretEnv: envName.default('DYNAMICS_CLIENT_SECRET'),
}).superRefine(checkAttach);

export const hubspotDestinationSchema = z.strictObject({
  ...crmBase,
  type: z.literal('hubspot'),
  accessTokenEnv: envName.default('HUBSPOT_ACCESS_TOKEN'),
  /** Files v3 folder for uploaded recordings and voicemails. */
  folderPath: z.string().regex(/^\/[A-Za-z0-9_\-/ ]{0,200}$/, 'a folder path such as "/zcc"').default('/zcc'),
}).superRefine(checkAttach);

export type CrmDestinationConfig =
  | z.output<typeof salesforceDestinationSchema>
  | z.output<typeof zendeskDestinationSchema>
  | z.output<typeof servicenowDestinationSchema>
  | z.output<typeof dynamicsDestinationSchema>
  | z.output<typeof hubspotDestinationSchema>;
export type SalesforceDestinationConfig = z.output<typeof salesforceDestinationSchema>;
export type ZendeskDestinationConfig = z.output<typeof zendeskDestinationSchema>;
export type ServicenowDestinationConfig = z.output<typeof servicenowDestinationSchema>;
export type DynamicsDestinationConfig = z.output<typeof dynamicsDestinationSchema>;
export type HubspotDestinationConfig = z.output<typeof hubspotDestinationSchema>;
export const CRM_TYPES = ['salesforce', 'zendesk', 'servicenow', 'dynamics', 'hubspot'] as const;

export const destinationSchema = z.discriminatedUnion('type', [
  filesystemDestinationSchema,
  s3DestinationSchema,
  azureBlobDestinationSchema,
  httpDestinationSchema,
  salesforceDestinationSchema,
  zendeskDestinationSchema,
  servicenowDestinationSchema,
  dynamicsDestinationSchema,
  hubspotDestinationSchema,
]);

/** Names key the ledger's rows, so they are unique; a CRM's `linkFrom` names a storage destination that can link. */
function checkDestinationNames(destinations: readonly z.output<typeof destinationSchema>[], context: z.RefinementCtx): void {
  const seen = new Set<string>();
  destinations.forEach((destination, index) => {
    if (seen.has(destination.name)) {
      context.addIssue({ code: 'custom', path: [index, 'name'], message: `a name no other destination has ("${destination.name}" is used twice)` });
    }
    seen.add(destination.name);
    if (!('linkFrom' in destination) || destination.linkFrom === undefined) return;
    const source = destinations.find((candidate) => candidate.name === destination.linkFrom);
    if (!source || (source.type !== 's3' && source.type !== 'azure-blob')) {
      context.addIssue({ code: 'custom', path: [index, 'linkFrom'], message: 'the name of an s3 or azure-blob destination in this config (one that can issue links)' });
    }
  });
}

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
      // The token and the client secret travel to these: https, or plain http only to loopback (the sandbox).
      apiBaseUrl: z.url().refine(isAllowedHttpTarget, CREDENTIALS_IN_CLEAR).default('https://api.zoom.us/v2'),
      oauthTokenUrl: z.url().refine(isAllowedHttpTarget, CREDENTIALS_IN_CLEAR).default('https://zoom.us/oauth/token'),
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
    .superRefine(checkDestinationNames)
    .default([{ name: 'archive', type: 'filesystem', path: './archive' }]),
  listen: listenSchema,
}).superRefine((config, context) => {
  // A URL that does not parse is already reported by its own field.
  if (!URL.canParse(config.listen.websocket.url) || !URL.canParse(config.zoom.apiBaseUrl)) return;
  // The subscription's access token goes in the socket URL's query string: only to Zoom's hosts, never in clear.
  if (!socketTokenMayGoTo(new URL(config.listen.websocket.url), config.zoom.downloadHosts, config.zoom.apiBaseUrl)) {
    context.addIssue({
      code: 'custom',
      path: ['listen', 'websocket', 'url'],
      message: `${SOCKET_URL_EXPECTED}: the Zoom token travels in its query string`,
    });
  }
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
