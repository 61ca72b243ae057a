import { describe, expect, it } from 'vitest';
import { MemoryDestination } from '../../src/destinations/memory.js';
import { bodyOf, destinationConformance, failingBody, sampleRequest } from './conformance.js';

// Memory keeps every byte, so its large body stays small enough not to blur the rss check.
destinationConformance('memory', async () => ({ destination: new MemoryDestination(), cleanup: async () => {} }), {
  largeBytes: 8 * 1024 * 1024,
});

describe('MemoryDestination', () => {
  it('counts completed puts per key, and stores nothing for a failed one', async () => {
    const destination = new MemoryDestination({ name: 'mem' });
    const request = sampleRequest();
    await destination.put(request, bodyOf('one'));
    await destination.put(request, bodyOf('two'));
    await expect(destination.put(request, failingBody())).rejects.toThrow('reset');
    await expect(destination.put(sampleRequest({ key: 'recording/..' }), bodyOf('x'))).rejects.toThrow();
    expect(destination.putCount.get(request.key)).toBe(2);
    expect([...destination.objects.keys()]).toEqual([request.key]);
    expect(destination.objects.get(request.key)?.bytes.toString()).toBe('two');
    expect(destination).toMatchObject({ name: 'mem', type: 'memory' });
  });
});
