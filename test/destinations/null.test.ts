import { describe, expect, it } from 'vitest';
import { NullDestination } from '../../src/destinations/null.js';
import { bodyOf, destinationConformance, sampleRequest } from './conformance.js';

destinationConformance('null', async () => ({ destination: new NullDestination(), cleanup: async () => {} }), {
  readBack: false,
});

describe('NullDestination', () => {
  it('counts bytes, keeps size and metadata, and refuses to read', async () => {
    const destination = new NullDestination();
    const request = sampleRequest({ metadata: { a: 'b' } });
    const { location } = await destination.put(request, bodyOf('12345'));
    expect(destination.bytesReceived).toBe(5);
    expect(await destination.stat(request)).toEqual({ location, size: 5, metadata: { a: 'b' } });
    await expect(destination.read(location)).rejects.toThrow('null destination keeps no bytes');
    expect(destination).toMatchObject({ name: 'null', type: 'null' });
  });
});
