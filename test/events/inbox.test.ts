// The inbox's front door: whether events are being refused, for /healthz (a probe write can succeed where an
// event's commit fails, as on a disk that is full but still has WAL space).
import { describe, expect, it } from 'vitest';
import { Inbox, INBOX_FAILURE_HOLD_MS } from '../../src/events/inbox.js';
import type { InboxEvent, Ledger } from '../../src/ledger/types.js';

const event: InboxEvent = { source: 'webhook', event: 'contact_center.engagement_note_added', body: '{}', receivedAt: '2026-11-20T12:00:00.000Z' };

describe('inbox', () => {
  it('is failing from a failed commit until one succeeds or the hold period passes', async () => {
    let refuse = true;
    let now = 1_000_000;
    const ledger = {
      enqueueEvents: () => {
        if (refuse) throw new Error('SQLITE_FULL: database or disk is full');
      },
    } as unknown as Ledger;
    const inbox = new Inbox(ledger, () => undefined, () => now);
    expect(inbox.failing()).toBe(false);
    await expect(inbox.accept(event)).rejects.toThrow(/SQLITE_FULL/);
    expect(inbox.failing()).toBe(true);
    now += INBOX_FAILURE_HOLD_MS - 1;
    expect(inbox.failing()).toBe(true);
    now += 1;
    expect(inbox.failing()).toBe(false);
    await expect(inbox.accept(event)).rejects.toThrow(/SQLITE_FULL/);
    expect(inbox.failing()).toBe(true);
    refuse = false;
    await inbox.accept(event);
    expect(inbox.failing()).toBe(false);
  });
});
