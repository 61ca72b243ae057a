// How Salesforce says "slow down", "stop for today", "session expired" or "credentials refused".
import { retryAfterMs, type CrmAnswer, type CrmSignal } from '../crm/http.js';

interface SalesforceError {
  errorCode?: unknown;
  message?: unknown;
  error?: unknown;
}

/**
 * 401 INVALID_SESSION_ID: the token expired (refresh, replay). 403 REQUEST_LIMIT_EXCEEDED "TotalRequests": the rolling
 * 24 h API allocation is spent. Other REQUEST_LIMIT_EXCEEDED answers (concurrent long-running requests) and 503 mean
 * "slow down"; Salesforce sends no 429.
 */
export function classifySalesforce(answer: CrmAnswer): CrmSignal | null {
  const errors = parseErrors(answer.body);
  const first = errors[0];
  const code = typeof first?.errorCode === 'string' ? first.errorCode : '';
  const message = typeof first?.message === 'string' ? first.message : '';
  switch (answer.statusCode) {
    case 401:
      return code === 'INVALID_SESSION_ID' && !/not valid for use with the REST API/i.test(message)
        ? { type: 'auth-expired' }
        : { type: 'auth-refused', message: `401 ${code || 'Unauthorized'}${message ? `: ${message}` : ''}` };
    case 403:
      if (code !== 'REQUEST_LIMIT_EXCEEDED') return null;
      return /TotalRequests/i.test(message) || message === ''
        ? { type: 'daily-limit', message: `403 REQUEST_LIMIT_EXCEEDED: ${message || 'API request allocation spent'}` }
        : { type: 'rate-limit', waitMs: retryAfterMs(answer.headers) };
    case 400: {
      const oauthError = first?.error;
      return oauthError === 'invalid_client' || oauthError === 'invalid_client_id' || oauthError === 'invalid_grant'
        ? { type: 'auth-refused', message: `400 ${oauthError}` }
        : null;
    }
    case 503:
      return { type: 'rate-limit', waitMs: retryAfterMs(answer.headers) };
    default:
      return null;
  }
}

/** Salesforce errors are a JSON array of `{message, errorCode, fields}`; the token endpoint answers one object. */
function parseErrors(body: string): SalesforceError[] {
  try {
    const parsed: unknown = JSON.parse(body);
    const list = Array.isArray(parsed) ? parsed : [parsed];
    return list.filter((item): item is SalesforceError => typeof item === 'object' && item !== null);
  } catch {
    return [];
  }
}
