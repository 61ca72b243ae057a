// A destination that reads every body to the end and keeps nothing but two counters. src/destinations/null.ts keeps
// each key's metadata (for stat()), which grows with the window; the memory benchmark must not count that.
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { dist } from './paths.mjs';

const { objectPath } = await import(dist('destinations/paths.js'));

export class DrainDestination {
  type = 'drain';
  bytesReceived = 0;
  objectsReceived = 0;

  constructor(name) {
    this.name = name;
  }

  async put(request, body, signal) {
    let location;
    try {
      location = objectPath(request);
    } catch (error) {
      body.destroy();
      throw error;
    }
    let size = 0;
    const sink = new Writable({
      write(chunk, _encoding, done) {
        size += chunk.length;
        done();
      },
    });
    await pipeline(body, sink, { signal });
    if (request.size !== undefined && size !== request.size) throw new Error(`${request.key}: received ${size} bytes, expected ${request.size}`);
    this.bytesReceived += size;
    this.objectsReceived++;
    return { location };
  }

  async stat() {
    return null;
  }

  async read() {
    throw new Error('the drain destination keeps no bytes');
  }

  async remove() {}

  async close() {}
}
