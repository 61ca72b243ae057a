// A full reconciliation against the sandbox into two destinations at once: media and transcripts to S3 (s3rver),
// notes and dispositions to an HTTP endpoint. Each artifact reaches each destination that takes its kind exactly
// once, a second run pushes nothing, and an upload the store cuts off is not recorded as delivered.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SqliteLedger } from '../../src/ledger/sqlite.js';
import { startRecordingServer, type RecordingServer } from '../destinations/servers/recording-server.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../destinations/servers/s3.js';
import type { ProxiedRequest } from '../destinations/servers/fault-proxy.js';
import { harness, NOW, type Harness } from '../support/harness.js';

const DAY = 86_400_000;
const MiB = 1024 * 1024;
const MEDIA = ['recording', 'recording_transcript', 'messaging_transcript', 'voicemail', 'voicemail_transcript'];
const CRM = ['note', 'disposition'];

let s3: S3Server;
let hook: RecordingServer;
let h: Harness | null = null;

beforeEach(async () => {
  [s3, hook] = await Promise.all([startS3Server('zcc-media'), startRecordingServer()]);
  // The destinations are built by the registry from config, so their secrets come from the environment.
  vi.stubEnv('AWS_ACCESS_KEY_ID', S3RVER_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', S3RVER_CREDENTIALS.secretAccessKey);
  vi.stubEnv('HTTP_DEST_TOKEN', 'e2e-token');
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await h?.close();
  h = null;
  await Promise.all([s3.close(), hook.close()]);
});

async function twoDestinations(): Promise<Harness> {
  return harness({
    // One recording a day is 12 MiB, so some uploads are multipart (5 MiB parts).
    largeRecordings: { bytes: 12 * MiB, perDay: 1 },
    config: {
      destinations: [
        {
          name: 'media',
          type: 's3',
          kinds: MEDIA,
          bucket: s3.bucket,
          prefix: 'zcc',
          region: 'us-east-1',
          endpoint: s3.endpoint,
          forcePathStyle: true,
          partSizeMiB: 5,
        },
        {
          name: 'crm-hook',
          type: 'http',
          kinds: CRM,
          url: `${hook.url}/engagements/{engagementId}/{kind}/{key}`,
          headers: { Authorization: 'Bearer ${HTTP_DEST_TOKEN}' },
        },
      ],
    },
  });
}

/** Each write that creates an object version in the bucket: a PutObject or a CreateMultipartUpload, by object key. */
function s3WritesByKey(requests: readonly ProxiedRequest[]): Map<string, number> {
  const writes = new Map<string, number>();
  for (const request of requests) {
    const starts = (request.method === 'PUT' && !request.query.has('partNumber')) || (request.method === 'POST' && request.query.has('uploads'));
    if (!starts) continue;
    const key = request.path.replace(`/${s3.bucket}/`, '');
    writes.set(key, (writes.get(key) ?? 0) + 1);
  }
  return writes;
}

/** Object key by the artifact key stored in its metadata. */
async function objectsByArtifact(): Promise<Map<string, string>> {
  const objects = new Map<string, string>();
  for (const key of await s3.keys()) objects.set((await s3.metadata(key)).zcc_key ?? '', key);
  return objects;
}

async function s3Sha256(key: string): Promise<string> {
  const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return createHash('sha256').update(Buffer.from(await object.Body!.transformToByteArray())).digest('hex');
}

describe('a run into S3 and HTTP at once', () => {
  it('delivers each artifact to each destination that takes its kind exactly once, then nothing', async () => {
    h = await twoDestinations();
    const window = { from: new Date(NOW.getTime() - 3 * DAY), to: NOW };
    const first = await h.run({ from: window.from.toISOString(), to: window.to.toISOString() });
    expect(first.exitCode).toBe(0);
    const truth = h.sandbox.truth.artifacts(window);
    const media = truth.filter((artifact) => MEDIA.includes(artifact.kind));
    const crm = truth.filter((artifact) => CRM.includes(artifact.kind));
    expect(new Set(media.map((artifact) => artifact.kind)).size).toBe(5);
    expect(new Set(crm.map((artifact) => artifact.kind)).size).toBe(2);
    expect(media.filter((artifact) => artifact.size > 5 * MiB).length).toBeGreaterThan(0);
    expect(first.tally.total('delivered')).toBe(truth.length);

    // S3: one object per media artifact, written once, with the right bytes; nothing else in the bucket.
    const keys = await s3.keys();
    expect(keys).toHaveLength(media.length);
    const byArtifact = await objectsByArtifact();
    expect([...byArtifact.keys()].sort()).toEqual(media.map((artifact) => artifact.key).sort());
    const writes = s3WritesByKey(s3.proxy.requests);
    expect([...writes.keys()].sort()).toEqual(keys);
    expect([...writes.values()].every((count) => count === 1)).toBe(true);
    for (const artifact of media) expect(await s3Sha256(byArtifact.get(artifact.key)!)).toBe(artifact.sha256);
    expect(s3.proxy.requests.some((request) => request.query.has('partNumber'))).toBe(true);

    // HTTP: one stored PUT per note and disposition, named by its Idempotency-Key (key#version), with the bearer from
    // the env.
    const artifactOf = (idempotencyKey: string) => idempotencyKey.replace(/#[0-9a-f]{16}$/, '');
    const stores = hook.storesByKey();
    expect([...stores.keys()].every((key) => /#[0-9a-f]{16}$/.test(key))).toBe(true);
    expect([...stores.keys()].map(artifactOf).sort()).toEqual(crm.map((artifact) => artifact.key).sort());
    expect([...stores.values()].every((count) => count === 1)).toBe(true);
    const puts = hook.requests.filter((request) => request.method === 'PUT');
    expect(puts).toHaveLength(crm.length);
    expect(puts.every((request) => request.headers.authorization === 'Bearer e2e-token')).toBe(true);
    for (const artifact of crm) {
      const put = puts.find((request) => artifactOf(String(request.headers['idempotency-key'])) === artifact.key)!;
      const body = JSON.parse(await readFile(hook.stored.get(put.url)!.file, 'utf8')) as { note?: string; disposition_name?: string };
      expect(artifact.kind === 'note' ? body.note : body.disposition_name).toBe(artifact.text);
    }

    const s3Requests = s3.proxy.requests.length;
    const second = await h.run({ from: window.from.toISOString(), to: window.to.toISOString() });
    expect(second.exitCode).toBe(0);
    expect(second.tally.total('delivered')).toBe(0);
    expect(second.tally.total('unchanged')).toBe(truth.length);
    expect(s3WritesByKey(s3.proxy.requests.slice(s3Requests)).size).toBe(0);
    expect(hook.requests.filter((request) => request.method === 'PUT')).toHaveLength(crm.length);
  });

  it('an upload the store cuts off is not recorded as delivered, and the next run delivers it once', async () => {
    h = await twoDestinations();
    const window = { from: new Date(NOW.getTime() - DAY), to: NOW };
    // Every second part of every multipart upload is reset partway through, retries included.
    s3.proxy.faults.push({ match: (request) => request.query.get('partNumber') === '2', action: { resetAfterBytes: MiB } });
    const first = await h.run({ from: window.from.toISOString(), to: window.to.toISOString() });
    expect(first.exitCode).toBe(1);
    const large = h.sandbox.truth.artifacts(window).filter((artifact) => artifact.size > 5 * MiB);
    expect(large.length).toBeGreaterThan(0);
    const failed = first.tally.failures.map((failure) => failure.key).sort();
    expect(failed).toEqual(large.map((artifact) => artifact.key).sort());
    const ledger = SqliteLedger.open(h.ledgerPath, { readonly: true });
    try {
      const states = ledger.deliveryStates('media', failed);
      expect([...states.values()].map((state) => state.status)).toEqual(failed.map(() => 'failed'));
    } finally {
      ledger.close();
    }
    expect([...(await objectsByArtifact()).keys()].filter((key) => failed.includes(key))).toEqual([]);

    s3.proxy.faults.length = 0;
    const delivered: string[] = [];
    const second = await h.run({
      from: window.from.toISOString(),
      to: window.to.toISOString(),
      onEvent: (event) => event.type === 'delivered' && delivered.push(event.key),
    });
    expect(second.exitCode).toBe(0);
    expect(delivered.sort()).toEqual(failed);
    const completes = s3.proxy.requests.filter((request) => request.method === 'POST' && request.query.has('uploadId'));
    expect(completes).toHaveLength(large.length);
    const objects = await objectsByArtifact();
    for (const artifact of large) expect(await s3Sha256(objects.get(artifact.key) ?? '(missing)')).toBe(artifact.sha256);
  });
});
