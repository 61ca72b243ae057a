// The pacer after a 429: it keeps to a share of the limit Zoom announced, the share zoom.rateShare gives this tool.
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { RatePacer } from '../../src/zoom/pacer.js';

const clock: Clock = { now: () => new Date('2026-11-20T00:00:00Z'), sleep: async () => undefined };

describe('RatePacer after a 429', () => {
  it('keeps a label to a little under its share of the announced limit', () => {
    const whole = new RatePacer({}, clock, { monotonic: () => 0 });
    whole.announceLimit('download', 20);
    whole.pause('download', clock.now().getTime() + 1000);
    expect(whole.rate('download')).toBeCloseTo(19, 6);

    const half = new RatePacer({}, clock, { share: 0.5, monotonic: () => 0 });
    half.announceLimit('download', 20);
    half.pause('download', clock.now().getTime() + 1000);
    expect(half.rate('download')).toBeCloseTo(9.5, 6);
  });

  it('without an announced limit, halves the rate that met the 429', async () => {
    const pacer = new RatePacer({ Medium: 10 }, clock, { monotonic: () => 0 });
    for (let n = 0; n < 10; n++) await pacer.acquire('Medium');
    pacer.pause('Medium', clock.now().getTime() + 1000);
    expect(pacer.rate('Medium')).toBeCloseTo(5, 6);
  });
});
