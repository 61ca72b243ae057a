// What every command gets from the CLI wiring (global options, output, environment) and the few helpers they share.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ARTIFACT_KINDS, isArtifactKind, type ArtifactKind } from '../artifacts.js';
import type { Config, DestinationConfig } from '../config.js';
import type { Destination } from '../destinations/types.js';
import { ConfigError, UsageError } from '../errors.js';
import { Logger, type LogFormat } from '../logging.js';

export interface GlobalOptions {
  config?: string;
  quiet?: boolean;
  verbose?: boolean;
  logFormat: LogFormat;
  logFile?: string;
  /** false with --no-progress */
  progress: boolean;
}

export interface CommandContext {
  global: GlobalOptions;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** stdout and stderr, with secrets redacted. */
  out: (text: string) => void;
  err: (text: string) => void;
  redact: (text: string) => string;
  /** Adds values for `redact` to hide (the secrets of the configured destinations, once the config is loaded). */
  addSecrets?: (values: readonly string[]) => void;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** Log records go to stderr as JSON: then every line there must be a JSON object (a log shipper reads them). */
export function jsonLogsOnStderr(global: GlobalOptions): boolean {
  return global.logFormat === 'json' && !global.logFile;
}

export async function loadCommandConfig(context: CommandContext): Promise<{ config: Config; source: string | null }> {
  const { findConfigFile, loadConfig } = await import('../config.js');
  const loaded = await loadConfig(findConfigFile(context.global.config, context.env, context.cwd), context.cwd);
  // Variables such as AZURE_STORAGE_KEY, or whatever name a config gives, do not look like secrets by name alone.
  const { secretEnvNames } = await import('../destinations/index.js');
  const values = loaded.config.destinations.flatMap(secretEnvNames).map((name) => context.env[name]);
  context.addSecrets?.(values.filter((value): value is string => Boolean(value)));
  return loaded;
}

export function parseKinds(text: string | undefined): ArtifactKind[] | undefined {
  if (text === undefined) return undefined;
  const kinds = text.split(',').map((kind) => kind.trim()).filter(Boolean);
  const bad = kinds.find((kind) => !isArtifactKind(kind));
  if (bad !== undefined || kinds.length === 0) {
    throw new UsageError(`--kinds ${JSON.stringify(bad ?? text)} is not a kind: expected a comma-separated list of ${ARTIFACT_KINDS.join(', ')}`);
  }
  return kinds as ArtifactKind[];
}

export function parsePositiveInt(option: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${option} ${JSON.stringify(text)} is not valid: expected a whole number of 1 or more`);
  return value;
}

/** Refuses an output file whose folder does not exist before anything runs (exit 2), not after an hour of work. */
export function checkOutputFile(option: string, file: string, cwd: string): string {
  const resolved = path.resolve(cwd, file);
  const dir = path.dirname(resolved);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ConfigError(option, file, `a file in an existing folder (${dir} does not exist)`);
  }
  if (existsSync(resolved) && statSync(resolved).isDirectory()) throw new ConfigError(option, file, 'a file, not a folder');
  return resolved;
}

export function createLogger(context: CommandContext, stderr: (text: string) => void = context.err): Logger {
  const { global } = context;
  return new Logger({
    format: global.logFormat,
    verbose: global.verbose === true,
    file: global.logFile ? checkOutputFile('--log-file', global.logFile, context.cwd) : undefined,
    stderr,
    redact: context.redact,
  });
}

/**
 * Opens a destination for verify and doctor without the side effects of opening it for a run: the registry's
 * filesystem open sweeps leftover temp files, which could pull the rug from under a run writing at that moment.
 */
export async function openDestinationQuietly(config: DestinationConfig): Promise<Destination> {
  if (config.type === 'filesystem') {
    const { FilesystemDestination } = await import('../destinations/filesystem.js');
    return new FilesystemDestination({ name: config.name, root: config.path });
  }
  const { createDestination } = await import('../destinations/index.js');
  return createDestination(config);
}
