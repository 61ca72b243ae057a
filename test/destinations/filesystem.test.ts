import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FilesystemDestination, STAGING_FOLDER, sweepPartials } from '../../src/destinations/filesystem.js';
import { objectPath } from '../../src/destinations/paths.js';
import type { PutRequest } from '../../src/destinations/types.js';
import { abortingBody, bodyOf, destinationConformance, failingBody, sampleRequest } from './conformance.js';

/** How the destination tags its temp files with this host. */
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

async function tempRoot(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'zcc-fs-dest-'));
}

/** Every file under `root`, relative, with `/`. */
async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

destinationConformance('filesystem', async () => {
  const root = await tempRoot();
  return {
    destination: new FilesystemDestination({ name: 'archive', root }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

describe('objectPath', () => {
  const at = (key: string, kind: PutRequest['kind'], extension = 'json', engagementId = 'Eng1'): string =>
    objectPath({ key, kind, engagementId, date: '2026-01-05', extension });

  it('lays out every kind by date, engagement and key', () => {
    expect(at('recording/R1', 'recording', 'mp4')).toBe('2026/01/05/Eng1/recording-R1.mp4');
    expect(at('recording_transcript/R1', 'recording_transcript', 'vtt')).toBe(
      '2026/01/05/Eng1/recording_transcript-R1.vtt',
    );
    expect(at('note/Eng1/N1', 'note', 'txt')).toBe('2026/01/05/Eng1/note-N1.txt');
    expect(at('disposition/Eng1/D1', 'disposition')).toBe('2026/01/05/Eng1/disposition-D1.json');
    expect(at('messaging_transcript/Eng1', 'messaging_transcript')).toBe('2026/01/05/Eng1/messaging_transcript.json');
    expect(at('voicemail/M1', 'voicemail', 'mp3')).toBe('2026/01/05/Eng1/voicemail-M1.mp3');
    expect(at('voicemail_transcript/M1', 'voicemail_transcript')).toBe('2026/01/05/Eng1/voicemail_transcript-M1.json');
  });

  it('refuses keys that do not match their kind or engagement, naming the bad value', () => {
    expect(() => at('note/Eng1/N1', 'recording')).toThrow(/key "note\/Eng1\/N1"/);
    expect(() => at('note/Other/N1', 'note')).toThrow(/key "note\/Other\/N1"/);
    expect(() => at('recording/R1/x', 'recording')).toThrow(/recording\/<id>/);
    expect(() => at('recording/', 'recording')).toThrow(/key segment ""/);
    expect(() => at('recording/R1', 'recording', 'MP4')).toThrow(/extension "MP4"/);
    expect(() => at('recording/R1', 'recording', 'mp4', 'a\u0000b')).toThrow(/engagementId "a\\u0000b"/);
  });
});

describe('FilesystemDestination', () => {
  let root: string;
  let destination: FilesystemDestination;

  beforeEach(async () => {
    root = await tempRoot();
    destination = new FilesystemDestination({ name: 'archive', root });
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('writes the dated layout with a sidecar, 0o640 by default', async () => {
    const request = sampleRequest({ key: 'recording/Rec001', metadata: { agent: 'Zoë' } });
    const { location } = await destination.put(request, bodyOf('media'));
    expect(location).toBe('2026/03/14/Eng001/recording-Rec001.mp4');
    expect(await filesUnder(root)).toEqual([location, `${location}.meta.json`]);
    expect(await readFile(path.join(root, location), 'utf8')).toBe('media');
    expect(JSON.parse(await readFile(path.join(root, `${location}.meta.json`), 'utf8'))).toEqual({
      key: 'recording/Rec001',
      kind: 'recording',
      engagementId: 'Eng001',
      contentType: 'video/mp4',
      metadata: { agent: 'Zoë' },
      size: 5,
    });
    expect((await stat(path.join(root, location))).mode & 0o777).toBe(0o640);
  });

  it('applies a configured file mode', async () => {
    const custom = new FilesystemDestination({ name: 'archive', root, fileMode: 0o644 });
    const { location } = await custom.put(sampleRequest(), bodyOf('x'));
    expect((await stat(path.join(root, location))).mode & 0o777).toBe(0o644);
    expect((await stat(path.join(root, `${location}.meta.json`))).mode & 0o777).toBe(0o644);
  });

  it('re-delivery overwrites the same file', async () => {
    const request = sampleRequest();
    await destination.put(request, bodyOf('one'));
    const { location } = await destination.put(request, bodyOf('two'));
    expect(await filesUnder(root)).toEqual([location, `${location}.meta.json`]);
    expect(await readFile(path.join(root, location), 'utf8')).toBe('two');
  });

  it('leaves no .partial file after success or failure', async () => {
    const existing = sampleRequest();
    await destination.put(existing, bodyOf('ok'));
    await expect(destination.put(existing, failingBody())).rejects.toThrow('reset');
    await expect(destination.put(sampleRequest(), failingBody())).rejects.toThrow('reset');
    const controller = new AbortController();
    await expect(destination.put(sampleRequest(), abortingBody(controller), controller.signal)).rejects.toThrow();
    await expect(destination.put(sampleRequest({ size: 99 }), bodyOf('short'))).rejects.toThrow(/expected 99/);
    const files = await filesUnder(root);
    expect(files.filter((file) => file.endsWith('.partial'))).toEqual([]);
    expect(files).toHaveLength(2);
  });

  it('refuses an id whose file would take another note\'s metadata name, leaving that note whole', async () => {
    const note = (id: string) => sampleRequest({ key: `note/Eng001/${id}`, kind: 'note', extension: 'json', contentType: 'application/json' });
    const { location } = await destination.put(note('N1'), bodyOf('{"note":"first"}'));
    await expect(destination.put(note('N1.json.meta'), bodyOf('{"note":"second"}'))).rejects.toThrow(/refusing key "note\/Eng001\/N1\.json\.meta": expected an id whose file name does not end in \.meta\.json/);
    expect(await filesUnder(root)).toEqual([location, `${location}.meta.json`]);
    expect(await destination.stat(note('N1'))).toMatchObject({ location, size: 16 });
  });

  it('refused ids write nothing at all', async () => {
    await expect(destination.put(sampleRequest({ engagementId: '..' }), bodyOf('x'))).rejects.toThrow(/engagementId/);
    await expect(destination.put(sampleRequest({ key: 'recording/../../etc' }), bodyOf('x'))).rejects.toThrow();
    expect(await readdir(root)).toEqual([]);
  });

  it('creates temp files 0o600 in the staging folder while writing', async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let sent = 0;
    const body = new Readable({
      read() {
        sent += 1;
        if (sent === 1) this.push(Buffer.from('first chunk'));
        else void released.then(() => this.push(null));
      },
    });
    const request = sampleRequest();
    const putting = destination.put(request, body);
    const staging = path.join(root, STAGING_FOLDER);
    let partial: string | undefined;
    for (let i = 0; i < 200 && !partial; i += 1) {
      partial = (await readdir(staging).catch(() => [])).find((name) => name.endsWith('.partial'));
      if (!partial) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Named for what it becomes: its leaf and a tag of its whole location.
    const tag = createHash('sha256').update(objectPath(request)).digest('hex').slice(0, 12);
    expect(partial).toMatch(new RegExp(`^\\.recording-Rec\\d+\\.mp4\\.${tag}\\.${HOST_TAG}-${process.pid}\\.[0-9a-f]{16}\\.partial$`));
    expect((await stat(path.join(staging, partial ?? ''))).mode & 0o777).toBe(0o600);
    // A run starting now (the sweep at its start) leaves a temp file alone while its writer is alive.
    expect(await sweepPartials(root)).toBe(0);
    release();
    await putting;
    expect(await readdir(staging)).toEqual([]);
    expect(await filesUnder(root)).toEqual([objectPath(request), `${objectPath(request)}.meta.json`]);
  });

  it('makes the staging folder again when someone removed it between puts', async () => {
    await destination.put(sampleRequest({ key: 'recording/Rec001' }), bodyOf('one'));
    await rm(path.join(root, STAGING_FOLDER), { recursive: true });
    const { location } = await destination.put(sampleRequest({ key: 'recording/Rec002' }), bodyOf('two'));
    expect(await readFile(path.join(root, location), 'utf8')).toBe('two');
    expect(await readdir(path.join(root, STAGING_FOLDER))).toEqual([]);
  });

  it('sweepPartials removes stale temp files from the staging folder and nothing else', async () => {
    const staging = path.join(root, STAGING_FOLDER);
    await mkdir(staging, { recursive: true });
    // Named before writers were, and written by a process of this host that is gone.
    await writeFile(path.join(staging, '.recording-R1.mp4.0011223344556677.partial'), 'half');
    await writeFile(path.join(staging, `.note-N1.txt.meta.json.abcdef012345.${HOST_TAG}-999999999.0011223344556677.partial`), 'half');
    await writeFile(path.join(staging, 'notes.txt'), 'not a temp file');
    await mkdir(path.join(root, '2026/03/14/Eng001'), { recursive: true });
    await writeFile(path.join(root, '2026/03/14/Eng001/recording-R3.partial'), 'a complete file whose extension is "partial"');
    expect(await sweepPartials(root)).toBe(2);
    expect(await filesUnder(root)).toEqual(['.zcc-partial/notes.txt', '2026/03/14/Eng001/recording-R3.partial']);
    expect(await sweepPartials(path.join(root, 'missing'))).toBe(0);
  });

  it('sweepPartials walks an archive without a staging folder once (temp files beside final names), then reads only the staging folder', async () => {
    const dir = path.join(root, '2026/03/14/Eng001');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, '.recording-R1.mp4.0011223344556677.partial'), 'half');
    await writeFile(path.join(root, `2026/.note-N1.txt.meta.json.${HOST_TAG}-999999999.0011223344556677.partial`), 'half');
    await writeFile(path.join(dir, `.note-N2.txt.${HOST_TAG}-${process.pid}.0011223344556677.partial`), 'being written');
    await writeFile(path.join(dir, 'recording-R2.mp4'), 'complete');
    await writeFile(path.join(dir, 'recording-R3.partial'), 'a complete file whose extension is "partial"');
    expect(await sweepPartials(root)).toBe(2);
    expect((await stat(path.join(root, STAGING_FOLDER))).isDirectory()).toBe(true);
    // The archive is not walked again: a temp file beside a final name is no longer the sweep's to find.
    await writeFile(path.join(dir, '.recording-R4.mp4.0011223344556677.partial'), 'half');
    expect(await sweepPartials(root)).toBe(0);
    expect(await filesUnder(root)).toEqual([
      `2026/03/14/Eng001/.note-N2.txt.${HOST_TAG}-${process.pid}.0011223344556677.partial`,
      '2026/03/14/Eng001/.recording-R4.mp4.0011223344556677.partial',
      '2026/03/14/Eng001/recording-R2.mp4',
      '2026/03/14/Eng001/recording-R3.partial',
    ]);
    // A missing root gets no staging folder from a sweep.
    expect(await sweepPartials(path.join(root, 'missing'))).toBe(0);
    expect((await readdir(root)).sort()).toEqual(['.zcc-partial', '2026']);
  });

  it('sweepPartials refuses a root that is a file, naming it as configured, and removes nothing', async () => {
    const file = path.join(root, 'archive');
    await writeFile(file, 'a file where the archive should be');
    await expect(sweepPartials(file)).rejects.toThrow(`destinations[].path: ${JSON.stringify(file)}`);
    expect(await readFile(file, 'utf8')).toBe('a file where the archive should be');
  });

  it('sweepPartials can spare temp files still being written', async () => {
    await mkdir(path.join(root, STAGING_FOLDER));
    const file = path.join(root, STAGING_FOLDER, '.recording-R1.mp4.00.partial');
    await writeFile(file, 'half');
    expect(await sweepPartials(root, { olderThanMs: 60_000 })).toBe(0);
    const anHourAgo = new Date(Date.now() - 3_600_000);
    await utimes(file, anHourAgo, anHourAgo);
    expect(await sweepPartials(root, { olderThanMs: 60_000 })).toBe(1);
  });

  it('sweepPartials spares a temp file whose writer may still be writing: alive here, or on another host within the hour', async () => {
    const staging = path.join(root, STAGING_FOLDER);
    await mkdir(staging);
    const live = path.join(staging, `.recording-R1.mp4.${HOST_TAG}-${process.pid}.0011223344556677.partial`);
    const elsewhere = path.join(staging, '.recording-R2.mp4.0badc0de-4242.0011223344556677.partial');
    await writeFile(live, 'half');
    await writeFile(elsewhere, 'half');
    expect(await sweepPartials(root)).toBe(0);
    // Untouched for over an hour: abandoned whoever wrote it (another host's crash, or this pid reused).
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    await utimes(elsewhere, twoHoursAgo, twoHoursAgo);
    expect(await sweepPartials(root)).toBe(1);
    await utimes(live, twoHoursAgo, twoHoursAgo);
    expect(await sweepPartials(root)).toBe(1);
    expect(await filesUnder(root)).toEqual([]);
  });

  // A folder of the archive on another filesystem (a mount inside the root; here a symlink into /dev/shm): a rename
  // from the staging folder cannot cross, so the file is copied beside its final name and renamed there.
  const otherDevice = existsSync('/dev/shm') && statSync('/dev/shm').dev !== statSync(tmpdir()).dev;
  it.skipIf(!otherDevice)('delivers into a folder on another filesystem, and sweeps what a kill left beside final names there', async () => {
    const elsewhere = await mkdtemp('/dev/shm/zcc-fs-mount-');
    try {
      await symlink(elsewhere, path.join(root, '2026'));
      const request = sampleRequest({ key: 'recording/Rec001' });
      const location = objectPath(request);
      const dir = path.join(elsewhere, path.dirname(location).split('/').slice(1).join('/'));
      await mkdir(dir, { recursive: true });
      const leftover = path.join(dir, `.recording-Rec001.mp4.${HOST_TAG}-999999999.0011223344556677.partial`);
      await writeFile(leftover, 'half, from a killed writer');

      await destination.put(request, bodyOf('media across filesystems'));
      expect(await readFile(path.join(root, location), 'utf8')).toBe('media across filesystems');
      expect(JSON.parse(await readFile(path.join(root, `${location}.meta.json`), 'utf8'))).toMatchObject({ key: 'recording/Rec001', size: 24 });
      expect((await stat(path.join(root, location))).mode & 0o777).toBe(0o640);
      expect((await readdir(dir)).sort()).toEqual(['recording-Rec001.mp4', 'recording-Rec001.mp4.meta.json']);
      expect(await readdir(path.join(root, STAGING_FOLDER))).toEqual([]);
      expect(await destination.stat(request)).toMatchObject({ location, size: 24 });
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it.skipIf(!otherDevice)('a re-delivery across filesystems stopped midway leaves the earlier copy whole, its metadata too', async () => {
    const elsewhere = await mkdtemp('/dev/shm/zcc-fs-mount-');
    try {
      await symlink(elsewhere, path.join(root, '2026'));
      const request = sampleRequest({ key: 'recording/Rec001', metadata: { version: 'v1' } });
      const finalPath = path.join(root, objectPath(request));
      await destination.put({ ...request, size: 10 }, bodyOf('version 1!'));
      // Stopped while the new data is copied beside its final name, the long step of a move across filesystems.
      const big = Buffer.alloc(96 * 1024 * 1024, 7);
      const controller = new AbortController();
      const dataCopy = `.${path.basename(finalPath)}.${HOST_TAG}-`;
      const poll = setInterval(() => {
        void readdir(path.dirname(finalPath)).then((names) => names.some((name) => name.startsWith(dataCopy)) && controller.abort(), () => undefined);
      }, 1);
      try {
        await expect(destination.put({ ...request, size: big.length, metadata: { version: 'v2' } }, Readable.from([big]), controller.signal)).rejects.toThrow();
      } finally {
        clearInterval(poll);
      }
      expect(controller.signal.aborted).toBe(true);
      expect(await readFile(finalPath, 'utf8')).toBe('version 1!');
      expect(JSON.parse(await readFile(`${finalPath}.meta.json`, 'utf8'))).toMatchObject({ size: 10, metadata: { version: 'v1' } });
      expect(await destination.stat(request)).toMatchObject({ size: 10, metadata: { version: 'v1' } });
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('stores an id of 70 CJK characters: temp names are cut by bytes, not characters', async () => {
    const request = sampleRequest({ key: `recording/${'録'.repeat(70)}` });
    expect(Buffer.byteLength(path.basename(objectPath(request)))).toBeLessThanOrEqual(255);
    const { location } = await destination.put(request, bodyOf('x'));
    expect(await readFile(path.join(root, location), 'utf8')).toBe('x');
  });

  it.skipIf(!otherDevice)('stores an id of 70 CJK characters into a folder on another filesystem (the copy beside its final name too)', async () => {
    const elsewhere = await mkdtemp('/dev/shm/zcc-fs-mount-');
    try {
      await symlink(elsewhere, path.join(root, '2026'));
      const request = sampleRequest({ key: `recording/${'録'.repeat(70)}` });
      const { location } = await destination.put(request, bodyOf('x'));
      expect(await readFile(path.join(root, location), 'utf8')).toBe('x');
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('refuses locations outside the root', async () => {
    for (const location of ['../x', '2026/../../x', '/etc/passwd', '', '.', 'a\u0000b']) {
      await expect(destination.read(location)).rejects.toThrow(/outside/);
      await expect(destination.remove(location)).rejects.toThrow(/outside/);
    }
  });
});
