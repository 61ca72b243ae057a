// The registry: a destination's config → its implementation. Adding a destination is one line here.
import { ARTIFACT_KINDS, type ArtifactKind } from '../artifacts.js';
import type { DestinationConfig } from '../config.js';
import type { Destination } from './types.js';

export async function createDestination(config: DestinationConfig): Promise<Destination> {
  switch (config.type) {
    case 'filesystem': {
      const { FilesystemDestination, sweepPartials } = await import('./filesystem.js');
      await sweepPartials(config.path);
      return new FilesystemDestination({ name: config.name, root: config.path });
    }
  }
}

export function kindsOf(config: DestinationConfig, enabled: readonly ArtifactKind[]): Set<ArtifactKind> {
  const own = config.kinds ?? ARTIFACT_KINDS;
  return new Set(own.filter((kind) => enabled.includes(kind)));
}
