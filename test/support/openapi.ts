// Checks requests and responses against Zoom's own Contact Center OpenAPI document (read from ../shared, never
// copied into the project), so neither the sandbox nor the client can drift from the published contract.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import formatsImport from 'ajv-formats';

type FormatsPlugin = (ajv: Ajv) => Ajv;
// ajv-formats is CommonJS: depending on the loader its default import is the plugin or a namespace holding it.
const addFormats = ((formatsImport as unknown as { default?: FormatsPlugin }).default ?? formatsImport) as unknown as FormatsPlugin;

type SchemaNode = Record<string, unknown>;
interface ParameterObject { name: string; in: string; required?: boolean; schema?: SchemaNode; description?: string; $ref?: string }
interface OperationObject {
  operationId?: string;
  parameters?: ParameterObject[];
  responses?: Record<string, { content?: Record<string, { schema?: SchemaNode }>; $ref?: string }>;
}
interface OpenApiDocument { paths: Record<string, Record<string, unknown>>; components?: Record<string, Record<string, unknown>> }

function specPath(): string {
  const beside = new URL('../../../shared/zcc-openapi.json', import.meta.url);
  if (existsSync(beside)) return fileURLToPath(beside);
  return path.resolve(process.cwd(), '../shared/zcc-openapi.json');
}

const spec = JSON.parse(readFileSync(specPath(), 'utf8')) as OpenApiDocument;
const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'];

interface IndexedOperation { method: string; template: string; pattern: RegExp; literals: number; op: OperationObject; params: ParameterObject[] }

const operations: IndexedOperation[] = [];
for (const [template, item] of Object.entries(spec.paths)) {
  const shared = (item['parameters'] as ParameterObject[] | undefined) ?? [];
  for (const method of METHODS) {
    const op = item[method] as OperationObject | undefined;
    if (!op) continue;
    const segments = template.split('/').filter(Boolean);
    const pattern = new RegExp(`^/${segments.map((s) => (s.startsWith('{') ? '[^/]+' : escape(s))).join('/')}$`);
    const params = [...shared, ...(op.parameters ?? [])].map((p) => (p.$ref ? (resolveRef(p.$ref) as ParameterObject) : p));
    operations.push({ method: method.toUpperCase(), template, pattern, literals: segments.filter((s) => !s.startsWith('{')).length, op, params });
  }
}
const byId = new Map(operations.filter((o) => o.op.operationId).map((o) => [o.op.operationId as string, o]));

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function resolveRef(ref: string): unknown {
  if (!ref.startsWith('#/')) throw new Error(`external $ref not supported: ${ref}`);
  let node: unknown = spec;
  for (const part of ref.slice(2).split('/')) {
    node = (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
  return node;
}

/** The operationId for a request (`/v2` prefix and query string allowed), or null. */
export function operationFor(method: string, requestPath: string): string | null {
  let p = requestPath.split('?')[0] ?? '';
  if (/^https?:\/\//.test(p)) p = new URL(p).pathname;
  if (p.startsWith('/v2/')) p = p.slice(3);
  const candidates = operations.filter((o) => o.method === method.toUpperCase() && o.pattern.test(p));
  candidates.sort((a, b) => b.literals - a.literals);
  return candidates[0]?.op.operationId ?? null;
}

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const validators = new Map<string, ValidateFunction>();

/** Inline `$ref`s and turn OpenAPI 3.0 `nullable` into JSON Schema; unknown formats become no-ops. */
function toJsonSchema(node: unknown, stack: string[] = []): unknown {
  if (Array.isArray(node)) return node.map((n) => toJsonSchema(n, stack));
  if (typeof node !== 'object' || node === null) return node;
  const obj = node as SchemaNode;
  if (typeof obj['$ref'] === 'string') {
    const ref = obj['$ref'];
    if (stack.includes(ref)) return {};
    return toJsonSchema(resolveRef(ref), [...stack, ref]);
  }
  const out: SchemaNode = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'example' || k === 'examples' || k === 'nullable') continue;
    out[k] = k === 'properties' || k === 'patternProperties' ? mapValues(v as SchemaNode, stack) : toJsonSchema(v, stack);
  }
  // Zoom's document repeats some enum values, which JSON Schema forbids.
  if (Array.isArray(out['enum'])) out['enum'] = [...new Set(out['enum'] as unknown[])];
  if (obj['nullable'] === true) {
    if (typeof out['type'] === 'string') out['type'] = [out['type'], 'null'];
    if (Array.isArray(out['enum'])) out['enum'] = [...(out['enum'] as unknown[]), null];
  }
  if (typeof out['format'] === 'string' && !ajv.formats[out['format']]) ajv.addFormat(out['format'], true);
  return out;
}

function mapValues(props: SchemaNode, stack: string[]): SchemaNode {
  const out: SchemaNode = {};
  for (const [k, v] of Object.entries(props)) out[k] = toJsonSchema(v, stack);
  return out;
}

/** Errors of `body` against the documented response schema ([] = valid). */
export function validateResponse(operationId: string, status: number, body: unknown): string[] {
  const entry = byId.get(operationId);
  if (!entry) return [`unknown operation ${operationId}`];
  const key = `${operationId} ${status}`;
  let validate = validators.get(key);
  if (!validate) {
    let response = entry.op.responses?.[String(status)] ?? entry.op.responses?.['default'];
    if (!response) return [`${operationId} documents no ${status} response`];
    if (response.$ref) response = resolveRef(response.$ref) as typeof response;
    const schema = response.content?.['application/json']?.schema;
    // A documented status without a body schema (Zoom's error statuses) has nothing to check.
    if (!schema) return [];
    validate = ajv.compile(toJsonSchema(schema) as SchemaNode);
    validators.set(key, validate);
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
}

// Facts from zcc-api.md where the document is silent: page_size caps and the query_date_type values.
const PAGE_SIZE_CAP: Record<string, number> = { listEngagements: 100 };
const EXTRA_ENUMS: Record<string, Record<string, string[]>> = {
  listRecordings: { query_date_type: ['recording_start_time', 'recording_end_time'] },
};
const BARE_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ZULU = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/;
const RECORDING_DATES = new Set(['listRecordings', 'listEngagementRecordings']);

/** Problems with a request's path and query for the operation ([] = a request Zoom accepts). */
export function validateRequest(operationId: string, requestPath: string, query: Record<string, string | string[]>): string[] {
  const entry = byId.get(operationId);
  if (!entry) return [`unknown operation ${operationId}`];
  const errors: string[] = [];
  const found = operationFor(entry.method, requestPath);
  if (found !== operationId) errors.push(`path ${requestPath} is ${found ?? 'no operation'}, not ${operationId}`);
  const defined = new Map(entry.params.filter((p) => p.in === 'query').map((p) => [p.name, p]));
  for (const [name, raw] of Object.entries(query)) {
    const param = defined.get(name);
    if (!param) {
      errors.push(`unknown query parameter ${name}`);
      continue;
    }
    const schema = param.schema ?? {};
    const values = Array.isArray(raw) ? raw : [raw];
    const isArray = schema['type'] === 'array';
    if (!isArray && values.length > 1) errors.push(`${name} given ${values.length} times`);
    const items = isArray ? values.flatMap((v) => v.split(',')).filter((v) => v !== '') : values;
    const itemSchema = (isArray ? (schema['items'] as SchemaNode | undefined) : schema) ?? {};
    const allowed = (itemSchema['enum'] as string[] | undefined) ?? EXTRA_ENUMS[operationId]?.[name];
    for (const v of items) {
      if (allowed && !allowed.includes(v)) errors.push(`${name}=${v} is not one of ${allowed.join(', ')}`);
      if (itemSchema['type'] === 'integer') {
        if (!/^-?\d+$/.test(v)) {
          errors.push(`${name}=${v} is not an integer`);
          continue;
        }
        const n = Number(v);
        const max = name === 'page_size' ? Math.min(numberOr(itemSchema['maximum'], Infinity), PAGE_SIZE_CAP[operationId] ?? 300) : numberOr(itemSchema['maximum'], Infinity);
        const min = name === 'page_size' ? Math.max(1, numberOr(itemSchema['minimum'], 1)) : numberOr(itemSchema['minimum'], -Infinity);
        if (n > max) errors.push(`${name}=${v} is above ${max}`);
        if (n < min) errors.push(`${name}=${v} is below ${min}`);
      }
    }
  }
  const from = query['from'];
  const to = query['to'];
  if ((from === undefined) !== (to === undefined)) errors.push('from and to must be given together');
  for (const [name, v] of [['from', from], ['to', to]] as const) {
    if (typeof v !== 'string' || !defined.has(name)) continue;
    const ok = RECORDING_DATES.has(operationId) ? ZULU.test(v) || OFFSET.test(v) : BARE_DATE.test(v) || ZULU.test(v);
    if (!ok) errors.push(`${name}=${v} is not in a format ${operationId} accepts`);
  }
  return errors;
}

function numberOr(v: unknown, fallback: number): number {
  return typeof v === 'number' ? v : fallback;
}
