// Helpers around the ledger's per-key claims and delivery paths, shared by `listen` and `run`: who a holder is, how
// long a claim lasts and how it is kept, and a ledger view that stamps every delivery with the path it came through.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from '../clock.js';
import type { Delivery, DeliveryVia, LeaseHolder, Ledger, ListenLedger } from './types.js';

/**
 * How long a claim or an inbox lease binds others without being renewed: what a holder that died elsewhere (another
 * host, or this one under its own pid again) keeps from the others. A holder that dies on this host under another
 * pid frees its leases at once.
 */
export const CLAIM_LEASE_MS = 5 * 60_000;
/** A live holder renews its leases this often, so a push that takes hours (a large file, a slow CRM) keeps its claim. */
export const LEASE_RENEW_MS = 30_000;

/** Renews `holder`'s claims and inbox leases every `everyMs` until the returned function is called. */
export function keepLeases(ledger: Pick<ListenLedger, 'renewLeases'>, holder: LeaseHolder, clock: Pick<Clock, 'now'>, everyMs = LEASE_RENEW_MS): () => void {
  const timer = setInterval(() => {
    try {
      ledger.renewLeases(holder, new Date(clock.now().getTime() + CLAIM_LEASE_MS).toISOString());
    } catch {
      // A ledger busy beyond its timeout: the leases still run for minutes, and the next beat renews them.
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

export function newLeaseHolder(role: string): LeaseHolder {
  const host = hostname();
  return { id: `${role}:${host}:${process.pid}:${randomUUID().slice(0, 8)}`, host, pid: process.pid };
}

/** Whether a holder id is a run's (newLeaseHolder('run')). */
export function isRunHolder(id: string): boolean {
  return id.startsWith('run:');
}

/** The same ledger, except that deliveries recorded through it carry `via` (in the same transaction). */
export function deliveringVia(ledger: Ledger, via: DeliveryVia): Ledger {
  return new Proxy(ledger, {
    get(target, property) {
      if (property === 'recordDeliveries') return (deliveries: readonly Delivery[]) => target.recordDeliveriesVia(deliveries, via);
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
