// Secrets a remote service echoes back, control characters in its words, and where Zoom's credentials may travel:
// what reaches the ledger, the HTML report, `status` and the terminal.
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { harness } from '../support/harness.js';
import { ensureBuild, startCli } from './child.js';
import { ledgerText } from './support.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});
beforeAll(() => ensureBuild(), 120_000);

async function serve(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function notesOnlyHarness(destination: Record<string, unknown>) {
  const h = await harness({ now: () => new Date('2026-11-20T12:00:00Z'), engagementsPerDay: 3 });
  closers.push(() => h.close());
  const config = JSON.parse(readFileSync(h.configPath, 'utf8')) as Record<string, unknown>;
  config.kinds = ['note'];
  config.destinations = [destination];
  writeFileSync(h.configPath, JSON.stringify(config, null, 2));
  return h;
}

const RUN = ['--from', '2026-11-15', '--to', '2026-11-16'];

describe('a secret a destination echoes back', () => {
  it('reaches neither the ledger, nor the HTML report, nor a later `status` run without the secret in its environment', async () => {
    const token = `pat-na1-${randomBytes(12).toString('hex')}`;
    // A HubSpot-like API that refuses every request, quoting the credential it was sent (as some gateways do).
    const crmHost = await serve(
      createServer((req, res) => {
        req.resume();
        const sent = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'error', message: `Invalid input for portal; credential ${sent} rejected`, category: 'VALIDATION_ERROR' }));
      }),
    );
    const h = await notesOnlyHarness({ name: 'hubspot', type: 'hubspot', baseUrl: `http://${crmHost}`, retry: { limit: 0 } });
    const env = { ...h.env(), HUBSPOT_ACCESS_TOKEN: token };
    const report = path.join(h.dir, 'report.html');
    const ran = await startCli(['run', '--config', h.configPath, ...RUN, '--report-file', report], env, h.dir).exited;
    expect(ran.code).toBe(1);
    expect(ran.stderr).not.toContain(token);
    expect(ran.stderr).toContain('credential [redacted] rejected');
    const { HUBSPOT_ACCESS_TOKEN: _unset, ...withoutToken } = env;
    const status = await startCli(['status', '--config', h.configPath, '--format', 'json'], withoutToken, h.dir).exited;
    expect(status.stdout).toContain('credential [redacted] rejected');
    expect({
      ledger: ledgerText(h.ledgerPath).includes(token),
      htmlReport: readFileSync(report, 'utf8').includes(token),
      statusWithoutEnv: status.stdout.includes(token),
    }).toEqual({ ledger: false, htmlReport: false, statusWithoutEnv: false });
    expect(statSync(report).mode & 0o777).toBe(0o600);
  }, 120_000);

  it('is removed before the error text is cut short, so no prefix of it is printed or stored', async () => {
    const secret = `hooktoken-${randomBytes(12).toString('hex')}`;
    // The echo is placed so that a cut at 200 characters lands inside the secret.
    const host = await serve(
      createServer((req, res) => {
        req.resume();
        const sent = String(req.headers['x-api-key'] ?? '');
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(`${'request rejected; '.repeat(12).slice(0, 200 - sent.length + 1)}${sent}`);
      }),
    );
    const h = await notesOnlyHarness({ name: 'hook', type: 'http', url: `http://${host}/{key}`, headers: { 'x-api-key': '${HOOK_KEY}' }, retry: { limit: 0 } });
    const env = { ...h.env(), HOOK_KEY: secret };
    const ran = await startCli(['run', '--config', h.configPath, ...RUN], env, h.dir).exited;
    expect(ran.code).toBe(1);
    const status = await startCli(['status', '--config', h.configPath, '--format', 'json'], env, h.dir).exited;
    const prefix = secret.slice(0, 16);
    expect({ stderr: ran.stderr.includes(prefix), status: status.stdout.includes(prefix), ledger: ledgerText(h.ledgerPath).includes(prefix) }).toEqual({
      stderr: false,
      status: false,
      ledger: false,
    });
    expect(ledgerText(h.ledgerPath)).toContain('[redacted]');
  }, 60_000);
});

describe("Zoom's credentials over plain http or to another host", () => {
  const refused = async (edit: (config: { zoom: Record<string, unknown>; listen?: unknown }) => void, command: string[], field: RegExp) => {
    const h = await harness({ now: () => new Date('2026-11-20T12:00:00Z'), engagementsPerDay: 2 });
    closers.push(() => h.close());
    const config = JSON.parse(readFileSync(h.configPath, 'utf8')) as { zoom: Record<string, unknown>; listen?: unknown };
    edit(config);
    writeFileSync(h.configPath, JSON.stringify(config, null, 2));
    const ran = await startCli([...command, '--config', h.configPath], h.env(), h.dir).exited;
    expect(ran.code).toBe(2);
    expect(ran.stderr.trim().split('\n')).toHaveLength(1);
    expect(ran.stderr).toMatch(field);
  };

  it('zoom.oauthTokenUrl over http:// to a host that is not loopback is refused before the client secret is sent', async () => {
    await refused((config) => void (config.zoom.oauthTokenUrl = 'http://192.0.2.7:9/oauth/token'), ['run', ...RUN], /zoom\.oauthTokenUrl.*https:\/\//);
  }, 60_000);

  it('zoom.apiBaseUrl over http:// to a host that is not loopback is refused', async () => {
    await refused((config) => void (config.zoom.apiBaseUrl = 'http://192.0.2.7:9/v2'), ['run', ...RUN], /zoom\.apiBaseUrl.*https:\/\//);
  }, 60_000);

  it.each([
    ['ws:// to a host that is not loopback', 'ws://192.0.2.7:9/ws'],
    ['wss:// to a host that is not Zoom', 'wss://events.example.com/ws'],
  ])('listen.websocket.url %s is refused before the access token is sent in its query', async (_case, url) => {
    await refused(
      (config) => void (config.listen = { host: '127.0.0.1', port: 0, websocket: { url, subscriptionId: 'sub-1' } }),
      ['listen'],
      /listen\.websocket\.url.*ws\.zoom\.us/,
    );
  }, 60_000);
});

describe('control characters in what another service says', () => {
  // Retitles the terminal, clears the screen and fakes a line of our output, when printed raw.
  const HOSTILE = '\u001b]0;owned\u0007\u001b[2J\u001b[Hall artifacts delivered';

  it('a Zoom error message is printed without them', async () => {
    const h = await harness({ now: () => new Date('2026-11-20T12:00:00Z'), engagementsPerDay: 2 });
    closers.push(() => h.close());
    h.sandbox.faults.add({ operationId: 'listEngagements' }, { type: 'status', status: 400, body: { code: 1001, message: HOSTILE } }, { times: Infinity });
    const ran = await startCli(['run', '--config', h.configPath, ...RUN], h.env(), h.dir).exited;
    expect(ran.code).toBe(3);
    expect(ran.stderr).toContain('all artifacts delivered');
    expect(ran.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  }, 60_000);

  it('a CRM error body is printed by run and status, and stored, without them', async () => {
    const crmHost = await serve(
      createServer((req, res) => {
        req.resume();
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(HOSTILE);
      }),
    );
    const h = await notesOnlyHarness({ name: 'hubspot', type: 'hubspot', baseUrl: `http://${crmHost}`, retry: { limit: 0 } });
    const env = { ...h.env(), HUBSPOT_ACCESS_TOKEN: 'pat-na1-0123456789abcdef' };
    const ran = await startCli(['run', '--config', h.configPath, ...RUN], env, h.dir).exited;
    expect(ran.code).toBe(1);
    const status = await startCli(['status', '--config', h.configPath], env, h.dir).exited;
    expect(status.stdout).toContain('all artifacts delivered');
    for (const text of [ran.stderr, status.stdout, ledgerText(h.ledgerPath)]) expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]|\\u001b/);
  }, 60_000);
});
