// PLACEHOLDER until the hubspot adapter lands: refuses to open.
import type { HubspotDestinationConfig } from '../config-schema.js';
import { ConfigError } from '../errors.js';
import type { Destination } from './types.js';

export function createHubspotDestination(config: HubspotDestinationConfig, _env: NodeJS.ProcessEnv): Destination {
  throw new ConfigError(`destinations.${config.name}.type`, config.type, 'a destination type this build implements');
}
