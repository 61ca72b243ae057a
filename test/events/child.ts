// The listener as a user runs it: `bin/zcc-reconcile listen` in a child process (built dist/), on a free port.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Harness } from '../support/harness.js';
import { WEBHOOK_SECRET } from './support.js';

const BIN = path.resolve(fileURLToPath(import.meta.url), '../../../bin/zcc-reconcile');

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Writes a config for the child: the harness's Zoom settings and ledger, a filesystem archive, a fixed port. */
export function listenConfig(h: Harness, port: number, extra: Record<string, unknown> = {}): string {
  const file = path.join(h.dir, 'listen.json');
  const raw = {
    zoom: {
      apiBaseUrl: h.sandbox.apiBaseUrl,
      oauthTokenUrl: h.sandbox.oauthTokenUrl,
      downloadHosts: [h.sandbox.downloadHost],
      retry: { limit: 2, maxBackoff: 'PT0.2S' },
      requestTimeout: 'PT10S',
      rateLimits: { Light: 1000, Medium: 1000, Heavy: 1000 },
    },
    ledger: { path: './ledger.sqlite' },
    destinations: [{ name: 'archive', type: 'filesystem', path: './archive' }],
    listen: { port },
    ...extra,
  };
  writeFileSync(file, JSON.stringify(raw, null, 2));
  return file;
}

export interface Child {
  process: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `options.args` go before `listen` (global options); `options.ready` is what stderr shows once it listens. */
export async function startChild(
  h: Harness,
  configFile: string,
  env: NodeJS.ProcessEnv = {},
  options: { args?: string[]; ready?: RegExp } = {},
): Promise<Child> {
  const ready = options.ready ?? /listening on http/;
  const child = spawn(process.execPath, [BIN, '--config', configFile, ...(options.args ?? []), 'listen'], {
    cwd: h.dir,
    env: { ...h.env(), ZOOM_WEBHOOK_SECRET_TOKEN: WEBHOOK_SECRET, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + 20_000;
  while (!ready.test(stderr)) {
    const done = await Promise.race([exited.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 20))]);
    if (done) throw new Error(`listen exited before listening:\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`listen did not start:\n${stderr}`);
  }
  return { process: child, stderr: () => stderr, exited };
}
