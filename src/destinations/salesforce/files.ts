// Files as ContentVersions published to the engagement's Task (FirstPublishLocationId). Small bodies go up as JSON
// with base64 VersionData (so got can retry them); streamed ones as multipart (`entity_content` + `VersionData`). The
// Title ends with the key's marker: a re-run finds an earlier upload by it, and a replacement is uploaded before the
// old ContentDocument is deleted.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FileEntry } from '../crm/adapter.js';
import { asObject, optionalString, parseSaveResult, type SalesforceRest, soqlString, stringField } from './rest.js';
import { RETRY_ONLY_REFUSED, statusOf } from '../crm/http.js';

/** A non-multipart insert carries at most 37.5 MB of base64. */
export const JSON_BASE64_LIMIT = 37.5 * 1024 * 1024;
/** Room for the JSON around VersionData. */
const JSON_OVERHEAD = 4096;

interface StoredVersion {
  versionId: string;
  documentId: string;
  size: number;
}

export class ContentFiles {
  constructor(private readonly rest: SalesforceRest) {}

  /** The latest versions titled `title`, newest first. */
  async findAll(title: string, signal?: AbortSignal): Promise<StoredVersion[]> {
    return this.rest.query(
      `SELECT Id, ContentDocumentId, ContentSize FROM ContentVersion WHERE Title = ${soqlString(title)} AND IsLatest = true ORDER BY CreatedDate DESC`,
      (row) => ({
        versionId: stringField(row, 'Id', 'ContentVersion'),
        documentId: stringField(row, 'ContentDocumentId', 'ContentVersion'),
        size: typeof row.ContentSize === 'number' ? row.ContentSize : Number.NaN,
      }),
      signal,
    );
  }

  async find(title: string): Promise<StoredVersion | null> {
    return (await this.findAll(title))[0] ?? null;
  }

  async attach(taskId: string, title: string, file: FileEntry, signal?: AbortSignal): Promise<string> {
    const earlier = await this.findAll(title, signal);
    const previousId = file.previous?.startsWith('file/') ? file.previous.slice('file/'.length) : undefined;
    // A crash after the upload, before the ledger: the copy is there (or the replacement already is).
    const done = earlier.find((version) => version.size === file.size && version.versionId !== previousId);
    if (done) {
      file.body.destroy();
      await this.removeDocuments(earlier.filter((version) => version.documentId !== done.documentId));
      return `file/${done.versionId}`;
    }
    const versionId = await this.upload(taskId, title, file, signal);
    await this.removeDocuments(earlier);
    return `file/${versionId}`;
  }

  async read(versionId: string): Promise<Readable> {
    // A plain request first: it refreshes an expired token and says 404 clearly; the stream then reads the bytes.
    await this.rest.json(`/sobjects/ContentVersion/${versionId}?fields=Id`, (value) => asObject(value, 'ContentVersion'));
    return this.rest.stream(`/sobjects/ContentVersion/${versionId}/VersionData`);
  }

  /** Deletes the version's ContentDocument (a version cannot be deleted alone); a missing one is fine. */
  async remove(versionId: string): Promise<void> {
    const version = await this.rest.jsonOrNull(`/sobjects/ContentVersion/${versionId}?fields=ContentDocumentId`, (value) => asObject(value, 'ContentVersion'));
    const documentId = version ? optionalString(version, 'ContentDocumentId') : undefined;
    if (documentId) await this.removeDocuments([{ versionId, documentId, size: 0 }]);
  }

  private async removeDocuments(versions: readonly StoredVersion[]): Promise<void> {
    for (const documentId of new Set(versions.map((version) => version.documentId))) {
      await this.rest.send(`/sobjects/ContentDocument/${documentId}`, { method: 'DELETE' }).catch((error: unknown) => {
        if (statusOf(error) !== 404) throw error;
      });
    }
  }

  private async upload(taskId: string, title: string, file: FileEntry, signal?: AbortSignal): Promise<string> {
    const entity = { Title: title, PathOnClient: file.fileName, FirstPublishLocationId: taskId };
    if (file.bytes && Math.ceil(file.bytes.length / 3) * 4 + JSON_OVERHEAD <= JSON_BASE64_LIMIT) {
      file.body.destroy();
      return this.rest.json('/sobjects/ContentVersion', parseSaveResult, {
        method: 'POST',
        json: { ...entity, VersionData: file.bytes.toString('base64') },
        retry: RETRY_ONLY_REFUSED,
        signal,
      }).then((result) => result.id);
    }
    const multipart = multipartOf(entity, file);
    return this.rest.json('/sobjects/ContentVersion', parseSaveResult, {
      method: 'POST',
      body: multipart.body,
      headers: { 'content-type': `multipart/form-data; boundary="${multipart.boundary}"`, ...(multipart.length === undefined ? {} : { 'content-length': String(multipart.length) }) },
      // A stream cannot be sent twice; a failed upload is retried by the next run.
      retry: { limit: 0 },
      signal,
    }).then((result) => result.id);
  }
}

/** The multipart body Salesforce takes for blobs: the fields as JSON, then the bytes, streamed. */
function multipartOf(entity: Record<string, string>, file: FileEntry): { boundary: string; body: Readable; length: number | undefined } {
  const boundary = `zcc-${randomBytes(16).toString('hex')}`;
  const header = (value: string) => value.replace(/[\r\n"]/g, (char) => (char === '"' ? '%22' : ' '));
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="entity_content"\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(entity)}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="VersionData"; filename="${header(file.fileName)}"\r\nContent-Type: ${header(file.contentType)}\r\n\r\n`,
    'utf8',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8');
  async function* parts(): AsyncGenerator<Buffer> {
    yield head;
    for await (const chunk of file.body) yield chunk as Buffer;
    yield tail;
  }
  const length = file.size === undefined ? undefined : head.length + file.size + tail.length;
  return { boundary, body: Readable.from(parts(), { objectMode: false, highWaterMark: 64 * 1024 }), length };
}
