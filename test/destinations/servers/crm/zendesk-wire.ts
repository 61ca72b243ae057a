// The wire side of the Zendesk fake: Zendesk's answers (JSON error envelopes, 401 bodies, 429 text/plain), reading a
// JSON body the way Zendesk refuses one, and finding our marker lines in a comment.
import type { IncomingMessage } from 'node:http';

const MARKER = /^\[zcc:(.+)\]$/;

export type Answer = { status: number; json?: unknown; text?: string; headers?: Record<string, string> };

export class Refusal extends Error {
  constructor(readonly answer: Answer) {
    super(`refused ${answer.status}`);
  }
}

export const notFound = (): Answer => ({ status: 404, json: { error: 'RecordNotFound', description: 'Not found' } });
export const invalidEndpoint = (): Answer => ({ status: 404, json: { error: 'InvalidEndpoint', description: 'Not found' } });
export const badAuth = (): Answer => ({ status: 401, json: { error: "Couldn't authenticate you" }, headers: { 'www-authenticate': 'Basic realm="Web Password"' } });
export const badToken = (): Answer => ({
  status: 401,
  json: { error: 'invalid_token', error_description: 'The access token provided is expired, revoked, malformed or invalid for other reasons.' },
});
export const invalid = (field: string, description: string, error = 'InvalidValue'): Answer => ({
  status: 422,
  json: { error: 'RecordInvalid', description: 'Record validation errors', details: { [field]: [{ description, error }] } },
});
export const tooMany = (seconds: number, text: string): Answer => ({ status: 429, text, headers: { 'retry-after': String(Math.max(1, Math.ceil(seconds))) } });

export const TICKET_FIELDS = new Set(['subject', 'external_id', 'comment', 'description', 'requester_id', 'requester', 'tags', 'status', 'priority', 'type', 'custom_fields', 'assignee_id', 'group_id', 'via_followup_source_id']);
export const COMMENT_FIELDS = new Set(['body', 'html_body', 'public', 'uploads', 'author_id']);

export function ticketInput(body: unknown): Record<string, unknown> | null {
  const ticket = body && typeof body === 'object' ? (body as Record<string, unknown>).ticket : undefined;
  return ticket && typeof ticket === 'object' && !Array.isArray(ticket) ? (ticket as Record<string, unknown>) : null;
}

export function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A JSON body (at most 4 MiB), or the answer Zendesk gives to a body it cannot read. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  if (!/^application\/json/.test(String(req.headers['content-type'] ?? ''))) {
    req.resume();
    return new Refusal({ status: 400, json: { error: 'InvalidValue', description: 'Send JSON with Content-Type: application/json' } });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 4 * 1024 * 1024) return new Refusal({ status: 413, text: 'Request Entity Too Large' });
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return new Refusal({ status: 400, json: { error: 'InvalidValue', description: 'The body is not valid JSON' } });
  }
}

/** Text split at marker lines: each section runs from after the previous marker up to and including its own. */
export function markerSections(body: string): { key: string; text: string }[] {
  const sections: { key: string; text: string }[] = [];
  let lines: string[] = [];
  for (const line of body.split('\n')) {
    lines.push(line);
    const marker = MARKER.exec(line.trim());
    if (marker) {
      sections.push({ key: marker[1]!, text: lines.join('\n').trim() });
      lines = [];
    }
  }
  return sections;
}
