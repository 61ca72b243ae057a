// Full runs against the ZCC sandbox with ServiceNow (its strict fake, OAuth client credentials so expired tokens are
// refreshed mid-run) configured beside a filesystem archive; a file limit of about 1 MB makes some recordings links.
import { crmScenarios } from '../support/crm-scenarios.js';
import { startServicenowFake } from '../destinations/servers/crm/servicenow.js';

crmScenarios('servicenow', () => startServicenowFake({ auth: 'client-credentials', fileLimitBytes: 1_000_000 }));
