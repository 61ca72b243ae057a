// The ledger's listen half: the event inbox (leases, deferral, hand-back), per-key claims with leases that die with
// their holder, the path of each delivery, WebSocket gaps; and the listen block of the config.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { CLAIM_LEASE_MS, deliveringVia, keepLeases, LEASE_RENEW_MS, newLeaseHolder } from '../../src/ledger/claims.js';
import { SqliteLedger } from '../../src/ledger/sqlite.js';
import type { LeaseHolder } from '../../src/ledger/types.js';

const open = () => SqliteLedger.open(path.join(mkdtempSync(path.join(tmpdir(), 'ledger-listen-')), 'ledger.sqlite'));
const T0 = '2026-11-20T12:00:00.000Z';
const later = (ms: number) => new Date(Date.parse(T0) + ms).toISOString();

/** A holder on this host whose process has exited. */
function deadHolder(): LeaseHolder {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return { id: 'listen:dead', host: hostname(), pid: Number(child.stdout.toString()) };
}

const event = (body: string) => ({ source: 'webhook' as const, event: 'contact_center.recording_completed', body, receivedAt: T0 });

describe('event inbox', () => {
  it('leases entries to one holder at a time, defers with backoff, finishes, hands back', () => {
    const ledger = open();
    ledger.enqueueEvents([event('a'), event('b'), event('c')]);
    const mine = newLeaseHolder('listen');
    const other = newLeaseHolder('listen');
    const first = ledger.takeInboxEntries(mine, T0, later(60_000), 2);
    expect(first.map((entry) => entry.body)).toEqual(['a', 'b']);
    // Live holders' leases are respected, including the taker's own in-flight entries.
    expect(ledger.takeInboxEntries(mine, T0, later(60_000), 5).map((entry) => entry.body)).toEqual(['c']);
    expect(ledger.takeInboxEntries(other, T0, later(60_000), 5)).toEqual([]);
    ledger.finishInboxEntry(first[0]!.id, 'delivered 1', T0);
    ledger.deferInboxEntry(first[1]!.id, later(5000), 'not ready');
    expect(ledger.inboxStatus()).toEqual({ depth: 2, lastReceivedAt: T0, nextDueAt: later(5000) });
    expect(ledger.takeInboxEntries(other, later(4999), later(60_000), 5)).toEqual([]);
    expect(ledger.takeInboxEntries(other, later(5000), later(60_000), 5)).toMatchObject([{ body: 'b', attempts: 1 }]);
    expect(ledger.handBackInboxEntries(other)).toBe(1);
    expect(ledger.handBackInboxEntries(mine)).toBe(1);
    expect(ledger.takeInboxEntries(other, later(5000), later(60_000), 5).map((entry) => entry.body).sort()).toEqual(['b', 'c']);
    ledger.close();
  });

  it('gives the entries of a holder whose pid is alive again to the next one once its lease runs out, unless renewed', () => {
    const ledger = open();
    ledger.enqueueEvents([event('a'), event('b')]);
    // A listener restarted in a container: same host, same pid (1 there; this process here), a new holder id.
    const earlier: LeaseHolder = { id: 'listen:before-restart', host: hostname(), pid: process.pid };
    const renewing: LeaseHolder = { id: 'listen:alive', host: hostname(), pid: process.pid };
    expect(ledger.takeInboxEntries(earlier, T0, later(60_000), 1)).toMatchObject([{ body: 'a' }]);
    expect(ledger.takeInboxEntries(renewing, T0, later(60_000), 1)).toMatchObject([{ body: 'b' }]);
    ledger.renewLeases(renewing, later(600_000));
    const next = newLeaseHolder('listen');
    expect(ledger.takeInboxEntries(next, later(59_999), later(120_000), 5)).toEqual([]);
    expect(ledger.takeInboxEntries(next, later(60_001), later(120_000), 5).map((entry) => entry.body)).toEqual(['a']);
    ledger.close();
  });

  it('probes that it can be written with a commit that leaves nothing behind, and fails read-only', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'ledger-listen-')), 'ledger.sqlite');
    const ledger = SqliteLedger.open(file);
    ledger.enqueueEvents([event('a')]);
    const walBefore = statSync(`${file}-wal`).size;
    ledger.probeWrite();
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(walBefore);
    expect(ledger.inboxStatus()).toMatchObject({ depth: 1, lastReceivedAt: T0 });
    const readonly = SqliteLedger.open(file, { readonly: true });
    expect(() => readonly.probeWrite()).toThrow(/readonly/);
    readonly.close();
    ledger.close();
  });

  it('gives the entries of a holder that died to the next one', () => {
    const ledger = open();
    ledger.enqueueEvents([event('a')]);
    expect(ledger.takeInboxEntries(deadHolder(), T0, later(600_000), 5)).toHaveLength(1);
    expect(ledger.takeInboxEntries(newLeaseHolder('listen'), T0, later(600_000), 5)).toHaveLength(1);
    ledger.close();
  });
});

describe('claims', () => {
  const target = { destination: 'archive', key: 'recording/R1', fingerprint: 'zoom:recording:R1' };

  it('lets one holder push a key while others wait, then says it is delivered', () => {
    const ledger = open();
    const listen = newLeaseHolder('listen');
    const run = newLeaseHolder('run');
    expect(ledger.claim(target, listen, 'event', T0, later(60_000))).toBe('claimed');
    expect(ledger.claim(target, run, 'reconcile', T0, later(60_000))).toBe('held');
    // Not re-entrant: a second task of the same holder waits too.
    expect(ledger.claim(target, listen, 'event', T0, later(60_000))).toBe('held');
    deliveringVia(ledger, 'event').recordDeliveries([{ ...target, size: 3, sha256: 's', location: 'l', deliveredAt: T0 }]);
    ledger.release(target, listen);
    expect(ledger.claim(target, run, 'reconcile', T0, later(60_000))).toBe('delivered');
    expect(ledger.claim({ ...target, fingerprint: 'changed' }, run, 'reconcile', T0, later(60_000))).toBe('claimed');
    ledger.close();
  });

  /** `holder` claims `key` for a minute: others find it held until the lease ends, then take it. */
  function expectHeldUntilLeaseEnds(ledger: SqliteLedger, key: typeof target, holder: LeaseHolder): void {
    expect(ledger.claim(key, holder, 'event', T0, later(60_000))).toBe('claimed');
    expect(ledger.claim(key, newLeaseHolder('run'), 'reconcile', later(59_999), later(120_000))).toBe('held');
    expect(ledger.claim(key, newLeaseHolder('run'), 'reconcile', later(60_001), later(120_000))).toBe('claimed');
  }

  it('frees the claim of a holder that died on this host at once, and of another host when its lease ends', () => {
    const ledger = open();
    expect(ledger.claim(target, deadHolder(), 'event', T0, later(600_000))).toBe('claimed');
    expect(ledger.claim(target, newLeaseHolder('run'), 'reconcile', T0, later(60_000))).toBe('claimed');
    expectHeldUntilLeaseEnds(ledger, { destination: 'archive', key: 'note/E1/N1', fingerprint: 'f' }, { id: 'listen:other-host', host: 'other-host.invalid', pid: 1 });
    ledger.close();
  });

  it('holds a claim whose holder pid is alive only while its lease runs: a reused pid does not keep it for ever', () => {
    const ledger = open();
    // The pid of a live process that is not the holder (this test's parent), and this process's own pid under an
    // earlier holder id (a restart under the same pid).
    for (const pid of [process.ppid, process.pid]) {
      expectHeldUntilLeaseEnds(ledger, { ...target, key: `recording/R-${pid}` }, { id: `listen:earlier-${pid}`, host: hostname(), pid });
    }
    ledger.close();
  });

  it('frees at once for a run the claim of an earlier run: runs claim only under the run lock, which one holds at a time', () => {
    const ledger = open();
    for (const pid of [process.ppid, process.pid]) {
      const key = { ...target, key: `recording/Run-${pid}` };
      expect(ledger.claim(key, { id: `run:earlier-${pid}`, host: hostname(), pid }, 'reconcile', T0, later(60_000))).toBe('claimed');
      expect(ledger.claim(key, newLeaseHolder('listen'), 'event', later(1), later(120_000))).toBe('held');
      expect(ledger.claim(key, newLeaseHolder('run'), 'reconcile', later(1), later(120_000))).toBe('claimed');
    }
    ledger.close();
  });

  it('keeps a renewed claim from others past its first lease, and only the holder renews its own', () => {
    const ledger = open();
    const elsewhere: LeaseHolder = { id: 'listen:other-host', host: 'other-host.invalid', pid: 1 };
    const other = { ...target, key: 'recording/R2' };
    expect(ledger.claim(target, elsewhere, 'event', T0, later(60_000))).toBe('claimed');
    expect(ledger.claim(other, newLeaseHolder('listen'), 'event', T0, later(60_000))).toBe('claimed');
    ledger.renewLeases(elsewhere, later(600_000));
    expect(ledger.claim(target, newLeaseHolder('run'), 'reconcile', later(120_000), later(180_000))).toBe('held');
    expect(ledger.claim(other, newLeaseHolder('run'), 'reconcile', later(120_000), later(180_000))).toBe('claimed');
    ledger.close();
  });

  it('renews the holder\'s leases on a timer until stopped', () => {
    vi.useFakeTimers();
    try {
      const renewals: string[] = [];
      const holder = newLeaseHolder('run');
      const clock = { now: () => new Date(T0) };
      const stop = keepLeases({ renewLeases: (who, until) => renewals.push(`${who.id} ${until}`) }, holder, clock);
      vi.advanceTimersByTime(LEASE_RENEW_MS - 1);
      expect(renewals).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(renewals).toEqual([`${holder.id} ${later(CLAIM_LEASE_MS)}`]);
      vi.advanceTimersByTime(LEASE_RENEW_MS);
      expect(renewals).toHaveLength(2);
      stop();
      vi.advanceTimersByTime(10 * LEASE_RENEW_MS);
      expect(renewals).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('counts per day the artifacts delivered through events and through the reconciliation', () => {
    const ledger = open();
    const delivery = (key: string, destination: string, deliveredAt: string) => ({ destination, key, fingerprint: 'f', size: 1, sha256: 's', location: key, deliveredAt });
    deliveringVia(ledger, 'event').recordDeliveries([delivery('a', 'x', T0), delivery('a', 'y', T0), delivery('b', 'x', T0)]);
    deliveringVia(ledger, 'reconcile').recordDeliveries([delivery('c', 'x', T0)]);
    // Deliveries recorded the old way (a run that does not say) count as the reconciliation's.
    ledger.recordDeliveries([delivery('d', 'x', later(86_400_000))]);
    expect(ledger.deliveriesByPath('2026-11-01T00:00:00Z')).toEqual([
      { day: '2026-11-20', via: 'event', artifacts: 2 },
      { day: '2026-11-20', via: 'reconcile', artifacts: 1 },
      { day: '2026-11-21', via: 'reconcile', artifacts: 1 },
    ]);
    ledger.close();
  });
});

describe('WebSocket gaps', () => {
  it('records each disconnected interval once, closed by the reconnection', () => {
    const ledger = open();
    ledger.openWebsocketGap('sub1', T0, 'error');
    ledger.openWebsocketGap('sub1', later(1000), 'token_refused');
    expect(ledger.websocketGaps(T0)).toEqual([{ subscriptionId: 'sub1', disconnectedAt: T0, reconnectedAt: null, reason: 'error' }]);
    ledger.closeWebsocketGaps('sub1', later(5000));
    ledger.openWebsocketGap('sub1', later(9000), 'closed');
    expect(ledger.websocketGaps(T0).map((gap) => [gap.disconnectedAt, gap.reconnectedAt])).toEqual([
      [T0, later(5000)],
      [later(9000), null],
    ]);
    ledger.close();
  });

  it('returns the gaps that touch the period: ended in it, or still open however long ago they began', () => {
    const ledger = open();
    ledger.openWebsocketGap('old', T0, 'error');
    ledger.closeWebsocketGaps('old', later(1000));
    ledger.openWebsocketGap('ended-in-period', later(2000), 'error');
    ledger.closeWebsocketGaps('ended-in-period', later(6000));
    ledger.openWebsocketGap('still-open', later(3000), 'closed');
    expect(ledger.websocketGaps(later(5000)).map((gap) => [gap.subscriptionId, gap.reconnectedAt])).toEqual([
      ['ended-in-period', later(6000)],
      ['still-open', null],
    ]);
    ledger.close();
  });
});

describe('the listen block of the config', () => {
  it('has the documented defaults', () => {
    expect(parseConfig({}).listen).toEqual({
      host: '127.0.0.1',
      port: 8787,
      webhookPath: '/zoom/events',
      flowPath: '/flow/events',
      websocket: { url: 'wss://ws.zoom.us/ws', subscriptionId: null },
    });
    expect(parseConfig({ listen: { port: 9000, websocket: { subscriptionId: 'abc_123' } } }).listen).toMatchObject({ port: 9000, websocket: { url: 'wss://ws.zoom.us/ws', subscriptionId: 'abc_123' } });
  });

  it.each([
    [{ listen: { port: 70000 } }, /^listen\.port:/],
    [{ listen: { webhookPath: 'zoom/events' } }, /^listen\.webhookPath:/],
    [{ listen: { flowPath: '/zoom/events' } }, /^listen\.flowPath:/],
    [{ listen: { websocket: { url: 'https://ws.zoom.us/ws' } } }, /^listen\.websocket\.url:/],
    [{ listen: { secret: 'x' } }, /^listen\.secret: .*no such key/],
  ])('refuses %j', (raw, message) => {
    expect(() => parseConfig(raw)).toThrow(ConfigError);
    expect(() => parseConfig(raw)).toThrow(message);
  });
});

describe('inbox retention', () => {
  it('prunes finished entries older than the cut-off and keeps the rest', () => {
    const ledger = open();
    ledger.enqueueEvents([event('old'), event('new'), event('queued')]);
    const [old, recent] = ledger.takeInboxEntries(newLeaseHolder('listen'), T0, later(60_000), 2);
    ledger.finishInboxEntry(old!.id, 'delivered 1', T0);
    ledger.finishInboxEntry(recent!.id, 'delivered 1', later(86_400_000));
    expect(ledger.pruneInbox(later(1000))).toBe(1);
    expect(ledger.inboxStatus().depth).toBe(1);
    ledger.close();
  });
});
