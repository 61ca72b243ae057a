// Server-to-Server OAuth: fetch a token, cache it, refresh it before it expires and once more when Zoom refuses it.
// Refused credentials are remembered for a minute: concurrent and later calls fail the same way without asking Zoom
// again (a run stops at the first refusal; a long-running listener asks again later).
import got, { HTTPError, RequestError } from 'got';
import type { Clock } from '../clock.js';
import type { ZoomSecrets } from '../config.js';
import { CredentialsRefusedError, ZoomUnavailableError } from '../errors.js';
import { rememberSecret } from '../redact.js';

const REFRESH_MARGIN_MS = 5 * 60_000;
const REFUSAL_MEMORY_MS = 60_000;

interface CachedToken {
  value: string;
  expiresAt: number;
}

export class TokenProvider {
  private cached: CachedToken | null = null;
  private inFlight: Promise<string> | null = null;
  private refusal: { error: CredentialsRefusedError; at: number } | null = null;

  constructor(
    private readonly options: {
      tokenUrl: string;
      secrets: ZoomSecrets;
      clock: Clock;
      retryLimit: number;
      timeoutMs: number;
      /** Stops a token request (and its retries) at once: a run stopped by SIGINT must not wait them out. */
      signal?: AbortSignal;
    },
  ) {}

  /** A token valid for at least a few more minutes. */
  async token(): Promise<string> {
    this.throwIfRefused();
    const now = this.options.clock.now().getTime();
    if (this.cached && this.cached.expiresAt - REFRESH_MARGIN_MS > now) return this.cached.value;
    return this.fetchOnce();
  }

  /** Zoom refused `rejected`: drop it and get a new one (callers replay their request once). */
  async refresh(rejected: string): Promise<string> {
    if (this.cached?.value === rejected) this.cached = null;
    return this.token();
  }

  private throwIfRefused(): void {
    if (this.refusal && this.options.clock.now().getTime() - this.refusal.at < REFUSAL_MEMORY_MS) throw this.refusal.error;
  }

  private fetchOnce(): Promise<string> {
    this.inFlight ??= this.fetchToken().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async fetchToken(): Promise<string> {
    const { secrets, tokenUrl, clock } = this.options;
    const basic = Buffer.from(`${secrets.clientId}:${secrets.clientSecret}`).toString('base64');
    const host = new URL(tokenUrl).host;
    try {
      const body = await got
        .post(tokenUrl, {
          headers: { authorization: `Basic ${basic}` },
          form: { grant_type: 'account_credentials', account_id: secrets.accountId },
          timeout: { request: this.options.timeoutMs },
          retry: { limit: this.options.retryLimit, methods: ['POST'] },
          // The Basic credentials go to the configured token URL and nowhere else.
          followRedirect: false,
          signal: this.options.signal,
        })
        .json<{ access_token?: unknown; expires_in?: unknown }>();
      if (typeof body.access_token !== 'string' || typeof body.expires_in !== 'number') {
        throw new ZoomUnavailableError(`the Zoom token endpoint ${host} answered without access_token/expires_in`);
      }
      rememberSecret(body.access_token);
      this.cached = { value: body.access_token, expiresAt: clock.now().getTime() + body.expires_in * 1000 };
      return body.access_token;
    } catch (error) {
      // got's errors carry the request options, Basic credentials included: none of them leaves this function.
      if (error instanceof HTTPError && error.response.statusCode >= 400 && error.response.statusCode < 500 && error.response.statusCode !== 429) {
        const refused = new CredentialsRefusedError(`HTTP ${error.response.statusCode}${oauthReason(error.response.body)}`);
        this.refusal = { error: refused, at: clock.now().getTime() };
        throw refused;
      }
      if (error instanceof HTTPError) {
        throw new ZoomUnavailableError(`the Zoom token endpoint ${host} answered HTTP ${error.response.statusCode}`);
      }
      if (error instanceof RequestError) {
        throw new ZoomUnavailableError(`could not get a Zoom access token from ${host}: ${error.code}`);
      }
      if (error instanceof ZoomUnavailableError) throw error;
      throw new ZoomUnavailableError(`could not get a Zoom access token from ${host}: ${(error as Error).name}`);
    }
  }
}

function oauthReason(body: unknown): string {
  try {
    const parsed = JSON.parse(String(body)) as { reason?: unknown; error?: unknown };
    const reason = typeof parsed.reason === 'string' ? parsed.reason : typeof parsed.error === 'string' ? parsed.error : '';
    return reason ? `: ${reason.replace(/[^\x20-\x7e]/g, '').slice(0, 200)}` : '';
  } catch {
    return '';
  }
}
