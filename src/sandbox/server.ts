// HTTP front: routing, request log, bearer checks, rate limits, faults, then the API or a download.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Api, ListFault } from './api.js';
import type { Credentials, TokenStore } from './auth.js';
import { tokenAnswer } from './auth.js';
import type { Content } from './content.js';
import { serveDownload } from './downloads.js';
import { isListFault, type Fault, type FaultBook, type FaultLabel } from './faults.js';
import type { ByteRate } from './media.js';
import type { OperationId } from './params.js';
import type { RateLimiter } from './ratelimit.js';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  operationId: string | null;
  label: string | null;
  status: number;
  hasAuthorization: boolean;
  range?: string;
  at: Date;
}

export interface SandboxStats { requests: number; byLabel: Record<string, number>; status429: number; bytesServed: number; downloads: number }

interface Route { kind: 'token' | 'list' | 'get' | 'download'; operationId: string; label: FaultLabel; pathId: string | null }

const ID = '([^/]+)';
const ROUTES: [RegExp, Omit<Route, 'pathId'>][] = [
  [/^\/oauth\/token$/, { kind: 'token', operationId: 'oauthToken', label: 'token' }],
  [/^\/v2\/contact_center\/engagements$/, { kind: 'list', operationId: 'listEngagements', label: 'Medium' }],
  [new RegExp(`^/v2/contact_center/engagements/transcripts/download/${ID}$`), { kind: 'download', operationId: 'downloadMessagingTranscript', label: 'download' }],
  [new RegExp(`^/v2/contact_center/engagements/${ID}$`), { kind: 'get', operationId: 'getEngagement', label: 'Light' }],
  [new RegExp(`^/v2/contact_center/engagements/${ID}/recordings$`), { kind: 'list', operationId: 'listEngagementRecordings', label: 'Medium' }],
  [/^\/v2\/contact_center\/recordings$/, { kind: 'list', operationId: 'listRecordings', label: 'Medium' }],
  [/^\/v2\/contact_center\/inboxes\/messages$/, { kind: 'list', operationId: 'listInboxesMessages', label: 'Medium' }],
  [new RegExp(`^/v2/contact_center/inboxes/${ID}/messages$`), { kind: 'list', operationId: 'listInboxMessages', label: 'Medium' }],
  [new RegExp(`^/v2/contact_center/recording/download/${ID}$`), { kind: 'download', operationId: 'downloadRecording', label: 'download' }],
  [new RegExp(`^/v2/contact_center/recording/transcripts/download/${ID}$`), { kind: 'download', operationId: 'downloadRecordingTranscript', label: 'download' }],
  [new RegExp(`^/v2/contact_center/inbox/message/download/${ID}$`), { kind: 'download', operationId: 'downloadVoicemail', label: 'download' }],
  [new RegExp(`^/v2/contact_center/inbox/message/transcripts/download/${ID}$`), { kind: 'download', operationId: 'downloadVoicemailTranscript', label: 'download' }],
];

function route(path: string): Route | null {
  for (const [re, r] of ROUTES) {
    const m = re.exec(path);
    if (m) return { ...r, pathId: m[1] === undefined ? null : safeDecode(m[1]) };
  }
  return null;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export interface ServerDeps {
  credentials: Credentials;
  url: () => string;
  nowMs: () => number;
  tokens: TokenStore;
  faults: FaultBook;
  limiter: RateLimiter;
  api: () => Api;
  content: Content;
  bandwidth: ByteRate | null;
  /** Bytes/s of each download response on its own (optional). */
  streamBandwidth?: number;
  /** Delay before every answer (optional). */
  latencyMs?: number;
  requests: RecordedRequest[];
  stats: SandboxStats;
  /** Aborted when the sandbox closes, so delayed answers stop waiting. */
  closing: AbortSignal;
}

const REQUEST_LOG_CAP = 200_000;

export function createHandler(deps: ServerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(deps, req, res).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) json(res, 500, { code: 500, message: `Sandbox error: ${String(err)}` });
      else res.destroy();
    });
  };
}

async function handle(deps: ServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
  const path = url.pathname;
  const r = route(path);
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const all = url.searchParams.getAll(key);
    query[key] = all.length === 1 ? (all[0] ?? '') : all;
  }
  const record: RecordedRequest = {
    method: req.method ?? 'GET', path, query, operationId: r?.operationId ?? null, label: r?.label ?? null,
    status: 0, hasAuthorization: req.headers.authorization !== undefined, at: new Date(deps.nowMs()),
  };
  if (req.headers.range !== undefined) record.range = req.headers.range;
  deps.requests.push(record);
  if (deps.requests.length > REQUEST_LOG_CAP + 10_000) deps.requests.splice(0, deps.requests.length - REQUEST_LOG_CAP);
  deps.stats.requests++;
  if (r) deps.stats.byLabel[r.label] = (deps.stats.byLabel[r.label] ?? 0) + 1;
  res.on('close', () => {
    record.status = res.headersSent ? res.statusCode : 0;
    if (record.status === 429) deps.stats.status429++;
  });

  if (deps.latencyMs && deps.latencyMs > 0 && !(await waited(deps.latencyMs, deps.closing))) {
    res.destroy();
    return;
  }
  if (!r) return json(res, 404, { code: 404, message: 'Not found' });
  const allowed = r.kind === 'token' ? ['POST'] : r.kind === 'download' ? ['GET', 'HEAD'] : ['GET'];
  if (!allowed.includes(req.method ?? '')) {
    res.setHeader('Allow', allowed.join(', '));
    return json(res, 405, { code: 405, message: 'Method not allowed.' });
  }

  if (r.kind === 'token') {
    const params = new URLSearchParams(url.searchParams);
    const body = await readBody(req);
    if ((req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) {
      for (const [k, v] of new URLSearchParams(body)) params.set(k, v);
    }
    const fault = deps.faults.take({ operationId: r.operationId, label: r.label, path, kind: 'token', hasPageToken: false, hasBearer: false });
    if (fault && (await applyGenericFault(deps, fault, req, res))) return;
    const answer = tokenAnswer(deps.credentials, req.headers.authorization, params, deps.faults.credentialsRefused, () => deps.tokens.issue(), deps.url());
    return json(res, answer.status, answer.body);
  }

  req.resume();
  const check = deps.tokens.check(req.headers.authorization);
  if (check !== 'ok') return json(res, 401, { code: 124, message: check === 'expired' ? 'Access token is expired.' : 'Invalid access token.' });
  const refusal = deps.limiter.check(r.label);
  if (refusal) return json(res, refusal.status, refusal.body, refusal.headers);

  const hasPageToken = (url.searchParams.get('next_page_token') ?? '') !== '';
  const fault = deps.faults.take({ operationId: r.operationId, label: r.label, path, kind: r.kind, hasPageToken, hasBearer: true });
  if (fault && (await applyGenericFault(deps, fault, req, res))) return;
  if (res.destroyed) return;

  if (r.kind === 'download') {
    return serveDownload(req, res, deps.content.byPath(path), fault, deps.bandwidth, deps.stats, deps.streamBandwidth);
  }
  const listFault = fault && isListFault(fault) ? (fault as ListFault) : null;
  const result = deps.api().handle(r.operationId as OperationId, path, r.pathId, url.searchParams, listFault);
  return json(res, result.status, result.body);
}

/** Sleeps `ms`; false when the sandbox closed meanwhile. */
async function waited(ms: number, closing: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal: closing });
    return true;
  } catch {
    return false;
  }
}

/** Applies a fault that replaces or delays the answer; true when the request is fully answered. */
async function applyGenericFault(deps: ServerDeps, fault: Fault, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  switch (fault.type) {
    case 'status':
      json(res, fault.status, fault.body ?? { code: fault.status, message: `Sandbox fault: HTTP ${fault.status}.` }, fault.headers);
      return true;
    case 'reset':
      req.socket.destroy();
      return true;
    case 'slow':
      try {
        await sleep(fault.delayMs, undefined, { signal: deps.closing });
      } catch {
        res.destroy();
        return true;
      }
      return false;
    case 'html':
      send(res, 200, 'text/html; charset=utf-8', '<!DOCTYPE html><html><head><title>Sign In | Zoom</title></head><body><h1>Sign in</h1><p>Please sign in to continue.</p></body></html>');
      return true;
    case 'malformed':
      send(res, 200, 'application/json; charset=utf-8', fault.body);
      return true;
    case 'expireToken':
      deps.tokens.revoke(req.headers.authorization);
      json(res, 401, { code: 124, message: 'Access token is expired.' });
      return true;
    case 'expireTokenErrorCode':
      deps.tokens.revoke(req.headers.authorization);
      json(res, 401, { status: false, errorCode: 401 });
      return true;
    case 'expireToken400':
      deps.tokens.revoke(req.headers.authorization);
      json(res, 400, { code: 124, message: 'Invalid access token.' });
      return true;
    case 'stalePageToken':
      json(res, 400, { code: 300, message: 'The next page token is invalid or expired.' });
      return true;
    case 'redirect':
      res.writeHead(302, { Location: fault.location, 'Content-Length': 0 });
      res.end();
      return true;
    default:
      return false;
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), headers);
}

function send(res: ServerResponse, status: number, type: string, text: string, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > 64 * 1024) break;
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}
