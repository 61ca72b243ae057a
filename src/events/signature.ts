// Zoom's webhook signature (v0): HMAC-SHA256 over `v0:{timestamp}:{raw body bytes}` with the app's secret token,
// checked in constant time, with the timestamp within ±300 s; and the answer to the URL validation (CRC) request.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TIMESTAMP_TOLERANCE_S = 300;

export type SignatureRejection = 'missing_signature' | 'missing_timestamp' | 'bad_timestamp' | 'stale_timestamp' | 'bad_signature';

export interface SignedRequest {
  /** `x-zm-request-timestamp`: Unix seconds as a decimal string. */
  timestamp: string | undefined;
  /** `x-zm-signature`: `v0=` + lowercase hex. */
  signature: string | undefined;
  /** The body exactly as received; never a re-serialisation of its JSON. */
  body: Buffer;
}

export function signatureFor(secret: string, timestamp: string, body: Buffer | string): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`v0:${timestamp}:`);
  hmac.update(body);
  return `v0=${hmac.digest('hex')}`;
}

export function verifySignature(
  request: SignedRequest,
  secret: string,
  nowMs: number,
  toleranceS = TIMESTAMP_TOLERANCE_S,
): { ok: true } | { ok: false; reason: SignatureRejection } {
  if (!request.signature) return { ok: false, reason: 'missing_signature' };
  if (!request.timestamp) return { ok: false, reason: 'missing_timestamp' };
  if (!/^\d{1,12}$/.test(request.timestamp)) return { ok: false, reason: 'bad_timestamp' };
  if (Math.abs(nowMs / 1000 - Number(request.timestamp)) > toleranceS) return { ok: false, reason: 'stale_timestamp' };
  const expected = Buffer.from(signatureFor(secret, request.timestamp, request.body), 'utf8');
  const given = Buffer.from(request.signature, 'utf8');
  // timingSafeEqual needs equal lengths; comparing against itself keeps the time independent of where they differ.
  const same = given.length === expected.length ? timingSafeEqual(given, expected) : !timingSafeEqual(expected, expected);
  return same ? { ok: true } : { ok: false, reason: 'bad_signature' };
}

/** The body of the 200 answer to `endpoint.url_validation`. */
export function urlValidationAnswer(secret: string, plainToken: string): { plainToken: string; encryptedToken: string } {
  return { plainToken, encryptedToken: createHmac('sha256', secret).update(plainToken).digest('hex') };
}

/** Constant-time comparison of two secrets of any length (the flow endpoint's bearer token). */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHmac('sha256', 'zcc-reconcile').update(given).digest();
  const b = createHmac('sha256', 'zcc-reconcile').update(expected).digest();
  return timingSafeEqual(a, b);
}
