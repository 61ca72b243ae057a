// A config value out of its range is named with the bound it broke, in words a user reads (not zod's own text).
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

describe('config values out of range', () => {
  it.each([
    ['a count below its minimum', { concurrency: 0 }, 'concurrency: 0 is not valid; expected a number ≥ 1'],
    ['a count above its maximum', { concurrency: 100 }, 'concurrency: 100 is not valid; expected a number ≤ 64'],
    ['a fraction where a whole number goes', { maxAttempts: 2.5 }, 'maxAttempts: 2.5 is not valid; expected a whole number'],
    ['a rate that must be positive', { zoom: { rateLimits: { Medium: 0 } } }, 'zoom.rateLimits.Medium: 0 is not valid; expected a number > 0'],
    ['an empty list', { kinds: [] }, 'kinds: [] is not valid; expected at least 1 item'],
    ['an empty string', { ledger: { path: '' } }, 'ledger.path: "" is not valid; expected at least 1 character'],
  ])('names %s', (_label, raw, message) => {
    expect(() => parseConfig(raw)).toThrow(ConfigError);
    expect(() => parseConfig(raw)).toThrow(message);
  });
});
