// Full runs against the ZCC sandbox with Dynamics 365 (its strict Dataverse + Entra ID fake; phone calls upserted by
// a UUIDv5 of our key) configured beside a filesystem archive. The org's maxuploadfilesize of 1,333,336 base64
// characters (1,000,002 raw bytes) is learned at run time and makes some recordings links.
import { crmScenarios } from '../support/crm-scenarios.js';
import { startDynamicsFake } from '../destinations/servers/crm/dynamics.js';

crmScenarios('dynamics', () => startDynamicsFake({ maxUploadFileSize: 1_333_336 }));
