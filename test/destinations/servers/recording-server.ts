// A small HTTP server that stores what is PUT or POSTed to it (bodies in a temp folder, written to a temp file and
// renamed once complete), answers HEAD/GET/DELETE on the same URL, records every request, and fails on demand:
// a status (5xx, 4xx, 429 with Retry-After) or a connection reset partway through the body.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rename, rm, unlink } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from './loopback.js';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  status: number | null;
  /** For PUT/POST: whether the whole body arrived and was stored. */
  stored: boolean;
  bytes: number;
}

export interface StoredBody {
  file: string;
  size: number;
  sha256: string;
  contentType: string;
  metadataHeader: string | undefined;
  idempotencyKey: string | undefined;
}

export type RecordingFault =
  | { status: number; retryAfter?: string; body?: string }
  | { resetAfterBytes: number };

export interface RecordingServer {
  url: string;
  requests: RecordedRequest[];
  /** What is stored now, by URL path + query. */
  stored: Map<string, StoredBody>;
  /** Completed stores per Idempotency-Key. */
  storesByKey(): Map<string, number>;
  /** The next matching requests fail (by default writes: PUT/POST); `times` defaults to 1. */
  fail(fault: RecordingFault, options?: { times?: number; match?: (request: IncomingMessage) => boolean }): void;
  clearFaults(): void;
  close(): Promise<void>;
}

export async function startRecordingServer(): Promise<RecordingServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'zcc-http-dest-'));
  const requests: RecordedRequest[] = [];
  const stored = new Map<string, StoredBody>();
  const faults: { fault: RecordingFault; times: number; match: (request: IncomingMessage) => boolean }[] = [];

  const takeFault = (req: IncomingMessage): RecordingFault | null => {
    const index = faults.findIndex((entry) => entry.match(req));
    const entry = faults[index];
    if (!entry) return null;
    if ((entry.times -= 1) <= 0) faults.splice(index, 1);
    return entry.fault;
  };

  /** The sha256 of the payload first stored under each Idempotency-Key. */
  const payloads = new Map<string, string>();
  const handleWrite = (req: IncomingMessage, res: ServerResponse, record: RecordedRequest, url: string): void => {
    const fault = takeFault(req);
    if (fault && 'status' in fault) {
      req.resume();
      req.on('end', () => {
        record.status = fault.status;
        res.writeHead(fault.status, fault.retryAfter ? { 'retry-after': fault.retryAfter } : {});
        res.end(fault.body ?? `injected ${fault.status}`);
      });
      return;
    }
    const temp = path.join(dir, `${randomBytes(8).toString('hex')}.partial`);
    const out = createWriteStream(temp);
    out.on('error', () => {});
    const hash = createHash('sha256');
    let complete = false;
    req.on('data', (chunk: Buffer) => {
      record.bytes += chunk.length;
      hash.update(chunk);
      if (fault && record.bytes >= fault.resetAfterBytes) req.socket.destroy();
    });
    req.on('end', () => {
      complete = true;
    });
    req.pipe(out);
    out.on('close', () => {
      const expected = req.headers['content-length'];
      const whole = complete && (expected === undefined || Number(expected) === record.bytes);
      if (!whole) {
        void unlink(temp).catch(() => {});
        return;
      }
        const digest = hash.digest('hex');
      // As the Idempotency-Key draft asks: a key used before with another payload is refused, not stored.
      const key = header(req.headers['idempotency-key']);
      const earlier = key === undefined ? undefined : payloads.get(key);
      if (earlier !== undefined && earlier !== digest) {
        void unlink(temp).catch(() => {});
        record.status = 422;
        res.writeHead(422, { 'content-type': 'text/plain' }).end('Idempotency-Key reused with a different payload');
        return;
      }
      if (key !== undefined) payloads.set(key, digest);
      const file = path.join(dir, `${createHash('sha256').update(url).digest('hex')}.body`);
      void rename(temp, file).then(() => {
        stored.set(url, {
          file,
          size: record.bytes,
          sha256: digest,
          contentType: String(req.headers['content-type'] ?? 'application/octet-stream'),
          metadataHeader: header(req.headers['x-zcc-metadata']),
          idempotencyKey: header(req.headers['idempotency-key']),
        });
        record.stored = true;
        record.status = 201;
        res.writeHead(201).end();
      });
    });
    req.on('error', () => out.destroy());
    req.on('aborted', () => out.destroy());
  };

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const record: RecordedRequest = { method: req.method ?? 'GET', url, headers: req.headers, status: null, stored: false, bytes: 0 };
    requests.push(record);
    const body = stored.get(url);
    if (req.method !== 'PUT' && req.method !== 'POST') {
      const fault = takeFault(req);
      if (fault && 'status' in fault) {
        req.resume();
        record.status = fault.status;
        res.writeHead(fault.status, fault.status >= 300 && fault.status < 400 ? { location: '/login' } : {}).end(fault.body ?? `injected ${fault.status}`);
        return;
      }
    }
    switch (req.method) {
      case 'PUT':
      case 'POST':
        handleWrite(req, res, record, url);
        return;
      case 'HEAD':
      case 'GET': {
        req.resume();
        record.status = body ? 200 : 404;
        if (!body) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, {
          'content-length': String(body.size),
          'content-type': body.contentType,
          ...(body.metadataHeader ? { 'x-zcc-metadata': body.metadataHeader } : {}),
        });
        if (req.method === 'HEAD') res.end();
        else createReadStream(body.file).pipe(res);
        return;
      }
      case 'DELETE':
        req.resume();
        stored.delete(url);
        record.status = body ? 204 : 404;
        res.writeHead(record.status).end();
        return;
      default:
        req.resume();
        res.writeHead(405).end();
    }
  });
  const listening = await listenOnLoopback(server);
  const { port } = listening;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stored,
    storesByKey: () => {
      const counts = new Map<string, number>();
      for (const request of requests) {
        const key = header(request.headers['idempotency-key']);
        if (request.stored && key) counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      return counts;
    },
    fail: (fault, options = {}) => {
      faults.push({ fault, times: options.times ?? 1, match: options.match ?? ((request) => request.method === 'PUT' || request.method === 'POST') });
    },
    clearFaults: () => {
      faults.length = 0;
    },
    close: async () => {
      await listening.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
