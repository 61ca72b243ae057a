// PLACEHOLDER until the salesforce adapter lands: refuses to open.
import type { SalesforceDestinationConfig } from '../config-schema.js';
import { ConfigError } from '../errors.js';
import type { Destination } from './types.js';

export function createSalesforceDestination(config: SalesforceDestinationConfig, _env: NodeJS.ProcessEnv): Destination {
  throw new ConfigError(`destinations.${config.name}.type`, config.type, 'a destination type this build implements');
}
