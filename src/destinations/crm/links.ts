// A link to our stored copy of an artifact, never to Zoom's URL: from the operator's own viewer (`linkTemplate`)
// or minted by a storage destination that holds the copy (`linkFrom`: an S3 presigned URL, an Azure SAS).
import { Duration } from 'luxon';
import { CRM_LINK_PLACEHOLDERS } from '../../config-schema.js';
import { DestinationError } from '../../errors.js';
import type { Destination, PutRequest } from '../types.js';

export interface LinkSettings {
  destination: string;
  linkTemplate?: string;
  linkFrom?: string;
  linkLifetime?: string;
}

export class LinkMaker {
  private source: Destination | null = null;

  constructor(private readonly settings: LinkSettings) {}

  get configured(): boolean {
    return this.settings.linkTemplate !== undefined || this.settings.linkFrom !== undefined;
  }

  useSource(source: Destination): void {
    this.source = source;
  }

  async linkFor(request: PutRequest): Promise<string> {
    const { linkTemplate, linkFrom, destination } = this.settings;
    if (linkTemplate !== undefined) return expandTemplate(linkTemplate, request);
    if (linkFrom === undefined) {
      throw new DestinationError(destination, `${request.key} should be linked, but neither linkTemplate nor linkFrom is configured`);
    }
    const source = this.source;
    if (!source?.link) throw new DestinationError(destination, `linkFrom "${linkFrom}" is not a storage destination that can issue links`);
    const stored = await source.stat(request);
    // The engine delivers to the link's source first; missing here means that delivery failed (retried next run).
    if (!stored) throw new DestinationError(destination, `${request.key} is not stored in "${linkFrom}" yet, so there is nothing to link to`);
    const lifetime = this.settings.linkLifetime ? Duration.fromISO(this.settings.linkLifetime).as('seconds') : undefined;
    return source.link(stored.location, lifetime);
  }
}

export function expandTemplate(template: string, request: PutRequest): string {
  const values: Record<(typeof CRM_LINK_PLACEHOLDERS)[number], string> = {
    key: request.key,
    kind: request.kind,
    engagementId: request.engagementId,
    date: request.date,
    extension: request.extension,
  };
  return template.replace(/\{(key|kind|engagementId|date|extension)\}/g, (_match, name: keyof typeof values) =>
    // A key's "/" stays a path separator; everything else in a value is encoded.
    values[name].split('/').map(encodeURIComponent).join('/'),
  );
}
