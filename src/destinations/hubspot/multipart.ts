// A multipart/form-data body for one file upload: text fields first, then the file, streamed chunk by chunk (or the
// whole thing as one Buffer when the bytes are at hand, so the request can be retried).
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export interface MultipartBody {
  body: Readable | Buffer;
  contentType: string;
  /** Known when the file's bytes are at hand. */
  length: number | undefined;
  replayable: boolean;
  /** The error the file's own stream failed with, if it did (a download cut off, an abort). */
  sourceError(): Error | undefined;
}

export function multipartBody(
  fields: Record<string, string>,
  file: { field: string; fileName: string; contentType: string },
  content: Buffer | Readable,
): MultipartBody {
  const boundary = `----zcc${randomBytes(12).toString('hex')}`;
  const parts = Object.entries(fields).map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\n\r\n${value}\r\n`);
  const head = Buffer.from(
    `${parts.join('')}--${boundary}\r\nContent-Disposition: form-data; name="${quote(file.field)}"; filename="${quote(file.fileName)}"\r\nContent-Type: ${file.contentType}\r\n\r\n`,
    'utf8',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8');
  const contentType = `multipart/form-data; boundary=${boundary}`;
  if (Buffer.isBuffer(content)) {
    const body = Buffer.concat([head, content, tail]);
    return { body, contentType, length: body.length, replayable: true, sourceError: () => undefined };
  }
  let failure: Error | undefined;
  content.once('error', (error: Error) => {
    failure = error;
  });
  async function* stream(source: Readable): AsyncGenerator<Buffer> {
    yield head;
    for await (const chunk of source) yield chunk as Buffer;
    yield tail;
  }
  return { body: Readable.from(stream(content)), contentType, length: undefined, replayable: false, sourceError: () => failure };
}

/** Form field names and file names go inside double quotes; HTML5 form encoding escapes these three. */
function quote(text: string): string {
  return text.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
