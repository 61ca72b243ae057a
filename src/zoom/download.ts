// Streams a Zoom file (download_url, transcript_url) with the token, refusing what is not the file: an HTML page, a
// body shorter or longer than Content-Length. A body cut mid-way is resumed with Range where the server allows it.
import { once } from 'node:events';
import { finished, PassThrough, type Readable } from 'node:stream';
import { HTTPError } from 'got';
import { ArtifactError } from '../errors.js';
import type { TokenProvider } from './auth.js';
import { isTokenRefused, type ZoomClient } from './client.js';
import { countStreamedBytes } from './collect-spent-buffers.js';
import { requestSignal } from './request-signal.js';
import { assertTokenHost } from './hosts.js';

export interface DownloadOptions {
  /** The size the API reported, if it did. */
  expectedSize?: number;
  maxResumes?: number;
  signal?: AbortSignal;
}

export interface Download {
  contentType: string;
  size: number;
  body: Readable;
}

type ResponseStream = Readable & { statusCode?: number };
type Headers = Record<string, string | string[] | undefined>;

interface Opened {
  stream: ResponseStream;
  status: number;
  headers: Headers;
}

interface Job {
  client: ZoomClient;
  target: URL;
  size: number;
  resumable: boolean;
  maxResumes: number;
  out: PassThrough;
}

export async function openDownload(client: ZoomClient, _auth: TokenProvider, url: string, options: DownloadOptions = {}): Promise<Download> {
  const target = new URL(url);
  // Refused before any request: the foreign host never hears from us.
  assertTokenHost(target, client.options.downloadHosts, client.options.apiBaseUrl);
  const first = await openWithReplay(client, target, undefined);
  const refusal = notTheFile(target, first, options.expectedSize);
  if (refusal) {
    first.stream.destroy();
    throw refusal;
  }
  const size = Number(first.headers['content-length']);
  const resumable = String(first.headers['accept-ranges'] ?? '').toLowerCase() === 'bytes';
  const body = new PassThrough({ highWaterMark: 1 << 16 });
  void pump({ client, target, size, resumable, maxResumes: options.maxResumes ?? 3, out: body }, first.stream);
  return { contentType: String(first.headers['content-type'] ?? 'application/octet-stream'), size, body };
}

/** Why the first answer is not the file, or null when it looks like it. */
function notTheFile(target: URL, first: Opened, expectedSize: number | undefined): ArtifactError | null {
  const { pathname } = target;
  const contentType = String(first.headers['content-type'] ?? '');
  const encoding = String(first.headers['content-encoding'] ?? 'identity').toLowerCase();
  const length = first.headers['content-length'];
  if (first.status !== 200) return new ArtifactError(`${pathname} answered HTTP ${first.status} instead of the file`);
  if (/^text\/html\b/i.test(contentType)) return new ArtifactError(`${pathname} answered with an HTML page instead of the file`);
  if (encoding !== 'identity') return new ArtifactError(`${pathname} answered with Content-Encoding ${encoding}; cannot verify the file`);
  if (length === undefined || !/^\d+$/.test(String(length))) {
    return new ArtifactError(`${pathname} answered without a valid Content-Length; cannot verify the file is whole`);
  }
  if (expectedSize !== undefined && expectedSize !== Number(length)) {
    return new ArtifactError(`${pathname} is ${String(length)} bytes by its Content-Length but the API reported ${expectedSize}`);
  }
  return null;
}

async function pump(job: Job, first: ResponseStream): Promise<void> {
  const { out, size, target } = job;
  let received = 0;
  let stream: ResponseStream | null = first;
  let resumes = 0;
  out.once('close', () => stream?.destroy());
  while (stream) {
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        received += chunk.length;
        countStreamedBytes(chunk.length);
        if (received > size) throw new ArtifactError(`${target.pathname} sent more than its Content-Length of ${size} bytes`);
        if (out.destroyed) return;
        if (!out.write(chunk)) await once(out, 'drain');
      }
      stream = null;
    } catch (error) {
      stream?.destroy();
      stream = null;
      if (out.destroyed) return;
      if (error instanceof ArtifactError) {
        out.destroy(error);
        return;
      }
      if (!(job.resumable && resumes < job.maxResumes && received < size)) {
        out.destroy(new ArtifactError(`${target.pathname} broke off after ${received} of ${size} bytes: ${(error as Error).message}`));
        return;
      }
      resumes++;
      try {
        stream = await resume(job, received);
      } catch (resumeError) {
        out.destroy(resumeError as Error);
        return;
      }
    }
  }
  if (received !== size) {
    out.destroy(new ArtifactError(`${target.pathname} ended after ${received} of its Content-Length of ${size} bytes (truncated)`));
    return;
  }
  out.end();
}

/** The rest of the file from byte `from`, checked to be the same file (Content-Range start and total). */
async function resume(job: Job, from: number): Promise<ResponseStream> {
  const { pathname } = job.target;
  let next: Opened;
  try {
    next = await openWithReplay(job.client, job.target, from);
  } catch (error) {
    const total = error instanceof RangeRefusedError ? error.total : null;
    if (total !== null && total !== job.size) {
      throw new ArtifactError(`${pathname}: its Content-Length said ${job.size} bytes but the file is ${total} bytes`);
    }
    throw error instanceof RangeRefusedError ? new ArtifactError(`${pathname}: the server refused to resume at byte ${from}`) : error;
  }
  const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(next.headers['content-range'] ?? ''));
  if (next.status !== 206 || !range || Number(range[1]) !== from) {
    next.stream.destroy();
    throw new ArtifactError(`${pathname}: the server did not resume at byte ${from}`);
  }
  if (range[3] !== '*' && Number(range[3]) !== job.size) {
    next.stream.destroy();
    throw new ArtifactError(`${pathname}: its Content-Length said ${job.size} bytes but the file is ${range[3]} bytes`);
  }
  return next.stream;
}

/** A 416 to a Range request; `total` is the file's size from `Content-Range: bytes *\/<total>`, when given. */
class RangeRefusedError extends Error {
  constructor(readonly total: number | null) {
    super('416 Range Not Satisfiable');
  }
}

/** Opens the stream; a refused token gets a fresh one and a replay (the client's rule, shared with JSON calls). */
async function openWithReplay(client: ZoomClient, target: URL, from: number | undefined): Promise<Opened> {
  let context: { label: 'download'; replays?: number } = { label: 'download' };
  for (;;) {
    try {
      return await open(client, target, from, context);
    } catch (error) {
      if (error instanceof HTTPError && isTokenRefused(error.response.statusCode, error.response.body)) {
        const replays = await client.replayToken(context, error.options.headers.authorization);
        if (replays !== null) {
          context = { ...context, replays };
          continue;
        }
      }
      if (error instanceof HTTPError && error.response.statusCode === 416 && from !== undefined) {
        const total = /\/(\d+)$/.exec(String(error.response.headers['content-range'] ?? ''));
        throw new RangeRefusedError(total ? Number(total[1]) : null);
      }
      throw client.classify(error, target.pathname);
    }
  }
}

function open(client: ZoomClient, target: URL, from: number | undefined, context: Record<string, unknown>): Promise<Opened> {
  const request = requestSignal(client.options.signal);
  // Unlinked when the stream that answered is done, or when none answered; got's retries reuse the signal meanwhile.
  const opened = new Promise<Opened>((resolve, reject) => {
    const attach = (stream: ResponseStream) => {
      const onRetry = (_count: number, _error: Error, createRetryStream: () => ResponseStream) => {
        stream.off('error', reject);
        stream.off('response', onResponse);
        attach(createRetryStream());
      };
      const onResponse = (response: { statusCode: number; headers: Headers }) => {
        stream.off('error', reject);
        // From here on got must not restart the body from byte 0: a broken body is resumed with Range by pump().
        stream.off('retry', onRetry);
        // Errors from here on surface through the reader's iteration; this keeps an early one from crashing.
        stream.on('error', () => undefined);
        // got does not destroy a stream read to its end: 'end' counts too.
        finished(stream, request.release);
        resolve({ stream, status: response.statusCode, headers: response.headers });
      };
      stream.once('response', onResponse);
      stream.once('error', reject);
      stream.once('retry', onRetry);
    };
    attach(
      client.http.stream(target, {
        context,
        // Bytes exactly as stored, so Content-Length and the hash describe the file itself.
        decompress: false,
        headers: { 'accept-encoding': 'identity', ...(from !== undefined ? { range: `bytes=${from}-` } : {}) },
        signal: request.signal,
      }) as unknown as ResponseStream,
    );
  });
  opened.catch(request.release);
  return opened;
}
