// A CRM as a Destination, built once for all five: which kind becomes text, a file or a link; the size rule (a file
// over the CRM's limit becomes a link to our stored copy, decided before it is downloaded); rendering; the
// engagement's record found or created once per engagement; and text entries for one record grouped into as few
// writes as the CRM takes. Each CRM's own API is behind `CrmAdapter`.
import { Readable } from 'node:stream';
import { MEDIA_KINDS } from '../../config-schema.js';
import type { ArtifactKind, EngagementInfo } from '../../artifacts.js';
import { DestinationError } from '../../errors.js';
import { formatBytes } from '../../report.js';
import { meterBody, readHead } from '../body.js';
import { leafName, objectPath } from '../paths.js';
import type { Destination, PutRequest, PutResult, StoredObject } from '../types.js';
import type { CrmAdapter, CrmRecord, TextEntry } from './adapter.js';
import type { CrmHttp } from './http.js';
import type { LinkMaker } from './links.js';
import { renderLink, renderText, titleOf } from './render.js';

export type AttachMode = 'text' | 'file' | 'link' | 'none';

const MiB = 1024 * 1024;
/** The longest text artifact read into memory to render; transcripts are far smaller. */
const TEXT_LIMIT_BYTES = 16 * MiB;
/** Files up to this size are held in memory so a 429 or 5xx can be retried; larger ones stream through once. */
const REPLAYABLE_BYTES = 8 * MiB;
/** Engagements whose record is remembered (a run visits each engagement's artifacts close together). */
const RECORD_CACHE = 2000;

export interface CrmDestinationOptions {
  name: string;
  type: string;
  adapter: CrmAdapter;
  http: CrmHttp;
  links: LinkMaker;
  attach: Partial<Record<ArtifactKind, AttachMode>>;
  createRecords: boolean;
  linkFrom?: string;
  maxFileBytes?: number;
  /** How long a text entry waits for others on the same record, to share one write. */
  groupDelayMs?: number;
}

export function attachModeOf(kind: ArtifactKind, attach: Partial<Record<ArtifactKind, AttachMode>>): AttachMode {
  return attach[kind] ?? ((MEDIA_KINDS as readonly string[]).includes(kind) ? 'file' : 'text');
}

interface Waiting {
  entry: TextEntry;
  resolve: (location: string) => void;
  reject: (error: unknown) => void;
}

interface Group {
  record: CrmRecord;
  waiting: Waiting[];
  timer: NodeJS.Timeout;
}

export class CrmDestination implements Destination {
  readonly name: string;
  readonly type: string;
  readonly updatesInPlace = true;
  readonly rendersText = true;
  readonly linksFrom?: string;
  private readonly adapter: CrmAdapter;
  private readonly records = new Map<string, Promise<CrmRecord>>();
  private readonly groups = new Map<string, Group>();

  constructor(private readonly options: CrmDestinationOptions) {
    this.name = options.name;
    this.type = options.type;
    this.adapter = options.adapter;
    this.linksFrom = options.linkFrom;
  }

  get fileLimitBytes(): number {
    return this.options.maxFileBytes ?? this.adapter.fileLimitBytes;
  }

  useLinkSource(source: Destination): void {
    this.options.links.useSource(source);
  }

  async prepare(signal?: AbortSignal): Promise<void> {
    this.options.http.check();
    await this.adapter.prepare?.(signal);
  }

  wantsBody(request: PutRequest): boolean {
    const mode = attachModeOf(request.kind, this.options.attach);
    if (mode === 'link') return false;
    const overLimit = request.size !== undefined && request.size > this.fileLimitBytes;
    return !(mode === 'file' && overLimit && this.options.links.configured);
  }

  async put(request: PutRequest, body: Readable, signal?: AbortSignal): Promise<PutResult> {
    try {
      objectPath(request);
      this.options.http.check();
    } catch (error) {
      body.destroy();
      throw error;
    }
    const engagement = engagementOf(request);
    let record: CrmRecord;
    try {
      await this.prepare(signal);
      record = await this.recordFor(engagement, signal);
    } catch (error) {
      body.destroy();
      throw error;
    }
    const mode = attachModeOf(request.kind, this.options.attach);
    if (request.linkOnly || mode === 'link') {
      body.resume();
      return { location: await this.putLink(record, request, engagement, mode) };
    }
    if (mode === 'text' || !(MEDIA_KINDS as readonly string[]).includes(request.kind)) {
      const source = await readText(body, request.size, signal);
      const rendered = renderText(request.kind, request.key, source, engagement);
      if (mode === 'text' && rendered.text.length <= this.adapter.textLimitChars) {
        return { location: await this.writeText(record, { key: request.key, kind: request.kind, ...rendered, previous: request.previousLocation }) };
      }
      // Asked for as a file, or too long for one entry: the rendered text goes up as a .txt file.
      const bytes = Buffer.from(rendered.text, 'utf8');
      return {
        location: await this.adapter.attachFile(
          record,
          { key: request.key, kind: request.kind, title: rendered.title, fileName: textFileName(request), contentType: 'text/plain', size: bytes.length, body: Readable.from([bytes]), bytes, previous: request.previousLocation },
          signal,
        ),
      };
    }
    if (request.size !== undefined && request.size > this.fileLimitBytes) {
      body.destroy();
      throw new DestinationError(
        this.name,
        `${request.key} is ${formatBytes(request.size)}, over ${this.adapter.label}'s ${formatBytes(this.fileLimitBytes)} file limit; set linkTemplate or linkFrom to link it instead`,
      );
    }
    const metered = meterBody(body, request.size, signal);
    const head = await readHead(metered, REPLAYABLE_BYTES);
    const bytes = head.ended ? Buffer.concat(head.chunks) : undefined;
    return {
      location: await this.adapter.attachFile(
        record,
        {
          key: request.key,
          kind: request.kind,
          title: titleOf(request.kind, engagement.engagementId),
          fileName: leafName(request),
          contentType: request.contentType,
          size: bytes ? bytes.length : request.size,
          body: bytes ? Readable.from([bytes]) : head.rest,
          bytes,
          previous: request.previousLocation,
        },
        signal,
      ),
    };
  }

  async stat(request: Pick<PutRequest, 'key' | 'kind' | 'engagementId' | 'date' | 'extension'>): Promise<StoredObject | null> {
    const engagement: EngagementInfo = { engagementId: request.engagementId, agents: [], consumers: [] };
    const cached = this.records.get(request.engagementId);
    const record = cached ? await cached.catch(() => null) : await this.adapter.findRecord(engagement);
    if (!record) return null;
    const found = await this.adapter.findEntry(record, request.key, request.kind);
    return found ? { location: found.location, size: found.size, metadata: {} } : null;
  }

  async probe(): Promise<string> {
    const found = await this.adapter.findRecord({ engagementId: 'zcc-doctor-probe', agents: [], consumers: [] });
    return `${this.adapter.label} accepted the credentials and answered a record lookup${found ? ' (it even found a probe record)' : ''}; nothing was written`;
  }

  read(location: string): Promise<Readable> {
    return this.adapter.readEntry(location);
  }

  remove(location: string): Promise<void> {
    return this.adapter.removeEntry(location);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.groups.values()].map((group) => this.flush(group)));
    await this.adapter.close();
  }

  private async putLink(record: CrmRecord, request: PutRequest, engagement: EngagementInfo, mode: AttachMode): Promise<string> {
    const url = await this.options.links.linkFor(request);
    const size = request.linkOnly?.size ?? request.size;
    const reason =
      mode === 'link'
        ? 'a link to our stored copy'
        : `${size === undefined ? 'larger' : formatBytes(size)}, over ${this.adapter.label}'s ${formatBytes(this.fileLimitBytes)} file limit: a link to our stored copy`;
    const rendered = renderLink(request.kind, request.key, url, engagement, reason);
    return this.writeText(record, { key: request.key, kind: request.kind, ...rendered, previous: request.previousLocation });
  }

  /** The engagement's record, found or created once per engagement while this destination is open. */
  private recordFor(engagement: EngagementInfo, signal?: AbortSignal): Promise<CrmRecord> {
    const cached = this.records.get(engagement.engagementId);
    if (cached) return cached;
    const lookup = (async () => {
      const found = await this.adapter.findRecord(engagement, signal);
      if (found) return found;
      if (!this.options.createRecords) {
        throw new DestinationError(this.name, `no ${this.adapter.label} record for engagement ${engagement.engagementId}, and record.create is false`);
      }
      return this.adapter.createRecord(engagement, signal);
    })();
    this.records.set(engagement.engagementId, lookup);
    lookup.catch(() => this.records.delete(engagement.engagementId));
    if (this.records.size > RECORD_CACHE) this.records.delete(this.records.keys().next().value!);
    return lookup;
  }

  /** Text entries for one record wait `groupDelayMs` for company, then go up together (up to `entriesPerWrite`). */
  private writeText(record: CrmRecord, entry: TextEntry): Promise<string> {
    if (this.adapter.entriesPerWrite <= 1) return this.adapter.writeTexts(record, [entry]).then((locations) => locations[0]!);
    return new Promise<string>((resolve, reject) => {
      let group = this.groups.get(record.id);
      if (!group) {
        const created: Group = { record, waiting: [], timer: setTimeout(() => void this.flush(created), this.options.groupDelayMs ?? 100) };
        group = created;
        this.groups.set(record.id, group);
      }
      group.waiting.push({ entry, resolve, reject });
      if (group.waiting.length >= this.adapter.entriesPerWrite) void this.flush(group);
    });
  }

  private async flush(group: Group): Promise<void> {
    clearTimeout(group.timer);
    if (this.groups.get(group.record.id) === group) this.groups.delete(group.record.id);
    const waiting = group.waiting.splice(0);
    if (waiting.length === 0) return;
    try {
      const locations = await this.adapter.writeTexts(group.record, waiting.map((item) => item.entry));
      waiting.forEach((item, index) => item.resolve(locations[index]!));
    } catch (error) {
      for (const item of waiting) item.reject(error);
    }
  }
}

function engagementOf(request: PutRequest): EngagementInfo {
  return request.engagement ?? { engagementId: request.engagementId, agents: [], consumers: [] };
}

async function readText(body: Readable, expectedSize: number | undefined, signal?: AbortSignal): Promise<string> {
  const metered = meterBody(body, expectedSize, signal);
  const head = await readHead(metered, TEXT_LIMIT_BYTES);
  if (!head.ended) {
    head.rest.destroy();
    throw new Error(`text artifact larger than ${formatBytes(TEXT_LIMIT_BYTES)}`);
  }
  return Buffer.concat(head.chunks).toString('utf8');
}

function textFileName(request: PutRequest): string {
  return leafName({ ...request, extension: 'txt' });
}
