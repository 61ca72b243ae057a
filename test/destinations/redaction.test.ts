// A destination's secret lives in an environment variable the config names (here MY_BLOB_KEY, which does not look
// like a secret by its name): the CLI's redactor must hide its value in every line a failing run writes.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../commands/helpers.js';
import { harness, type Harness } from '../support/harness.js';

const ACCOUNT = 'zccblobaccount';
// Base64, as an account key is; long enough to be redacted, short of any other value in the output.
const ACCOUNT_KEY = 'bXktYmxvYi1rZXktdGhhdC1tdXN0LXN0YXktaGlkZGVu/Zk9+q==';

let h: Harness | null = null;
let store: Server | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
  await new Promise<void>((resolve) => (store ? store.close(() => resolve()) : resolve()));
  store = null;
});

/** A blob endpoint that refuses every request with an error whose message repeats the account key. */
async function leakyBlobStore(): Promise<string> {
  store = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(403, { 'content-type': 'application/xml', 'x-ms-error-code': 'AuthenticationFailed' });
      res.end(
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code>' +
          `<Message>Server failed to authenticate the request with key ${ACCOUNT_KEY}</Message></Error>`,
      );
    });
  });
  await new Promise<void>((resolve) => store!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(store.address() as AddressInfo).port}/${ACCOUNT}`;
}

describe('destination secrets in CLI output', () => {
  it('never prints the value of a custom accountKeyEnv in --verbose --log-format json output of a failing run', async () => {
    const endpoint = await leakyBlobStore();
    h = await harness({
      config: {
        destinations: [
          {
            name: 'blobs',
            type: 'azure-blob',
            container: 'zcc',
            endpoint,
            connectionStringEnv: 'MY_BLOB_CONNECTION',
            accountEnv: 'MY_BLOB_ACCOUNT',
            accountKeyEnv: 'MY_BLOB_KEY',
            sasTokenEnv: 'MY_BLOB_SAS',
          },
        ],
      },
    });
    const env = { ...h.env(), MY_BLOB_ACCOUNT: ACCOUNT, MY_BLOB_KEY: ACCOUNT_KEY };
    const ran = await cli(['--verbose', '--log-format', 'json', 'run', '--config', h.configPath, '--from', '2026-11-19', '--to', '2026-11-19'], env, h.dir);
    expect(ran.code).toBe(1);
    const output = ran.stdout + ran.stderr;
    for (const spelling of [ACCOUNT_KEY, JSON.stringify(ACCOUNT_KEY).slice(1, -1), encodeURIComponent(ACCOUNT_KEY)]) {
      expect(output).not.toContain(spelling);
    }
    // The store's message did reach the log: each failed artifact's reason carries it, with the key redacted.
    const records = ran.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { event: string; destination?: string; reason?: string });
    const failed = records.filter((record) => record.event === 'artifact_failed');
    expect(failed.length).toBeGreaterThan(0);
    for (const record of failed) {
      expect(record.destination).toBe('blobs');
      expect(record.reason).toContain('Server failed to authenticate the request with key [redacted]');
    }
  });
});
