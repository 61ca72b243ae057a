// The listener while another connection holds the ledger's write lock: an event is answered within Zoom's 3 s (a 503
// Zoom retries, not a late 200), and an entry the worker could not settle is handed back once the ledger allows.
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryDestination } from '../../src/destinations/memory.js';
import { harness, NOW, type Harness } from '../support/harness.js';
import { freePort, listenConfig, startChild, type Child } from './child.js';
import { DAY, deliveredKeys, inboxRows, listenHarness, waitFor, WEBHOOK_SECRET, type ListenHarness } from './support.js';

let t: ListenHarness | null = null;
let current: Harness | null = null;
let child: Child | null = null;
afterEach(async () => {
  child?.process.kill('SIGKILL');
  await child?.exited;
  await current?.close();
  await t?.close();
  child = null;
  current = null;
  t = null;
});

describe('listen: a ledger another connection holds', () => {
  it('answers a webhook within 3 s while another process holds the write lock for 4 s (503), and takes its retry', async () => {
    // The command as a user runs it: its worker has a thread and a connection of its own, the main thread answers.
    const h = (current = await harness());
    const port = await freePort();
    child = await startChild(h, listenConfig(h, port));
    const [note] = h.sandbox.events
      .forWindow({ from: new Date(NOW.getTime() - 2 * DAY), to: new Date(NOW.getTime() - DAY) })
      .filter((event) => event.event === 'contact_center.engagement_note_added');
    const sender = h.sandbox.webhooks({ url: `http://127.0.0.1:${port}/zoom/events`, secret: WEBHOOK_SECRET, retryDelaysMs: [] });
    const holder = spawn(
      process.execPath,
      ['-e', `const D = require('better-sqlite3'); const d = new D(${JSON.stringify(h.ledgerPath)}); d.prepare('BEGIN IMMEDIATE').run(); console.log('locked'); setTimeout(() => d.prepare('COMMIT').run(), 4000);`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const released = new Promise((resolve) => holder.once('exit', resolve));
    await new Promise((resolve) => holder.stdout!.once('data', resolve));
    const post = () => {
      const signed = sender.sign(note!.body);
      return fetch(`http://127.0.0.1:${port}/zoom/events`, { method: 'POST', headers: signed.headers, body: new Uint8Array(signed.bytes) });
    };
    const started = Date.now();
    const answer = await post();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(answer.status).toBe(503);
    await released;
    expect((await post()).status).toBe(200);
    await waitFor(() => note!.keys.every((key) => deliveredKeys(h.ledgerPath).includes(key)), 'the retried event delivered');
  }, 30_000);

  it('is offered again once the ledger is writable, and delivered once', async () => {
    const memory = new MemoryDestination({ name: 'archive' });
    const live = (t = await listenHarness({ destinations: [memory] }));
    const logged: string[] = [];
    await live.restart({ log: (_level, event) => logged.push(event) });
    const [note] = live.h.sandbox.events
      .forWindow({ from: new Date(NOW.getTime() - 2 * DAY), to: new Date(NOW.getTime() - DAY) })
      .filter((event) => event.event === 'contact_center.engagement_note_added');
    // The worker's Get Engagement is slow (0.5 s); meanwhile another connection takes the write lock until 2 s. The
    // worker runs on this thread, so its busy waits keep that COMMIT from running: each of its writes fails after the
    // ledger's 5 s busy timeout, the delivery's and then the settling's.
    live.h.sandbox.faults.add({ label: 'Light' }, { type: 'slow', delayMs: 500 }, { times: 1 });
    expect((await live.sender.deliver([note!])).failed).toEqual([]);
    await waitFor(() => live.h.sandbox.faults.fired.length === 1, 'Get Engagement requested');
    const other = new Database(live.h.ledgerPath);
    other.prepare('BEGIN IMMEDIATE').run();
    setTimeout(() => {
      other.prepare('COMMIT').run();
      other.close();
    }, 2000);
    await waitFor(() => logged.includes('inbox_entry_failed'), 'the entry not settled', 20_000);
    await waitFor(() => inboxRows(live.h.ledgerPath).every((row) => row.state === 'done'), 'the entry done', 15_000);
    expect(memory.putCount.get(note!.keys[0]!)).toBe(1);
    expect(inboxRows(live.h.ledgerPath)).toEqual([expect.objectContaining({ state: 'done', lease_owner: null })]);
  }, 45_000);
});
