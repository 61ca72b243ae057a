// A folder of the archive bind-mounted from the same filesystem: the device numbers match, and Linux still refuses a
// rename across the mount (EXDEV). Mounting needs privileges a test does not have, so rename answers as the kernel
// does for a final name under the mounted folder.
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { FilesystemDestination, STAGING_FOLDER } from '../../src/destinations/filesystem.js';
import { objectPath } from '../../src/destinations/paths.js';
import { bodyOf, sampleRequest } from './conformance.js';

const mounted = vi.hoisted(() => ({ folder: '' }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...real,
    rename: async (from: string, to: string) => {
      const crosses = mounted.folder !== '' && to.startsWith(mounted.folder + path.sep) !== from.startsWith(mounted.folder + path.sep);
      if (crosses) throw Object.assign(new Error(`EXDEV: cross-device link not permitted, rename '${from}' -> '${to}'`), { code: 'EXDEV' });
      return real.rename(from, to);
    },
  };
});

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'zcc-fs-bind-'));
  mounted.folder = path.join(root, '2026');
});
afterEach(async () => {
  mounted.folder = '';
  await rm(root, { recursive: true, force: true });
});

it('delivers into a folder bind-mounted from the same filesystem, and replaces an earlier copy there', async () => {
  const destination = new FilesystemDestination({ name: 'archive', root });
  const request = sampleRequest({ key: 'recording/Rec001' });
  const location = objectPath(request);
  await destination.put(request, bodyOf('first copy'));
  await destination.put(request, bodyOf('second copy!'));
  expect(await readFile(path.join(root, location), 'utf8')).toBe('second copy!');
  expect(JSON.parse(await readFile(path.join(root, `${location}.meta.json`), 'utf8'))).toMatchObject({ key: 'recording/Rec001', size: 12 });
  expect((await readdir(path.dirname(path.join(root, location)))).sort()).toEqual(['recording-Rec001.mp4', 'recording-Rec001.mp4.meta.json']);
  expect(await readdir(path.join(root, STAGING_FOLDER))).toEqual([]);
});
