// The azure-blob destination against Azurite on loopback, through a proxy that logs and fails requests.
import { Readable } from 'node:stream';
import { AccountSASPermissions, AccountSASResourceTypes, AccountSASServices, generateAccountSASQueryParameters, StorageSharedKeyCredential } from '@azure/storage-blob';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig, type DestinationConfig } from '../../src/config.js';
import { AzureBlobDestination, azureContainerClient, azureCredentialsFromEnv, type AzureBlobDestinationOptions } from '../../src/destinations/azure-blob.js';
import { createDestination } from '../../src/destinations/index.js';
import { ConfigError } from '../../src/errors.js';
import { bodyOf, destinationConformance, sampleRequest, sha256, sha256Of } from './conformance.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type Azurite } from './servers/azurite.js';
import type { ProxiedRequest } from './servers/fault-proxy.js';

const MiB = 1024 * 1024;
const CONTAINER = 'zcc-test';
let azurite: Azurite;
let serial = 0;

beforeAll(async () => {
  azurite = await startAzurite();
  await azurite.container(CONTAINER).create();
});
afterAll(async () => {
  await azurite?.close();
});
afterEach(() => {
  azurite.proxy.faults.length = 0;
  vi.unstubAllEnvs();
});

function azure(options: Partial<AzureBlobDestinationOptions> = {}): AzureBlobDestination {
  serial += 1;
  return new AzureBlobDestination({
    name: 'blobs',
    container: azurite.container(CONTAINER),
    prefix: `t${serial}/zcc`,
    blockSizeBytes: 2 * MiB,
    ...options,
  });
}

function patterned(size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let offset = 0; offset + 4 <= size; offset += 4096) out.writeUInt32BE(offset ^ 0x5a5a5a5a, offset);
  return out;
}

function chunked(content: Buffer): Readable {
  return Readable.from((function* () {
    for (let offset = 0; offset < content.length; offset += 256 * 1024) yield content.subarray(offset, offset + 256 * 1024);
  })());
}

/** `content` in 256 KiB chunks, then `error` instead of the end (a download that breaks). */
function failingAfter(content: Buffer, error: Error): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < content.length; offset += 256 * 1024) chunks.push(content.subarray(offset, offset + 256 * 1024));
  return new Readable({
    read() {
      const next = chunks.shift();
      if (next) this.push(next);
      else setImmediate(() => this.destroy(error));
    },
  });
}

/** 256 KiB chunks for ever; `onRead` is called before each one. */
function endless(onRead: () => void): Readable {
  const chunk = patterned(256 * 1024);
  return new Readable({
    read() {
      onRead();
      setImmediate(() => this.push(chunk));
    },
  });
}

const since = (from: number): ProxiedRequest[] => azurite.proxy.requests.slice(from);
const comp = (value: string) => (request: ProxiedRequest): boolean => request.method === 'PUT' && request.query.get('comp') === value;

function azureConfig(extra: Record<string, unknown> = {}): Extract<DestinationConfig, { type: 'azure-blob' }> {
  const config = parseConfig({ destinations: [{ name: 'blobs', type: 'azure-blob', container: CONTAINER, prefix: 'env', ...extra }] });
  const destination = config.destinations[0];
  if (destination?.type !== 'azure-blob') throw new Error('not an azure-blob config');
  return destination;
}

destinationConformance('azure-blob', async () => ({ destination: azure(), cleanup: async () => {} }), { partBytes: 2 * MiB });

describe('AzureBlobDestination against Azurite', () => {
  it('stores content type and metadata on one-shot and streamed block uploads, sha256 on one-shot ones', async () => {
    const destination = azure({ prefix: 'archive' });
    const note = sampleRequest({ key: 'note/Eng001/N1', kind: 'note', extension: 'txt', contentType: 'text/plain; charset=utf-8', metadata: { agent: 'Zoë' } });
    const { location } = await destination.put(note, bodyOf('Rückruf'));
    expect(location).toBe('archive/2026/03/14/Eng001/note-N1.txt');
    const properties = await azurite.container(CONTAINER).getBlobClient(location).getProperties();
    expect(properties.contentType).toBe('text/plain; charset=utf-8');
    expect(properties.metadata).toEqual({
      zcc_key: 'note/Eng001/N1',
      zcc_kind: 'note',
      zcc_engagement_id: 'Eng001',
      zcc_sha256: sha256('Rückruf'),
      zcc_metadata: '{"agent":"Zo\\u00eb"}',
    });

    const content = patterned(5 * MiB + 3);
    const media = sampleRequest({ size: content.length });
    const from = azurite.proxy.requests.length;
    const stored = await destination.put(media, chunked(content));
    expect(since(from).filter(comp('block')).map((request) => request.bytes)).toEqual([2 * MiB, 2 * MiB, MiB + 3]);
    expect(since(from).filter(comp('blocklist'))).toHaveLength(1);
    const blob = azurite.container(CONTAINER).getBlobClient(stored.location);
    const streamed = await blob.getProperties();
    expect(streamed.contentType).toBe('video/mp4');
    // uploadStream takes the metadata before it reads the body, so a streamed blob carries no sha256 (the ledger has it).
    expect(streamed.metadata).toEqual({
      zcc_key: media.key,
      zcc_kind: 'recording',
      zcc_engagement_id: 'Eng001',
      zcc_metadata: '{"engagementId":"Eng001","kind":"recording"}',
    });
    expect(await sha256Of(await destination.read(stored.location))).toBe(sha256(content));
  });

  it('a connection that stalls without a reset fails the put after the request timeout, instead of waiting for ever', async () => {
    // Its own client: the timeout goes on the pipeline a container client and the clients it makes share.
    const container = azureContainerClient({ type: 'connection-string', connectionString: azurite.connectionString }, CONTAINER);
    const destination = azure({ container, requestTimeoutMs: 500 });
    azurite.proxy.faults.push({ match: (entry) => entry.method === 'PUT', action: { stallAfterBytes: 0 } });
    const started = Date.now();
    await expect(destination.put(sampleRequest({ size: 5 }), bodyOf('hello'))).rejects.toThrow(/abort|timed out|cancel/i);
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 40_000);

  it('a server failing mid-upload commits nothing and leaves the earlier copy', async () => {
    const destination = azure();
    const request = sampleRequest();
    const { location } = await destination.put(request, bodyOf('complete copy'));
    let staged = 0;
    // The first block goes through; the second (and its retries) are cut 64 KiB in.
    azurite.proxy.faults.push({ match: (entry) => comp('block')(entry) && ++staged >= 2, action: { resetAfterBytes: 64 * 1024 } });
    const from = azurite.proxy.requests.length;
    await expect(destination.put(request, chunked(patterned(7 * MiB)))).rejects.toThrow(request.key);
    expect(since(from).filter(comp('blocklist'))).toEqual([]);
    expect(since(from).some((entry) => entry.outcome === 'reset')).toBe(true);
    expect(await destination.stat(request)).toMatchObject({ location, size: 13 });
    expect(await sha256Of(await destination.read(location))).toBe(sha256('complete copy'));
    const blocks = await azurite.container(CONTAINER).getBlockBlobClient(location).getBlockList('committed');
    expect(blocks.committedBlocks ?? []).toEqual([]);
  });

  it('a body that fails after some blocks are staged: rejects with its own error and commits nothing', async () => {
    const destination = azure();
    const request = sampleRequest();
    const { location } = await destination.put(request, bodyOf('complete copy'));
    const from = azurite.proxy.requests.length;
    const failure = await destination.put(request, failingAfter(patterned(7 * MiB), new Error('download reset at 7 MiB'))).catch((error: unknown) => error);
    expect((failure as Error).message).toBe(`blobs: ${request.key}: download reset at 7 MiB`);
    expect(((failure as Error).cause as Error).message).toBe('download reset at 7 MiB');
    expect(since(from).filter(comp('block')).length).toBeGreaterThanOrEqual(1);
    expect(since(from).filter(comp('blocklist'))).toEqual([]);
    expect(await destination.stat(request)).toMatchObject({ location, size: 13 });
    expect(await sha256Of(await destination.read(location))).toBe(sha256('complete copy'));
  });

  it('an abort signal after some blocks are staged: rejects, stops reading the body, commits nothing', async () => {
    const destination = azure();
    const request = sampleRequest();
    const controller = new AbortController();
    const from = azurite.proxy.requests.length;
    const body = endless(() => {
      if (since(from).filter(comp('block')).length >= 2) controller.abort(new Error('run stopped'));
    });
    await expect(destination.put(request, body, controller.signal)).rejects.toThrow(request.key);
    expect(body.destroyed).toBe(true);
    expect(since(from).filter(comp('block')).length).toBeGreaterThanOrEqual(2);
    expect(since(from).filter(comp('blocklist'))).toEqual([]);
    expect(await destination.stat(request)).toBeNull();
  });

  it('hands out a SAS link that plain HTTP can fetch, and refuses lifetimes over 7 days', async () => {
    const destination = azure();
    const content = patterned(300_000);
    const { location } = await destination.put(sampleRequest(), bodyOf(content));
    const link = await destination.link(location, 600);
    expect(new URL(link).searchParams.get('sp')).toBe('r');
    const response = await fetch(link);
    expect(response.status).toBe(200);
    expect(sha256(Buffer.from(await response.arrayBuffer()))).toBe(sha256(content));
    const tampered = new URL(link);
    tampered.searchParams.set('sp', 'rw');
    expect((await fetch(tampered)).status).toBe(403);
    await expect(destination.link(location, 8 * 86_400)).rejects.toThrow(ConfigError);
  });

  it('with linkPolicy, links are SAS under the container\'s stored access policy: removing the policy revokes them', async () => {
    const container = azurite.container(CONTAINER);
    const policy = `zcc-read-${serial + 1}`;
    await container.setAccessPolicy(undefined, [
      { id: policy, accessPolicy: { permissions: 'r', startsOn: new Date(Date.now() - 60_000), expiresOn: new Date(Date.now() + 365 * 86_400_000) } },
    ]);
    const destination = azure({ linkPolicy: policy });
    const content = patterned(50_000);
    const { location } = await destination.put(sampleRequest(), bodyOf(content));
    const link = new URL(await destination.link(location));
    expect(link.searchParams.get('si')).toBe(policy);
    expect(link.searchParams.get('se')).toBeNull();
    const response = await fetch(link);
    expect(response.status).toBe(200);
    expect(sha256(Buffer.from(await response.arrayBuffer()))).toBe(sha256(content));
    await container.setAccessPolicy(undefined, []);
    expect((await fetch(link)).status).toBe(403);
  });

  it('refuses to read or remove outside its prefix', async () => {
    const destination = azure({ prefix: 'mine' });
    for (const location of ['other/x.mp4', 'mine/../other/x', 'mine/', 'mine//x']) {
      await expect(destination.read(location)).rejects.toThrow(/not an object under/);
      await expect(destination.remove(location)).rejects.toThrow(/not an object under/);
    }
  });
});

describe('azure-blob credentials from the environment', () => {
  it('prefers a connection string, then account + key, then a SAS token, and names the variables when none is set', () => {
    const config = azureConfig({ endpoint: 'https://acct.blob.core.windows.net' });
    expect(azureCredentialsFromEnv(config, { AZURE_STORAGE_CONNECTION_STRING: 'cs', AZURE_STORAGE_KEY: 'k', AZURE_STORAGE_ACCOUNT: 'a' })).toEqual({
      type: 'connection-string',
      connectionString: 'cs',
    });
    expect(azureCredentialsFromEnv(config, { AZURE_STORAGE_ACCOUNT: 'a', AZURE_STORAGE_KEY: 'k', AZURE_STORAGE_SAS_TOKEN: 's' })).toMatchObject({ type: 'shared-key' });
    expect(azureCredentialsFromEnv(config, { AZURE_STORAGE_SAS_TOKEN: '?sv=1&sig=x' })).toEqual({
      type: 'sas',
      sasToken: 'sv=1&sig=x',
      endpoint: 'https://acct.blob.core.windows.net',
    });
    expect(azureCredentialsFromEnv(azureConfig(), { AZURE_STORAGE_ACCOUNT: 'acct', AZURE_STORAGE_KEY: 'k' })).toMatchObject({
      endpoint: 'https://acct.blob.core.windows.net',
    });
    const renamed = azureConfig({ connectionStringEnv: 'ARCHIVE_AZURE', accountEnv: 'ARCHIVE_ACCOUNT', accountKeyEnv: 'ARCHIVE_KEY', sasTokenEnv: 'ARCHIVE_SAS' });
    expect(() => azureCredentialsFromEnv(renamed, { AZURE_STORAGE_CONNECTION_STRING: 'ignored' })).toThrow(
      /ARCHIVE_AZURE, or ARCHIVE_ACCOUNT with ARCHIVE_KEY, or ARCHIVE_SAS with ARCHIVE_ACCOUNT or "endpoint"/,
    );
  });

  it('a connection string through the registry', async () => {
    vi.stubEnv('AZURE_STORAGE_CONNECTION_STRING', azurite.connectionString);
    const destination = await createDestination(azureConfig());
    const { location } = await destination.put(sampleRequest(), bodyOf('via a connection string'));
    expect(location.startsWith('env/')).toBe(true);
    expect(await destination.link?.(location)).toContain('sig=');
  });

  it('a SAS token through the registry: it can write, but cannot mint links', async () => {
    const sas = generateAccountSASQueryParameters(
      {
        expiresOn: new Date(Date.now() + 3_600_000),
        permissions: AccountSASPermissions.parse('rwdlc'),
        resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
        services: AccountSASServices.parse('b').toString(),
      },
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    ).toString();
    vi.stubEnv('AZURE_STORAGE_CONNECTION_STRING', '');
    vi.stubEnv('AZURE_STORAGE_SAS_TOKEN', sas);
    const destination = await createDestination(azureConfig({ endpoint: azurite.endpoint }));
    const request = sampleRequest();
    const { location } = await destination.put(request, bodyOf('via a SAS token'));
    expect((await destination.stat(request))?.size).toBe(15);
    await expect(destination.link?.(location)).rejects.toThrow(/account key/);
  });
});
