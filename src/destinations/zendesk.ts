// PLACEHOLDER until the zendesk adapter lands: refuses to open.
import type { ZendeskDestinationConfig } from '../config-schema.js';
import { ConfigError } from '../errors.js';
import type { Destination } from './types.js';

export function createZendeskDestination(config: ZendeskDestinationConfig, _env: NodeJS.ProcessEnv): Destination {
  throw new ConfigError(`destinations.${config.name}.type`, config.type, 'a destination type this build implements');
}
