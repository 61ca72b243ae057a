// Small HTTP helpers for the sandbox's own tests: a fake clock, a token, JSON calls, page walks, raw downloads.
import http from 'node:http';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Sandbox } from '../../src/sandbox/index.js';

export interface FakeClock { now: () => Date; advance(ms: number): void; set(iso: string): void }

export function fakeClock(iso: string): FakeClock {
  let t = Date.parse(iso);
  return { now: () => new Date(t), advance: (ms) => void (t += ms), set: (s) => void (t = Date.parse(s)) };
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export type Query = Record<string, string | string[] | number>;
export interface JsonReply { status: number; headers: Headers; body: Record<string, unknown> & { [k: string]: unknown } }

export function basic(sb: Sandbox): string {
  return `Basic ${Buffer.from(`${sb.credentials.clientId}:${sb.credentials.clientSecret}`).toString('base64')}`;
}

export async function getToken(sb: Sandbox): Promise<string> {
  const q = new URLSearchParams({ grant_type: 'account_credentials', account_id: sb.credentials.accountId });
  const res = await fetch(`${sb.oauthTokenUrl}?${q}`, { method: 'POST', headers: { authorization: basic(sb) } });
  const body = (await res.json()) as { access_token: string };
  if (res.status !== 200) throw new Error(`token: ${res.status}`);
  return body.access_token;
}

export function search(query: Query = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export async function call(sb: Sandbox, token: string | null, path: string, query: Query = {}): Promise<JsonReply> {
  const res = await fetch(`${sb.apiBaseUrl}${path}${search(query)}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as JsonReply['body']) : {} };
}

/** Follows next_page_token to the end; returns every page's body. */
export async function walk(sb: Sandbox, token: string, path: string, query: Query): Promise<JsonReply['body'][]> {
  const pages: JsonReply['body'][] = [];
  let next = '';
  do {
    const reply = await call(sb, token, path, next ? { ...query, next_page_token: next } : query);
    if (reply.status !== 200) throw new Error(`${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
    pages.push(reply.body);
    next = String(reply.body['next_page_token']);
    if (pages.length > 10_000) throw new Error('page loop');
  } while (next !== '');
  return pages;
}

export function items<T = Record<string, unknown>>(pages: JsonReply['body'][], field: string): T[] {
  return pages.flatMap((p) => p[field] as T[]);
}

export interface RawReply { status: number; headers: http.IncomingHttpHeaders; body: Buffer; error?: Error }

/** A GET that reports what arrived even when the connection breaks mid-body. */
export function rawGet(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawReply> {
  return new Promise((resolve) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const done = (error?: Error): void => {
        const reply: RawReply = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
        if (error) reply.error = error;
        resolve(reply);
      };
      res.on('end', () => done());
      res.on('error', (e) => done(e));
      res.on('aborted', () => done(new Error('aborted')));
    });
    req.on('error', (e) => resolve({ status: 0, headers: {}, body: Buffer.alloc(0), error: e }));
    req.end();
  });
}

export async function sha256(stream: Readable): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}
