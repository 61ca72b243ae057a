// Deterministic Dataverse ids: a UUIDv5 of our key makes `PATCH /<set>(<id>)` a true upsert, so a write repeated
// after a crash lands on the same row instead of a second one.
import { createHash } from 'node:crypto';

/** Our own UUIDv5 namespace (any fixed UUID will do; changing it would orphan every row written before). */
export const ZCC_NAMESPACE = '0b6f4a52-3c1d-4e8a-9d27-5f1c8e3a7b60';

/** RFC 9562 UUID version 5 (SHA-1) of `name` in `namespace`. */
export function uuidV5(name: string, namespace = ZCC_NAMESPACE): string {
  const hash = createHash('sha1').update(Buffer.from(namespace.replace(/-/g, ''), 'hex')).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The engagement's key as an alternate-key value: Dataverse cannot address a key value holding / < > * % & : \ ? +
 * in a URL, so those (and ' and the escape mark ~) become ~XX; the mapping is one-to-one.
 */
export function recordKeyOf(engagementId: string): string {
  return `zcc-${engagementId.replace(/[/<>*%&:\\?+'~]/g, (char) => `~${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)}`;
}

/** The engagement id back from `recordKeyOf`'s value, or null when it is not one. */
export function engagementIdOf(recordKey: string): string | null {
  if (!recordKey.startsWith('zcc-')) return null;
  return recordKey.slice(4).replace(/~([0-9A-F]{2})/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: string): boolean {
  return GUID.test(value);
}

/** Largest raw file whose base64 text fits `base64Chars` (Dataverse measures maxuploadfilesize on the base64). */
export function rawBytesFitting(base64Chars: number): number {
  return Math.floor(base64Chars / 4) * 3;
}
