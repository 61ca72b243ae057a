// Where a Zendesk request's credentials come from (an API token as Basic auth, or an OAuth client-credentials token)
// and what Zendesk's answers mean for the destination as a whole.
import type { ZendeskDestinationConfig } from '../../config-schema.js';
import { basicAuth, OAuthToken, secretFromEnv, type TokenSource } from '../crm/auth.js';
import { retryAfterMs, type CrmAnswer, type CrmSignal } from '../crm/http.js';

const LABEL = 'Zendesk';
/** Zendesk OAuth tokens without `expires_in` live until revoked; refresh at least this often anyway. */
const TOKEN_LIFETIME_MS = 12 * 3_600_000;

export function apiToken(config: ZendeskDestinationConfig, env: NodeJS.ProcessEnv): TokenSource {
  const email = secretFromEnv(env, config.emailEnv, config.name, 'the Zendesk agent email');
  const token = secretFromEnv(env, config.apiTokenEnv, config.name, 'the Zendesk API token');
  return basicAuth(`${email}/token`, token);
}

export function oauthTokens(config: ZendeskDestinationConfig, env: NodeJS.ProcessEnv, baseUrl: string, now?: () => number): TokenSource {
  const clientId = secretFromEnv(env, config.clientIdEnv, config.name, 'the Zendesk OAuth client id');
  const clientSecret = secretFromEnv(env, config.clientSecretEnv, config.name, 'the Zendesk OAuth client secret');
  const token = new OAuthToken({
    destination: config.name,
    label: LABEL,
    tokenUrl: config.tokenUrl ?? `${baseUrl}/oauth/tokens`,
    form: () => ({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'read write' }),
    encoding: 'json',
    timeoutMs: 30_000,
    defaultLifetimeMs: TOKEN_LIFETIME_MS,
    now,
  });
  return token;
}

/** 429 (any Zendesk limit) pauses; a bearer token Zendesk calls invalid is refreshed; other 401s are refusals. */
export function classifyZendesk(oauth: boolean): (answer: CrmAnswer) => CrmSignal | null {
  return (answer) => {
    if (answer.statusCode === 429) return { type: 'rate-limit', waitMs: retryAfterMs(answer.headers) };
    if (answer.statusCode !== 401) return null;
    const error = errorLabelOf(answer.body);
    if (oauth && error === 'invalid_token') return { type: 'auth-expired' };
    return { type: 'auth-refused', message: `401 ${error ?? 'Unauthorized'}` };
  };
}

function errorLabelOf(body: string): string | null {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    return typeof parsed.error === 'string' ? parsed.error.slice(0, 120) : null;
  } catch {
    return null;
  }
}
