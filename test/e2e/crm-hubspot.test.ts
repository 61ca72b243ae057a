// Full runs against the ZCC sandbox with a HubSpot destination (a strict fake with a small file limit, so some
// recordings become links).
import { crmScenarios } from '../support/crm-scenarios.js';
import { startHubspotFake } from '../destinations/servers/crm/hubspot.js';

crmScenarios('hubspot', () => startHubspotFake({ fileLimitBytes: 1_000_000 }));
