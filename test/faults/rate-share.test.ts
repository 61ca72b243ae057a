// zoom.rateShare reaches the pacer a real run uses (src/run.ts → ReportingPacer → RatePacer options): after a 429 that
// announces a limit, the label keeps to 0.95 × rateShare × that limit. test/unit/pacer.test.ts builds a RatePacer by
// hand and cannot see that wiring.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RatePacer } from '../../src/zoom/pacer.js';
import { harness, type Harness } from '../support/harness.js';

let h: Harness | null = null;
afterEach(async () => {
  vi.restoreAllMocks();
  await h?.close();
  h = null;
});

describe('rate-share', () => {
  it('the label keeps to 0.95 × rateShare × the announced limit', async () => {
    const after429: number[] = [];
    const original = RatePacer.prototype.pause;
    vi.spyOn(RatePacer.prototype, 'pause').mockImplementation(function (this: RatePacer, label, until) {
      original.call(this, label, until);
      if (label === 'download') after429.push(this.rate('download'));
    });
    h = await harness({ engagementsPerDay: 16, rateLimits: { download: 10 }, zoom: { rateShare: 0.5 } });
    expect((await h.run({ from: '2026-11-18', to: '2026-11-19' })).exitCode).toBe(0);
    expect(after429.length).toBeGreaterThan(0);
    expect(after429[0]).toBeCloseTo(0.95 * 0.5 * 10, 6);
  }, 60_000);
});
