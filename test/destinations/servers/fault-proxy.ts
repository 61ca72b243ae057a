// A loopback HTTP proxy in front of a real storage server: it logs every request (method, path, query, headers,
// bytes) and can fail chosen ones on demand, with a status, by resetting the connection partway through the body, or
// by stalling it there (the request then hangs until the client gives up on it).
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { listenOnLoopback } from './loopback.js';

export interface ProxiedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Body bytes the proxy saw (set when the request ends). */
  bytes: number;
  outcome: 'forwarded' | 'failed' | 'reset' | 'stalled';
  status?: number;
}

export type FaultAction =
  | { status: number; body?: string; headers?: Record<string, string> }
  | { resetAfterBytes: number }
  | { stallAfterBytes: number };

export interface Fault {
  match: (request: ProxiedRequest) => boolean;
  action: FaultAction;
  /** How many matching requests it hits (default: every one). */
  times?: number;
}

export interface FaultProxy {
  url: string;
  requests: ProxiedRequest[];
  faults: Fault[];
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const faults: Fault[] = [];

  const takeFault = (entry: ProxiedRequest): FaultAction | null => {
    const index = faults.findIndex((fault) => fault.match(entry));
    const fault = faults[index];
    if (!fault) return null;
    if (fault.times !== undefined && (fault.times -= 1) <= 0) faults.splice(index, 1);
    return fault.action;
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const entry: ProxiedRequest = {
      method: req.method ?? 'GET',
      path: decodeURIComponent(url.pathname),
      query: url.searchParams,
      headers: req.headers,
      bytes: 0,
      outcome: 'forwarded',
    };
    requests.push(entry);
    const fault = takeFault(entry);
    req.on('data', (chunk: Buffer) => {
      entry.bytes += chunk.length;
    });

    if (fault && 'status' in fault) {
      entry.outcome = 'failed';
      entry.status = fault.status;
      req.resume();
      req.on('end', () => {
        res.writeHead(fault.status, { 'content-type': 'application/xml', ...fault.headers });
        res.end(fault.body ?? '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected</Message></Error>');
      });
      return;
    }

    const upstream = httpRequest({ host: target.host, port: target.port, method: req.method, path: req.url, headers: req.headers });
    upstream.on('response', (response) => {
      entry.status = response.statusCode;
      res.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    if (fault && 'resetAfterBytes' in fault) {
      req.on('data', () => {
        if (entry.bytes >= fault.resetAfterBytes && entry.outcome !== 'reset') {
          entry.outcome = 'reset';
          upstream.destroy();
          req.socket.destroy();
        }
      });
    }
    if (fault && 'stallAfterBytes' in fault) {
      req.on('data', () => {
        if (entry.bytes >= fault.stallAfterBytes && entry.outcome !== 'stalled') {
          entry.outcome = 'stalled';
          req.unpipe(upstream);
          req.pause();
          // The server side goes; the client's connection stays open, with nothing more read from it.
          upstream.removeAllListeners('error');
          upstream.on('error', () => {});
          upstream.destroy();
        }
      });
    }
    req.pipe(upstream);
  });
  const listening = await listenOnLoopback(server);
  const { port } = listening;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    faults,
    close: () =>
      listening.close(),
  };
}
