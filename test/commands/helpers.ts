// Shared by the command tests: the CLI as a child process, and validators for the documented JSON schemas.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import formatsImport from 'ajv-formats';

type FormatsPlugin = (ajv: Ajv) => Ajv;
// ajv-formats is CommonJS: depending on the loader its default import is the plugin or a namespace holding it.
const addFormats = ((formatsImport as unknown as { default?: FormatsPlugin }).default ?? formatsImport) as unknown as FormatsPlugin;

export const ROOT = path.resolve(fileURLToPath(import.meta.url), '../../..');
export const BIN = path.join(ROOT, 'bin/zcc-reconcile');

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  /** The signal that killed it, if one did (code is then 1). */
  signal: string | null;
}

export function cli(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env, cwd, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr, signal: error?.signal ?? null });
    });
  });
}

const ajv = new Ajv({ allErrors: true, strict: true });
addFormats(ajv);
const compiled = new Map<string, ValidateFunction>();

/** Validates against docs/schemas/<name>.schema.json; returns the errors (empty when valid). */
export function schemaErrors(name: 'run-report' | 'status' | 'verify-report' | 'doctor' | 'log-event', data: unknown): string[] {
  let validate = compiled.get(name);
  if (!validate) {
    const schema = JSON.parse(readFileSync(path.join(ROOT, 'docs/schemas', `${name}.schema.json`), 'utf8')) as Record<string, unknown>;
    validate = ajv.compile(schema);
    compiled.set(name, validate);
  }
  if (validate(data)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? ''} ${JSON.stringify(error.params)}`);
}

/** Text without ANSI escapes, for assertions on what a person sees. */
export function plain(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
}
