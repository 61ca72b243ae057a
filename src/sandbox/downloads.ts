// Serving a file: Content-Length always, one byte range (206), HEAD, streaming with backpressure, the shared
// bandwidth cap, and the download faults (reset or truncation mid-body, slow body, wrong Content-Length).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Fault } from './faults.js';
import type { Payload } from './media.js';
import { ByteRate, parseRange, throttle } from './media.js';

export interface DownloadStats { bytesServed: number; downloads: number }

export async function serveDownload(
  req: IncomingMessage,
  res: ServerResponse,
  payload: Payload | null,
  fault: Fault | null,
  bandwidth: ByteRate | null,
  stats: DownloadStats,
  streamBandwidth?: number,
): Promise<void> {
  if (!payload) {
    const body = JSON.stringify({ code: 404, message: 'File does not exist.' });
    res.writeHead(404, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  const range = parseRange(req.headers.range, payload.size);
  if (range === 'unsatisfiable') {
    res.writeHead(416, { 'Content-Range': `bytes */${payload.size}`, 'Content-Length': 0 });
    res.end();
    return;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? payload.size;
  const length = end - start;
  const headers: Record<string, string | number> = {
    'Content-Type': payload.contentType,
    'Content-Length': length + (fault?.type === 'wrongLength' ? fault.delta : 0),
    'Accept-Ranges': 'bytes',
    'Content-Disposition': `attachment; filename="${payload.fileName}"`,
  };
  if (range) headers['Content-Range'] = `bytes ${start}-${end - 1}/${payload.size}`;
  // A faulty body leaves the connection unusable: never offer it for reuse.
  if (fault) headers['Connection'] = 'close';
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  stats.downloads++;

  let send = length;
  if (fault?.type === 'resetMidBody') send = Math.min(length, Math.max(0, fault.afterBytes));
  if (fault?.type === 'truncate') send = Math.min(length, Math.max(0, fault.bytes));
  const limiters: ByteRate[] = [];
  if (bandwidth) limiters.push(bandwidth);
  if (streamBandwidth && streamBandwidth > 0) limiters.push(new ByteRate(streamBandwidth, true));
  if (fault?.type === 'slowBody') limiters.push(new ByteRate(Math.max(1, fault.bytesPerSecond)));
  const chunkSize = limiters.length > 0 ? Math.min(...limiters.map((l) => l.chunkSize)) : undefined;
  const chunks = payload.chunks(start, start + send, chunkSize);
  const body = limiters.length > 0 ? throttle(chunks, limiters) : chunks;

  for await (const chunk of body) {
    if (res.destroyed) return;
    stats.bytesServed += chunk.length;
    if (!res.write(chunk)) await drained(res);
  }
  if (res.destroyed) return;
  const socket = res.socket;
  const cut = fault?.type === 'resetMidBody' || fault?.type === 'truncate' || (fault?.type === 'wrongLength' && fault.delta !== 0);
  if (!cut || !socket) {
    res.end();
    return;
  }
  // Let what was written reach the socket, then cut the connection short of the promised length.
  await new Promise<void>((resolve) => socket.write('', () => resolve()));
  if (fault?.type === 'resetMidBody') socket.resetAndDestroy();
  else if (fault?.type === 'truncate') socket.end();
  else socket.destroy();
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
