// The dated layout shared by destinations that store files or object keys: <YYYY>/<MM>/<DD>/<engagementId>/<leaf>.
// Ids come from an untrusted API, so every segment is checked here, whatever the caller already checked.
import type { ArtifactKind } from '../artifacts.js';
import type { PutRequest } from './types.js';

export type ObjectAddress = Pick<PutRequest, 'key' | 'kind' | 'engagementId' | 'date' | 'extension'>;

export class UnsafeObjectPathError extends Error {
  override name = 'UnsafeObjectPathError';
  constructor(
    readonly field: string,
    readonly value: unknown,
    expected: string,
  ) {
    super(`refusing ${field} ${show(value)}: expected ${expected}`);
  }
}

/** Key shape per kind: how many segments, whether the 2nd is the engagement id, and the leaf name's stem. */
const KEY_SHAPES: Record<ArtifactKind, { segments: 2 | 3; engagementInKey: boolean; idInLeaf: boolean }> = {
  recording: { segments: 2, engagementInKey: false, idInLeaf: true },
  recording_transcript: { segments: 2, engagementInKey: false, idInLeaf: true },
  messaging_transcript: { segments: 2, engagementInKey: true, idInLeaf: false },
  note: { segments: 3, engagementInKey: true, idInLeaf: true },
  disposition: { segments: 3, engagementInKey: true, idInLeaf: true },
  voicemail: { segments: 2, engagementInKey: false, idInLeaf: true },
  voicemail_transcript: { segments: 2, engagementInKey: false, idInLeaf: true },
};

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const EXTENSION = /^[a-z0-9]{1,10}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The relative, deterministic location of an artifact, with `/` separators. */
export function objectPath(request: ObjectAddress): string {
  const [year, month, day] = checkDate(request.date);
  const engagementId = checkSegment('engagementId', request.engagementId);
  return `${year}/${month}/${day}/${engagementId}/${leafName(request)}`;
}

/** The file name of an artifact inside its engagement folder, e.g. `note-N1.txt`. */
export function leafName(request: ObjectAddress): string {
  const shape = Object.hasOwn(KEY_SHAPES, request.kind) ? KEY_SHAPES[request.kind] : undefined;
  if (!shape) throw new UnsafeObjectPathError('kind', request.kind, 'an artifact kind');
  const extension = request.extension;
  if (typeof extension !== 'string' || !EXTENSION.test(extension)) {
    throw new UnsafeObjectPathError('extension', extension, '1-10 characters of a-z 0-9');
  }
  const parts = typeof request.key === 'string' ? request.key.split('/') : [];
  const expectedKey = shape.segments === 3 ? `${request.kind}/<engagementId>/<id>` : `${request.kind}/<id>`;
  if (parts.length !== shape.segments || parts[0] !== request.kind) {
    throw new UnsafeObjectPathError('key', request.key, expectedKey);
  }
  parts.slice(1).forEach((part) => checkSegment('key segment', part));
  if (shape.engagementInKey && parts[1] !== request.engagementId) {
    throw new UnsafeObjectPathError('key', request.key, `${expectedKey} with engagementId ${show(request.engagementId)}`);
  }
  return shape.idInLeaf ? `${request.kind}-${parts[parts.length - 1]}.${extension}` : `${request.kind}.${extension}`;
}

/** One path segment: never empty, `.` or `..`, no separators, NUL or control characters, at most 128 characters. */
export function checkSegment(field: string, value: unknown): string {
  const ok =
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= 128 &&
    value !== '.' &&
    value !== '..' &&
    !value.includes('/') &&
    !value.includes('\\') &&
    !CONTROL.test(value);
  if (!ok) {
    throw new UnsafeObjectPathError(field, value, '1-128 characters, not "." or "..", without / \\ or control characters');
  }
  return value;
}

function checkDate(date: unknown): [string, string, string] {
  const match = typeof date === 'string' ? DATE.exec(date) : null;
  const time = match ? Date.parse(`${String(date)}T00:00:00Z`) : Number.NaN;
  // The round trip through Date rejects impossible days such as 2026-02-30.
  if (!match || Number.isNaN(time) || new Date(time).toISOString().slice(0, 10) !== date) {
    throw new UnsafeObjectPathError('date', date, 'a calendar date YYYY-MM-DD');
  }
  return [match[1] ?? '', match[2] ?? '', match[3] ?? ''];
}

function show(value: unknown): string {
  if (typeof value !== 'string') return `(${value === null ? 'null' : typeof value})`;
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return `${JSON.stringify(shown)}${value.length > 40 ? ` (${value.length} chars)` : ''}`;
}

/**
 * The location of a put, or a refusal that also releases the body: `put` owns its stream, so one it will never read
 * must be destroyed rather than left holding a download open.
 */
export function objectPathOrRelease(request: ObjectAddress, body: { destroy(): void }): string {
  try {
    return objectPath(request);
  } catch (error) {
    body.destroy();
    throw error;
  }
}
