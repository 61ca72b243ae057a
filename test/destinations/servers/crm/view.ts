// What every CRM fake exposes to the shared scenarios (test/support/crm-scenarios.ts): its config for a destination
// pointed at it, what it holds (read from its own state, not from the requests it saw), a log of what it answered,
// and the faults it can cause on demand. Each fake keeps its CRM's own protocol; this is only the common window.

export interface CrmHeldText {
  /** The artifact key, read from the marker line `[zcc:<key>]` of the entry. */
  key: string;
  /** The entry's text as stored (comment body, Description, work note, notetext, hs_note_body). */
  text: string;
  /** The CRM's id of the entry (comment id, Task id, journal sys_id, annotation id, note id). */
  id: string;
}

export interface CrmHeldFile {
  /** The artifact key the file belongs to (from the file name, title or a marker the adapter wrote). */
  key: string;
  fileName: string;
  size: number;
  sha256: string;
  id: string;
}

export interface CrmHeldRecord {
  /** Our key held in the record's external id / correlation field; the engagement id is derived from it. */
  externalId: string;
  engagementId: string;
  /** The CRM's id (Task id, ticket id, sys_id, activityid, call id). */
  id: string;
  texts: CrmHeldText[];
  files: CrmHeldFile[];
  /** True when what it holds is visible to agents only (private comment, work note, internal task). */
  internalOnly: boolean;
}

export interface CrmLogEntry {
  at: number;
  method: string;
  path: string;
  status: number;
  /** Set on answers that told the client to wait (429 Retry-After, in ms). */
  retryAfterMs?: number;
  /** True for the token endpoint (it is not paused by a 429 of the API). */
  token?: boolean;
}

export interface CrmFakeView {
  /** The CRM's type in config: "salesforce", ... */
  readonly type: string;
  /** The destination entry pointing at this fake (name, type, baseUrl, tokenUrl, ...); `extra` is merged in. */
  destinationConfig(name: string, extra?: Record<string, unknown>): Record<string, unknown>;
  /** The environment variables holding this fake's secrets. */
  env(): Record<string, string>;
  /** Env that the fake refuses (wrong secret), for the "credentials refused" scenario. */
  badEnv(): Record<string, string>;
  /** Every engagement record the fake holds, with its entries and files. */
  records(): CrmHeldRecord[];
  /** True when the CRM can edit an entry in place; false when an edited note becomes a new entry (Zendesk, ServiceNow). */
  readonly editsInPlace: boolean;
  /** The fake's file size limit in bytes (set small in tests so some recordings exceed it). */
  readonly fileLimitBytes: number;
  log(): CrmLogEntry[];
  faults: {
    /** The next `count` API requests (not the token endpoint) get the CRM's rate-limit answer with Retry-After 1 s. */
    rateLimitStorm(count: number): void;
    /** The CRM's daily allowance is spent (Salesforce 403 REQUEST_LIMIT_EXCEEDED, HubSpot DAILY, ...) until cleared. */
    dailyLimit(on: boolean): void;
    /** Every token issued so far is expired now (the next API call with one gets the CRM's 401). */
    expireTokens(): void;
  };
  /** Calls `listener` after each write the CRM accepted (record, entry or file), with the running count. */
  onWrite(listener: (writes: number) => void): void;
  close(): Promise<void>;
}
