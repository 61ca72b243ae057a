// Secrets the process came to hold (issued tokens, values a config names) are redacted like the environment's.
import { describe, expect, it } from 'vitest';
import { redactor, rememberSecret } from '../../src/redact.js';

describe('rememberSecret', () => {
  it("hides an auth header's credential and the whole value, never the scheme's name", () => {
    rememberSecret('Bearer tok-0123456789');
    rememberSecret('plain-remembered-value');
    rememberSecret('short');
    const redact = redactor({});
    expect(redact('sent tok-0123456789 and plain-remembered-value')).toBe('sent [redacted] and [redacted]');
    expect(redact('the Bearer scheme; a short word')).toBe('the Bearer scheme; a short word');
    expect(redact('Authorization: Bearer tok-0123456789')).toBe('Authorization: [redacted]');
  });

  it('keeps the 64 most recent, so a long-running listener does not redact against every token it was ever issued', () => {
    const issued = Array.from({ length: 100 }, (_, n) => `issued-token-${String(n).padStart(4, '0')}`);
    for (const token of issued) rememberSecret(`Bearer ${token}`);
    const redact = redactor({});
    expect(redact(issued[99]!)).toBe('[redacted]');
    expect(redact(issued[80]!)).toBe('[redacted]');
    expect(redact(issued[0]!)).toBe(issued[0]);
  });
});

