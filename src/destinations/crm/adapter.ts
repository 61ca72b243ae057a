// What one CRM implements: the record, text entries and files, each in the CRM's own API. Everything the five share
// (which kind becomes what, the size rule, links, rendering, grouping, the record cache) is in `engine.ts`.
import type { Readable } from 'node:stream';
import type { ArtifactKind, EngagementInfo } from '../../artifacts.js';

/** The engagement's record in the CRM: a Task, a ticket, an incident, a phone call, a call. */
export interface CrmRecord {
  id: string;
  /** How a person finds it in the CRM, for messages: "ticket 35436", "INC0010002". */
  label: string;
}

export interface TextEntry {
  key: string;
  kind: ArtifactKind;
  /** One line for CRMs whose entries have a subject, e.g. "Zoom note (engagement Eng001)". */
  title: string;
  /** The readable text; its last line is the key's marker (`markerOf(key)`), by which the adapter finds it again. */
  text: string;
  /** The remote id of this key's earlier copy (an edited note), when the ledger knows it. */
  previous?: string;
}

export interface FileEntry {
  key: string;
  kind: ArtifactKind;
  title: string;
  fileName: string;
  contentType: string;
  /** Known for inline bodies and downloads with a Content-Length. */
  size: number | undefined;
  /** Streams once; a failure or an abort midway must leave no file behind at the CRM. */
  body: Readable;
  /** The whole file, when it was small enough to hold (≤ 8 MiB): send this instead, so got can retry it. */
  bytes?: Buffer;
  previous?: string;
}

export interface FoundEntry {
  /** The adapter's location string for the entry, as `writeTexts`/`attachFile` returned it. */
  location: string;
  /** Bytes of the file, or of the text as written. */
  size: number;
}

export interface CrmAdapter {
  /** The CRM's name for messages: "Salesforce". */
  readonly label: string;
  /** The CRM's default file size limit in bytes (config `maxFileBytes` overrides it). */
  readonly fileLimitBytes: number;
  /** The longest text one entry holds; a longer rendered text goes up as a .txt file. */
  readonly textLimitChars: number;
  /** How many text entries one write can carry (a Zendesk comment holds several); 1 when each is its own request. */
  readonly entriesPerWrite: number;

  /** Work done once before the first push, e.g. learning a file limit the CRM's org sets (Dataverse). */
  prepare?(signal?: AbortSignal): Promise<void>;
  /** The engagement's record found by its key (or, with `record.match: "contact"`, as configured), or null. */
  findRecord(engagement: EngagementInfo, signal?: AbortSignal): Promise<CrmRecord | null>;
  /** Creates the engagement's record, idempotently where the API allows (upsert, Idempotency-Key). */
  createRecord(engagement: EngagementInfo, signal?: AbortSignal): Promise<CrmRecord>;
  /**
   * Writes text entries on one record, in as few requests as the API allows. Each is idempotent by its key: an
   * entry with `previous` updates that copy (or, where the CRM cannot edit, adds a new one), and an entry the CRM
   * already holds (found by its marker: a crash after the write, before the ledger) is not written again.
   * Resolves to each entry's location, in order.
   */
  writeTexts(record: CrmRecord, entries: readonly TextEntry[], signal?: AbortSignal): Promise<string[]>;
  /** Attaches a file to the record, idempotent by key like `writeTexts`; streams the body. */
  attachFile(record: CrmRecord, file: FileEntry, signal?: AbortSignal): Promise<string>;
  /** What the record holds for a key (text entry or file), or null. */
  findEntry(record: CrmRecord, key: string, kind: ArtifactKind): Promise<FoundEntry | null>;
  /** The bytes of a file, or the text of an entry as written. */
  readEntry(location: string): Promise<Readable>;
  /** Deletes an entry or a file (doctor's probe); a missing one is fine. */
  removeEntry(location: string): Promise<void>;
  close(): Promise<void>;
}

/** The line that ends every text we write, so a re-run can find its own earlier write. */
export function markerOf(key: string): string {
  return `[zcc:${key}]`;
}
