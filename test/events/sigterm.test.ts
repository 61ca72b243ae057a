// Stopping: SIGTERM stops accepting, finishes (or hands back) the work in flight and exits 0; a stop with no grace
// hands the in-flight entries back to the inbox and the next start delivers them, each key once.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryDestination } from '../../src/destinations/memory.js';
import { harness, NOW, type Harness } from '../support/harness.js';
import { freePort, listenConfig, startChild, type Child } from './child.js';
import { DAY, deliveredKeys, inboxRows, listenHarness, waitFor, WEBHOOK_SECRET, type ListenHarness } from './support.js';

const window = { from: new Date(NOW.getTime() - 2 * DAY), to: new Date(NOW.getTime() - DAY) };

let h: Harness | null = null;
let child: Child | null = null;
let t: ListenHarness | null = null;
afterEach(async () => {
  child?.process.kill('SIGKILL');
  await child?.exited;
  await h?.close();
  await t?.close();
  child = null;
  h = null;
  t = null;
});

describe('listen: stopping', () => {
  it('exits 0 on SIGTERM while the worker is downloading, and the next start delivers the rest', async () => {
    h = await harness({ bandwidth: 400_000, engagementsPerDay: 24 });
    const port = await freePort();
    const configFile = listenConfig(h, port);
    const recordings = h.sandbox.events.forWindow(window).filter((event) => event.event === 'contact_center.recording_completed');
    expect(recordings.length).toBeGreaterThan(8);
    child = await startChild(h, configFile);
    const sender = h.sandbox.webhooks({ url: `http://127.0.0.1:${port}/zoom/events`, secret: WEBHOOK_SECRET, retryDelaysMs: [] });
    const report = await sender.deliver(recordings, { concurrency: 8 });
    expect(report.failed).toEqual([]);
    await waitFor(() => deliveredKeys(h!.ledgerPath).length >= 1, 'a first delivery');
    child.process.kill('SIGTERM');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.stderr()).toMatch(/SIGTERM: stopping/);
    child = null;
    // Nothing is left leased: what was not finished is queued for the next start.
    const rows = inboxRows(h.ledgerPath);
    expect(rows.every((row) => row.lease_owner === null && (row.state === 'done' || row.state === 'queued'))).toBe(true);
    expect(rows.filter((row) => row.state === 'queued').length).toBeGreaterThan(0);

    child = await startChild(h, configFile);
    const keys = recordings.flatMap((event) => event.keys).sort();
    await waitFor(() => deliveredKeys(h!.ledgerPath).length === keys.length, 'the rest delivered after the restart', 60_000);
    expect(deliveredKeys(h.ledgerPath)).toEqual(keys);
    child.process.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);
    child = null;
  });

  it('hands back in-flight work when the grace period is over; it is delivered once after the restart', async () => {
    const memory = new MemoryDestination({ name: 'archive' });
    t = await listenHarness({ destinations: [memory], sandbox: { bandwidth: 150_000 } });
    const recordings = t.h.sandbox.events.forWindow(window).filter((event) => event.event === 'contact_center.recording_completed');
    await t.sender.deliver(recordings, { concurrency: 8 });
    await waitFor(async () => (await t!.listener.metrics.value('zcc_listen_deliveries_total', { kind: 'recording', outcome: 'delivered' })) >= 1, 'a first delivery');
    const { handedBack } = await t.listener.close(10);
    expect(handedBack).toBeGreaterThan(0);
    const listener = await t.restart();
    const keys = recordings.flatMap((event) => event.keys);
    await waitFor(() => memory.putCount.size === keys.length && listener.inboxStatus().depth === 0, 'everything delivered after the restart', 60_000);
    expect([...memory.putCount.values()].every((count) => count === 1)).toBe(true);
  });
});
