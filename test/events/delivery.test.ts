// Events end to end against the sandbox: every event delivered → every artifact once; duplicates (also concurrent),
// reordering and retries → still once; dropped events → the following run pushes exactly those; the path of each
// delivery is recorded.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryDestination } from '../../src/destinations/memory.js';
import { SqliteLedger } from '../../src/ledger/sqlite.js';
import { NOW } from '../support/harness.js';
import { CLAIM_LEASE_MS } from '../../src/ledger/claims.js';
import { DAY, deliveredKeys, listenHarness, readLedger, waitFor, type ListenHarness } from './support.js';

let current: ListenHarness | null = null;
afterEach(async () => {
  await current?.close();
  current = null;
});

const window = { from: new Date(NOW.getTime() - 2 * DAY), to: new Date(NOW.getTime() - DAY) };

function expectOnce(memory: MemoryDestination, keys: readonly string[]) {
  expect([...memory.putCount.keys()].sort()).toEqual([...keys].sort());
  expect([...memory.putCount.entries()].filter(([, count]) => count !== 1)).toEqual([]);
}

describe('listen: events against the sandbox', () => {
  it('delivers every artifact of every event exactly once, as the polling path would', async () => {
    const memory = new MemoryDestination({ name: 'archive' });
    const t = (current = await listenHarness({ destinations: [memory] }));
    const events = t.h.sandbox.events.forWindow(window);
    const truth = t.h.sandbox.truth.artifacts(window);
    expect(new Set(events.map((event) => event.event)).size).toBeGreaterThanOrEqual(6);
    expect(events.flatMap((event) => event.keys).sort()).toEqual(truth.map((artifact) => artifact.key).sort());

    const report = await t.sender.deliver(events, { concurrency: 8 });
    expect(report.failed).toEqual([]);
    await waitFor(() => memory.putCount.size === truth.length && t.listener.inboxStatus().depth === 0, 'every artifact delivered');
    expectOnce(memory, truth.map((artifact) => artifact.key));
    for (const artifact of truth) {
      const stored = memory.objects.get(artifact.key)!;
      if (artifact.kind === 'note') expect(JSON.parse(stored.bytes.toString()).note).toBe(artifact.text);
      else if (artifact.kind === 'disposition') expect(JSON.parse(stored.bytes.toString()).disposition_name).toBe(artifact.text);
      else expect(stored.bytes.length).toBe(artifact.size);
    }
    // The nightly run over the same window finds nothing left to push: same keys, same fingerprints.
    const run = await t.h.run({ from: window.from.toISOString(), to: window.to.toISOString(), destinations: [memory] });
    expect(run.exitCode).toBe(0);
    expect(run.tally.total('delivered')).toBe(0);
    expectOnce(memory, truth.map((artifact) => artifact.key));
    expect(deliveredKeys(t.h.ledgerPath, 'event').length).toBe(truth.length);
  });

  it('delivers each key once through duplicates (also concurrent), reordering and retries', async () => {
    const memory = new MemoryDestination({ name: 'archive' });
    const t = (current = await listenHarness({ destinations: [memory] }));
    const events = t.h.sandbox.events.forWindow(window);
    const keys = events.flatMap((event) => event.keys);
    const first = await t.sender.deliver(events, { duplicateShare: 0.5, concurrentDuplicates: true, reorder: true, seed: 11, concurrency: 8 });
    expect(first.duplicated.length).toBeGreaterThan(5);
    // And the whole set once more, one after the other, in another order.
    await t.sender.deliver(events, { duplicateShare: 0.3, reorder: true, seed: 12 });
    await waitFor(() => memory.putCount.size === keys.length && t.listener.inboxStatus().depth === 0, 'every artifact delivered');
    expectOnce(memory, keys);
  });

  it('records what the events missed for the nightly run, which then pushes exactly the dropped ones', async () => {
    const memory = new MemoryDestination({ name: 'archive' });
    const t = (current = await listenHarness({ destinations: [memory] }));
    const events = t.h.sandbox.events.forWindow(window);
    const report = await t.sender.deliver(events, { dropShare: 0.2, seed: 5, concurrency: 8 });
    const dropped = report.dropped.flatMap((event) => event.keys);
    const sent = report.sent.flatMap((event) => event.keys);
    expect(dropped.length).toBeGreaterThan(3);
    await waitFor(() => memory.putCount.size === sent.length && t.listener.inboxStatus().depth === 0, 'the sent events delivered');

    const delivered: string[] = [];
    const run = await t.h.run({
      from: window.from.toISOString(),
      to: window.to.toISOString(),
      destinations: [memory],
      onEvent: (event) => {
        if (event.type === 'delivered') delivered.push(event.key);
      },
    });
    expect(run.exitCode).toBe(0);
    expect(delivered.sort()).toEqual([...dropped].sort());
    expectOnce(memory, [...sent, ...dropped]);

    const ledger = SqliteLedger.open(t.h.ledgerPath);
    try {
      const byPath = ledger.deliveriesByPath(new Date(0).toISOString());
      const total = (via: string) => byPath.filter((row) => row.via === via).reduce((sum, row) => sum + row.artifacts, 0);
      expect(total('event')).toBe(sent.length);
      expect(total('reconcile')).toBe(dropped.length);
    } finally {
      ledger.close();
    }
  });
});

/** Whether `run` claims keys before pushing them (the change to src/run.ts that goes with the listener). */

describe('listen and run at the same time', () => {
  it('never deliver one key twice', async () => {
    const memory = new MemoryDestination({ name: 'archive' });
    // Slow downloads keep both paths busy with the same keys at the same time (at concurrency 8 the run takes them all first).
    const t = (current = await listenHarness({ destinations: [memory], sandbox: { bandwidth: 2_000_000, config: { concurrency: 4 } } }));
    const events = t.h.sandbox.events.forWindow(window);
    const keys = events.flatMap((event) => event.keys);
    const [report, run] = await Promise.all([
      t.sender.deliver(events, { concurrency: 8, reorder: true, seed: 3 }),
      t.h.run({ from: window.from.toISOString(), to: window.to.toISOString(), destinations: [memory] }),
    ]);
    expect(report.failed).toEqual([]);
    expect(run.exitCode).toBe(0);
    await waitFor(() => t.listener.inboxStatus().depth === 0, 'the inbox drained');
    expectOnce(memory, keys);
    const byPath = { event: deliveredKeys(t.h.ledgerPath, 'event').length, reconcile: deliveredKeys(t.h.ledgerPath, 'reconcile').length };
    expect(byPath.event + byPath.reconcile).toBe(keys.length);
    expect(byPath.event).toBeGreaterThan(0);
    expect(byPath.reconcile).toBeGreaterThan(0);
  });
});

/** A memory destination whose puts wait at a gate: a push that lasts as long as the test wants. */
class GatedDestination extends MemoryDestination {
  private open!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.open = resolve));
  waiting = 0;

  override async put(...args: Parameters<MemoryDestination['put']>): ReturnType<MemoryDestination['put']> {
    this.waiting++;
    await this.opened;
    return super.put(...args);
  }

  release(): void {
    this.open();
  }
}

const claimRows = (file: string) => readLedger(file, (db) => db.prepare('SELECT key, owner, lease_until FROM claims').all() as { key: string; owner: string; lease_until: string }[]);

describe('a push that outlasts the first lease of its claim', () => {
  it('keeps the claim: run and listen renew their leases while they push', async () => {
    const gated = new GatedDestination({ name: 'archive' });
    const t = (current = await listenHarness({ destinations: [gated], request: { tuning: { leaseRenewMs: 20 } } }));
    const events = t.h.sandbox.events.forWindow(window).filter((event) => event.event.endsWith('note_added')).slice(0, 1);
    expect((await t.sender.deliver(events)).failed).toEqual([]);
    await waitFor(() => gated.waiting > 0, 'the listener pushing');
    const [listenClaim] = claimRows(t.h.ledgerPath);
    expect(listenClaim!.owner).toMatch(/^listen:/);
    await waitFor(() => claimRows(t.h.ledgerPath)[0]!.lease_until > listenClaim!.lease_until, 'the listener renewing its claim');

    const running = t.h.run({ from: window.from.toISOString(), to: window.to.toISOString(), destinations: [gated], leaseRenewMs: 20 });
    await waitFor(() => claimRows(t.h.ledgerPath).some((row) => row.owner.startsWith('run:')), 'the run pushing');
    // The run's clock moves ten minutes on while its pushes wait: its renewed leases follow that clock.
    t.h.clock.now = new Date(NOW.getTime() + 10 * 60_000);
    const renewedUntil = new Date(NOW.getTime() + 10 * 60_000 + CLAIM_LEASE_MS).toISOString();
    await waitFor(() => claimRows(t.h.ledgerPath).filter((row) => row.owner.startsWith('run:')).every((row) => row.lease_until === renewedUntil), 'the run renewing its claims');
    gated.release();
    expect((await running).exitCode).toBe(0);
    await waitFor(() => t.listener.inboxStatus().depth === 0, 'the inbox drained');
    expectOnce(gated, [...gated.putCount.keys()]);
    expect(claimRows(t.h.ledgerPath)).toEqual([]);
  });
});
