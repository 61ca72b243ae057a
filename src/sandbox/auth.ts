// Server-to-Server OAuth imitation: the token endpoint's checks and answers, and bearer-token validation.
import { randomBytes } from 'node:crypto';

export interface Credentials { accountId: string; clientId: string; clientSecret: string }
export type TokenCheck = 'ok' | 'missing' | 'invalid' | 'expired';

export const TOKEN_LIFETIME = 3600;
const SCOPES = [
  'contact_center:read:list_engagements:admin',
  'contact_center:read:engagement:admin',
  'contact_center:read:list_recordings:admin',
  'contact_center:read:inbox_messages:admin',
].join(' ');

export class TokenStore {
  private readonly tokens = new Map<string, number>();

  constructor(private readonly nowMs: () => number) {}

  issue(): { token: string; expiresIn: number } {
    const token = randomBytes(30).toString('base64url');
    this.tokens.set(token, this.nowMs() + TOKEN_LIFETIME * 1000);
    return { token, expiresIn: TOKEN_LIFETIME };
  }

  check(authorization: string | undefined): TokenCheck {
    const token = bearer(authorization);
    if (token === null) return 'missing';
    const expires = this.tokens.get(token);
    if (expires === undefined) return 'invalid';
    return this.nowMs() >= expires ? 'expired' : 'ok';
  }

  revoke(authorization: string | undefined): void {
    const token = bearer(authorization);
    if (token !== null) this.tokens.delete(token);
  }

  revokeAll(): void {
    this.tokens.clear();
  }
}

function bearer(authorization: string | undefined): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return m?.[1] ?? null;
}

export interface TokenAnswer { status: number; body: unknown }

/** The token endpoint's answer for a request's Authorization header and its (query + form) parameters. */
export function tokenAnswer(
  creds: Credentials,
  authorization: string | undefined,
  params: URLSearchParams,
  refuse: boolean,
  issue: () => { token: string; expiresIn: number },
  apiUrl: string,
): TokenAnswer {
  const invalidClient = { status: 401, body: { reason: 'Invalid client_id or client_secret', error: 'invalid_client' } };
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  if (!m || refuse) return invalidClient;
  const decoded = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0 || decoded.slice(0, colon) !== creds.clientId || decoded.slice(colon + 1) !== creds.clientSecret) return invalidClient;
  if (params.get('grant_type') !== 'account_credentials') {
    return { status: 400, body: { reason: 'unsupported grant type', error: 'unsupported_grant_type' } };
  }
  if (params.get('account_id') !== creds.accountId) return { status: 400, body: { reason: 'Invalid account_id', error: 'invalid_request' } };
  const { token, expiresIn } = issue();
  return { status: 200, body: { access_token: token, token_type: 'bearer', expires_in: expiresIn, scope: SCOPES, api_url: apiUrl } };
}
