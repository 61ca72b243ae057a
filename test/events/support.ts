// Shared by the listen tests: a sandbox (as Zoom's API and event sender), a listener on a free loopback port over
// the harness's ledger and config, and small helpers to wait for and read back what happened.
import Database from 'better-sqlite3';
import type { Clock } from '../../src/clock.js';
import type { Destination } from '../../src/destinations/types.js';
import { startListener, type Listener, type ListenRequest } from '../../src/events/listener.js';
import type { WebhookSender } from '../../src/sandbox/index.js';
import { harness, NOW, type Harness } from '../support/harness.js';
import type { SandboxOptions } from '../../src/sandbox/index.js';

export const WEBHOOK_SECRET = 'whsec_test_0123456789';
export const FLOW_SECRET = 'flow-secret-for-tests-0123';
export const DAY = 86_400_000;

/** The harness's time, moving with the wall clock: deferred inbox entries come due, signatures stay fresh. */
export function movingClock(start = NOW): Clock {
  const origin = Date.now();
  return {
    now: () => new Date(start.getTime() + (Date.now() - origin)),
    sleep: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
  };
}

export interface ListenHarness {
  h: Harness;
  listener: Listener;
  clock: Clock;
  sender: WebhookSender;
  restart(overrides?: Partial<ListenRequest>): Promise<Listener>;
  close(): Promise<void>;
}

export async function listenHarness(
  options: {
    sandbox?: SandboxOptions & { config?: Record<string, unknown> };
    destinations?: Destination[];
    request?: Partial<ListenRequest>;
  } = {},
): Promise<ListenHarness> {
  const h = await harness(options.sandbox);
  const clock = movingClock();
  const start = (overrides: Partial<ListenRequest> = {}) =>
    startListener({
      config: h.config,
      secrets: h.sandbox.credentials,
      webhookSecret: WEBHOOK_SECRET,
      flowSecret: FLOW_SECRET,
      clock,
      destinations: options.destinations,
      ...options.request,
      ...overrides,
      tuning: { port: 0, retryDelaysMs: [50, 100, 200], ...options.request?.tuning, ...overrides.tuning },
    });
  const state = { listener: await start() };
  const sender = () => h.sandbox.webhooks({ url: state.listener.webhookUrl!, secret: WEBHOOK_SECRET, now: () => clock.now().getTime(), retryDelaysMs: [20, 40, 80] });
  const result: ListenHarness = {
    h,
    get listener() {
      return state.listener;
    },
    clock,
    get sender() {
      return sender();
    },
    restart: async (overrides) => {
      await state.listener.close();
      state.listener = await start(overrides);
      return state.listener;
    },
    close: async () => {
      await state.listener.close();
      await h.close();
    },
  };
  return result;
}

export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A second, read-only look at a ledger file (the listener keeps its own connection). */
export function readLedger<T>(file: string, read: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return read(db);
  } finally {
    db.close();
  }
}

export function inboxRows(file: string): { id: number; event: string; state: string; outcome: string | null; lease_owner: string | null }[] {
  return readLedger(file, (db) => db.prepare('SELECT id, event, state, outcome, lease_owner FROM event_inbox ORDER BY id').all() as never);
}

export function deliveredKeys(file: string, via?: 'event' | 'reconcile'): string[] {
  return readLedger(file, (db) =>
    (db.prepare(`SELECT key FROM deliveries WHERE status = 'delivered' ${via ? 'AND via = ?' : ''} ORDER BY key`).all(...(via ? [via] : [])) as { key: string }[]).map(
      (row) => row.key,
    ),
  );
}
