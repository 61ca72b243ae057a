// ServiceNow's OAuth password grant: the token answer carries a refresh token, so an expired access token is renewed
// with `grant_type=refresh_token` and the password is sent again only when the refresh token is refused (expired,
// revoked). The shared OAuthToken cannot do this: it never sees the refresh token.
import got, { HTTPError } from 'got';
import { DestinationUnavailableError } from '../../errors.js';
import { describeOAuthError, type TokenSource } from '../crm/auth.js';

export interface PasswordGrantOptions {
  destination: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  username: string;
  password: string;
  timeoutMs: number;
  now?: () => number;
}

/** ServiceNow's default access token lifespan, used when an answer has no expires_in. */
export const DEFAULT_TOKEN_LIFETIME_MS = 1800 * 1000;

interface Token {
  token: string;
  expiresAt: number;
}

class TokenRefused extends Error {}

export class PasswordGrantToken implements TokenSource {
  private current: Token | null = null;
  private refreshToken: string | null = null;
  private fetching: Promise<Token> | null = null;
  private readonly now: () => number;
  /** The grants asked for, in order, for tests ("password", "refresh_token"). */
  readonly grants: string[] = [];

  constructor(private readonly options: PasswordGrantOptions) {
    this.now = options.now ?? Date.now;
  }

  async headers(): Promise<Record<string, string>> {
    return { authorization: `Bearer ${(await this.fresh()).token}` };
  }

  invalidate(): void {
    this.current = null;
  }

  private async fresh(): Promise<Token> {
    if (this.current && this.current.expiresAt - 60_000 > this.now()) return this.current;
    this.fetching ??= this.renew().finally(() => {
      this.fetching = null;
    });
    this.current = await this.fetching;
    return this.current;
  }

  private async renew(): Promise<Token> {
    const { clientId, clientSecret, username, password, destination } = this.options;
    const client = { client_id: clientId, client_secret: clientSecret };
    try {
      if (this.refreshToken !== null) {
        try {
          return await this.grant({ grant_type: 'refresh_token', ...client, refresh_token: this.refreshToken });
        } catch (error) {
          if (!(error instanceof TokenRefused)) throw error;
          this.refreshToken = null;
        }
      }
      return await this.grant({ grant_type: 'password', ...client, username, password });
    } catch (error) {
      if (error instanceof TokenRefused) {
        throw new DestinationUnavailableError(destination, `ServiceNow refused the credentials at ${new URL(this.options.tokenUrl).pathname}: ${error.message}`);
      }
      throw error;
    }
  }

  private async grant(form: Record<string, string>): Promise<Token> {
    this.grants.push(form.grant_type ?? '');
    let answer: { access_token?: unknown; refresh_token?: unknown; expires_in?: unknown };
    try {
      answer = await got
        .post(this.options.tokenUrl, {
          form,
          headers: { accept: 'application/json' },
          timeout: { request: this.options.timeoutMs },
          retry: { limit: 2, methods: ['POST'], statusCodes: [429, 500, 502, 503, 504], errorCodes: ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT'] },
        })
        .json();
    } catch (error) {
      if (error instanceof HTTPError && error.response.statusCode >= 400 && error.response.statusCode < 500) {
        throw new TokenRefused(describeOAuthError(String(error.response.body)));
      }
      throw new DestinationUnavailableError(this.options.destination, `ServiceNow token endpoint unreachable: ${(error as Error).message}`);
    }
    if (typeof answer.access_token !== 'string' || answer.access_token === '') {
      throw new DestinationUnavailableError(this.options.destination, 'ServiceNow token endpoint answered without an access_token');
    }
    // A refresh answer may come without a new refresh token: the old one stays good until it expires.
    if (typeof answer.refresh_token === 'string' && answer.refresh_token !== '') this.refreshToken = answer.refresh_token;
    const seconds = Number(answer.expires_in);
    return { token: answer.access_token, expiresAt: this.now() + (seconds > 0 ? seconds * 1000 : DEFAULT_TOKEN_LIFETIME_MS) };
  }
}
