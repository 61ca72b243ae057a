// Any S3-compatible store: objects named <prefix><YYYY>/<MM>/<DD>/<engagementId>/<leaf>. Uploads go through
// lib-storage's Upload: a body of up to one part as one PutObject, a larger one as a streamed multipart upload (at most
// uploadConcurrency parts in flight). The body is read one part ahead first, so that a body which fits in one part is
// handed over whole and its PutObject carries its sha256 in metadata. A multipart upload's metadata is fixed by
// CreateMultipartUpload, before the bytes are seen, so it carries no sha256 (the ledger has it, and verify re-hashes;
// adding it afterwards would take a CopyObject of the whole object). A failed multipart upload is aborted, and an
// incomplete one is never an object, so a failure leaves an earlier copy untouched.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type PutObjectCommandInput,
  S3Client,
  type S3ClientConfig,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Duration } from 'luxon';
import { Readable } from 'node:stream';
import type { S3DestinationConfig } from '../config-schema.js';
import { DestinationError } from '../errors.js';
import { meterBody, readHead } from './body.js';
import { checkLinkLifetime, checkLocation, normalizePrefix, objectMetadata, objectName, requestMetadataOf } from './object-store.js';
import type { ObjectAddress } from './paths.js';
import type { Destination, PutRequest, PutResult, StoredObject } from './types.js';

const MiB = 1024 * 1024;
const MAX_PARTS = 10_000;

type Encryption = Pick<PutObjectCommandInput, 'ServerSideEncryption' | 'SSEKMSKeyId'>;

/** What went wrong in one put: the first failure (the one to report) and a failed AbortMultipartUpload. */
interface Failure {
  first?: { error: unknown };
  abort?: { error: unknown };
}

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
  /**
   * At least 5 MiB (S3's minimum part); default 5 MiB. lib-storage allocates each part afresh and V8 collects those
   * buffers lazily, so larger parts cost more than their size: a 1 GiB stream peaked at 136-148 MiB RSS with 5 MiB
   * parts and 168-180 MiB with 8 MiB (bench/destinations-memory.mjs).
   */
  partSizeBytes?: number;
  /** Parts in flight at once per upload (lib-storage's queueSize); memory is about (uploadConcurrency + 1) × part size. Default 2. */
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
    this.partSize = Math.max(5 * MiB, options.partSizeBytes ?? 5 * MiB);
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
    // A failing body or the caller's signal ends the body stream (`stop`): lib-storage takes that as a failed upload,
    // lets its uploaders settle, aborts the multipart upload, and only then rejects. Not `upload.abort()`: in this
    // lib-storage it makes done() reject at once while requests go on behind it (a single PutObject in flight still
    // stores the object, aws/aws-sdk-js-v3#5109; the AbortMultipartUpload is sent after done() has rejected).
    // `cancel` stops this put's PutObject and UploadPart requests in flight, to which lib-storage passes no signal.
    const cancel = new AbortController();
    const failure: Failure = {};
    const stop = (error: unknown): void => {
      if (cancel.signal.aborted) return;
      failure.first ??= { error };
      cancel.abort(error);
      meter.destroy();
    };
    const onAbort = (): void => stop(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    meter.once('error', stop);
    let upload: Upload | undefined;
    try {
      // A body too large for 10,000 parts of the configured size gets larger parts (when its size is known).
      const partSize = Math.max(this.partSize, Math.ceil((request.size ?? 0) / MAX_PARTS / MiB) * MiB);
      const head = await readHead(meter, partSize);
      upload = new Upload({
        client: this.uploadClient(cancel.signal, failure, stop),
        params: {
          ...this.target(key, request),
          // Whole when it fits in one part: lib-storage then sends one PutObject, and the sha256 is already known.
          Body: head.ended ? Buffer.concat(head.chunks) : head.rest,
          Metadata: objectMetadata(request, head.ended ? meter.sha256 : undefined),
        },
        partSize,
        queueSize: this.queueSize,
        leavePartsOnError: false,
      });
      await upload.done();
      return { location: key };
    } catch (error) {
      const failed = this.putFailure(request, failure, upload?.uploadId, error);
      stop(error);
      throw failed;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      meter.off('error', stop);
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
   * The client as this put's Upload sees it: PutObject and UploadPart requests get the put's cancel signal; a failed
   * request stops the whole put at once (the body stops being read, the other parts in flight are cancelled) and is
   * kept as the error to report. lib-storage aborts the multipart upload after a failure, once the parts in flight
   * have settled, and then throws the abort's own error if that fails: it is kept apart, so the cause stays the
   * original failure. CreateMultipartUpload is not cancelled (an upload it creates can then be aborted), nor is
   * CompleteMultipartUpload (once every part is up, completing leaves a whole, correct object), nor the abort.
   */
  private uploadClient(cancel: AbortSignal, failure: Failure, stop: (error: unknown) => void): S3Client {
    const client = this.client;
    const send = async (command: Parameters<S3Client['send']>[0], options?: { abortSignal?: AbortSignal }): Promise<unknown> => {
      const cancellable = !(
        command instanceof CreateMultipartUploadCommand ||
        command instanceof CompleteMultipartUploadCommand ||
        command instanceof AbortMultipartUploadCommand
      );
      try {
        return await client.send(command, cancellable ? { ...options, abortSignal: cancel } : options);
      } catch (error) {
        if (command instanceof AbortMultipartUploadCommand) failure.abort = { error };
        else stop(error);
        throw error;
      }
    };
    return new Proxy(client, { get: (target, property, receiver) => (property === 'send' ? send : Reflect.get(target, property, receiver)) });
  }

  /** The original failure; if aborting the multipart upload failed too, the message says so (the cause stays the original). */
  private putFailure(request: PutRequest, failure: Failure, uploadId: string | undefined, thrown: unknown): DestinationError {
    const error = failure.first ? failure.first.error : thrown;
    if (error instanceof DestinationError) return error;
    const aborted =
      failure.abort && failure.abort.error !== error
        ? `; aborting multipart upload ${uploadId ?? '(unknown)'} failed too (${errorText(failure.abort.error)}): ` +
          'a bucket lifecycle rule AbortIncompleteMultipartUpload removes it'
        : '';
    return new DestinationError(this.name, `${request.key}: ${errorText(error)}${aborted}`, { cause: error });
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
