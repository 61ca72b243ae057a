// Puts a CRM destination together from its config: the shared HTTP client (pauses, refresh, stop), links and the
// engine around the CRM's own adapter. Each CRM's file supplies only its token source, its answer classifier and
// its adapter.
import { Duration } from 'luxon';
import type { CrmDestinationConfig } from '../../config-schema.js';
import type { CrmAdapter } from './adapter.js';
import type { TokenSource } from './auth.js';
import { CrmDestination } from './engine.js';
import { CrmHttp, type CrmHttpOptions } from './http.js';
import { LinkMaker } from './links.js';

export interface CrmParts {
  label: string;
  tokens: TokenSource;
  classify: CrmHttpOptions['classify'];
  adapter: (http: CrmHttp) => CrmAdapter;
  /** The pace when the config sets none (HubSpot: 15/s keeps under its 190 per 10 s with room for other apps). */
  defaultRequestsPerSecond?: number;
  /** For tests: a virtual clock for pauses and token lifetimes. */
  now?: () => number;
  groupDelayMs?: number;
}

export function buildCrmDestination(config: CrmDestinationConfig, parts: CrmParts): CrmDestination {
  const millis = (iso: string) => Duration.fromISO(iso).toMillis();
  const http = new CrmHttp({
    name: config.name,
    label: parts.label,
    timeoutMs: millis(config.requestTimeout),
    retry: { limit: config.retry.limit, maxBackoffMs: millis(config.retry.maxBackoff), maxRetryAfterMs: millis(config.retry.maxRetryAfter) },
    authorize: () => parts.tokens.headers(),
    invalidate: () => parts.tokens.invalidate(),
    classify: parts.classify,
    requestsPerSecond: config.requestsPerSecond ?? parts.defaultRequestsPerSecond,
    now: parts.now,
  });
  return new CrmDestination({
    name: config.name,
    type: config.type,
    adapter: parts.adapter(http),
    http,
    links: new LinkMaker({ destination: config.name, linkTemplate: config.linkTemplate, linkFrom: config.linkFrom, linkLifetime: config.linkLifetime }),
    attach: config.attach,
    createRecords: config.record.create,
    linkFrom: config.linkFrom,
    maxFileBytes: config.maxFileBytes,
    groupDelayMs: parts.groupDelayMs,
  });
}
