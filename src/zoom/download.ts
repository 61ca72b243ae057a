// Streams a Zoom file (download_url, transcript_url) with the token, refusing what is not the file: an HTML page, a
// body shorter or longer than Content-Length. A body cut mid-way is resumed with Range where the server allows it.
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { HTTPError } from 'got';
import { ArtifactError } from '../errors.js';
import type { TokenProvider } from './auth.js';
import type { ZoomClient } from './client.js';
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

interface Opened {
  stream: ResponseStream;
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

export async function openDownload(client: ZoomClient, auth: TokenProvider, url: string, options: DownloadOptions = {}): Promise<Download> {
  const target = new URL(url);
  assertTokenHost(target, client.options.downloadHosts, client.options.apiBaseUrl);
  const first = await openWithReplay(client, auth, target, undefined);
  const contentType = String(first.headers['content-type'] ?? 'application/octet-stream');
  const lengthHeader = first.headers['content-length'];
  if (/^text\/html\b/i.test(contentType)) {
    first.stream.destroy();
    throw new ArtifactError(`${target.pathname} answered with an HTML page instead of the file`);
  }
  if (lengthHeader === undefined) {
    first.stream.destroy();
    throw new ArtifactError(`${target.pathname} answered without Content-Length; cannot verify the file is whole`);
  }
  const size = Number(lengthHeader);
  if (options.expectedSize !== undefined && options.expectedSize !== size) {
    first.stream.destroy();
    throw new ArtifactError(`${target.pathname} is ${size} bytes but the API reported ${options.expectedSize}`);
  }
  const resumable = String(first.headers['accept-ranges'] ?? '').toLowerCase() === 'bytes';
  const body = new PassThrough({ highWaterMark: 1 << 20 });
  void pump({ client, auth, target, first: first.stream, size, resumable, maxResumes: options.maxResumes ?? 3, out: body });
  return { contentType, size, body };
}

async function pump(job: {
  client: ZoomClient;
  auth: TokenProvider;
  target: URL;
  first: ResponseStream;
  size: number;
  resumable: boolean;
  maxResumes: number;
  out: PassThrough;
}): Promise<void> {
  const { out, size } = job;
  let received = 0;
  let stream: ResponseStream | null = job.first;
  let resumes = 0;
  out.once('close', () => stream?.destroy());
  while (stream) {
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        received += chunk.length;
        if (received > size) throw new ArtifactError(`${job.target.pathname} sent more than its Content-Length of ${size} bytes`);
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
        out.destroy(new ArtifactError(`${job.target.pathname} broke off after ${received} of ${size} bytes: ${(error as Error).message}`));
        return;
      }
      resumes++;
      try {
        const next = await openWithReplay(job.client, job.auth, job.target, received);
        if (next.status !== 206 || !String(next.headers['content-range'] ?? '').startsWith(`bytes ${received}-`)) {
          next.stream.destroy();
          out.destroy(new ArtifactError(`${job.target.pathname}: the server did not resume at byte ${received}`));
          return;
        }
        stream = next.stream;
      } catch (resumeError) {
        out.destroy(resumeError as Error);
        return;
      }
    }
  }
  if (received !== size) {
    out.destroy(new ArtifactError(`${job.target.pathname} ended after ${received} of ${size} bytes (truncated)`));
    return;
  }
  out.end();
}

/** Opens the stream; a 401 gets one fresh token and one replay. */
async function openWithReplay(client: ZoomClient, auth: TokenProvider, target: URL, from: number | undefined): Promise<Opened> {
  try {
    return await open(client, target, from);
  } catch (error) {
    if (error instanceof HTTPError && error.response.statusCode === 401) {
      const used = String(error.options.headers.authorization ?? '').replace(/^Bearer /, '');
      await auth.refresh(used);
      return open(client, target, from).catch((retryError: unknown) => {
        throw client.classify(retryError, target.pathname);
      });
    }
    throw error instanceof ArtifactError ? error : client.classify(error, target.pathname);
  }
}

function open(client: ZoomClient, target: URL, from: number | undefined): Promise<Opened> {
  return new Promise<Opened>((resolve, reject) => {
    const attach = (stream: ResponseStream) => {
      stream.once('response', (response: { statusCode: number; headers: Opened['headers'] }) => {
        stream.off('error', reject);
        // Errors from here on surface through the reader's iteration; this keeps an early one from crashing.
        stream.on('error', () => undefined);
        resolve({ stream, status: response.statusCode, headers: response.headers });
      });
      stream.once('error', reject);
      stream.once('retry', (_count: number, _error: Error, createRetryStream: () => ResponseStream) => {
        stream.off('error', reject);
        attach(createRetryStream());
      });
    };
    attach(
      client.http.stream(target, {
        context: { label: 'download' },
        headers: from !== undefined ? { range: `bytes=${from}-` } : {},
      }) as unknown as ResponseStream,
    );
  });
}
