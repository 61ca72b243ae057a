// A CRM that links to our stored copy (`linkFrom`) rather than holding files: the run stores each recording and
// voicemail in S3 (s3rver on loopback) first, and the CRM record gets a presigned link to exactly that object. Over
// the CRM's size limit a file is linked without the CRM's copy; with `attach: link` the CRM fetches nothing at all.
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../destinations/servers/s3.js';
import { startZendeskFake, type ZendeskFake } from '../destinations/servers/crm/zendesk.js';
import { harness, NOW, type Harness } from '../support/harness.js';

const DAY = 86_400_000;
const MEDIA = new Set(['recording', 'voicemail']);

let s3: S3Server;
let crm: ZendeskFake;
let h: Harness | null = null;

beforeEach(async () => {
  [s3, crm] = await Promise.all([startS3Server('zcc-links'), startZendeskFake({ fileLimitBytes: 600_000 })]);
  vi.stubEnv('AWS_ACCESS_KEY_ID', S3RVER_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', S3RVER_CREDENTIALS.secretAccessKey);
  for (const [name, value] of Object.entries(crm.env())) vi.stubEnv(name, value);
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await h?.close();
  h = null;
  await Promise.all([s3.close(), crm.close()]);
});

async function setup(attach: Record<string, string>): Promise<Harness> {
  return harness({
    seed: 5,
    engagementsPerDay: 5,
    days: 3,
    mediaBytes: { min: 100_000, max: 1_200_000 },
    config: {
      destinations: [
        // Listed after the CRM on purpose: the engine still stores the copy before the CRM links to it.
        crm.destinationConfig('crm', { linkFrom: 'media', linkLifetime: 'PT2H', attach }),
        { name: 'media', type: 's3', bucket: s3.bucket, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, kinds: ['recording', 'voicemail'] },
      ],
    },
  });
}

/** Every link the CRM holds, by artifact key. */
function linksByKey(): Map<string, string> {
  const links = new Map<string, string>();
  for (const text of crm.records().flatMap((record) => record.texts)) {
    const url = /https?:\/\/\S+/.exec(text.text)?.[0];
    if (url && MEDIA.has(text.key.split('/')[0]!)) links.set(text.key, url);
  }
  return links;
}

describe('CRM links to the stored copy (linkFrom)', () => {
  it('files over the limit are linked to their S3 copy; the link fetches exactly the recording', async () => {
    h = await setup({});
    const window = { from: new Date(NOW.getTime() - 2 * DAY), to: NOW };
    const result = await h.run({ from: window.from.toISOString(), to: window.to.toISOString() });
    expect(result.exitCode, result.tally.failures.map((failure) => failure.reason).join('\n')).toBe(0);
    const media = h.sandbox.truth.artifacts(window).filter((artifact) => MEDIA.has(artifact.kind));
    const over = media.filter((artifact) => artifact.size > 600_000);
    const under = media.filter((artifact) => artifact.size <= 600_000);
    expect(over.length).toBeGreaterThan(0);
    expect(under.length).toBeGreaterThan(0);
    const links = linksByKey();
    expect([...links.keys()].sort()).toEqual(over.map((artifact) => artifact.key).sort());
    for (const artifact of over) {
      const link = new URL(links.get(artifact.key)!);
      expect(link.origin).toBe(new URL(s3.endpoint).origin);
      expect(link.searchParams.get('X-Amz-Expires')).toBe('7200');
      const response = await fetch(link);
      expect(response.status).toBe(200);
      expect(createHash('sha256').update(Buffer.from(await response.arrayBuffer())).digest('hex')).toBe(artifact.sha256);
    }
    const files = crm.records().flatMap((record) => record.files);
    expect(files.map((file) => file.key).sort()).toEqual(under.map((artifact) => artifact.key).sort());
  });

  it('attach "link": the CRM gets links only, and no download is made for it', async () => {
    h = await setup({ recording: 'link', voicemail: 'link' });
    const window = { from: new Date(NOW.getTime() - 2 * DAY), to: NOW };
    const result = await h.run({ from: window.from.toISOString(), to: window.to.toISOString() });
    expect(result.exitCode).toBe(0);
    const media = h.sandbox.truth.artifacts(window).filter((artifact) => MEDIA.has(artifact.kind));
    expect([...linksByKey().keys()].sort()).toEqual(media.map((artifact) => artifact.key).sort());
    expect(crm.records().flatMap((record) => record.files)).toEqual([]);
    // One download per downloaded artifact: media for the S3 copy, transcripts for the CRM. The links cost none.
    const downloaded = h.sandbox.truth.artifacts(window).filter((artifact) => artifact.kind !== 'note' && artifact.kind !== 'disposition');
    expect(h.sandbox.stats.downloads).toBe(downloaded.length);
  });
});
