// Helpers around the ledger's per-key claims and delivery paths, shared by `listen` and `run`: who a holder is, how
// long a claim lasts, and a ledger view that stamps every delivery with the path it came through.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Delivery, DeliveryVia, LeaseHolder, Ledger } from './types.js';

/** A claim outlives any single push; a holder that dies on this host frees its claims at once (pid check). */
export const CLAIM_LEASE_MS = 30 * 60_000;

export function newLeaseHolder(role: string): LeaseHolder {
  const host = hostname();
  return { id: `${role}:${host}:${process.pid}:${randomUUID().slice(0, 8)}`, host, pid: process.pid };
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
