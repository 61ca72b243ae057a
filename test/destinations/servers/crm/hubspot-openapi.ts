// The HubSpot fake's contract: HubSpot's own OpenAPI documents (trimmed to the operations we use, schemas unchanged,
// in ./hubspot-specs) decide which paths exist, what a request body must look like, and what an answer must hold.
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import formatsImport from 'ajv-formats';

type FormatsPlugin = (ajv: Ajv) => Ajv;
// ajv-formats is CommonJS: depending on the loader its default import is the plugin or a namespace holding it.
const addFormats = ((formatsImport as unknown as { default?: FormatsPlugin }).default ?? formatsImport) as unknown as FormatsPlugin;

type SchemaNode = Record<string, unknown>;
interface Parameter { name: string; in: string; required?: boolean; schema?: SchemaNode }
interface MediaType { schema?: SchemaNode }
interface Operation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, MediaType> };
  responses?: Record<string, { content?: Record<string, MediaType>; $ref?: string }>;
}
interface OpenApiDocument { paths: Record<string, Record<string, Operation>>; components: Record<string, Record<string, unknown>> }

export const SPEC_FILES = ['calls', 'notes', 'contacts', 'associations', 'files'] as const;

export interface MatchedOperation {
  /** e.g. "calls", the spec file it comes from. */
  spec: (typeof SPEC_FILES)[number];
  method: string;
  /** The path template, e.g. "/crm/v3/objects/calls/batch/upsert". */
  template: string;
  params: Record<string, string>;
  operation: Operation;
  document: OpenApiDocument;
}

interface Indexed extends Omit<MatchedOperation, 'params'> {
  pattern: RegExp;
  names: string[];
  literals: number;
}

const documents = new Map<string, OpenApiDocument>();
const operations: Indexed[] = [];
for (const spec of SPEC_FILES) {
  const document = JSON.parse(readFileSync(new URL(`./hubspot-specs/${spec}.json`, import.meta.url), 'utf8')) as OpenApiDocument;
  documents.set(spec, document);
  for (const [template, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const segments = template.split('/').filter(Boolean);
      const names = segments.filter((s) => s.startsWith('{')).map((s) => s.slice(1, -1));
      const pattern = new RegExp(`^/${segments.map((s) => (s.startsWith('{') ? '([^/]+)' : escapeRegExp(s))).join('/')}$`);
      operations.push({ spec, method: method.toUpperCase(), template, operation, document, pattern, names, literals: segments.length - names.length });
    }
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The documented operation for a request path (already without its query), or why there is none. */
export function matchOperation(method: string, path: string): MatchedOperation | { error: 'no-path' | 'no-method' } {
  const onPath = operations.filter((entry) => entry.pattern.test(path)).sort((a, b) => b.literals - a.literals);
  if (onPath.length === 0) return { error: 'no-path' };
  const entry = onPath.find((candidate) => candidate.method === method.toUpperCase());
  if (!entry) return { error: 'no-method' };
  const values = entry.pattern.exec(path)!.slice(1).map((value) => decodeURIComponent(value));
  const params = Object.fromEntries(entry.names.map((name, index) => [name, values[index] ?? '']));
  return { spec: entry.spec, method: entry.method, template: entry.template, params, operation: entry.operation, document: entry.document };
}

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
for (const format of ['int32', 'int64', 'binary']) ajv.addFormat(format, true);
const compiled = new Map<string, ValidateFunction>();

function resolveRef(document: OpenApiDocument, ref: string): unknown {
  let node: unknown = document;
  for (const part of ref.replace(/^#\//, '').split('/')) node = (node as Record<string, unknown> | undefined)?.[part];
  if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
  return node;
}

/** OpenAPI 3.0 schema → JSON Schema: `$ref`s inlined (a cycle becomes {}), examples dropped. */
function toJsonSchema(document: OpenApiDocument, node: unknown, stack: string[] = []): unknown {
  if (Array.isArray(node)) return node.map((item) => toJsonSchema(document, item, stack));
  if (typeof node !== 'object' || node === null) return node;
  const object = node as SchemaNode;
  if (typeof object['$ref'] === 'string') {
    const ref = object['$ref'];
    return stack.includes(ref) ? {} : toJsonSchema(document, resolveRef(document, ref), [...stack, ref]);
  }
  const out: SchemaNode = {};
  for (const [key, value] of Object.entries(object)) {
    if (key === 'example' || key === 'examples' || key === 'description') continue;
    if (key === 'properties' || key === 'patternProperties') {
      out[key] = Object.fromEntries(Object.entries(value as SchemaNode).map(([name, schema]) => [name, toJsonSchema(document, schema, stack)]));
    } else {
      out[key] = toJsonSchema(document, value, stack);
    }
  }
  if (object['nullable'] === true && typeof out['type'] === 'string') out['type'] = [out['type'], 'null'];
  delete out['nullable'];
  return out;
}

function validatorFor(key: string, document: OpenApiDocument, schema: SchemaNode): ValidateFunction {
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(toJsonSchema(document, schema) as SchemaNode);
    compiled.set(key, validate);
  }
  return validate;
}

function describe(validate: ValidateFunction): string[] {
  return (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`);
}

/** Problems with a JSON request body against the operation's documented schema ([] = acceptable). */
export function validateRequestBody(matched: MatchedOperation, body: unknown): string[] {
  const schema = matched.operation.requestBody?.content?.['application/json']?.schema;
  if (!schema) return [];
  const validate = validatorFor(`${matched.spec} ${matched.method} ${matched.template} request`, matched.document, schema);
  return validate(body) ? [] : describe(validate);
}

/** Problems with path parameters against their documented patterns. */
export function validatePathParams(matched: MatchedOperation): string[] {
  const problems: string[] = [];
  for (const parameter of matched.operation.parameters ?? []) {
    const value = matched.params[parameter.name];
    const pattern = parameter.schema?.['pattern'];
    if (parameter.in !== 'path' || value === undefined || typeof pattern !== 'string') continue;
    if (!new RegExp(`^(?:${pattern})$`).test(value)) problems.push(`path parameter ${parameter.name}=${value} does not match ${pattern}`);
  }
  return problems;
}

/** Problems with an answer the fake is about to give (a fake that drifts from the contract is a bug in the fake). */
export function validateResponseBody(matched: MatchedOperation, status: number, body: unknown): string[] {
  let response = matched.operation.responses?.[String(status)] ?? matched.operation.responses?.['default'];
  if (!response) return [`${matched.template} documents no ${status} answer`];
  if (response.$ref) response = resolveRef(matched.document, response.$ref) as typeof response;
  const content = response.content ?? {};
  const schema = content['application/json']?.schema ?? content['*/*']?.schema;
  if (!schema) return [];
  const validate = validatorFor(`${matched.spec} ${matched.method} ${matched.template} ${status}`, matched.document, schema);
  return validate(body) ? [] : describe(validate);
}
