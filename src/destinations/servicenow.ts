// PLACEHOLDER until the servicenow adapter lands: refuses to open.
import type { ServicenowDestinationConfig } from '../config-schema.js';
import { ConfigError } from '../errors.js';
import type { Destination } from './types.js';

export function createServicenowDestination(config: ServicenowDestinationConfig, _env: NodeJS.ProcessEnv): Destination {
  throw new ConfigError(`destinations.${config.name}.type`, config.type, 'a destination type this build implements');
}
