// Any S3-compatible store: objects named <prefix><YYYY>/<MM>/<DD>/<engagementId>/<leaf>. A body that fits in one part
// (by its announced size, or, unannounced, read one part ahead) goes up whole as one PutObject whose metadata carries
// its sha256; a larger one as a streamed multipart upload (at most uploadConcurrency parts in flight), its parts copied
// into buffers that are reused (part-buffers.ts). A multipart upload's metadata is fixed by CreateMultipartUpload,
// before the bytes are seen, so it carries no sha256 (the ledger has it, and verify re-hashes; adding it afterwards
// would take a CopyObject of the whole object). A failed multipart upload is aborted once its parts in flight have
// settled, and an incomplete one is never an object, so a failure leaves an earlier copy untouched.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  type CompletedPart,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
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
import { meterBody, readHead, wholeBody } from './body.js';
import { fillParts, PartBuffers } from './part-buffers.js';
import { checkLinkLifetime, checkLocation, normalizePrefix, objectMetadata, objectName, requestMetadataOf } from './object-store.js';
import type { ObjectAddress } from './paths.js';
import type { Destination, PutRequest, PutResult, StoredObject } from './types.js';

const MiB = 1024 * 1024;
const MAX_PARTS = 10_000;

type Encryption = Pick<PutObjectCommandInput, 'ServerSideEncryption' | 'SSEKMSKeyId'>;
/** Where an object goes and what it is stored as. */
type ObjectTarget = { Bucket: string; Key: string; ContentType: string; Metadata?: Record<string, string> } & Encryption;

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
  /** At least 5 MiB (S3's minimum part); default 5 MiB. */
  partSizeBytes?: number;
  /** Parts in flight at once per upload; an upload holds (uploadConcurrency + 1) part buffers. Default 2. */
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
  /** Part buffers of the configured size, shared by this destination's uploads; one upload's worth is kept. */
  readonly parts: PartBuffers;
  private readonly uploadConcurrency: number;
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
    this.uploadConcurrency = options.uploadConcurrency ?? 2;
    this.parts = new PartBuffers(Math.max(5 * MiB, options.partSizeBytes ?? 5 * MiB), this.uploadConcurrency + 1);
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
    // A failing body or the caller's signal ends the body stream (`stop`) and cancels this put's PutObject and
    // UploadPart requests in flight; a multipart upload is then aborted once its parts in flight have settled.
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
    const upload: { id?: string } = {};
    try {
      const client = this.uploadClient(cancel.signal, failure, stop);
      const target = this.target(key, request);
      // A body too large for 10,000 parts of the configured size gets larger parts (when its size is known).
      const partSize = Math.max(this.parts.size, Math.ceil((request.size ?? 0) / MAX_PARTS / MiB) * MiB);
      const head = await readHead(meter, partSize, request.size);
      if (head.ended) {
        // Whole: one PutObject, and the sha256 is already known.
        await client.send(new PutObjectCommand({ ...target, Body: wholeBody(head), Metadata: objectMetadata(request, meter.sha256) }));
      } else {
        // Larger parts than configured get buffers of their own, reused within this upload only.
        const parts = partSize === this.parts.size ? this.parts : new PartBuffers(partSize, this.uploadConcurrency + 1, null);
        await this.multipart(client, { ...target, Metadata: objectMetadata(request, undefined) }, head.rest, parts, upload, stop);
      }
      return { location: key };
    } catch (error) {
      stop(error);
      throw this.putFailure(request, failure, upload.id, error);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      meter.off('error', stop);
    }
  }

  /**
   * Parts of `parts.size` go up at most `uploadConcurrency` at a time while the next one is read; the upload is completed
   * once every part is up, or aborted (after the parts in flight settled) when anything failed.
   */
  private async multipart(
    client: S3Client,
    target: ObjectTarget,
    body: AsyncIterable<Buffer>,
    parts: PartBuffers,
    upload: { id?: string },
    stop: (error: unknown) => void,
  ): Promise<void> {
    const created = await client.send(new CreateMultipartUploadCommand(target));
    const uploadId = created.UploadId;
    if (!uploadId) throw new Error('the store started a multipart upload without an UploadId');
    upload.id = uploadId;
    const address = { Bucket: target.Bucket, Key: target.Key, UploadId: uploadId };
    const completed: CompletedPart[] = [];
    const inFlight = new Set<Promise<void>>();
    let failed: { error: unknown } | undefined;
    try {
      let partNumber = 0;
      for await (const part of fillParts(body, parts)) {
        while (inFlight.size >= this.uploadConcurrency) await Promise.race(inFlight);
        if (failed) throw failed.error;
        const number = ++partNumber;
        if (number > MAX_PARTS) throw new Error(`the body needs more than ${MAX_PARTS} parts of ${parts.size} bytes`);
        const sending: Promise<void> = client
          .send(new UploadPartCommand({ ...address, PartNumber: number, Body: part.buffer.subarray(0, part.length) }))
          .then(
            (result) => {
              if (!result.ETag) throw new Error(`the store sent no ETag for part ${number}`);
              completed.push({ PartNumber: number, ETag: result.ETag });
              // The request is over, its body written: the buffer may take the next part.
              parts.give(part.buffer);
            },
          )
          .catch((error: unknown) => {
            failed ??= { error };
          })
          .finally(() => inFlight.delete(sending));
        inFlight.add(sending);
      }
      await Promise.all(inFlight);
      if (failed) throw failed.error;
      completed.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
      await client.send(new CompleteMultipartUploadCommand({ ...address, MultipartUpload: { Parts: completed } }));
    } catch (error) {
      // Stop reading and cancel the parts in flight, let them settle, then abort (a part still arriving after an
      // abort could leave storage behind); a failed abort is kept apart from the cause by uploadClient.
      stop(error);
      await Promise.allSettled(inFlight);
      await client.send(new AbortMultipartUploadCommand(address)).catch(() => undefined);
      throw error;
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

  private target(key: string, request: PutRequest): ObjectTarget {
    return { Bucket: this.bucket, Key: key, ContentType: request.contentType, ...this.encryption };
  }

  /**
   * The client as one put sees it: PutObject and UploadPart requests get the put's cancel signal; a failed request
   * stops the whole put at once (the body stops being read, the other parts in flight are cancelled) and is kept as
   * the error to report. A failed AbortMultipartUpload is kept apart, so the cause stays the original failure.
   * CreateMultipartUpload is not cancelled (an upload it creates can then be aborted), nor is
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
