// The registry: a destination's config → its implementation (imported on demand, so start-up loads no SDK it does
// not use). Secrets come from the environment here, never from the config file.
import { ARTIFACT_KINDS, type ArtifactKind } from '../artifacts.js';
import type { DestinationConfig } from '../config.js';
import type { Destination } from './types.js';

export async function createDestination(config: DestinationConfig): Promise<Destination> {
  switch (config.type) {
    case 'filesystem': {
      const { FilesystemDestination, checkRoot } = await import('./filesystem.js');
      await checkRoot(config.path);
      return new FilesystemDestination({ name: config.name, root: config.path });
    }
    case 's3': {
      const { S3Destination } = await import('./s3.js');
      return S3Destination.fromConfig(config);
    }
    case 'azure-blob': {
      const { AzureBlobDestination } = await import('./azure-blob.js');
      return AzureBlobDestination.fromConfig(config, process.env);
    }
    case 'http': {
      const { HttpDestination } = await import('./http.js');
      return HttpDestination.fromConfig(config, process.env);
    }
  }
}

/**
 * Removes temp files a killed run left behind. Only a run that holds the run lock may call it: a dry run must change
 * nothing, and another run (or a listener) may be writing its own temp files.
 */
export async function sweepStaleTemporaries(config: DestinationConfig): Promise<void> {
  if (config.type !== 'filesystem') return;
  const { sweepPartials } = await import('./filesystem.js');
  await sweepPartials(config.path);
}

/**
 * The environment variables a destination reads secrets from, for the output redactor: names like
 * AZURE_STORAGE_KEY, or whatever a config names, do not look like secrets by their name alone.
 */
export function secretEnvNames(config: DestinationConfig): string[] {
  switch (config.type) {
    case 'filesystem':
      return [];
    case 's3':
      return ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'];
    case 'azure-blob':
      return [config.connectionStringEnv, config.accountKeyEnv, config.sasTokenEnv];
    case 'http':
      return [...new Set(Object.values(config.headers).flatMap((value) => [...value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1] ?? '')))];
  }
}

export function kindsOf(config: DestinationConfig, enabled: readonly ArtifactKind[]): Set<ArtifactKind> {
  const own = config.kinds ?? ARTIFACT_KINDS;
  return new Set(own.filter((kind) => enabled.includes(kind)));
}
