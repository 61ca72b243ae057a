// Full runs against the ZCC sandbox with Zendesk (its strict fake, OAuth so expired tokens are refreshed mid-run)
// configured beside a filesystem archive; a file limit of about 1 MB makes some recordings links.
import { crmScenarios } from '../support/crm-scenarios.js';
import { startZendeskFake } from '../destinations/servers/crm/zendesk.js';

crmScenarios('zendesk', () => startZendeskFake({ auth: 'oauth', fileLimitBytes: 1_000_000 }));
