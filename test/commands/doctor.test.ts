// `doctor` against a healthy set-up and broken ones: one line per check, ✓/✗ with what to do, the right exit code,
// secrets never printed, and no probe left behind in the destination.
import { createServer } from 'node:net';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from '../support/harness.js';
import { cli, plain, schemaErrors } from './helpers.js';

let current: Harness | null = null;
afterEach(async () => {
  await current?.close();
  current = null;
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function writeConfig(h: Harness, name: string, patch: (raw: Record<string, unknown>) => void): string {
  const raw = JSON.parse(JSON.stringify({
    zoom: {
      apiBaseUrl: h.sandbox.apiBaseUrl,
      oauthTokenUrl: h.sandbox.oauthTokenUrl,
      downloadHosts: [h.sandbox.downloadHost],
      requestTimeout: 'PT5S',
    },
    ledger: { path: './ledger.sqlite' },
    destinations: [{ name: 'archive', type: 'filesystem', path: './archive' }],
  })) as Record<string, unknown>;
  patch(raw);
  const file = path.join(h.dir, name);
  writeFileSync(file, JSON.stringify(raw));
  return file;
}

const checkLines = (stdout: string) => plain(stdout).trim().split('\n').slice(0, -1);

describe('doctor', () => {
  it('passes every check on a healthy set-up, one line each, exit 0, and leaves nothing behind', async () => {
    const h = (current = await harness());
    const ran = await cli(['doctor', '--config', h.configPath, '--min-free', '1'], h.env(), h.dir);
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    const lines = checkLines(ran.stdout);
    expect(lines.map((line) => line.replace(/:.*/, ''))).toEqual([
      '✓ config',
      '✓ env ZOOM_ACCOUNT_ID',
      '✓ env ZOOM_CLIENT_ID',
      '✓ env ZOOM_CLIENT_SECRET',
      '✓ zoom token',
      '✓ list engagements',
      '✓ list recordings',
      '✓ list messages',
      '✓ destination archive',
      '✓ ledger',
      expect.stringMatching(/^✓ disk space \(ledger, archive\)$/),
    ]);
    expect(plain(ran.stdout).trim().split('\n').at(-1)).toBe('All 11 checks passed.');
    for (const secret of Object.values(h.sandbox.credentials)) expect(ran.stdout).not.toContain(secret);
    // One page_size=1 request per List endpoint, each with both bounds.
    const lists = h.sandbox.requests.filter((request) => request.operationId?.startsWith('list'));
    expect(lists.map((request) => request.operationId).sort()).toEqual(['listEngagements', 'listInboxesMessages', 'listRecordings']);
    for (const request of lists) expect(request.query).toMatchObject({ page_size: '1', from: expect.any(String), to: expect.any(String) });
    // The probe was written and removed, its folders too; the destination's staging folder stays, empty.
    expect(existsSync(h.archive) ? readdirSync(h.archive, { recursive: true }) : []).toEqual(['.zcc-partial']);

    const json = await cli(['doctor', '--config', h.configPath, '--format', 'json', '--min-free', '1'], h.env(), h.dir);
    const report = JSON.parse(json.stdout);
    expect(schemaErrors('doctor', report)).toEqual([]);
    expect(report).toMatchObject({ ok: true, exitCode: 0 });
    expect(report.checks.every((check: { status: string }) => check.status === 'ok')).toBe(true);
  });

  it('bad credentials: ✗ zoom token naming the variables, endpoints skipped, exit 3, the secret never shown', async () => {
    const h = (current = await harness());
    const env = { ...h.env(), ZOOM_CLIENT_SECRET: 'wrong-secret-value-1234' };
    const ran = await cli(['doctor', '--config', h.configPath, '--min-free', '1'], env, h.dir);
    expect(ran.code).toBe(3);
    const lines = checkLines(ran.stdout);
    expect(lines.find((line) => line.startsWith('✗ zoom token'))).toMatch(/→ check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET/);
    expect(lines.filter((line) => line.startsWith('- list'))).toHaveLength(3);
    expect(lines.find((line) => line.startsWith('✓ destination archive'))).toBeDefined();
    expect(ran.stdout + ran.stderr).not.toContain('wrong-secret-value-1234');
  });

  it('unreachable API: ✗ on each List endpoint with what to check, exit 3', async () => {
    const h = (current = await harness());
    const port = await closedPort();
    const config = writeConfig(h, 'dead-api.json', (raw) => {
      (raw.zoom as Record<string, unknown>).apiBaseUrl = `http://127.0.0.1:${port}/v2`;
    });
    const ran = await cli(['doctor', '--config', config, '--min-free', '1'], h.env(), h.dir);
    expect(ran.code).toBe(3);
    const lines = checkLines(ran.stdout);
    expect(lines.find((line) => line.startsWith('✓ zoom token'))).toBeDefined();
    const failed = lines.filter((line) => line.startsWith('✗ list'));
    expect(failed).toHaveLength(3);
    for (const line of failed) expect(line).toMatch(new RegExp(`ECONNREFUSED.*→ check zoom.apiBaseUrl \\(http://127.0.0.1:${port}/v2\\)`));

    const deadToken = writeConfig(h, 'dead-token.json', (raw) => {
      (raw.zoom as Record<string, unknown>).oauthTokenUrl = `http://127.0.0.1:${port}/oauth/token`;
    });
    const noToken = await cli(['doctor', '--config', deadToken, '--min-free', '1', '--format', 'json'], h.env(), h.dir);
    expect(noToken.code).toBe(3);
    const report = JSON.parse(noToken.stdout);
    expect(schemaErrors('doctor', report)).toEqual([]);
    expect(report.checks.find((check: { name: string }) => check.name === 'zoom token')).toMatchObject({
      status: 'failed',
      fix: expect.stringMatching(/check zoom.oauthTokenUrl/),
    });
  });

  it('unwritable destination: ✗ destination with what to do, exit 3', async () => {
    const h = (current = await harness());
    writeFileSync(path.join(h.dir, 'blocker'), 'a file, not a folder');
    const config = writeConfig(h, 'blocked.json', (raw) => {
      raw.destinations = [{ name: 'archive', type: 'filesystem', path: './blocker/archive' }];
    });
    const ran = await cli(['doctor', '--config', config, '--min-free', '1'], h.env(), h.dir);
    expect(ran.code).toBe(3);
    const line = checkLines(ran.stdout).find((text) => text.startsWith('✗ destination archive'));
    expect(line).toMatch(/ENOTDIR|EEXIST/);
    expect(line).toMatch(/→ make .*blocker\/archive a folder this user can create and write/);
  });

  it('missing secrets and a broken config are config errors: exit 2', async () => {
    const h = (current = await harness());
    const env = { ...h.env(), ZOOM_ACCOUNT_ID: '' };
    const missing = await cli(['doctor', '--config', h.configPath, '--min-free', '1'], env, h.dir);
    expect(missing.code).toBe(2);
    expect(checkLines(missing.stdout)).toContainEqual(expect.stringMatching(/^✗ env ZOOM_ACCOUNT_ID: not set → export ZOOM_ACCOUNT_ID=/));
    expect(checkLines(missing.stdout)).toContainEqual('- zoom token: skipped (needs ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET)');

    const bad = path.join(h.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ concurrency: 'four' }));
    const broken = await cli(['doctor', '--config', bad], h.env(), h.dir);
    expect(broken.code).toBe(2);
    expect(checkLines(broken.stdout)[0]).toMatch(/^✗ config: concurrency: "four" is not valid.*→ fix the key named above/);

    // A destination whose secret (named in the config, read from the environment) is not set: a config problem too.
    const unset = writeConfig(h, 'hook.json', (raw) => {
      raw.destinations = [{ name: 'hook', type: 'http', url: 'http://127.0.0.1:9/{key}', headers: { Authorization: 'Bearer ${MY_HOOK_TOKEN}' } }];
    });
    const noSecret = await cli(['doctor', '--config', unset, '--min-free', '1'], { ...h.env(), MY_HOOK_TOKEN: '' }, h.dir);
    expect(checkLines(noSecret.stdout)).toContainEqual(expect.stringMatching(/^✗ destination hook: http: environment variable MY_HOOK_TOKEN/));
    expect(noSecret.code).toBe(2);

    const tiny = await cli(['doctor', '--config', h.configPath, '--min-free', '999999999'], h.env(), h.dir);
    expect(tiny.code).toBe(3);
    expect(checkLines(tiny.stdout)).toContainEqual(expect.stringMatching(/^✗ disk space \(ledger, archive\): only .* free .*→ free up space/));
  });
});
