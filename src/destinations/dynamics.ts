// PLACEHOLDER until the dynamics adapter lands: refuses to open.
import type { DynamicsDestinationConfig } from '../config-schema.js';
import { ConfigError } from '../errors.js';
import type { Destination } from './types.js';

export function createDynamicsDestination(config: DynamicsDestinationConfig, _env: NodeJS.ProcessEnv): Destination {
  throw new ConfigError(`destinations.${config.name}.type`, config.type, 'a destination type this build implements');
}
