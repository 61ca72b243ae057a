// s3rver (a real S3 server from npm) in a child process on loopback, behind the fault proxy, with a client that
// lists what the bucket really holds.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { startChild } from './child.mjs';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';

/** s3rver's built-in account; it checks the access key id. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface S3Server {
  /** Through the proxy (logged, faults on demand). */
  endpoint: string;
  /** s3rver itself, for tests that measure this process's memory (the proxy's buffers would blur it). */
  directEndpoint: string;
  bucket: string;
  proxy: FaultProxy;
  client: S3Client;
  /** Every key in the bucket, sorted. */
  keys(): Promise<string[]>;
  metadata(key: string): Promise<Record<string, string>>;
  close(): Promise<void>;
}

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 's3rver-main.mjs');

export async function startS3Server(bucket = 'zcc-test'): Promise<S3Server> {
  const dir = await mkdtemp(path.join(tmpdir(), 'zcc-s3rver-'));
  const child = await startChild([MAIN, dir, bucket], /listening (\d+)/);
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: child.port });
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${child.port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint: proxy.url,
    directEndpoint: `http://127.0.0.1:${child.port}`,
    bucket,
    proxy,
    client,
    keys: async () => {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
        token = page.NextContinuationToken;
      } while (token);
      return keys.sort();
    },
    metadata: async (key) => (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).Metadata ?? {},
    close: async () => {
      client.destroy();
      await proxy.close();
      await child.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
