// Azure Blob Storage: block blobs named <prefix><YYYY>/<MM>/<DD>/<engagementId>/<leaf> in one container. The body is
// read one block ahead: a body that fits in one block goes up as one Put Blob carrying its sha256 in metadata; a
// larger one streams through BlockBlobClient.uploadStream (blocks staged with at most uploadConcurrency in flight, then
// one Put Block List that sets content type and metadata). That metadata is handed over before the bytes are read, so
// a streamed blob carries no sha256 (the ledger has it, and verify re-hashes; setting it afterwards with Set Blob
// Metadata would leave a window, or after a crash a blob, where the content is there and the metadata is not).
// Uncommitted blocks never show as a blob (Azure drops them after a week), so a failed upload leaves an earlier copy
// untouched.
import { Readable } from 'node:stream';
import {
  BlobSASPermissions,
  BlobServiceClient,
  type BlockBlobClient,
  type ContainerClient,
  RestError,
  SASProtocol,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { Duration } from 'luxon';
import type { AzureBlobDestinationConfig } from '../config-schema.js';
import { ConfigError, DestinationError } from '../errors.js';
import { meterBody, readHead, wholeBody } from './body.js';
import { checkLinkLifetime, checkLocation, normalizePrefix, objectMetadata, objectName, requestMetadataOf } from './object-store.js';
import type { ObjectAddress } from './paths.js';
import type { Destination, PutRequest, PutResult, StoredObject } from './types.js';

const MiB = 1024 * 1024;

export type AzureCredentials =
  | { type: 'connection-string'; connectionString: string }
  | { type: 'shared-key'; account: string; accountKey: string; endpoint: string }
  | { type: 'sas'; sasToken: string; endpoint: string };

/** Connection string, else account + key, else SAS token: each read from the variable the config names. */
export function azureCredentialsFromEnv(config: AzureBlobDestinationConfig, env: NodeJS.ProcessEnv): AzureCredentials {
  const connectionString = env[config.connectionStringEnv];
  if (connectionString) return { type: 'connection-string', connectionString };
  const account = env[config.accountEnv];
  const endpoint = config.endpoint ?? (account ? `https://${account}.blob.core.windows.net` : undefined);
  const accountKey = env[config.accountKeyEnv];
  if (account && accountKey && endpoint) return { type: 'shared-key', account, accountKey, endpoint };
  const sasToken = env[config.sasTokenEnv];
  if (sasToken && endpoint) return { type: 'sas', sasToken: sasToken.replace(/^\?/, ''), endpoint };
  throw new ConfigError(
    `environment of destination ${config.name}`,
    undefined,
    `${config.connectionStringEnv}, or ${config.accountEnv} with ${config.accountKeyEnv}, or ${config.sasTokenEnv} ` +
      `with ${config.accountEnv} or "endpoint"`,
  );
}

export function azureContainerClient(credentials: AzureCredentials, container: string): ContainerClient {
  switch (credentials.type) {
    case 'connection-string':
      return BlobServiceClient.fromConnectionString(credentials.connectionString).getContainerClient(container);
    case 'shared-key': {
      const key = new StorageSharedKeyCredential(credentials.account, credentials.accountKey);
      return new BlobServiceClient(credentials.endpoint, key).getContainerClient(container);
    }
    case 'sas':
      return new BlobServiceClient(`${credentials.endpoint.replace(/\?.*$/, '')}?${credentials.sasToken}`).getContainerClient(container);
  }
}

export interface AzureBlobDestinationOptions {
  name: string;
  container: ContainerClient;
  prefix?: string;
  /** Default 8 MiB. */
  blockSizeBytes?: number;
  /** Blocks in flight at once per upload (uploadStream's maxConcurrency, also its number of buffers); memory is about
   * (uploadConcurrency + 1) × block size. Default 2. */
  uploadConcurrency?: number;
  linkLifetimeSeconds?: number;
  /**
   * A stored access policy on the container (its identifier): links are SAS under it, so they carry no lifetime or
   * permissions of their own and all of them are revoked at once by changing or removing the policy.
   */
  linkPolicy?: string;
  /** How long one request may wait for its answer, its body sent included (default 120 s, as the s3 destination). */
  requestTimeoutMs?: number;
}

/** The part of the SDK's HTTP pipeline (@azure/core-rest-pipeline) this destination adds a policy to. */
interface CorePipeline {
  addPolicy(policy: { name: string; sendRequest(request: { timeout: number }, next: (request: { timeout: number }) => Promise<unknown>): Promise<unknown> }): void;
  getOrderedPolicies(): { name: string }[];
}

const REQUEST_TIMEOUT_POLICY = 'zccRequestTimeout';

/**
 * Gives every request of the container's clients a timeout. The SDK sets none (its tryTimeoutInMs only asks the
 * service to give up), so a connection that stalls without a reset kept a put waiting for ever, and with it the run
 * and its lock. The policy goes on the pipeline the container and the clients it makes share.
 */
function limitRequestTime(container: ContainerClient, timeoutMs: number): void {
  const pipeline = (container as unknown as { storageClientContext?: { pipeline?: CorePipeline } }).storageClientContext?.pipeline;
  if (!pipeline) throw new Error('@azure/storage-blob: no HTTP pipeline to give a request timeout to (the SDK changed)');
  if (pipeline.getOrderedPolicies().some((policy) => policy.name === REQUEST_TIMEOUT_POLICY)) return;
  pipeline.addPolicy({
    name: REQUEST_TIMEOUT_POLICY,
    sendRequest: (request, next) => {
      if (!(request.timeout > 0)) request.timeout = timeoutMs;
      return next(request);
    },
  });
}

export class AzureBlobDestination implements Destination {
  readonly type = 'azure-blob';
  readonly name: string;
  readonly prefix: string;
  readonly container: ContainerClient;
  private readonly blockSize: number;
  private readonly concurrency: number;
  private readonly linkLifetimeSeconds: number;
  private readonly linkPolicy: string | undefined;

  static fromConfig(config: AzureBlobDestinationConfig, env: NodeJS.ProcessEnv): AzureBlobDestination {
    return new AzureBlobDestination({
      name: config.name,
      container: azureContainerClient(azureCredentialsFromEnv(config, env), config.container),
      prefix: config.prefix,
      blockSizeBytes: config.blockSizeMiB * MiB,
      uploadConcurrency: config.uploadConcurrency,
      linkLifetimeSeconds: Duration.fromISO(config.linkLifetime).as('seconds'),
      linkPolicy: config.linkPolicy,
    });
  }

  constructor(options: AzureBlobDestinationOptions) {
    this.name = options.name;
    this.container = options.container;
    limitRequestTime(this.container, options.requestTimeoutMs ?? 120_000);
    this.prefix = normalizePrefix(options.prefix);
    this.blockSize = Math.max(1, options.blockSizeBytes ?? 8 * MiB);
    this.concurrency = options.uploadConcurrency ?? 2;
    this.linkLifetimeSeconds = checkLinkLifetime(this.name, Math.round(options.linkLifetimeSeconds ?? 3600));
    this.linkPolicy = options.linkPolicy;
  }

  async put(request: PutRequest, body: Readable, signal?: AbortSignal): Promise<PutResult> {
    let blob: BlockBlobClient;
    let name: string;
    try {
      signal?.throwIfAborted();
      name = objectName(this.prefix, request);
      blob = this.container.getBlockBlobClient(name);
    } catch (error) {
      body.destroy();
      throw error;
    }
    const meter = meterBody(body, request.size, signal);
    const headers = { blobContentType: request.contentType };
    let rest: Readable | undefined;
    try {
      const head = await readHead(meter, this.blockSize, request.size);
      rest = head.rest;
      if (head.ended) {
        const bytes = wholeBody(head);
        await blob.upload(bytes, bytes.length, { metadata: objectMetadata(request, meter.sha256), blobHTTPHeaders: headers, abortSignal: signal });
      } else {
        // uploadStream rejects at the body's first error or the first block that fails (its error, as it is) and
        // then commits nothing. It passes no abort signal to the blocks it stages: those in flight finish on their
        // own, uncommitted, and Azure discards them.
        await blob.uploadStream(rest, this.blockSize, this.concurrency, { metadata: objectMetadata(request), blobHTTPHeaders: headers, abortSignal: signal });
      }
      return { location: name };
    } catch (error) {
      // uploadStream only pauses the body it gave up on.
      rest?.destroy();
      meter.destroy();
      throw new DestinationError(this.name, `${request.key}: ${errorText(error)}`, { cause: error });
    }
  }

  async stat(request: ObjectAddress): Promise<StoredObject | null> {
    const name = objectName(this.prefix, request);
    try {
      const properties = await this.container.getBlobClient(name).getProperties();
      return { location: name, size: properties.contentLength ?? 0, metadata: requestMetadataOf(properties.metadata) };
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return null;
      throw new DestinationError(this.name, `${request.key}: ${errorText(error)}`, { cause: error });
    }
  }

  async read(location: string): Promise<Readable> {
    const name = checkLocation(this.name, this.prefix, location);
    const download = await this.container.getBlobClient(name).download().catch((error: unknown) => {
      throw new DestinationError(this.name, `${name}: ${errorText(error)}`, { cause: error });
    });
    const stream = download.readableStreamBody;
    if (!stream) throw new DestinationError(this.name, `${name}: the service sent no body`);
    return stream instanceof Readable ? stream : new Readable().wrap(stream);
  }

  async remove(location: string): Promise<void> {
    const name = checkLocation(this.name, this.prefix, location);
    await this.container.getBlobClient(name).deleteIfExists({ deleteSnapshots: 'include' });
  }

  /**
   * A read-only SAS URL; minting one needs the account key (connection string with AccountKey, or account + key).
   * With `linkPolicy` the SAS names the container's stored access policy, which sets its permissions and expiry.
   */
  async link(location: string, lifetimeSeconds: number = this.linkLifetimeSeconds): Promise<string> {
    const seconds = checkLinkLifetime(this.name, lifetimeSeconds);
    const blob = this.container.getBlobClient(checkLocation(this.name, this.prefix, location));
    if (!(blob.credential instanceof StorageSharedKeyCredential)) {
      throw new DestinationError(this.name, 'links need the storage account key; a SAS token cannot mint new links');
    }
    if (this.linkPolicy) return blob.generateSasUrl({ identifier: this.linkPolicy, protocol: protocolOf(blob.url) });
    return blob.generateSasUrl({
      permissions: BlobSASPermissions.parse('r'),
      expiresOn: new Date(Date.now() + seconds * 1000),
      protocol: protocolOf(blob.url),
    });
  }

  async close(): Promise<void> {}
}

function protocolOf(url: string): SASProtocol {
  return url.startsWith('https:') ? SASProtocol.Https : SASProtocol.HttpsAndHttp;
}

function errorText(error: unknown): string {
  if (error instanceof RestError) return `${error.code ?? 'error'}: ${error.message.split('\n')[0]}${error.statusCode ? ` (HTTP ${error.statusCode})` : ''}`;
  return error instanceof Error ? error.message : String(error);
}
