// Dataverse's answers parsed at the edge (a missing field is an error here, not three calls later), and the base64
// text of a note's file decoded as it streams.
import { Transform, type TransformCallback } from 'node:stream';

export interface PhoneCallRow {
  activityid: string;
  subject?: string | null;
}

export interface AnnotationRow {
  annotationid: string;
  notetext?: string | null;
  isdocument?: boolean;
  filesize?: number | null;
  _objectid_value?: string | null;
}

export function parsePhoneCall(body: string): PhoneCallRow {
  const row = JSON.parse(body) as Partial<PhoneCallRow>;
  if (typeof row.activityid !== 'string') throw new Error('no activityid');
  return { activityid: row.activityid, subject: row.subject ?? null };
}

export function parseMaxUpload(body: string): number {
  const rows = (JSON.parse(body) as { value?: { maxuploadfilesize?: unknown }[] }).value;
  const value = rows?.[0]?.maxuploadfilesize;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new Error('no maxuploadfilesize');
  return value;
}

export function parseContinuationToken(body: string): string {
  const token = (JSON.parse(body) as { FileContinuationToken?: unknown }).FileContinuationToken;
  if (typeof token !== 'string' || token === '') throw new Error('no FileContinuationToken');
  return token;
}

export function parseContactIds(body: string): string[] {
  const rows = (JSON.parse(body) as { value?: { contactid?: unknown }[] }).value;
  if (!Array.isArray(rows)) throw new Error('no value array');
  return rows.map((row) => row.contactid).filter((id): id is string => typeof id === 'string');
}

/** base64 text → bytes, as it streams (4 characters at a time; whitespace ignored). */
export class Base64Decoder extends Transform {
  private carry = '';

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const text = this.carry + chunk.toString('latin1').replace(/\s+/g, '');
    const usable = text.length - (text.length % 4);
    this.carry = text.slice(usable);
    callback(null, Buffer.from(text.slice(0, usable), 'base64'));
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.carry ? Buffer.from(this.carry, 'base64') : undefined);
  }
}
