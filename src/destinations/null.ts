// Drains bodies and keeps only size and metadata per key, for benchmarks: it measures everything but the storage.
import type { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DestinationError } from '../errors.js';
import { objectPath, objectPathOrRelease, type ObjectAddress } from './paths.js';
import type { Destination, PutRequest, PutResult, StoredObject } from './types.js';

export class NullDestination implements Destination {
  readonly type = 'null';
  /** What a put would have stored, by artifact key (no bytes). */
  readonly objects = new Map<string, StoredObject>();
  /** Bytes drained by all completed puts. */
  bytesReceived = 0;

  readonly name: string;

  constructor(options: { name?: string } = {}) {
    this.name = options.name ?? 'null';
  }

  async put(request: PutRequest, body: Readable, signal?: AbortSignal): Promise<PutResult> {
    const location = objectPathOrRelease(request, body);
    let size = 0;
    const count = new Writable({
      write(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        done();
      },
    });
    await pipeline(body, count, { signal });
    if (request.size !== undefined && size !== request.size) {
      throw new DestinationError(this.name, `${request.key}: received ${size} bytes, expected ${request.size}`);
    }
    this.objects.set(request.key, { location, size, metadata: { ...request.metadata } });
    this.bytesReceived += size;
    return { location };
  }

  async stat(request: ObjectAddress): Promise<StoredObject | null> {
    const location = objectPath(request);
    const stored = this.objects.get(request.key);
    return stored?.location === location ? { ...stored, metadata: { ...stored.metadata } } : null;
  }

  async read(_location: string): Promise<Readable> {
    throw new Error('null destination keeps no bytes');
  }

  async remove(location: string): Promise<void> {
    for (const [key, stored] of this.objects) {
      if (stored.location === location) this.objects.delete(key);
    }
  }

  async close(): Promise<void> {}
}
