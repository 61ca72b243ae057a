// What S3 and Azure Blob share: object names (a prefix + the dated layout) and how an artifact's metadata is kept
// on an object. Header values must be printable ASCII, so the full map travels as ASCII-escaped JSON and the
// readable fields as RFC 2047 encoded-words (the convention S3 documents) when they are not plain ASCII.
import { ConfigError, DestinationError } from '../errors.js';
import { objectPath, type ObjectAddress } from './paths.js';
import type { PutRequest } from './types.js';

/** Object metadata names; lowercase with `_` so they are valid on S3 (x-amz-meta-*) and Azure (C# identifiers). */
export const OBJECT_METADATA = {
  key: 'zcc_key',
  kind: 'zcc_kind',
  engagementId: 'zcc_engagement_id',
  sha256: 'zcc_sha256',
  metadata: 'zcc_metadata',
} as const;

/** `""` or `a/b/`: configured prefixes may omit the trailing slash. */
export function normalizePrefix(prefix: string | undefined): string {
  if (!prefix) return '';
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}

export function objectName(prefix: string, request: ObjectAddress): string {
  return prefix + objectPath(request);
}

/**
 * A location handed back by the engine (from the ledger), refused unless it is a plain object name under the
 * prefix: the destination then never reads or deletes outside its own part of the bucket or container.
 */
export function checkLocation(destination: string, prefix: string, location: string): string {
  const rest = location.startsWith(prefix) ? location.slice(prefix.length) : null;
  const ok =
    rest !== null &&
    Buffer.byteLength(location) <= 1024 &&
    rest.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..' && !/[\u0000-\u001f\u007f\\]/.test(segment));
  if (!ok) throw new DestinationError(destination, `location ${JSON.stringify(location)} is not an object under ${JSON.stringify(prefix)}`);
  return location;
}

/** The metadata stored on an object; `sha256` when it is known before the object is committed. */
export function objectMetadata(request: PutRequest, sha256?: string): Record<string, string> {
  return {
    [OBJECT_METADATA.key]: headerSafe(request.key),
    [OBJECT_METADATA.kind]: headerSafe(request.kind),
    [OBJECT_METADATA.engagementId]: headerSafe(request.engagementId),
    ...(sha256 ? { [OBJECT_METADATA.sha256]: sha256 } : {}),
    [OBJECT_METADATA.metadata]: asciiJson(request.metadata),
  };
}

/** The request's metadata map back from an object's stored metadata (names may come back in another case). */
export function requestMetadataOf(stored: Record<string, string> | undefined): Record<string, string> {
  const entry = Object.entries(stored ?? {}).find(([name]) => name.toLowerCase() === OBJECT_METADATA.metadata);
  if (!entry) return {};
  const parsed: unknown = JSON.parse(entry[1]);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
  return Object.fromEntries(Object.entries(parsed).filter((pair): pair is [string, string] => typeof pair[1] === 'string'));
}

/** JSON with every character outside printable ASCII escaped, so it is a valid header value as it stands. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[^\u0020-\u007e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A value as is when it is printable ASCII without edge spaces, else an RFC 2047 encoded-word. */
export function headerSafe(value: string): string {
  const plain = /^[\u0021-\u007e]([\u0020-\u007e]*[\u0021-\u007e])?$/.test(value) && !value.startsWith('=?');
  return plain ? value : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

export function fromHeaderSafe(value: string): string {
  const match = /^=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=$/i.exec(value);
  return match ? Buffer.from(match[1] ?? '', 'base64').toString('utf8') : value;
}

/** Link lifetimes: S3 presigned URLs cannot outlive 7 days, and Azure SAS links are held to the same. */
export const MAX_LINK_SECONDS = 7 * 86_400;

export function checkLinkLifetime(destination: string, seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_LINK_SECONDS) {
    throw new ConfigError(`link lifetime of destination ${destination}`, seconds, `whole seconds from 1 to ${MAX_LINK_SECONDS} (7 days)`);
  }
  return seconds;
}
