// ServiceNow (Now Platform REST) as a CRM destination: basic auth or an OAuth token from /oauth_token.do (client
// credentials, or the password grant with its refresh token), how ServiceNow says "slow down" or "not
// authenticated", and the Table/Attachment adapter in ./servicenow/adapter.ts.
import { Duration } from 'luxon';
import type { ServicenowDestinationConfig } from '../config-schema.js';
import { basicAuth, OAuthToken, secretFromEnv, type TokenSource } from './crm/auth.js';
import { buildCrmDestination } from './crm/build.js';
import type { CrmDestination } from './crm/engine.js';
import { retryAfterMs, type CrmAnswer, type CrmSignal } from './crm/http.js';
import { errorMessageOf } from './servicenow/api.js';
import { ServicenowAdapter } from './servicenow/adapter.js';
import { DEFAULT_TOKEN_LIFETIME_MS, PasswordGrantToken } from './servicenow/token.js';

export { ServicenowAdapter } from './servicenow/adapter.js';

export interface ServicenowTestHooks {
  /** A virtual clock for pauses and token lifetimes. */
  now?: () => number;
  groupDelayMs?: number;
}

export function createServicenowDestination(config: ServicenowDestinationConfig, env: NodeJS.ProcessEnv, hooks: ServicenowTestHooks = {}): CrmDestination {
  const baseUrl = config.baseUrl.replace(/\/+$/, '');
  const oauth = config.auth !== 'basic';
  return buildCrmDestination(config, {
    label: 'ServiceNow',
    tokens: tokenSourceOf(config, env, hooks),
    classify: (answer) => classifyServicenow(answer, oauth),
    adapter: (http) =>
      new ServicenowAdapter(http, {
        name: config.name,
        baseUrl,
        table: config.table,
        keyField: config.record.field ?? 'correlation_id',
        match: config.record.match,
      }),
    now: hooks.now,
    groupDelayMs: hooks.groupDelayMs,
  });
}

function tokenSourceOf(config: ServicenowDestinationConfig, env: NodeJS.ProcessEnv, hooks: ServicenowTestHooks): TokenSource {
  const secret = (variable: string, purpose: string) => secretFromEnv(env, variable, config.name, purpose);
  if (config.auth === 'basic') {
    return basicAuth(secret(config.usernameEnv, 'the ServiceNow user name'), secret(config.passwordEnv, 'the ServiceNow password'));
  }
  const clientId = secret(config.clientIdEnv, 'the ServiceNow OAuth client id');
  const clientSecret = secret(config.clientSecretEnv, 'the ServiceNow OAuth client secret');
  const tokenUrl = tokenUrlOf(config);
  const timeoutMs = Duration.fromISO(config.requestTimeout).toMillis();
  return config.auth === 'password'
      ? new PasswordGrantToken({
          destination: config.name,
          tokenUrl,
          clientId,
          clientSecret,
          username: secret(config.usernameEnv, 'the ServiceNow user name'),
          password: secret(config.passwordEnv, 'the ServiceNow password'),
          timeoutMs,
          now: hooks.now,
        })
      : new OAuthToken({
          destination: config.name,
          label: 'ServiceNow',
          tokenUrl,
          form: () => ({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }),
          encoding: 'form',
          timeoutMs,
          defaultLifetimeMs: DEFAULT_TOKEN_LIFETIME_MS,
          now: hooks.now,
        });
}

/** `{tokenUrl ?? baseUrl}/oauth_token.do`; a tokenUrl that already names oauth_token.do is taken as it is. */
export function tokenUrlOf(config: Pick<ServicenowDestinationConfig, 'baseUrl' | 'tokenUrl'>): string {
  const root = (config.tokenUrl ?? config.baseUrl).replace(/\/+$/, '');
  return root.endsWith('/oauth_token.do') ? root : `${root}/oauth_token.do`;
}

/**
 * 429 is a rate-limit rule (hourly; its Retry-After, else X-RateLimit-Reset, says how long). 401 means an expired
 * token with OAuth (refresh and replay) but refused credentials with basic auth, or a missing MFA token.
 */
export function classifyServicenow(answer: CrmAnswer, oauth: boolean, now = Date.now()): CrmSignal | null {
  if (answer.statusCode === 429) return { type: 'rate-limit', waitMs: retryAfterMs(answer.headers, now) ?? untilReset(answer.headers, now) };
  if (answer.statusCode !== 401) return null;
  if (headerOf(answer.headers, 'x-mfa_token') === 'invalid') return { type: 'auth-refused', message: 'the user needs a multi-factor token for REST; use OAuth or exempt the integration user' };
  return oauth ? { type: 'auth-expired' } : { type: 'auth-refused', message: errorMessageOf(answer.body) };
}

function untilReset(headers: CrmAnswer['headers'], now: number): number | null {
  const reset = Number(headerOf(headers, 'x-ratelimit-reset'));
  return reset > 0 ? Math.max(0, reset * 1000 - now) : null;
}

function headerOf(headers: CrmAnswer['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
