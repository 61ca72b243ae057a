// Full runs against the ZCC sandbox with Salesforce (its strict fake org, OAuth client credentials so expired sessions
// are refreshed mid-run) configured beside a filesystem archive; a file limit of about 1 MB makes some recordings links.
import { crmScenarios } from '../support/crm-scenarios.js';
import { startSalesforceFake } from '../destinations/servers/crm/salesforce.js';

crmScenarios('salesforce', () => startSalesforceFake({ auth: 'client-credentials', fileLimitBytes: 1_000_000 }));
