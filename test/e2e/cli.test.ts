// The CLI as a user meets it: a child process, its exit codes, its one-line errors, its silence under cron.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from '../support/harness.js';

const BIN = path.resolve(fileURLToPath(import.meta.url), '../../../bin/zcc-reconcile');

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env, cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let current: Harness | null = null;
afterEach(async () => {
  await current?.close();
  current = null;
});

describe('the command line', () => {
  it('answers --help and --version at once', async () => {
    const help = await cli(['--help'], process.env, process.cwd());
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/run \[options\]/);
    const runHelp = await cli(['run', '--help'], process.env, process.cwd());
    expect(runHelp.stdout).toMatch(/--dry-run/);
    expect(runHelp.stdout).toMatch(/Examples:/);
    expect((await cli(['--version'], process.env, process.cwd())).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('stops quietly when its reader goes away (| head): no EPIPE trace, exit 0', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [BIN, 'run', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    // Read nothing: the pipe is closed before the help text is written.
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('has --help with examples for every command, and --version from package.json', async () => {
    for (const command of ['run', 'status', 'verify', 'doctor', 'demo']) {
      const help = await cli([command, '--help'], process.env, process.cwd());
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: zcc-reconcile ${command} \\[options\\]`));
      expect(help.stdout).toMatch(new RegExp(`Examples:\\n  \\$ zcc-reconcile ${command}`));
    }
    const top = await cli(['--help'], process.env, process.cwd());
    for (const option of ['--log-format', '--log-file', '--no-progress', '--quiet', '--verbose', '--config']) expect(top.stdout).toContain(option);
    expect(top.stdout).toMatch(/Exit codes: 0 fine/);
    const pkg = JSON.parse(readFileSync(path.resolve(BIN, '../../package.json'), 'utf8')) as { version: string };
    expect((await cli(['-V'], process.env, process.cwd())).stdout.trim()).toBe(pkg.version);
  });

  it('answers --help fast: commands are loaded only when they run', async () => {
    // The best of five, so that other tests running in parallel on a small machine do not decide the result.
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      expect((await cli(['--help'], process.env, process.cwd())).code).toBe(0);
      times.push(performance.now() - started);
    }
    expect(Math.min(...times)).toBeLessThan(250);
  });

  it('draws no progress when stderr is not a terminal, even with colour forced', async () => {
    const h = (current = await harness());
    const ran = await cli(['run', '--config', h.configPath, '--from', '2026-11-18', '--to', '2026-11-19'], { ...h.env(), FORCE_COLOR: '3' }, h.dir);
    expect(ran).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const verbose = await cli(['--verbose', 'run', '--config', h.configPath, '--from', '2026-11-17', '--to', '2026-11-17'], { ...h.env(), FORCE_COLOR: '3' }, h.dir);
    expect(verbose.code).toBe(0);
    expect(verbose.stderr).toMatch(/^backfill \d+ window \[2026-11-17T00:00:00.000Z, 2026-11-18T00:00:00.000Z\) in 1 chunk\(s\)$/m);
    expect(verbose.stderr).toMatch(/^\+ \S+ → archive \(\d+ bytes\)$/m);
    expect(verbose.stderr).not.toMatch(/[█░]|\u001b\[\?25l|^listing |^pushing /m);
    expect(verbose.stderr).toMatch(/^listed engagements \[2026-11-17T00:00:00.000Z, 2026-11-18T00:00:00.000Z\)$/m);
    expect(verbose.stderr).toMatch(/^backfill \d+ finished: exit 0 · .*delivered \d+/m);
  });

  it('refuses a --log-file in a folder that does not exist, before doing anything (exit 2)', async () => {
    const h = (current = await harness());
    const ran = await cli(['--log-file', path.join(h.dir, 'no', 'such.log'), 'run', '--config', h.configPath, '--from', '2026-11-18'], h.env(), h.dir);
    expect(ran).toMatchObject({ code: 2, stderr: expect.stringMatching(/--log-file: .* is not valid; expected a file in an existing folder/) });
    expect(existsSync(h.ledgerPath)).toBe(false);
  });

  it('prints nothing on a successful cron run, and a JSON report when asked', async () => {
    const h = (current = await harness());
    const quiet = await cli(['run', '--config', h.configPath, '--from', '2026-11-19', '--to', '2026-11-19'], h.env(), h.dir);
    expect(quiet).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const json = await cli(['run', '--config', h.configPath, '--from', '2026-11-19', '--to', '2026-11-19', '--dry-run', '--format', 'json'], h.env(), h.dir);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ schemaVersion: 1, mode: 'dry-run', exitCode: 0, listingComplete: true });
    expect(report.totals.to_push).toBe(0);
    expect(report.totals.unchanged).toBeGreaterThan(0);
  });

  it.each([
    ['an unknown key', { zoom: { timezon: 'UTC' } }, /zoom\.timezon: .*no such key/],
    ['a wrong type', { concurrency: 'four' }, /concurrency: "four" is not valid; expected a value of type number/],
    ['a bad time zone', { zoom: { timezone: 'Mars/Olympus' } }, /zoom\.timezone: "Mars\/Olympus" is not valid; expected an IANA time zone/],
    ['a bad duration', { window: { lookback: '2 days' } }, /window\.lookback: "2 days" is not valid; expected an ISO-8601 duration/],
    ['an unknown destination type', { destinations: [{ name: 'x', type: 'ftp', path: '.' }] }, /destinations\[0\]/],
  ])('refuses %s with one line naming the key and exit 2', async (_label, config, message) => {
    const h = (current = await harness());
    const file = path.join(h.dir, 'bad.json');
    writeFileSync(file, JSON.stringify(config));
    const ran = await cli(['run', '--config', file], h.env(), h.dir);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toMatch(message);
    expect(ran.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(path.join(h.dir, 'zcc-ledger.sqlite'))).toBe(false);
  });

  it('refuses broken JSON, bad dates, bad kinds and a missing secret with exit 2', async () => {
    const h = (current = await harness());
    const broken = path.join(h.dir, 'broken.json');
    writeFileSync(broken, '{"zoom": {');
    expect(await cli(['run', '--config', broken], h.env(), h.dir)).toMatchObject({ code: 2, stderr: expect.stringMatching(/valid JSON/) });
    expect(await cli(['run', '--config', h.configPath, '--from', '2026-02-30'], h.env(), h.dir)).toMatchObject({ code: 2, stderr: expect.stringMatching(/--from "2026-02-30" is not a date/) });
    expect(await cli(['run', '--config', h.configPath, '--from', '2026-11-10', '--to', '2026-11-01'], h.env(), h.dir)).toMatchObject({ code: 2 });
    expect(await cli(['run', '--config', h.configPath, '--kinds', 'recordings'], h.env(), h.dir)).toMatchObject({ code: 2, stderr: expect.stringMatching(/--kinds "recordings" is not a kind/) });
    const env = { ...h.env(), ZOOM_CLIENT_SECRET: '' };
    expect(await cli(['run', '--config', h.configPath], env, h.dir)).toMatchObject({ code: 2, stderr: expect.stringMatching(/ZOOM_CLIENT_SECRET/) });
    expect(existsSync(h.ledgerPath)).toBe(false);
  });

  it('exits 3 naming the variables to check when Zoom refuses the credentials, without printing the secret', async () => {
    const h = (current = await harness());
    const env = { ...h.env(), ZOOM_CLIENT_SECRET: 'wrong-secret-value-1234' };
    const ran = await cli(['run', '--config', h.configPath, '--verbose'], env, h.dir);
    expect(ran.code).toBe(3);
    expect(ran.stderr).toMatch(/ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET/);
    const quiet = await cli(['run', '--config', h.configPath], env, h.dir);
    expect(quiet.code).toBe(3);
    expect(quiet.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^zcc-reconcile: run \d+ exit 3: .*ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET/)]);
    expect(ran.stderr + ran.stdout).not.toContain('wrong-secret-value-1234');
  });

  it('exits 4 when another run holds the ledger', async () => {
    const h = (current = await harness());
    h.sandbox.faults.add({ label: 'download' }, { type: 'slow', delayMs: 400 }, { times: Infinity });
    const first = h.run({ from: '2026-11-18', to: '2026-11-19' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await cli(['run', '--config', h.configPath, '--from', '2026-11-18', '--to', '2026-11-19'], h.env(), h.dir);
    expect(second.code).toBe(4);
    expect(second.stderr).toMatch(/another run holds the ledger \(pid \d+/);
    h.sandbox.faults.clear();
    expect((await first).exitCode).toBe(0);
  });
});
