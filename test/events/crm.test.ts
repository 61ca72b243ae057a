// listen delivers into a CRM through the same destinations as the nightly run: every event's artifacts land on the
// engagement's HubSpot call once, and the run over the same window afterwards has nothing left to push.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startHubspotFake, type HubspotFake } from '../destinations/servers/crm/hubspot.js';
import { NOW } from '../support/harness.js';
import { DAY, listenHarness, waitFor, type ListenHarness } from './support.js';

let current: ListenHarness | null = null;
let crm: HubspotFake | null = null;
afterEach(async () => {
  vi.unstubAllEnvs();
  await current?.close();
  await crm?.close();
  current = null;
  crm = null;
});

const window = { from: new Date(NOW.getTime() - 2 * DAY), to: new Date(NOW.getTime() - DAY) };

describe('listen into a CRM', () => {
  it('events deliver every artifact to the CRM once; the nightly run then pushes nothing', async () => {
    const fake = (crm = await startHubspotFake());
    for (const [name, value] of Object.entries(fake.env())) vi.stubEnv(name, value);
    const t = (current = await listenHarness({ sandbox: { config: { destinations: [fake.destinationConfig('crm')] } } }));
    const truth = t.h.sandbox.truth.artifacts(window);
    const held = () => fake.records().flatMap((record) => [...record.texts, ...record.files].map((entry) => entry.key));

    const report = await t.sender.deliver(t.h.sandbox.events.forWindow(window), { concurrency: 4 });
    expect(report.failed).toEqual([]);
    await waitFor(() => held().length >= truth.length && t.listener.inboxStatus().depth === 0, 'every artifact in the CRM');
    expect(held().sort()).toEqual(truth.map((artifact) => artifact.key).sort());
    expect(new Set(fake.records().map((record) => record.engagementId))).toEqual(new Set(truth.map((artifact) => artifact.engagementId)));

    const run = await t.h.run({ from: window.from.toISOString(), to: window.to.toISOString() });
    expect(run.exitCode).toBe(0);
    expect(run.tally.total('delivered')).toBe(0);
    expect(held().sort()).toEqual(truth.map((artifact) => artifact.key).sort());
  });
});
