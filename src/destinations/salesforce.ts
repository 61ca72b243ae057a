// Salesforce as a CRM destination: an OAuth token from the connected app (client credentials or a JWT bearer
// assertion signed here), the engagement as a call Task upserted by our external id, notes as child Tasks or blocks of
// its Description, files as ContentVersions published to the Task. The REST calls are in `salesforce/adapter.ts`.
import { createPrivateKey, createSign, type KeyObject } from 'node:crypto';
import type { SalesforceDestinationConfig } from '../config-schema.js';
import { isAllowedHttpTarget } from '../config-schema.js';
import { ConfigError } from '../errors.js';
import { OAuthToken, secretFromEnv } from './crm/auth.js';
import { buildCrmDestination } from './crm/build.js';
import type { CrmDestination } from './crm/engine.js';
import { SalesforceAdapter } from './salesforce/adapter.js';
import { classifySalesforce } from './salesforce/classify.js';

export { SalesforceAdapter } from './salesforce/adapter.js';
export { classifySalesforce } from './salesforce/classify.js';

const LABEL = 'Salesforce';
const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Salesforce's examples give the assertion three minutes. */
const JWT_LIFETIME_S = 180;

export function createSalesforceDestination(config: SalesforceDestinationConfig, env: NodeJS.ProcessEnv): CrmDestination {
  const tokens = new OAuthToken({
    destination: config.name,
    label: LABEL,
    tokenUrl: tokenUrlOf(config),
    form: grantForm(config, env),
    timeoutMs: 30_000,
    // The answer has no expires_in: the token is kept until an API call answers 401 INVALID_SESSION_ID.
    defaultLifetimeMs: Number.POSITIVE_INFINITY,
  });
  return buildCrmDestination(config, {
    label: LABEL,
    tokens,
    classify: classifySalesforce,
    adapter: (http) =>
      new SalesforceAdapter({
        destination: config.name,
        http,
        apiRoot: async () => `${await instanceRoot(config, tokens)}/services/data/v${config.apiVersion}`,
        apiVersion: Number(config.apiVersion),
        keyField: config.record.field ?? 'ZCC_Key__c',
        match: config.record.match,
        notes: config.notes,
      }),
  });
}

/** `{tokenUrl ?? baseUrl}/services/oauth2/token`; a tokenUrl that already names the endpoint is taken as it is. */
export function tokenUrlOf(config: Pick<SalesforceDestinationConfig, 'baseUrl' | 'tokenUrl'>): string {
  const root = (config.tokenUrl ?? config.baseUrl).replace(/\/+$/, '');
  return root.endsWith('/services/oauth2/token') ? root : `${root}/services/oauth2/token`;
}

/** The form of the token request, built afresh each time (a JWT assertion is signed per request). */
function grantForm(config: SalesforceDestinationConfig, env: NodeJS.ProcessEnv): () => Record<string, string> {
  const clientId = secretFromEnv(env, config.clientIdEnv, config.name, 'the connected app consumer key');
  if (config.auth === 'client-credentials') {
    const clientSecret = secretFromEnv(env, config.clientSecretEnv, config.name, 'the connected app consumer secret');
    return () => ({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
  }
  const username = secretFromEnv(env, config.usernameEnv, config.name, 'the integration user name (JWT sub)');
  const key = privateKeyOf(secretFromEnv(env, config.privateKeyEnv, config.name, 'the connected app certificate PEM private key'), config.privateKeyEnv);
  return () => ({ grant_type: JWT_GRANT, assertion: signJwt({ iss: clientId, sub: username, aud: config.audience }, key) });
}

/**
 * An environment variable holds one line, so the PEM comes either with its line breaks written as `\n` or as base64
 * of the whole PEM file.
 */
export function privateKeyOf(value: string, variable: string): KeyObject {
  const pem = value.includes('-----BEGIN') ? value.replace(/\\n/g, '\n') : Buffer.from(value, 'base64').toString('utf8');
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'rsa') throw new Error('not RSA');
    return key;
  } catch {
    throw new ConfigError(`environment variable ${variable}`, '(hidden)', 'an RSA private key in PEM, with "\\n" for line breaks or base64-encoded');
  }
}

/** RS256 JWT for the OAuth 2.0 JWT bearer flow: iss = consumer key, sub = username, aud = login host. */
export function signJwt(claims: { iss: string; sub: string; aud: string }, key: KeyObject, nowMs = Date.now()): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
  const unsigned = `${encode({ alg: 'RS256' })}.${encode({ ...claims, exp: Math.floor(nowMs / 1000) + JWT_LIFETIME_S })}`;
  const signature = createSign('RSA-SHA256').update(unsigned).sign(key).toString('base64url');
  return `${unsigned}.${signature}`;
}

/** The org's own host from the token answer (`instance_url`), else `baseUrl`. */
async function instanceRoot(config: SalesforceDestinationConfig, tokens: OAuthToken): Promise<string> {
  const instance = await tokens.instanceUrl();
  const root = instance && isAllowedHttpTarget(instance) ? instance : config.baseUrl;
  return root.replace(/\/+$/, '');
}
