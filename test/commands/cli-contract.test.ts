// The command line's promises where a review found them broken: the date forms --from/--to accept, a dry run on a
// ledger of an earlier schema, a reader that goes away mid-run, --destination "", a busy listen.port, JSON-only
// stderr with --log-format json, and what a dry run's messages claim.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/ledger/schema.js';
import { SqliteLedger } from '../../src/ledger/sqlite.js';
import { ensureBuild } from '../faults/child.js';
import { harness, type Harness } from '../support/harness.js';
import { BIN, cli } from './helpers.js';

let current: Harness | null = null;
afterEach(async () => {
  await current?.close();
  current = null;
});
beforeAll(() => ensureBuild(), 120_000);

function notJson(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter(Boolean)
    .filter((line) => {
      try {
        return typeof JSON.parse(line) !== 'object';
      } catch {
        return true;
      }
    });
}

/** Spawns the CLI with stderr piped; resolves `started` at the first stderr text that matches. */
function spawnCli(args: string[], h: Harness, startedWhen: RegExp) {
  const child = spawn(process.execPath, [BIN, ...args], { env: h.env(), cwd: h.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const started = new Promise<void>((resolve) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      if (startedWhen.test(stderr)) resolve();
    });
  });
  return { child, exited, started, stderr: () => stderr };
}

describe('--from/--to', () => {
  it.each(['20261118', '2026-W47-3', '2026-322', '2026-11'])('refuses the ISO form %s instead of reading a shorter window from it', async (to) => {
    const h = (current = await harness());
    const ran = await cli(['run', '--config', h.configPath, '--dry-run', '--from', '2026-11-01', '--to', to], h.env(), h.dir);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(`--to "${to}" is not a date: expected an ISO date (2026-03-01) or date-time`);
  });

  it('still reads a bare date as the whole day and a date-time as itself', async () => {
    const h = (current = await harness());
    const window = async (to: string) => {
      const ran = await cli(['run', '--config', h.configPath, '--dry-run', '--format', 'json', '--from', '2026-11-17', '--to', to], h.env(), h.dir);
      expect(ran.code, ran.stderr).toBe(0);
      return (JSON.parse(ran.stdout) as { window: { to: string } }).window.to;
    };
    expect(await window('2026-11-18')).toBe('2026-11-19T00:00:00.000Z');
    expect(await window('2026-11-18T06:00:00Z')).toBe('2026-11-18T06:00:00.000Z');
  });
});

describe('a ledger of an earlier schema', () => {
  it('run --dry-run reads it through an upgraded copy and leaves the file as it was', async () => {
    const h = (current = await harness());
    expect((await cli(['run', '--config', h.configPath, '--from', '2026-11-17', '--to', '2026-11-17'], h.env(), h.dir)).code).toBe(0);
    // Back to schema 4: what the release before wrote (its columns and tables only).
    const built = path.join(h.dir, 'v4.sqlite');
    const old = new Database(built);
    for (let version = 0; version < 4; version++) old.exec(MIGRATIONS[version]!);
    old.pragma('user_version = 4');
    old.exec(`ATTACH '${h.ledgerPath}' AS current`);
    old.exec(`INSERT INTO artifacts SELECT id, key, kind, engagement_id, listed_at, state, pending_since, first_seen, last_seen, signature, descriptor_json FROM current.artifacts`);
    old.exec(`INSERT INTO deliveries SELECT id, destination, key, status, fingerprint, size, sha256, location, delivered_at, attempts, last_error, last_attempt_at, via FROM current.deliveries`);
    old.exec('DETACH current');
    old.close();
    writeFileSync(h.ledgerPath, ''); // replaced below; the WAL of the current one is gone with it
    for (const suffix of ['-wal', '-shm']) if (existsSync(h.ledgerPath + suffix)) writeFileSync(h.ledgerPath + suffix, '');
    const { copyFileSync } = await import('node:fs');
    copyFileSync(built, h.ledgerPath);
    const dry = await cli(['run', '--config', h.configPath, '--dry-run', '--format', 'json', '--from', '2026-11-17', '--to', '2026-11-18'], h.env(), h.dir);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    const report = JSON.parse(dry.stdout) as { mode: string; kinds: Record<string, { unchanged: number; wouldPush?: number }> };
    expect(report.mode).toBe('dry-run');
    // What the first run delivered (2026-11-17) is known; the day after would be pushed.
    expect(Object.values(report.kinds).reduce((sum, row) => sum + row.unchanged, 0)).toBeGreaterThan(0);
    const after = new Database(h.ledgerPath, { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(4);
    after.close();
    expect(SCHEMA_VERSION).toBeGreaterThan(4);
  });
});

describe('a reader that goes away mid-run', () => {
  it('the run finishes its work and exits with its own code, not 0 with the run left "running"', async () => {
    const h = (current = await harness({ latencyMs: 40 }));
    const run = spawnCli(['--verbose', 'run', '--config', h.configPath, '--from', '2026-11-11', '--to', '2026-11-19'], h, /window \[/);
    await run.started;
    // Like `zcc-reconcile --verbose run 2>&1 | head -1`.
    run.child.stderr.destroy();
    const code = await run.exited;
    const status = await cli(['status', '--config', h.configPath, '--format', 'json'], h.env(), h.dir);
    const last = (JSON.parse(status.stdout) as { runs: { outcome: string }[] }).runs[0]!;
    expect(last.outcome).toBe('ok');
    expect(code).toBe(0);
    const again = await cli(['run', '--config', h.configPath, '--from', '2026-11-11', '--to', '2026-11-19', '--format', 'json'], h.env(), h.dir);
    expect(JSON.parse(again.stdout).totals.delivered).toBe(0);
  }, 60_000);
});

describe('verify --destination', () => {
  it.each(['', ',', ' '])('%j is refused (exit 2), not a check of nothing that exits 0', async (value) => {
    const h = (current = await harness());
    expect((await cli(['run', '--config', h.configPath, '--from', '2026-11-18', '--to', '2026-11-18'], h.env(), h.dir)).code).toBe(0);
    const ran = await cli(['verify', '--config', h.configPath, '--destination', value], h.env(), h.dir);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toMatch(/^zcc-reconcile: --destination: .* is not valid; expected one or more of the configured destinations \(archive\)\n$/);
  });
});

describe('listen', () => {
  it('a listen.port already in use is a config error naming the key (exit 2)', async () => {
    const h = (current = await harness());
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as AddressInfo).port;
      const file = path.join(h.dir, 'listen.json');
      writeFileSync(
        file,
        JSON.stringify({
          zoom: { apiBaseUrl: h.sandbox.apiBaseUrl, oauthTokenUrl: h.sandbox.oauthTokenUrl, downloadHosts: [h.sandbox.downloadHost] },
          ledger: { path: './l.sqlite' },
          listen: { host: '127.0.0.1', port },
        }),
      );
      const ran = await cli(['listen', '--config', file], { ...h.env(), ZOOM_WEBHOOK_SECRET_TOKEN: 'whsecret-abcdef' }, h.dir);
      expect(ran.stderr).toBe(`zcc-reconcile: listen.port: ${port} is not valid; expected a free port on 127.0.0.1 (another process listens on ${port})\n`);
      expect(ran.code).toBe(2);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe('URLs in the config that do not parse', () => {
  it.each([
    ['listen.websocket.url', { listen: { websocket: { url: 'not a url' } } }, /^zcc-reconcile: listen\.websocket\.url: "not a url" is not valid; expected a ws:\/\/ or wss:\/\/ URL\n$/],
    ['zoom.apiBaseUrl', { zoom: { apiBaseUrl: 'not a url' } }, /^zcc-reconcile: zoom\.apiBaseUrl: "not a url" is not valid; expected /],
  ])('%s is a config error naming the key (exit 2), not "unexpected error"', async (_key, config, message) => {
    const h = (current = await harness());
    const file = path.join(h.dir, 'bad-url.json');
    writeFileSync(file, JSON.stringify(config));
    const ran = await cli(['run', '--config', file, '--dry-run'], h.env(), h.dir);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toMatch(message);
  });
});

describe('--log-format json on stderr: every line a JSON object', () => {
  it.each([
    [['run', '--bogus']],
    [['run', '--from']],
    [['status', '--format', 'xml']],
  ])('for a usage error commander finds: %j (exit 2)', async (args) => {
    const h = (current = await harness());
    const ran = await cli(['--log-format', 'json', ...args], h.env(), h.dir);
    expect(ran.code).toBe(2);
    expect(notJson(ran.stderr)).toEqual([]);
    expect(JSON.parse(ran.stderr)).toMatchObject({ level: 'error', event: 'error' });
  });

  it('when a run meets a held lock (exit 4): the error once, as JSON', async () => {
    const h = (current = await harness());
    expect((await cli(['run', '--config', h.configPath, '--from', '2026-11-18', '--to', '2026-11-18'], h.env(), h.dir)).code).toBe(0);
    const ledger = SqliteLedger.open(h.ledgerPath);
    ledger.acquireRunLock({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString() });
    ledger.close();
    const ran = await cli(['--log-format', 'json', 'run', '--config', h.configPath], h.env(), h.dir);
    expect(ran.code).toBe(4);
    expect(notJson(ran.stderr)).toEqual([]);
    expect(ran.stderr.match(/another run holds the ledger/g)).toHaveLength(1);
  });

  it('when the config is refused before anything runs (exit 2)', async () => {
    const h = (current = await harness());
    const ran = await cli(['--log-format', 'json', 'run', '--config', h.configPath, '--from', 'yesterday'], h.env(), h.dir);
    expect(ran.code).toBe(2);
    expect(notJson(ran.stderr)).toEqual([]);
    expect(JSON.parse(ran.stderr)).toMatchObject({ level: 'error', event: 'error', message: expect.stringContaining('--from "yesterday" is not a date') });
  });

  it('when a run is stopped by SIGINT (exit 130)', async () => {
    // Slow answers: the run is still going when the signal comes, even on a loaded machine.
    const h = (current = await harness({ latencyMs: 200 }));
    const run = spawnCli(['--log-format', 'json', 'run', '--config', h.configPath, '--from', '2026-11-11', '--to', '2026-11-19'], h, /"artifact_delivered"/);
    await run.started;
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    expect(notJson(run.stderr())).toEqual([]);
    expect(run.stderr()).toMatch(/"event":"run_end".*"interrupted":true|"interrupted":true.*"event":"run_end"/);
  }, 60_000);
});

describe('what a dry run says about itself', () => {
  it('a failing dry run names no run id and sends nobody to `status` (it is not recorded)', async () => {
    const h = (current = await harness());
    const ran = await cli(['run', '--config', h.configPath, '--dry-run', '--from', '2026-11-18', '--to', '2026-11-18'], { ...h.env(), ZOOM_CLIENT_SECRET: 'wrong-secret' }, h.dir);
    expect(ran.code).toBe(3);
    expect(ran.stderr).toMatch(/^zcc-reconcile: dry run exit 3: /);
    expect(ran.stderr).not.toContain('status');
    expect(existsSync(h.ledgerPath)).toBe(false);
  });

  it('a dry run stopped by SIGINT does not claim to be recorded as interrupted', async () => {
    // Slow answers: the run is still going when the signal comes, even on a loaded machine.
    const h = (current = await harness({ latencyMs: 200 }));
    const run = spawnCli(['--verbose', 'run', '--dry-run', '--config', h.configPath, '--from', '2026-11-10', '--to', '2026-11-19'], h, /window \[/);
    await run.started;
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    expect(run.stderr()).toContain('stopped by SIGINT; a dry run changes nothing');
    expect(run.stderr()).not.toMatch(/recorded as interrupted/);
  }, 60_000);
});

describe('SIGINT while the token request hangs', () => {
  it('stops the run at once instead of waiting out the token request and its retries', async () => {
    const h = (current = await harness({ zoom: { requestTimeout: 'PT5S', retry: { limit: 2, maxBackoff: 'PT0.2S' } } }));
    // Zoom's token endpoint answers after 60 s; the request times out at 5 s and is retried twice.
    h.sandbox.faults.add({ label: 'token' }, { type: 'slow', delayMs: 60_000 }, { times: Infinity });
    const run = spawnCli(['--verbose', 'run', '--config', h.configPath, '--from', '2026-11-18', '--to', '2026-11-19'], h, /window \[/);
    await run.started;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const signalled = Date.now();
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    expect(Date.now() - signalled).toBeLessThan(3000);
    expect(run.stderr()).not.toMatch(/stopped: could not get a Zoom access token/);
  }, 60_000);
});

