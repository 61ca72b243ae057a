// The registry: a destination's config → its implementation (imported on demand, so start-up loads no SDK it does
// not use). Secrets come from the environment here, never from the config file.
import { ARTIFACT_KINDS, type ArtifactKind } from '../artifacts.js';
import type { DestinationConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { rememberSecret } from '../redact.js';
import type { Destination } from './types.js';

export async function createDestination(config: DestinationConfig): Promise<Destination> {
  // A destination's answers may echo these (a gateway quoting the request): they are kept out of output and ledger.
  for (const name of secretEnvNames(config)) rememberSecret(process.env[name]);
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
    case 'salesforce': {
      const { createSalesforceDestination } = await import('./salesforce.js');
      return createSalesforceDestination(config, process.env);
    }
    case 'zendesk': {
      const { createZendeskDestination } = await import('./zendesk.js');
      return createZendeskDestination(config, process.env);
    }
    case 'servicenow': {
      const { createServicenowDestination } = await import('./servicenow.js');
      return createServicenowDestination(config, process.env);
    }
    case 'dynamics': {
      const { createDynamicsDestination } = await import('./dynamics.js');
      return createDynamicsDestination(config, process.env);
    }
    case 'hubspot': {
      const { createHubspotDestination } = await import('./hubspot.js');
      return createHubspotDestination(config, process.env);
    }
  }
}

/**
 * Opens every configured destination, then hands each CRM that links to a storage destination (`linkFrom`) that
 * destination, which must be able to mint links.
 */
export async function createDestinations(configs: readonly DestinationConfig[]): Promise<Destination[]> {
  const opened = await Promise.all(configs.map((entry) => createDestination(entry)));
  for (const destination of opened) {
    if (!destination.linksFrom) continue;
    const source = opened.find((candidate) => candidate.name === destination.linksFrom);
    if (!source?.link) {
      await Promise.allSettled(opened.map((entry) => entry.close()));
      throw new ConfigError(
        `destinations.${destination.name}.linkFrom`,
        destination.linksFrom,
        'the name of a configured s3 or azure-blob destination (one that can issue links)',
      );
    }
    destination.useLinkSource?.(source);
  }
  return opened;
}

/** Destinations in config order, except that one naming another in `linksFrom` moves after it. */
export function orderByLinks(destinations: readonly Destination[]): Destination[] {
  const ordered: Destination[] = [];
  const place = (destination: Destination, seen: Set<string>) => {
    if (ordered.includes(destination) || seen.has(destination.name)) return;
    seen.add(destination.name);
    const source = destinations.find((candidate) => candidate.name === destination.linksFrom);
    if (source) place(source, seen);
    ordered.push(destination);
  };
  for (const destination of destinations) place(destination, new Set());
  return ordered;
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
    case 'salesforce':
      return [config.clientSecretEnv, config.privateKeyEnv];
    case 'zendesk':
      return [config.apiTokenEnv, config.clientSecretEnv];
    case 'servicenow':
      return [config.clientSecretEnv, config.passwordEnv];
    case 'dynamics':
      return [config.clientSecretEnv];
    case 'hubspot':
      return [config.accessTokenEnv];
    case 'http':
      return [...new Set(Object.values(config.headers).flatMap((value) => [...value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1] ?? '')))];
  }
}

export function kindsOf(config: DestinationConfig, enabled: readonly ArtifactKind[]): Set<ArtifactKind> {
  const own = config.kinds ?? ARTIFACT_KINDS;
  // A CRM's `attach: { kind: "none" }` takes the kind out as surely as leaving it out of `kinds`.
  const skipped = 'attach' in config ? (config.attach as Partial<Record<ArtifactKind, string>>) : {};
  return new Set(own.filter((kind) => enabled.includes(kind) && skipped[kind] !== 'none'));
}
