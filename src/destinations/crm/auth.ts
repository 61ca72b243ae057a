// Where a CRM request's Authorization header comes from: a static secret from the environment, or an OAuth token
// fetched with a form POST (client credentials, password, JWT bearer) and cached until shortly before it expires.
import got, { HTTPError } from 'got';
import { ConfigError, DestinationUnavailableError } from '../../errors.js';

export interface TokenSource {
  /** Headers carrying the credential for the next request. */
  headers(): Promise<Record<string, string>>;
  /** Forgets a cached token (the CRM said it expired); the next `headers()` fetches a new one. */
  invalidate(): void;
}

/** An environment variable's value, or a config error naming the variable and who needs it. */
export function secretFromEnv(env: NodeJS.ProcessEnv, variable: string, destination: string, purpose: string): string {
  const value = env[variable];
  if (!value) throw new ConfigError(`environment variable ${variable}`, undefined, `${purpose} for destination ${destination}`);
  if (/[\r\n\u0000]/.test(value)) throw new ConfigError(`environment variable ${variable}`, '(hidden)', 'a value without line breaks');
  return value;
}

export function staticHeaders(headers: Record<string, string>): TokenSource {
  return { headers: async () => headers, invalidate: () => undefined };
}

export function basicAuth(user: string, password: string): TokenSource {
  return staticHeaders({ authorization: `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}` });
}

export interface OAuthFormOptions {
  destination: string;
  label: string;
  tokenUrl: string;
  /** Built afresh for each request (a JWT assertion must not be reused). */
  form: () => Record<string, string>;
  /** Content type of the token request; Zendesk takes JSON, the others a form. */
  encoding?: 'form' | 'json';
  timeoutMs: number;
  /** Lifetime when the answer has no expires_in (Salesforce): until the CRM says 401. */
  defaultLifetimeMs?: number;
  now?: () => number;
}

interface TokenAnswer {
  access_token?: unknown;
  expires_in?: unknown;
  instance_url?: unknown;
}

/** A token from an OAuth token endpoint, fetched once for concurrent callers and refreshed 60 s before expiry. */
export class OAuthToken implements TokenSource {
  private current: { token: string; expiresAt: number; instanceUrl?: string } | null = null;
  private fetching: Promise<{ token: string; expiresAt: number; instanceUrl?: string }> | null = null;
  /** Refused credentials are final for the run: later callers get the same error without another request. */
  private refused: DestinationUnavailableError | null = null;
  private readonly now: () => number;
  /** Token requests made, for tests that check "at most a few requests" on refused credentials. */
  requests = 0;

  constructor(private readonly options: OAuthFormOptions) {
    this.now = options.now ?? Date.now;
  }

  async headers(): Promise<Record<string, string>> {
    return { authorization: `Bearer ${(await this.fresh()).token}` };
  }

  /** Salesforce answers with the instance URL to call; null before the first token or for other CRMs. */
  async instanceUrl(): Promise<string | undefined> {
    return (await this.fresh()).instanceUrl;
  }

  /** Forgets the token, and a refusal: the next call asks the token endpoint again. */
  invalidate(): void {
    this.current = null;
    this.refused = null;
  }

  private async fresh(): Promise<{ token: string; expiresAt: number; instanceUrl?: string }> {
    if (this.refused) throw this.refused;
    if (this.current && this.current.expiresAt - 60_000 > this.now()) return this.current;
    this.fetching ??= this.fetch().finally(() => {
      this.fetching = null;
    });
    this.current = await this.fetching;
    return this.current;
  }

  private async fetch(): Promise<{ token: string; expiresAt: number; instanceUrl?: string }> {
    const { destination, label, tokenUrl, timeoutMs } = this.options;
    this.requests += 1;
    let answer: TokenAnswer;
    try {
      const form = this.options.form();
      answer = await got
        .post(tokenUrl, {
          ...(this.options.encoding === 'json' ? { json: form } : { form }),
          timeout: { request: timeoutMs },
          retry: { limit: 2, methods: ['POST'], statusCodes: [429, 500, 502, 503, 504], errorCodes: ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT'] },
        })
        .json<TokenAnswer>();
    } catch (error) {
      if (error instanceof HTTPError && error.response.statusCode >= 400 && error.response.statusCode < 500) {
        this.refused = new DestinationUnavailableError(destination, `${label} refused the credentials at ${new URL(tokenUrl).pathname}: ${describeOAuthError(String(error.response.body))}`);
        throw this.refused;
      }
      throw new DestinationUnavailableError(destination, `${label} token endpoint unreachable: ${(error as Error).message}`);
    }
    if (typeof answer.access_token !== 'string' || answer.access_token === '') {
      throw new DestinationUnavailableError(destination, `${label} token endpoint answered without an access_token`);
    }
    const lifetimeMs = typeof answer.expires_in === 'number' ? answer.expires_in * 1000 : Number(answer.expires_in) * 1000 || this.options.defaultLifetimeMs || 2 * 3_600_000;
    return {
      token: answer.access_token,
      expiresAt: this.now() + lifetimeMs,
      instanceUrl: typeof answer.instance_url === 'string' ? answer.instance_url : undefined,
    };
  }
}

/** `error` and `error_description` of an OAuth error body, never the body's other fields. */
export function describeOAuthError(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; error_description?: unknown };
    const parts = [parsed.error, parsed.error_description].filter((part): part is string => typeof part === 'string');
    if (parts.length > 0) return parts.join(': ').slice(0, 200);
  } catch {
    // not JSON
  }
  return body.replace(/\s+/g, ' ').slice(0, 120);
}
