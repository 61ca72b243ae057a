// The one interface every destination implements. A destination knows bytes, keys and metadata; never Zoom, never
// the ledger (the push engine records deliveries after a destination confirms them).
import type { Readable } from 'node:stream';
import type { ArtifactKind, EngagementInfo } from '../artifacts.js';

export interface PutRequest {
  /** The artifact key, e.g. `recording/Rec001`; a destination must be idempotent by it. */
  key: string;
  kind: ArtifactKind;
  engagementId: string;
  /** ISO timestamp that places the object in a dated layout (stable for a key). */
  occurredAt: string;
  /** Calendar date (YYYY-MM-DD) of `occurredAt` in the configured time zone. */
  date: string;
  extension: string;
  contentType: string;
  /** Small string metadata (engagement id, kind, ...); the destination stores it alongside the object. */
  metadata: Record<string, string>;
  /** Size in bytes when known in advance (inline bodies, Content-Length). */
  size?: number;
  /** The engagement's own record (times, direction, agents, consumer): a CRM finds or creates its record from it. */
  engagement?: EngagementInfo;
  /** What the source says about the content (changes when a note is edited). */
  fingerprint?: string;
  /**
   * Where this key's earlier copy went at this destination (from the ledger), for destinations that update a copy in
   * place rather than overwrite by key (`updatesInPlace`): a CRM note's remote id.
   */
  previousLocation?: string;
  /**
   * Set when `wantsBody` said no: the body is empty and the destination links to the stored copy instead. `size` is
   * the file's real size when the download's headers told it.
   */
  linkOnly?: { size?: number };
}

export interface PutResult {
  /** Where the object now lives, in the destination's own terms (a path, a URL, an object key). */
  location: string;
}

export interface StoredObject {
  location: string;
  size: number;
  metadata: Record<string, string>;
}

export interface Destination {
  readonly name: string;
  readonly type: string;
  /**
   * Stores the body under the request's key, replacing an earlier copy. It resolves only once the object is durable
   * and complete; if the body stream errors or `signal` aborts, nothing that looks complete is left behind.
   */
  put(request: PutRequest, body: Readable, signal?: AbortSignal): Promise<PutResult>;
  /** What is stored for a key, or null; used by verify and by the conformance suite. */
  stat(request: Pick<PutRequest, 'key' | 'kind' | 'engagementId' | 'date' | 'extension'>): Promise<StoredObject | null>;
  /** Streams a stored object back (verify re-hashes it). */
  read(location: string): Promise<Readable>;
  /** Removes an object (the doctor's probe). Missing is not an error. */
  remove(location: string): Promise<void>;
  /**
   * A time-limited read link to a stored object (S3 presigned GET, Azure SAS), for CRMs that link to our copy
   * (`linkFrom`). Only storage that can mint such links has it. Lifetime defaults to the destination's
   * `linkLifetime`; more than 7 days is a ConfigError.
   */
  link?(location: string, lifetimeSeconds?: number): Promise<string>;
  /** Awaited before each push is weighed (`wantsBody`): work a destination does once, like learning its org's limit. */
  prepare?(signal?: AbortSignal): Promise<void>;
  /**
   * Asked before a byte is fetched. False: this destination will only link to the artifact (`attach: "link"`, or a
   * file over the CRM's size limit), so the push engine downloads nothing and passes an empty body.
   */
  wantsBody?(request: PutRequest): boolean;
  /** The destination whose stored copy this one links to (`linkFrom`): the engine delivers there first. */
  readonly linksFrom?: string;
  /**
   * A read-only check for `doctor` where a probe write would be seen by people (a CRM record): credentials accepted,
   * the API answers. Resolves to a one-line description.
   */
  probe?(): Promise<string>;
  /** Hands a `linksFrom` destination its source, once every destination is open. */
  useLinkSource?(source: Destination): void;
  /**
   * True for CRMs: text artifacts are stored as rendered for people, and a link may stand in for a file, so `verify`
   * checks that those exist rather than re-hashing them.
   */
  readonly rendersText?: boolean;
  /** True when `put` needs `previousLocation` (the copy is updated in place, found by its remote id). */
  readonly updatesInPlace?: boolean;
  close(): Promise<void>;
}
