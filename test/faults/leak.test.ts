// Secrets stay put: a run with a recognisable client secret, --verbose JSON logs, a destination that fails and a
// hostile download host (a listed URL and a redirect) leaks neither the secret nor any access token to output, the
// ledger or the files, and the hostile host hears nothing. The ledger and temp files are private (0600).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redactor } from '../../src/redact.js';
import { harness, listFiles } from '../support/harness.js';
import { ensureBuild, sleep, startCli } from './child.js';
import { failedRows, fetchPage, ledgerText } from './support.js';

const CANARY = `s3cr3t-LEAK-canary-${randomBytes(6).toString('hex')}`;
const DAY = 86_400_000;
const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
const BOUNDS = { from: isoDate(today - 3 * DAY), to: isoDate(today - 2 * DAY) };

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A download host that is not Zoom's: it records every request and what headers it carried. */
async function hostileHost(): Promise<{ host: string; requests: { url: string; headers: IncomingHttpHeaders }[] }> {
  const requests: { url: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': 4 });
    res.end('fake');
  });
  return { host: await listen(server), requests };
}

/** The token endpoint, through a proxy that notes every access token Zoom hands out (to search for them later). */
async function tokenProxy(target: string): Promise<{ url: string; tokens: string[] }> {
  const tokens: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const name of ['authorization', 'content-type']) if (typeof req.headers[name] === 'string') headers[name] = req.headers[name];
      fetch(`${target}${req.url?.replace(/^\/oauth\/token/, '') ?? ''}`, { method: 'POST', headers, body: Buffer.concat(chunks) }).then(
        async (answer) => {
          const text = await answer.text();
          const token = (JSON.parse(text) as { access_token?: string }).access_token;
          if (token) tokens.push(token);
          res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
          res.end(text);
        },
        () => res.destroy(),
      );
    });
  });
  return { url: `http://${await listen(server)}/oauth/token`, tokens };
}

function everyFile(root: string): string[] {
  return listFiles(root).map((file) => path.join(root, file));
}

beforeAll(() => ensureBuild(), 120_000);

describe('secrets and hostile hosts', () => {
  it('leaks neither the client secret nor a token, sends nothing to a foreign host, and keeps its files 0600', async () => {
    const h = await harness({
      now: () => new Date(),
      engagementsPerDay: 12,
      credentials: { accountId: 'leak-test-account-01', clientId: 'leakTestClientId01', clientSecret: CANARY },
    });
    closers.push(() => h.close());
    const hostile = await hostileHost();
    const proxy = await tokenProxy(h.sandbox.oauthTokenUrl);

    // A listing whose first recording points at the hostile host (file and transcript), served on every listing.
    const chunk = { from: `${BOUNDS.from}T00:00:00Z`, to: `${isoDate(Date.parse(BOUNDS.to) + DAY)}T00:00:00Z` };
    const page = await fetchPage(h.sandbox, '/contact_center/recordings', { ...chunk, query_date_type: 'recording_end_time', page_size: '300' });
    const recordings = page.recordings as Record<string, unknown>[];
    const lured = recordings[0]!;
    lured.download_url = `http://${hostile.host}/v2/contact_center/recording/download/lured?type=voice`;
    lured.transcript_url = `http://${hostile.host}/v2/contact_center/recording/transcripts/download/lured`;
    h.sandbox.faults.add({ operationId: 'listRecordings' }, { type: 'malformed', body: JSON.stringify(page) }, { times: Infinity });
    // A Zoom download that redirects to the hostile host.
    h.sandbox.faults.add({ operationId: 'downloadRecordingTranscript' }, { type: 'redirect', location: `http://${hostile.host}/redirected` }, { times: 1 });
    // Slow bodies, so temp files live long enough to be seen.
    h.sandbox.faults.add({ operationId: 'downloadRecording' }, { type: 'slowBody', bytesPerSecond: 40_000 }, { times: 2 });

    // A second destination that fails every write: its date folder is a regular file.
    const broken = path.join(h.dir, 'broken');
    mkdirSync(broken);
    writeFileSync(path.join(broken, BOUNDS.from.slice(0, 4)), 'not a folder');
    const config = JSON.parse(readFileSync(h.configPath, 'utf8')) as Record<string, unknown>;
    config.zoom = { ...(config.zoom as object), oauthTokenUrl: proxy.url };
    config.destinations = [
      { name: 'archive', type: 'filesystem', path: './archive' },
      { name: 'broken', type: 'filesystem', path: './broken' },
    ];
    const configPath = path.join(h.dir, 'leak.json');
    writeFileSync(configPath, JSON.stringify(config, null, 2));

    const child = startCli(['--verbose', '--log-format', 'json', 'run', '--config', configPath, '--from', BOUNDS.from, '--to', BOUNDS.to], h.env(), h.dir);
    // Temp files as the run writes them: their mode, and their size when seen with any other mode than 0600.
    const temps = new Map<string, { modes: Set<number>; sizeWhenOpened?: number }>();
    let finished = false;
    void child.exited.then(() => (finished = true));
    while (!finished) {
      for (const file of everyFile(h.archive).filter((name) => name.endsWith('.partial'))) {
        const stats = statSync(file, { throwIfNoEntry: false });
        if (!stats) continue;
        const seen = temps.get(file) ?? { modes: new Set<number>() };
        seen.modes.add(stats.mode & 0o777);
        if ((stats.mode & 0o777) !== 0o600) seen.sizeWhenOpened = stats.size;
        temps.set(file, seen);
      }
      await sleep(5);
    }
    const ran = await child.exited;

    expect(ran.code).toBe(1);
    expect(proxy.tokens.length).toBeGreaterThan(0);
    const secrets = [CANARY, ...proxy.tokens];

    // Nothing reached the hostile host: not the listed URLs, not the redirect.
    expect(hostile.requests).toEqual([]);
    // The refusals are failed artifacts whose reason names the host: the lured recording and its transcript (at both
    // destinations, each fetches its own copy) and the one transcript whose download was redirected.
    const refusals = failedRows(h.ledgerPath).filter((row) => row.last_error?.includes(hostile.host));
    const luredKeys = [`recording/${String(lured.recording_id)}`, `recording_transcript/${String(lured.recording_id)}`];
    expect(refusals.filter((row) => luredKeys.includes(row.key)).map((row) => `${row.destination} ${row.key}`).sort()).toEqual(
      ['archive', 'broken'].flatMap((destination) => luredKeys.map((key) => `${destination} ${key}`)).sort(),
    );
    expect(refusals.filter((row) => !luredKeys.includes(row.key)).map((row) => row.key.split('/')[0])).toEqual(['recording_transcript']);
    for (const row of refusals) expect(row.last_error).toMatch(/refused to send the Zoom token to http:\/\/127\.0\.0\.1:\d+/);
    expect(failedRows(h.ledgerPath).filter((row) => row.destination === 'broken').length).toBeGreaterThan(5);

    // The JSON log shows the refusals too, and every line of it is JSON.
    const logLines = ran.stderr.split('\n').filter((line) => line.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(10);
    for (const line of logLines) JSON.parse(line);
    expect(ran.stderr).toContain(hostile.host);

    // No secret anywhere: output, ledger (its bytes and its rows), any file the run wrote.
    const files = everyFile(h.dir);
    for (const secret of secrets) {
      expect(ran.stdout).not.toContain(secret);
      expect(ran.stderr).not.toContain(secret);
      expect(ledgerText(h.ledgerPath)).not.toContain(secret);
      for (const file of files) expect(readFileSync(file).includes(secret), `${file} holds a secret`).toBe(false);
    }
    expect(files.some((file) => file.endsWith('ledger.sqlite'))).toBe(true);

    // Private files: the ledger (and its WAL) and every temp file seen while the run wrote.
    for (const file of [h.ledgerPath, `${h.ledgerPath}-wal`].filter((name) => existsSync(name))) {
      expect((statSync(file).mode & 0o777).toString(8), file).toBe('600');
    }
    // A temp file is 0600 while it is written; it gets the destination's file mode only once whole, just before its
    // rename, so any other mode was seen only on a temp file already as long as the file it became.
    expect([...temps.values()].filter((temp) => temp.modes.has(0o600)).length).toBeGreaterThan(0);
    // A staged temp file names its final file by a tag of its location (see stagedPath in src/destinations/filesystem.ts).
    const finalByTag = new Map(
      everyFile(h.archive)
        .filter((file) => !file.endsWith('.partial'))
        .map((file) => [createHash('sha256').update(path.relative(h.archive, file).split(path.sep).join('/')).digest('hex').slice(0, 12), file]),
    );
    for (const [file, temp] of temps) {
      if (temp.sizeWhenOpened === undefined) continue;
      const tag = /\.([0-9a-f]{12})\.[0-9a-f]{8}-\d+\.[0-9a-f]{16}\.partial$/.exec(file)?.[1] ?? '';
      const final = finalByTag.get(tag);
      expect(final, `${file} names a final file`).toBeDefined();
      expect(temp.sizeWhenOpened, `${file} was wider than 0600 before it was whole`).toBe(statSync(final ?? '').size);
    }
  });

  it('refuses a destination whose folder is a regular file in one line (exit 2), without printing the secret', async () => {
    const h = await harness({ credentials: { accountId: 'leak-test-account-02', clientId: 'leakTestClientId02', clientSecret: CANARY } });
    closers.push(() => h.close());
    writeFileSync(path.join(h.dir, 'blocker'), 'a file, not a folder');
    const config = JSON.parse(readFileSync(h.configPath, 'utf8')) as Record<string, unknown>;
    config.destinations = [{ name: 'archive', type: 'filesystem', path: './blocker' }];
    const configPath = path.join(h.dir, 'blocked.json');
    writeFileSync(configPath, JSON.stringify(config));
    const ran = await startCli(['run', '--config', configPath, '--from', '2026-11-18', '--to', '2026-11-18'], h.env(), h.dir).exited;
    expect(ran.code).toBe(2);
    expect(ran.stderr.trim().split('\n')).toHaveLength(1);
    expect(ran.stderr).toMatch(/blocker.*folder/);
    expect(ran.stderr + ran.stdout).not.toContain(CANARY);
  });

  it('redacts a secret however a log line spells it: as is, JSON-escaped, URL-encoded, as a bearer token', () => {
    const secret = 'p\\a"ss/wo rd+1';
    const redact = redactor({ ZOOM_CLIENT_SECRET: secret, HOME: '/home/x' });
    const line = JSON.stringify({ message: `got ${secret}`, url: `https://x.test/?s=${encodeURIComponent(secret)}`, auth: 'Bearer eyJhbGciOi.abc.def' });
    const redacted = redact(line);
    expect(redacted).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect(redacted).not.toContain(encodeURIComponent(secret));
    expect(redacted).not.toContain('eyJhbGciOi');
    expect(redacted.match(/\[redacted\]/g)).toHaveLength(3);
    expect(redact('/home/x is not a secret')).toBe('/home/x is not a secret');
  });
});
