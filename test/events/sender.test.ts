// The sandbox's webhook sender is held to zcc-events.md §3 and §7: Zoom's headers on every attempt, a fresh signature
// per attempt, retries after ≥500, timeouts and refused connections at the configured delays, none after 3xx/4xx.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { signatureFor } from '../../src/events/signature.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { freePort } from './child.js';

let sandbox: Sandbox | null = null;
let server: Server | null = null;
afterEach(async () => {
  await sandbox?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  sandbox = null;
  server = null;
});

async function receiver(answers: number[], delayMs = 0): Promise<{ url: string; seen: { headers: IncomingHttpHeaders; body: Buffer; at: number }[] }> {
  const seen: { headers: IncomingHttpHeaders; body: Buffer; at: number }[] = [];
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      seen.push({ headers: request.headers, body: Buffer.concat(chunks), at: Date.now() });
      const status = answers[seen.length - 1] ?? 200;
      setTimeout(() => response.writeHead(status).end(), delayMs);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, seen };
}

describe('sandbox webhook sender', () => {
  it('signs every attempt as Zoom does and retries a 5xx after the configured delays', async () => {
    sandbox = await startSandbox({ engagementsPerDay: 2, days: 2 });
    const { url, seen } = await receiver([500, 503, 200]);
    const sender = sandbox.webhooks({ url, secret: 's3cret-token', retryDelaysMs: [30, 60, 90] });
    const result = await sender.send({ event: 'contact_center.recording_completed', event_ts: 1, payload: { account_id: 'a', object: {} } });
    expect(result.delivered).toBe(true);
    expect(result.attempts.map((attempt) => attempt.status)).toEqual([500, 503, 200]);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(25);
    expect(seen[2]!.at - seen[1]!.at).toBeGreaterThanOrEqual(55);
    for (const { headers, body } of seen) {
      expect(headers['user-agent']).toBe('Zoom Marketplace/1.0a');
      expect(headers['content-type']).toBe('application/json; charset=utf-8');
      expect(headers['x-zm-request-id']).toMatch(/^[0-9a-f_]{36}$/);
      expect(headers['x-zm-trackingid']).toBeTruthy();
      expect(headers['x-zm-signature']).toBe(signatureFor('s3cret-token', String(headers['x-zm-request-timestamp']), body));
    }
  });

  it('never retries a 3xx or 4xx, and gives up after the last retry', async () => {
    sandbox = await startSandbox({ engagementsPerDay: 2, days: 2 });
    const refused = await receiver([401]);
    const once = await sandbox.webhooks({ url: refused.url, secret: 'x', retryDelaysMs: [10, 10, 10] }).send({ event: 'e' });
    expect(once).toMatchObject({ delivered: false, attempts: [{ status: 401 }] });
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    const failing = await receiver([500, 500, 500, 500, 200]);
    const exhausted = await sandbox.webhooks({ url: failing.url, secret: 'x', retryDelaysMs: [10, 10, 10] }).send({ event: 'e' });
    expect(exhausted.delivered).toBe(false);
    expect(exhausted.attempts).toHaveLength(4);
  });

  it('retries a refused connection and a reply slower than the timeout', async () => {
    sandbox = await startSandbox({ engagementsPerDay: 2, days: 2 });
    const closed = await sandbox.webhooks({ url: `http://127.0.0.1:${await freePort()}/hook`, secret: 'x', retryDelaysMs: [10] }).send({ event: 'e' });
    expect(closed.attempts.map((attempt) => attempt.status)).toEqual([null, null]);
    const slow = await receiver([200, 200], 300);
    const timedOut = await sandbox.webhooks({ url: slow.url, secret: 'x', retryDelaysMs: [10], timeoutMs: 100 }).send({ event: 'e' });
    expect(timedOut.delivered).toBe(false);
    expect(timedOut.attempts.every((attempt) => attempt.status === null && /timeout/.test(attempt.error ?? ''))).toBe(true);
  });
});
