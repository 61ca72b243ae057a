// Load and validate the config (one place), resolve its relative paths, and read the secrets from the environment.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { configSchema, DESTINATION_TYPES, type Config } from './config-schema.js';
import { ConfigError } from './errors.js';

export type { Config, DestinationConfig } from './config-schema.js';

export interface ZoomSecrets {
  accountId: string;
  clientId: string;
  clientSecret: string;
}

export interface LoadedConfig {
  config: Config;
  /** The file it came from, or null when the embedded defaults were used. */
  source: string | null;
}

export function findConfigFile(explicit: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string | null {
  if (explicit) {
    const resolved = path.resolve(cwd, explicit);
    if (!existsSync(resolved)) throw new ConfigError('--config', explicit, 'the path of an existing config file');
    return resolved;
  }
  const candidates = [path.resolve(cwd, 'zcc-reconcile.json')];
  const xdg = env.XDG_CONFIG_HOME || (env.HOME ? path.join(env.HOME, '.config') : undefined);
  if (xdg) candidates.push(path.join(xdg, 'zcc-reconcile', 'config.json'));
  return candidates.find((candidate) => existsSync(candidate)) ?? null;
}

export function loadConfig(file: string | null, cwd: string): LoadedConfig {
  if (file === null) return { config: resolvePaths(parseConfig({}), cwd), source: null };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError('--config', file, `a readable file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(file, '(file contents)', `valid JSON: ${(error as Error).message}`);
  }
  return { config: resolvePaths(parseConfig(raw), path.dirname(file)), source: file };
}

export function parseConfig(raw: unknown): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw toConfigError(result.error, raw);
  const names = new Set<string>();
  result.data.destinations.forEach((destination, index) => {
    if (names.has(destination.name)) {
      throw new ConfigError(`destinations[${index}].name`, destination.name, 'a name no other destination has');
    }
    names.add(destination.name);
  });
  return result.data;
}

function toConfigError(error: z.ZodError, raw: unknown): ConfigError {
  const issue = error.issues[0]!;
  const keyPath = issue.path.reduce<string>(
    (text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${String(part)}` : String(part)),
    '',
  );
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const where = keyPath ? `${keyPath}.${key}` : key;
    return new ConfigError(where, valueAt(raw, [...issue.path, key]), 'no such key (see config.schema.json)');
  }
  return new ConfigError(keyPath || '(config)', valueAt(raw, issue.path), expectation(issue));
}

function expectation(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'int' ? 'a whole number' : `a value of type ${issue.expected}`;
    case 'too_small':
      return boundText(issue.origin, issue.inclusive ? '≥' : '>', 'at least', issue.minimum);
    case 'too_big':
      return boundText(issue.origin, issue.inclusive ? '≤' : '<', 'at most', issue.maximum);
    case 'invalid_value':
      return `one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`;
    case 'invalid_union':
      return `a destination whose "type" is one of: ${DESTINATION_TYPES.join(', ')}`;
    default:
      return issue.message;
  }
}

/** zod's own text ("Too small: expected number to be >=1") reads badly after "expected"; this names the bound. */
function boundText(origin: string, comparison: string, countWord: string, bound: number | bigint): string {
  if (origin === 'array') return `${countWord} ${bound} item${bound === 1 ? '' : 's'}`;
  if (origin === 'string') return `${countWord} ${bound} character${bound === 1 ? '' : 's'}`;
  return `a number ${comparison} ${bound}`;
}

function valueAt(raw: unknown, keyPath: readonly PropertyKey[]): unknown {
  let current: unknown = raw;
  for (const part of keyPath) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

function resolvePaths(config: Config, base: string): Config {
  return {
    ...config,
    ledger: { path: path.resolve(base, config.ledger.path) },
    destinations: config.destinations.map((destination) =>
      destination.type === 'filesystem' ? { ...destination, path: path.resolve(base, destination.path) } : destination,
    ),
  };
}

export function readZoomSecrets(env: NodeJS.ProcessEnv): ZoomSecrets {
  const read = (name: string): string => {
    const value = env[name];
    if (!value) throw new ConfigError(`environment variable ${name}`, undefined, 'your Zoom Server-to-Server OAuth app credential');
    return value;
  };
  return { accountId: read('ZOOM_ACCOUNT_ID'), clientId: read('ZOOM_CLIENT_ID'), clientSecret: read('ZOOM_CLIENT_SECRET') };
}
