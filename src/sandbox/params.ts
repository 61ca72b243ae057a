// Strict query validation like Zoom's: unknown parameters, bad enums, bad page sizes and bad dates are refused with
// 400 {"code":300,...}. Also resolves the listing window (formats, defaults, the one-month limit, timezone quirk).
import { DateTime, IANAZone } from 'luxon';

export type OperationId =
  | 'listEngagements'
  | 'getEngagement'
  | 'listRecordings'
  | 'listEngagementRecordings'
  | 'listInboxesMessages'
  | 'listInboxMessages';

export interface ZoomErrorBody { code: number; message: string; errors?: { field: string; message: string }[] }
export type ParamValue = string | number | string[];
export type Params = Record<string, ParamValue>;

interface ParamDef { type: 'string' | 'integer' | 'array'; enum?: readonly string[]; min?: number; max?: number; maxItems?: number }

const CHANNELS = ['voice', 'video', 'messaging', 'email'] as const;
const RECORDING_CHANNELS = ['voice', 'video'] as const;
const str: ParamDef = { type: 'string' };
const paging = (max: number): Record<string, ParamDef> => ({ next_page_token: str, page_size: { type: 'integer', min: 1, max } });
const window: Record<string, ParamDef> = { from: str, to: str };

export const PARAMS: Record<OperationId, Record<string, ParamDef>> = {
  listEngagements: {
    ...paging(100), ...window, timezone: str, queue_id: str, user_id: str, consumer_number: str,
    channel_types: { type: 'array', enum: ['voice', 'sms', 'chat', 'video', 'kiosk', 'in_app_chat', 'in_app_video'] },
    channel: { type: 'string', enum: CHANNELS },
    channel_sources: { type: 'array', enum: ['in_app_video', 'kiosk_video', 'web_video', 'web_chat', 'in_app_chat', 'sms', 'facebook_messenger', 'whatsapp', 'email_address'] },
    direction: { type: 'string', enum: ['inbound', 'outbound'] },
  },
  getEngagement: {},
  listRecordings: {
    ...paging(300), ...window,
    query_date_type: { type: 'string', enum: ['recording_start_time', 'recording_end_time'] },
    recording_type: { type: 'string', enum: ['on_demand', 'automatic'] },
    owner_type: { type: 'string', enum: ['user', 'queue'] },
    channel_type: { type: 'string', enum: RECORDING_CHANNELS },
    channel: { type: 'string', enum: RECORDING_CHANNELS },
  },
  listEngagementRecordings: {
    ...paging(300), ...window,
    channel_type: { type: 'string', enum: RECORDING_CHANNELS },
    channel: { type: 'string', enum: RECORDING_CHANNELS },
  },
  listInboxesMessages: {
    ...paging(300), ...window,
    queue_ids: { type: 'array', maxItems: 10 }, cc_queue_ids: { type: 'array', maxItems: 10 },
    inbox_id: str, flow_id: str, engagement_id: str, consumer_number: str,
    minimum_duration: { type: 'integer', min: 0 }, maximum_duration: { type: 'integer', min: 0 },
    message_type: { type: 'string', enum: ['voicemail'] },
    status: { type: 'string', enum: ['normal', 'deleted'] },
  },
  listInboxMessages: {
    ...paging(300), ...window,
    queue_ids: { type: 'array', maxItems: 10 }, flow_id: str,
    message_type: { type: 'string', enum: ['voicemail'] },
  },
};

export const DEFAULT_PAGE_SIZE: Record<OperationId, number> = {
  listEngagements: 10, getEngagement: 0, listRecordings: 30, listEngagementRecordings: 30, listInboxesMessages: 30, listInboxMessages: 30,
};

export function validationFailed(field: string, message: string): ZoomErrorBody {
  return { code: 300, message: 'Validation Failed.', errors: [{ field, message }] };
}

/** Parse and check the query against the operation's parameters. */
export function parseParams(op: OperationId, query: URLSearchParams): Params | ZoomErrorBody {
  const defs = PARAMS[op];
  const out: Params = {};
  for (const name of new Set(query.keys())) {
    const def = defs[name];
    if (!def) return validationFailed(name, `Unknown parameter: ${name}.`);
    const raw = query.getAll(name);
    if (def.type === 'array') {
      const items = raw.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
      const bad = def.enum ? items.find((v) => !def.enum?.includes(v)) : undefined;
      if (bad !== undefined) return validationFailed(name, `Invalid value: ${bad}. Allowed: ${def.enum?.join(', ')}.`);
      if (def.maxItems !== undefined && items.length > def.maxItems) return validationFailed(name, `At most ${def.maxItems} values.`);
      out[name] = items;
      continue;
    }
    if (raw.length > 1) return validationFailed(name, `${name} may be given once.`);
    const value = raw[0] ?? '';
    if (def.type === 'integer') {
      if (!/^-?\d+$/.test(value)) return validationFailed(name, `${name} must be an integer.`);
      const n = Number(value);
      if (def.min !== undefined && n < def.min) return validationFailed(name, `${name} must be at least ${def.min}.`);
      if (def.max !== undefined && n > def.max) return validationFailed(name, `${name} must be at most ${def.max}.`);
      out[name] = n;
      continue;
    }
    if (def.enum && !def.enum.includes(value)) return validationFailed(name, `Invalid value: ${value}. Allowed: ${def.enum.join(', ')}.`);
    out[name] = value;
  }
  return out;
}

export function isErrorBody(v: unknown): v is ZoomErrorBody {
  return typeof v === 'object' && v !== null && 'code' in v && 'message' in v;
}

export interface ResolvedWindow {
  /** Inclusive bounds, epoch seconds. */
  from: number;
  to: number;
  fromText: string;
  toText: string;
  timezone: string;
}

type DateStyle = 'engagements' | 'messages' | 'recordings';
const BARE = /^\d{4}-\d{2}-\d{2}$/;
const ZULU = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/;

interface ParsedBound { at: DateTime; bare: boolean }

function parseBound(style: DateStyle, field: string, text: string, zone: string, isEnd: boolean): ParsedBound | ZoomErrorBody {
  const formats = style === 'recordings' ? "yyyy-MM-dd'T'HH:mm:ss'Z' or yyyy-MM-dd'T'HH:mm:ss±HH:mm" : "yyyy-MM-dd or yyyy-MM-dd'T'HH:mm:ss'Z'";
  const bad = validationFailed(field, `Invalid date format. Use ${formats}.`);
  let at: DateTime;
  let bare = false;
  if (style !== 'recordings' && BARE.test(text)) {
    at = DateTime.fromFormat(text, 'yyyy-MM-dd', { zone });
    bare = true;
    if (isEnd) at = at.endOf('day').startOf('second');
  } else if (ZULU.test(text)) {
    // List Engagements reads the Z as a literal: the wall-clock time is in `timezone` (UTC elsewhere).
    at = DateTime.fromFormat(text, "yyyy-MM-dd'T'HH:mm:ss'Z'", { zone: style === 'engagements' ? zone : 'UTC' });
  } else if (style === 'recordings' && OFFSET.test(text)) {
    at = DateTime.fromISO(text, { setZone: true });
  } else {
    return bad;
  }
  return at.isValid ? { at, bare } : bad;
}

/** Resolve from/to (or Zoom's defaults) into an inclusive window; refuse bad formats and windows over a month. */
export function resolveWindow(op: OperationId, params: Params, nowSec: number): ResolvedWindow | ZoomErrorBody {
  const style: DateStyle = op === 'listEngagements' ? 'engagements' : op.includes('Recordings') ? 'recordings' : 'messages';
  const zoneParam = params['timezone'];
  const timezone = typeof zoneParam === 'string' ? zoneParam : 'UTC';
  if (!IANAZone.isValidZone(timezone)) return validationFailed('timezone', `Invalid timezone: ${timezone}.`);
  const fromText = params['from'];
  const toText = params['to'];
  if (fromText === undefined && toText === undefined) {
    const from = nowSec - (style === 'engagements' ? 86_400 : 30 * 86_400);
    return { from, to: nowSec, fromText: formatInstant(from, timezone), toText: formatInstant(nowSec, timezone), timezone };
  }
  if (typeof fromText !== 'string') return validationFailed('from', 'from is required when to is specified.');
  if (typeof toText !== 'string') return validationFailed('to', 'to is required when from is specified.');
  const from = parseBound(style, 'from', fromText, timezone, false);
  if (isErrorBody(from)) return from;
  const to = parseBound(style, 'to', toText, timezone, true);
  if (isErrorBody(to)) return to;
  // zcc-openapi.json, `to` of List Engagements and of the inbox message lists: "the same format as the from parameter".
  if (style !== 'recordings' && to.bare !== from.bare) return validationFailed('to', 'to must be in the same format as from.');
  if (to.at < from.at) return validationFailed('to', 'to must not be earlier than from.');
  // Exactly one calendar month is allowed. Bare dates compare as dates (to is the whole day).
  const toCompare = to.bare ? to.at.startOf('day') : to.at;
  const fromInZone = style === 'recordings' ? from.at.toUTC() : from.at;
  if (toCompare.toMillis() > fromInZone.plus({ months: 1 }).toMillis()) {
    return { code: 300, message: 'The date range should be within a month.' };
  }
  const fromSec = Math.floor(from.at.toSeconds());
  const toSec = Math.floor(to.at.toSeconds());
  if (style === 'engagements') return { from: fromSec, to: toSec, fromText: formatInstant(fromSec, timezone), toText: formatInstant(toSec, timezone), timezone };
  return { from: fromSec, to: toSec, fromText, toText, timezone };
}

/** ISO-8601 without milliseconds: `Z` for UTC, else the zone's offset. */
export function formatInstant(sec: number, zone = 'UTC'): string {
  if (zone === 'UTC') return new Date(sec * 1000).toISOString().replace('.000Z', 'Z');
  return DateTime.fromSeconds(sec, { zone }).toFormat("yyyy-MM-dd'T'HH:mm:ssZZ");
}
