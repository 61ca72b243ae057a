// The edge of ServiceNow's REST answers: `{"result": ...}` envelopes parsed into typed rows, encoded queries built
// with their values escaped, and the location strings this destination hands out.
import { DestinationError } from '../../errors.js';

/** A row as the Table or Attachment API returns it: every value a string (references flattened). */
export type Row = Record<string, string>;

export function parseResultList(body: string): Row[] {
  const result = resultOf(body);
  if (!Array.isArray(result)) throw new Error('ServiceNow answered without a "result" list');
  return result.map(toRow);
}

export function parseResultObject(body: string): Row {
  const result = resultOf(body);
  if (!result || typeof result !== 'object' || Array.isArray(result)) throw new Error('ServiceNow answered without a "result" object');
  return toRow(result);
}

function resultOf(body: string): unknown {
  const parsed: unknown = JSON.parse(body);
  return parsed && typeof parsed === 'object' && 'result' in parsed ? (parsed as { result: unknown }).result : undefined;
}

function toRow(value: unknown): Row {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('ServiceNow answered with a row that is not an object');
  const row: Row = {};
  for (const [field, raw] of Object.entries(value as Record<string, unknown>)) {
    if (typeof raw === 'string') row[field] = raw;
    // A reference field without sysparm_exclude_reference_link: {"link": ..., "value": sys_id}.
    else if (raw && typeof raw === 'object' && typeof (raw as { value?: unknown }).value === 'string') row[field] = (raw as { value: string }).value;
    else if (typeof raw === 'number' || typeof raw === 'boolean') row[field] = String(raw);
  }
  return row;
}

/** A field of a row that must be there, or an error naming what was asked. */
export function required(row: Row, field: string, what: string): string {
  const value = row[field];
  if (value === undefined || value === '') throw new Error(`ServiceNow answered ${what} without "${field}"`);
  return value;
}

/** A value inside an encoded query: "^" separates conditions, so a literal one is doubled. */
export function queryValue(value: string): string {
  return value.replace(/\^/g, '^^');
}

/** The error body's message and detail, for messages that name what ServiceNow said. */
export function errorMessageOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown; detail?: unknown } };
    const parts = [parsed.error?.message, parsed.error?.detail].filter((part): part is string => typeof part === 'string' && part !== '');
    if (parts.length > 0) return parts.join(': ').slice(0, 200);
  } catch {
    // not JSON
  }
  return body.replace(/\s+/g, ' ').slice(0, 120) || 'no body';
}

const SYS_ID = /^[0-9a-f]{32}$/;

/** Where an entry lives: a work note (a sys_journal_field row) or an attachment (a sys_attachment row). */
export type Location = { type: 'work_notes'; sysId: string } | { type: 'attachment'; sysId: string };

export function formatLocation(location: Location): string {
  return `${location.type}/${location.sysId}`;
}

export function parseLocation(destination: string, location: string): Location {
  const [type, sysId, ...rest] = location.split('/');
  if ((type === 'work_notes' || type === 'attachment') && sysId !== undefined && SYS_ID.test(sysId) && rest.length === 0) return { type, sysId };
  throw new DestinationError(destination, `"${location}" is not a ServiceNow location (work_notes/<sys_id> or attachment/<sys_id>)`);
}
