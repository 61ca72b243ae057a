// Server-to-Server OAuth: fetch a token, cache it, refresh it before it expires and once more when Zoom refuses it.
import got, { HTTPError, RequestError } from 'got';
import type { Clock } from '../clock.js';
import type { ZoomSecrets } from '../config.js';
import { CredentialsRefusedError, ZoomUnavailableError } from '../errors.js';

const REFRESH_MARGIN_MS = 5 * 60_000;

interface CachedToken {
  value: string;
  expiresAt: number;
}

export class TokenProvider {
  private cached: CachedToken | null = null;
  private inFlight: Promise<string> | null = null;

  constructor(
    private readonly options: { tokenUrl: string; secrets: ZoomSecrets; clock: Clock; retryLimit: number; timeoutMs: number },
  ) {}

  /** A token valid for at least a few more minutes. */
  async token(): Promise<string> {
    const now = this.options.clock.now().getTime();
    if (this.cached && this.cached.expiresAt - REFRESH_MARGIN_MS > now) return this.cached.value;
    return this.fetchOnce();
  }

  /** Zoom refused `rejected`: drop it and get a new one (callers replay their request once). */
  async refresh(rejected: string): Promise<string> {
    if (this.cached?.value === rejected) this.cached = null;
    return this.token();
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
    try {
      const body = await got
        .post(tokenUrl, {
          headers: { authorization: `Basic ${basic}` },
          form: { grant_type: 'account_credentials', account_id: secrets.accountId },
          timeout: { request: this.options.timeoutMs },
          retry: { limit: this.options.retryLimit, methods: ['POST'] },
        })
        .json<{ access_token?: unknown; expires_in?: unknown }>();
      if (typeof body.access_token !== 'string' || typeof body.expires_in !== 'number') {
        throw new ZoomUnavailableError('the Zoom token endpoint answered without access_token/expires_in');
      }
      this.cached = { value: body.access_token, expiresAt: clock.now().getTime() + body.expires_in * 1000 };
      return body.access_token;
    } catch (error) {
      if (error instanceof HTTPError && error.response.statusCode >= 400 && error.response.statusCode < 500) {
        throw new CredentialsRefusedError(`HTTP ${error.response.statusCode}${oauthReason(error.response.body)}`);
      }
      if (error instanceof RequestError) {
        throw new ZoomUnavailableError(`could not get a Zoom access token from ${new URL(tokenUrl).host}: ${error.message}`);
      }
      throw error;
    }
  }
}

function oauthReason(body: unknown): string {
  try {
    const parsed = JSON.parse(String(body)) as { reason?: unknown; error?: unknown };
    const reason = typeof parsed.reason === 'string' ? parsed.reason : typeof parsed.error === 'string' ? parsed.error : '';
    return reason ? `: ${reason.slice(0, 200)}` : '';
  } catch {
    return '';
  }
}
