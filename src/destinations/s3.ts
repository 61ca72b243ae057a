// Any S3-compatible store: objects named <prefix><YYYY>/<MM>/<DD>/<engagementId>/<leaf>. A body of up to one part
// goes up as one PutObject carrying its sha256 in metadata; a larger one streams as a multipart upload whose
// metadata is fixed before the first byte, so it carries no sha256 (the ledger has it, and verify re-hashes; adding
// it later would take a CopyObject of the whole object). A multipart upload that fails is aborted, and an
// incomplete one is never an object, so a failure leaves an earlier copy untouched.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  type ServerSideEncryption,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Duration } from 'luxon';
import { Readable } from 'node:stream';
import type { S3DestinationConfig } from '../config-schema.js';
import { DestinationError } from '../errors.js';
import { meterBody, readHead } from './body.js';
import { checkLinkLifetime, checkLocation, normalizePrefix, objectMetadata, objectName, requestMetadataOf } from './object-store.js';
import { uploadParts } from './parts.js';
import type { ObjectAddress } from './paths.js';
import type { Destination, PutRequest, PutResult, StoredObject } from './types.js';

const MiB = 1024 * 1024;
const MAX_PARTS = 10_000;

type Encryption = Pick<PutObjectCommand['input'], 'ServerSideEncryption' | 'SSEKMSKeyId'>;

export interface S3DestinationOptions {
  name: string;
  bucket: string;
  prefix?: string;
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Default: the AWS SDK's chain (AWS_* env vars, shared config and profile, SSO, container and instance roles). */
  credentials?: S3ClientConfig['credentials'];
  serverSideEncryption?: ServerSideEncryption;
  kmsKeyId?: string;
  /** At least 5 MiB (S3's minimum part); default 8 MiB. */
  partSizeBytes?: number;
  /** Parts in flight at once per upload; memory is (uploadConcurrency + 1) × part size. Default 2. */
  uploadConcurrency?: number;
  linkLifetimeSeconds?: number;
}

export class S3Destination implements Destination {
  readonly type = 's3';
  readonly name: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly encryption: Encryption;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly linkLifetimeSeconds: number;

  static fromConfig(config: S3DestinationConfig): S3Destination {
    return new S3Destination({
      name: config.name,
      bucket: config.bucket,
      prefix: config.prefix,
      region: config.region,
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle,
      serverSideEncryption: config.serverSideEncryption,
      kmsKeyId: config.kmsKeyId,
      partSizeBytes: config.partSizeMiB * MiB,
      uploadConcurrency: config.uploadConcurrency,
      linkLifetimeSeconds: Duration.fromISO(config.linkLifetime).as('seconds'),
    });
  }

  constructor(options: S3DestinationOptions) {
    this.name = options.name;
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix);
    this.partSize = Math.max(5 * MiB, options.partSizeBytes ?? 8 * MiB);
    this.queueSize = options.uploadConcurrency ?? 2;
    this.linkLifetimeSeconds = checkLinkLifetime(this.name, Math.round(options.linkLifetimeSeconds ?? 3600));
    this.encryption = {
      ...(options.serverSideEncryption ? { ServerSideEncryption: options.serverSideEncryption } : {}),
      ...(options.kmsKeyId ? { SSEKMSKeyId: options.kmsKeyId } : {}),
    };
    // On Node 20 the SDK prints a one-time notice about its future Node requirement; a cron run must stay quiet.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle ?? false,
      credentials: options.credentials,
      // Checksums only where the API demands them: many S3-compatible stores refuse the SDK's default CRC32
      // trailers, and integrity is ours to check (sha256 in the ledger, verify).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // An idle limit, not a total one: a large part on a slow link that keeps moving must not be cut.
      requestHandler: { connectionTimeout: 10_000, socketTimeout: 120_000 },
    });
  }

  async put(request: PutRequest, body: Readable, signal?: AbortSignal): Promise<PutResult> {
    let key: string;
    try {
      signal?.throwIfAborted();
      key = objectName(this.prefix, request);
    } catch (error) {
      body.destroy();
      throw error;
    }
    const meter = meterBody(body, request.size, signal);
    try {
      const head = await readHead(meter, this.partSize);
      if (head.ended) {
        const bytes = Buffer.concat(head.chunks);
        await this.client.send(
          new PutObjectCommand({
            ...this.target(key, request),
            Body: bytes,
            ContentLength: bytes.length,
            Metadata: objectMetadata(request, meter.sha256),
          }),
          { abortSignal: signal },
        );
      } else {
        await this.putMultipart(key, request, head.rest, signal);
      }
      return { location: key };
    } catch (error) {
      meter.destroy();
      throw error instanceof DestinationError ? error : this.failure(request, error);
    }
  }

  async stat(request: ObjectAddress): Promise<StoredObject | null> {
    const key = objectName(this.prefix, request);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { location: key, size: head.ContentLength ?? 0, metadata: requestMetadataOf(head.Metadata) };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw this.failure(request, error);
    }
  }

  async read(location: string): Promise<Readable> {
    const key = checkLocation(this.name, this.prefix, location);
    const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })).catch((error: unknown) => {
      throw new DestinationError(this.name, `${key}: ${errorText(error)}`, { cause: error });
    });
    if (!(object.Body instanceof Readable)) throw new DestinationError(this.name, `${key}: the store sent no body`);
    return object.Body;
  }

  async remove(location: string): Promise<void> {
    const key = checkLocation(this.name, this.prefix, location);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** A presigned GET; it dies early if the credentials that signed it are temporary and expire first. */
  async link(location: string, lifetimeSeconds: number = this.linkLifetimeSeconds): Promise<string> {
    const expiresIn = checkLinkLifetime(this.name, lifetimeSeconds);
    const key = checkLocation(this.name, this.prefix, location);
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn });
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private target(key: string, request: PutRequest): { Bucket: string; Key: string; ContentType: string } & Encryption {
    return { Bucket: this.bucket, Key: key, ContentType: request.contentType, ...this.encryption };
  }

  /**
   * Create, parts from a reused buffer pool (see parts.ts), complete. On any failure, the parts in flight settle
   * first and then the upload is aborted, so the abort is the last word on it; if the abort fails too, the error
   * says so and keeps the original cause.
   */
  private async putMultipart(key: string, request: PutRequest, body: Readable, signal: AbortSignal | undefined): Promise<void> {
    const created = await this.client.send(new CreateMultipartUploadCommand({ ...this.target(key, request), Metadata: objectMetadata(request) }), {
      abortSignal: signal,
    });
    const uploadId = created.UploadId;
    if (!uploadId) throw new DestinationError(this.name, `${request.key}: the store started a multipart upload without an UploadId`);
    const upload = { Bucket: this.bucket, Key: key, UploadId: uploadId };
    try {
      const etags: string[] = [];
      // A body too large for 10,000 parts of the configured size gets larger parts (when its size is known).
      const partSize = Math.max(this.partSize, Math.ceil((request.size ?? 0) / MAX_PARTS / MiB) * MiB);
      await uploadParts(body, { partSize, concurrency: this.queueSize, maxParts: MAX_PARTS }, async (bytes, partNumber) => {
        const part = await this.client.send(
          new UploadPartCommand({ ...upload, PartNumber: partNumber, Body: bytes, ContentLength: bytes.length }),
          { abortSignal: signal },
        );
        if (!part.ETag) throw new Error(`part ${partNumber}: the store sent no ETag`);
        etags[partNumber - 1] = part.ETag;
      });
      // Not abortable: once every part is up, completing is quick and leaves a whole, correct object.
      await this.client.send(
        new CompleteMultipartUploadCommand({ ...upload, MultipartUpload: { Parts: etags.map((ETag, index) => ({ ETag, PartNumber: index + 1 })) } }),
      );
    } catch (error) {
      body.destroy();
      const aborted = await this.client.send(new AbortMultipartUploadCommand(upload)).then(
        () => '',
        (abortError: unknown) =>
          `; aborting multipart upload ${uploadId} failed too (${errorText(abortError)}): a bucket lifecycle rule ` +
          'AbortIncompleteMultipartUpload removes it',
      );
      throw new DestinationError(this.name, `${request.key}: ${errorText(error)}${aborted}`, { cause: error });
    }
  }

  private failure(request: Pick<PutRequest, 'key'>, error: unknown): DestinationError {
    return new DestinationError(this.name, `${request.key}: ${errorText(error)}`, { cause: error });
  }
}

function isNotFound(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  const name = (error as { name?: string } | null)?.name;
  return status === 404 || name === 'NotFound' || name === 'NoSuchKey';
}

/** The store's error code and message, without the request details the SDK may attach. */
function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const code = error.name && error.name !== 'Error' ? `${error.name}: ` : '';
  return `${code}${error.message}${status ? ` (HTTP ${status})` : ''}`;
}
