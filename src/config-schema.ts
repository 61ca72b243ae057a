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

export const destinationSchema = z.discriminatedUnion('type', [filesystemDestinationSchema]);

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
  concurrency: z.number().int().min(1).max(64).default(4),
  kinds: z.array(kind).min(1).default([...ARTIFACT_KINDS]),
  destinations: z
    .array(destinationSchema)
    .min(1)
    .default([{ name: 'archive', type: 'filesystem', path: './archive' }]),
});

export type Config = z.output<typeof configSchema>;
export type DestinationConfig = z.output<typeof destinationSchema>;

/** The published JSON Schema (config.schema.json), derived from the schema above. */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://github.com/zcc-reconcile/zcc-reconcile/config.schema.json',
    title: 'zcc-reconcile config',
  };
}
