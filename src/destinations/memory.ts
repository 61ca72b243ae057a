// Objects kept in a Map, for tests: the body is consumed fully before anything is stored, so a failing stream
// stores nothing, and `putCount` shows whether a key was delivered more than once.
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DestinationError } from '../errors.js';
import { objectPath, objectPathOrRelease, type ObjectAddress } from './paths.js';
import type { Destination, PutRequest, PutResult, StoredObject } from './types.js';

export interface MemoryObject {
  bytes: Buffer;
  request: PutRequest;
}

export class MemoryDestination implements Destination {
  readonly type = 'memory';
  /** Stored objects by artifact key. */
  readonly objects = new Map<string, MemoryObject>();
  /** Completed puts by artifact key; more than 1 means the key was delivered again. */
  readonly putCount = new Map<string, number>();

  readonly name: string;

  constructor(options: { name?: string } = {}) {
    this.name = options.name ?? 'memory';
  }

  async put(request: PutRequest, body: Readable, signal?: AbortSignal): Promise<PutResult> {
    const location = objectPathOrRelease(request, body);
    const chunks: Buffer[] = [];
    const collect = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk);
        done();
      },
    });
    await pipeline(body, collect, { signal });
    const bytes = Buffer.concat(chunks);
    if (request.size !== undefined && bytes.length !== request.size) {
      throw new DestinationError(this.name, `${request.key}: received ${bytes.length} bytes, expected ${request.size}`);
    }
    this.objects.set(request.key, { bytes, request: { ...request, metadata: { ...request.metadata } } });
    this.putCount.set(request.key, (this.putCount.get(request.key) ?? 0) + 1);
    return { location };
  }

  async stat(request: ObjectAddress): Promise<StoredObject | null> {
    const location = objectPath(request);
    const stored = this.objects.get(request.key);
    if (!stored || objectPath(stored.request) !== location) return null;
    return { location, size: stored.bytes.length, metadata: { ...stored.request.metadata } };
  }

  async read(location: string): Promise<Readable> {
    const stored = this.find(location);
    if (!stored) throw new DestinationError(this.name, `no object at ${JSON.stringify(location)}`);
    return Readable.from([stored[1].bytes]);
  }

  async remove(location: string): Promise<void> {
    const stored = this.find(location);
    if (stored) this.objects.delete(stored[0]);
  }

  async close(): Promise<void> {}

  private find(location: string): [string, MemoryObject] | undefined {
    return [...this.objects].find(([, stored]) => objectPath(stored.request) === location);
  }
}
