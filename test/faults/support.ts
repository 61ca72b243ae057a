// Shared checks for the fault tests: what the sandbox says a window holds, against what a destination stored and what
// the ledger claims was delivered.
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { objectPath } from '../../src/destinations/paths.js';
import type { MemoryDestination } from '../../src/destinations/memory.js';
import type { Sandbox } from '../../src/sandbox/index.js';

export interface Window {
  from: Date;
  to: Date;
}

export interface DeliveryRow {
  destination: string;
  key: string;
  status: 'delivered' | 'failed';
  size: number | null;
  sha256: string | null;
  location: string | null;
  attempts: number;
  last_error: string | null;
}

export interface RunRow {
  id: number;
  outcome: string;
  listing_complete: number;
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function readDeliveries(ledgerPath: string): DeliveryRow[] {
  const db = new Database(ledgerPath, { readonly: true, fileMustExist: true });
  try {
    // A run killed while creating the ledger leaves it without tables: nothing was delivered.
    if (!db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'`).get()) return [];
    return db.prepare('SELECT destination, key, status, size, sha256, location, attempts, last_error FROM deliveries ORDER BY destination, key').all() as DeliveryRow[];
  } finally {
    db.close();
  }
}

export function readRuns(ledgerPath: string): RunRow[] {
  const db = new Database(ledgerPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT id, outcome, listing_complete FROM runs ORDER BY id').all() as RunRow[];
  } finally {
    db.close();
  }
}

export function failedRows(ledgerPath: string): DeliveryRow[] {
  return readDeliveries(ledgerPath).filter((row) => row.status === 'failed');
}

/**
 * Every artifact of the window is in `memory` with the sandbox's bytes, was put exactly once, and the ledger's delivered
 * rows are exactly those objects (size and sha256 of the stored bytes, their location).
 */
export function expectExactlyOnce(sandbox: Sandbox, window: Window, memory: MemoryDestination, ledgerPath: string): void {
  const truth = sandbox.truth.artifacts(window);
  const keys = truth.map((artifact) => artifact.key).sort();
  expect(keys.length).toBeGreaterThan(0);
  expect([...memory.objects.keys()].sort()).toEqual(keys);
  for (const artifact of truth) {
    const stored = memory.objects.get(artifact.key)!;
    if (artifact.kind === 'note') expect(JSON.parse(stored.bytes.toString('utf8')).note).toBe(artifact.text);
    else if (artifact.kind === 'disposition') expect(JSON.parse(stored.bytes.toString('utf8')).disposition_name).toBe(artifact.text);
    else expect({ key: artifact.key, size: stored.bytes.length, sha256: sha256(stored.bytes) }).toEqual({ key: artifact.key, size: artifact.size, sha256: artifact.sha256 });
  }
  const twice = [...memory.putCount].filter(([, count]) => count !== 1);
  expect(twice).toEqual([]);
  expectLedgerMatches(memory, ledgerPath);
}

/** Nothing is marked delivered that the destination does not hold, byte for byte. */
export function expectLedgerMatches(memory: MemoryDestination, ledgerPath: string): void {
  const delivered = readDeliveries(ledgerPath).filter((row) => row.status === 'delivered' && row.destination === memory.name);
  expect(delivered.map((row) => row.key).sort()).toEqual([...memory.objects.keys()].sort());
  for (const row of delivered) {
    const stored = memory.objects.get(row.key)!;
    expect({ key: row.key, size: row.size, sha256: row.sha256, location: row.location }).toEqual({
      key: row.key,
      size: stored.bytes.length,
      sha256: sha256(stored.bytes),
      location: objectPath(stored.request),
    });
  }
}

/** 429 answers per rate-limit label, from the sandbox's request log. */
export function throttledByLabel(sandbox: Sandbox): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const request of sandbox.requests) {
    if (request.status === 429) counts[request.label ?? '?'] = (counts[request.label ?? '?'] ?? 0) + 1;
  }
  return counts;
}

/** The first page Zoom would answer for a list request, fetched with a token of our own (to build a crafted page). */
export async function fetchPage(sandbox: Sandbox, path: string, query: Record<string, string>): Promise<Record<string, unknown>> {
  const basic = Buffer.from(`${sandbox.credentials.clientId}:${sandbox.credentials.clientSecret}`).toString('base64');
  const tokenResponse = await fetch(sandbox.oauthTokenUrl, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'account_credentials', account_id: sandbox.credentials.accountId }).toString(),
  });
  const { access_token: token } = (await tokenResponse.json()) as { access_token: string };
  const response = await fetch(`${sandbox.apiBaseUrl}${path}?${new URLSearchParams(query)}`, { headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status}`);
  return (await response.json()) as Record<string, unknown>;
}

/** Every value in every table of the ledger, as text (to look for what must never be stored). */
export function ledgerText(ledgerPath: string): string {
  const db = new Database(ledgerPath, { readonly: true });
  try {
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((row) => row.name);
    return tables.map((table) => JSON.stringify(db.prepare(`SELECT * FROM "${table}"`).all())).join('\n');
  } finally {
    db.close();
  }
}
