import { afterEach, describe, expect, test } from 'vitest';
import { SANDBOX_CREDENTIALS, startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { HOUR, basic, call, fakeClock, getToken } from './helpers.js';

let sb: Sandbox;
afterEach(async () => sb?.close());

async function token(auth: string | null, query: string, form?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = {};
  if (auth) headers['authorization'] = auth;
  if (form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await fetch(`${sb.oauthTokenUrl}${query}`, { method: 'POST', headers, ...(form !== undefined ? { body: form } : {}) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('OAuth token endpoint', () => {
  test('issues a bearer token from query-string parameters or a form body', async () => {
    sb = await startSandbox();
    expect(sb.credentials).toEqual(SANDBOX_CREDENTIALS);
    const viaQuery = await token(basic(sb), `?grant_type=account_credentials&account_id=${sb.credentials.accountId}`);
    expect(viaQuery.status).toBe(200);
    expect(viaQuery.body).toMatchObject({ token_type: 'bearer', expires_in: 3600, api_url: sb.url });
    expect(typeof viaQuery.body['scope']).toBe('string');
    const viaForm = await token(basic(sb), '', `grant_type=account_credentials&account_id=${encodeURIComponent(sb.credentials.accountId)}`);
    expect(viaForm.status).toBe(200);
    expect(viaForm.body['access_token']).not.toBe(viaQuery.body['access_token']);
    for (const t of [viaQuery.body['access_token'], viaForm.body['access_token']]) {
      expect((await call(sb, String(t), '/contact_center/engagements')).status).toBe(200);
    }
  });

  test('refuses wrong client credentials, account id and grant type the way Zoom does', async () => {
    sb = await startSandbox({ credentials: { accountId: 'acc', clientId: 'id', clientSecret: 'secret' } });
    const good = `?grant_type=account_credentials&account_id=acc`;
    const wrongSecret = `Basic ${Buffer.from('id:nope').toString('base64')}`;
    expect(await token(wrongSecret, good)).toEqual({ status: 401, body: { reason: 'Invalid client_id or client_secret', error: 'invalid_client' } });
    expect((await token(null, good)).status).toBe(401);
    expect(await token(basic(sb), '?grant_type=account_credentials&account_id=other')).toEqual({ status: 400, body: { reason: 'Invalid account_id', error: 'invalid_request' } });
    expect((await token(basic(sb), '?grant_type=account_credentials')).body['error']).toBe('invalid_request');
    expect(await token(basic(sb), '?grant_type=client_credentials&account_id=acc')).toEqual({ status: 400, body: { reason: 'unsupported grant type', error: 'unsupported_grant_type' } });
    sb.faults.refuseCredentials(true);
    expect((await token(basic(sb), good)).status).toBe(401);
    sb.faults.refuseCredentials(false);
    expect((await token(basic(sb), good)).status).toBe(200);
    expect((await fetch(sb.oauthTokenUrl)).status).toBe(405);
  });

  test('API calls need a valid bearer token; tokens expire after an hour on the sandbox clock', async () => {
    const clock = fakeClock('2026-11-24T12:00:00Z');
    sb = await startSandbox({ now: clock.now });
    const missing = await call(sb, null, '/contact_center/engagements');
    expect(missing).toMatchObject({ status: 401, body: { code: 124, message: 'Invalid access token.' } });
    expect((await call(sb, 'forged', '/contact_center/engagements')).body).toEqual({ code: 124, message: 'Invalid access token.' });
    const t = await getToken(sb);
    clock.advance(HOUR - 1000);
    expect((await call(sb, t, '/contact_center/engagements')).status).toBe(200);
    clock.advance(1000);
    expect(await call(sb, t, '/contact_center/engagements')).toMatchObject({ status: 401, body: { code: 124, message: 'Access token is expired.' } });
    const fresh = await getToken(sb);
    expect((await call(sb, fresh, '/contact_center/engagements')).status).toBe(200);
    sb.revokeTokens();
    expect((await call(sb, fresh, '/contact_center/engagements')).status).toBe(401);
    expect(sb.requests.filter((r) => r.status === 401).every((r) => r.operationId === 'listEngagements')).toBe(true);
  });

  test('unknown paths are 404 and wrong methods 405', async () => {
    sb = await startSandbox();
    const t = await getToken(sb);
    expect(await call(sb, t, '/contact_center/nothing')).toMatchObject({ status: 404, body: { code: 404, message: 'Not found' } });
    const res = await fetch(`${sb.apiBaseUrl}/contact_center/engagements`, { method: 'DELETE', headers: { authorization: `Bearer ${t}` } });
    expect(res.status).toBe(405);
  });
});
