// Acknowledgement only after the inbox commit: SIGKILL the listener right after some 2xx, many times, restart it,
// let the sender retry what got no answer: every event that was acknowledged is processed, nothing lost, no key twice.
import { afterEach, describe, expect, it } from 'vitest';
import type { SandboxEvent } from '../../src/sandbox/index.js';
import { harness, NOW, walkArchive, type Harness } from '../support/harness.js';
import { freePort, listenConfig, startChild, type Child } from './child.js';
import { DAY, deliveredKeys, inboxRows, waitFor, WEBHOOK_SECRET } from './support.js';

let h: Harness | null = null;
let child: Child | null = null;
afterEach(async () => {
  child?.process.kill('SIGKILL');
  await child?.exited;
  await h?.close();
  child = null;
  h = null;
});

const KILLS = 20;

describe('listen: a SIGKILL at any moment loses no accepted event', () => {
  it(`processes every acknowledged event after ${KILLS} kills and restarts`, async () => {
    h = await harness({ engagementsPerDay: 40 });
    const port = await freePort();
    const configFile = listenConfig(h, port);
    const sender = h.sandbox.webhooks({ url: `http://127.0.0.1:${port}/zoom/events`, secret: WEBHOOK_SECRET, retryDelaysMs: [] });
    const events = h.sandbox.events.forWindow({ from: new Date(NOW.getTime() - 2 * DAY), to: new Date(NOW.getTime() - DAY) });
    expect(events.length).toBeGreaterThan(150);
    const acknowledged: SandboxEvent[] = [];
    let waiting = [...events];
    // Entries a killed listener had accepted but not finished: the next start must drain them.
    let leftQueued = 0;
    for (let round = 0; round <= KILLS; round++) {
      child = await startChild(h, configFile);
      const running = child;
      const killAfter = round === KILLS ? Infinity : 2 + ((round * 7) % 9);
      let acked = 0;
      const unanswered: SandboxEvent[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < waiting.length) {
            const event = waiting[next++]!;
            const result = await sender.send(event.body);
            if (result.delivered) {
              acknowledged.push(event);
              // Killed the moment the 2xx is in: the events of this round after it get no answer.
              if (++acked === killAfter) running.process.kill('SIGKILL');
            } else unanswered.push(event);
          }
        }),
      );
      waiting = unanswered;
      if (round < KILLS) {
        expect((await running.exited).signal).toBe('SIGKILL');
        child = null;
        leftQueued += inboxRows(h.ledgerPath).filter((row) => row.state === 'queued').length;
      }
    }
    expect(waiting).toEqual([]);
    expect(leftQueued).toBeGreaterThan(0);
    const keys = [...new Set(acknowledged.flatMap((event) => event.keys))].sort();
    expect(keys).toEqual(events.flatMap((event) => event.keys).sort());
    await waitFor(() => deliveredKeys(h!.ledgerPath).length === keys.length && inboxRows(h!.ledgerPath).every((row) => row.state === 'done'), 'every acknowledged event processed', 60_000);
    expect(deliveredKeys(h.ledgerPath)).toEqual(keys);
    expect(walkArchive(h.archive).map((file) => file.key)).toEqual(keys);
    const final = child!;
    final.process.kill('SIGTERM');
    expect(await final.exited).toEqual({ code: 0, signal: null });
    child = null;
  }, 180_000);
});
