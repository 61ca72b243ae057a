// Zoom's v0 signature and the URL validation answer, against the test vectors of zcc-events.md §2.1–2.2.
import { describe, expect, it } from 'vitest';
import { secretsEqual, signatureFor, urlValidationAnswer, verifySignature } from '../../src/events/signature.js';
import { oddJson } from '../../src/sandbox/webhooks.js';

const SECRET = 'whsec_test_0123456789';
const TIMESTAMP = '1740820841';
const BODY =
  '{"event":"contact_center.engagement_note_added","event_ts":1740820841000,"payload":{"account_id":"Acc001kkkkkkkkkkkkkkkk","object":{"note_id":"Not001gggggggggggggggg","engagement_id":"Eng0001aaaaaaaaaaaaaaa","note":"Reset password."}}}';
const SIGNATURE = 'v0=1fc145df07cfbb5701fde7fead3a2c109eb670de1e9ecf21a2da0367b0459106';
const AT = Number(TIMESTAMP) * 1000;

const check = (overrides: { timestamp?: string; signature?: string; body?: Buffer }, now = AT) =>
  verifySignature({ timestamp: TIMESTAMP, signature: SIGNATURE, body: Buffer.from(BODY), ...overrides }, SECRET, now);

describe('webhook signature (v0)', () => {
  it('matches the test vector over the 235 raw bytes', () => {
    expect(Buffer.byteLength(BODY)).toBe(235);
    expect(signatureFor(SECRET, TIMESTAMP, Buffer.from(BODY))).toBe(SIGNATURE);
    expect(check({})).toEqual({ ok: true });
  });

  it('answers the URL validation test vector', () => {
    expect(urlValidationAnswer(SECRET, 'pT0k3nAbCdEfGhIjKlMnOp')).toEqual({
      plainToken: 'pT0k3nAbCdEfGhIjKlMnOp',
      encryptedToken: '5ab9d25d346d8d7b2294c964f656390b83c15d14b72be4ed56b11800a64cfe05',
    });
  });

  it.each([
    ['a missing signature', { signature: '' }, 'missing_signature'],
    ['a missing timestamp', { timestamp: '' }, 'missing_timestamp'],
    ['a timestamp that is not a number', { timestamp: '17408e8' }, 'bad_timestamp'],
    ['a signature of the wrong length', { signature: 'v0=abc' }, 'bad_signature'],
    ['a signature without the v0= prefix', { signature: SIGNATURE.slice(3) }, 'bad_signature'],
    ['an upper-case signature', { signature: SIGNATURE.toUpperCase() }, 'bad_signature'],
    ['one flipped hex digit', { signature: `${SIGNATURE.slice(0, -1)}7` }, 'bad_signature'],
    ['a body changed by one byte', { body: Buffer.from(BODY.replace('Reset', 'reset')) }, 'bad_signature'],
    ['a body with a trailing newline', { body: Buffer.from(`${BODY}\n`) }, 'bad_signature'],
    ['the signature of another timestamp', { timestamp: String(Number(TIMESTAMP) + 1) }, 'bad_signature'],
  ])('refuses %s', (_name, overrides, reason) => {
    expect(check(overrides)).toEqual({ ok: false, reason });
  });

  it('accepts a timestamp within ±300 s and refuses one outside', () => {
    expect(check({}, AT + 300_000)).toEqual({ ok: true });
    expect(check({}, AT - 300_000)).toEqual({ ok: true });
    expect(check({}, AT + 300_001)).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(check({}, AT - 300_001)).toEqual({ ok: false, reason: 'stale_timestamp' });
  });

  it('checks the raw bytes, not a re-serialisation of their JSON', () => {
    const odd = oddJson(JSON.parse(BODY.replace('Reset password.', 'Straße 5, München')));
    expect(odd).not.toBe(JSON.stringify(JSON.parse(odd)));
    const body = Buffer.from(odd);
    const signature = signatureFor(SECRET, TIMESTAMP, body);
    expect(verifySignature({ timestamp: TIMESTAMP, signature, body }, SECRET, AT)).toEqual({ ok: true });
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(odd)));
    expect(verifySignature({ timestamp: TIMESTAMP, signature, body: reserialised }, SECRET, AT)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('compares bearer secrets of any length', () => {
    expect(secretsEqual('abc', 'abc')).toBe(true);
    expect(secretsEqual('abc', 'abcd')).toBe(false);
    expect(secretsEqual('', 'abc')).toBe(false);
  });
});
