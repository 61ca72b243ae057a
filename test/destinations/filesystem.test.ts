import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FilesystemDestination, sweepPartials } from '../../src/destinations/filesystem.js';
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

  it('refused ids write nothing at all', async () => {
    await expect(destination.put(sampleRequest({ engagementId: '..' }), bodyOf('x'))).rejects.toThrow(/engagementId/);
    await expect(destination.put(sampleRequest({ key: 'recording/../../etc' }), bodyOf('x'))).rejects.toThrow();
    expect(await readdir(root)).toEqual([]);
  });

  it('creates temp files 0o600 while writing', async () => {
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
    const dir = path.join(root, path.dirname(objectPath(request)));
    let partial: string | undefined;
    for (let i = 0; i < 200 && !partial; i += 1) {
      partial = (await readdir(dir).catch(() => [])).find((name) => name.endsWith('.partial'));
      if (!partial) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(partial).toMatch(new RegExp(`^\\.recording-Rec\\d+\\.mp4\\.${HOST_TAG}-${process.pid}\\.[0-9a-f]{16}\\.partial$`));
    expect((await stat(path.join(dir, partial ?? ''))).mode & 0o777).toBe(0o600);
    // A run starting now (the sweep at its start) leaves a temp file alone while its writer is alive.
    expect(await sweepPartials(root)).toBe(0);
    release();
    await putting;
    expect((await readdir(dir)).filter((name) => name.endsWith('.partial'))).toEqual([]);
  });

  it('sweepPartials removes stale temp files and nothing else', async () => {
    const dir = path.join(root, '2026/03/14/Eng001');
    await mkdir(dir, { recursive: true });
    // Named before writers were, and written by a process of this host that is gone.
    await writeFile(path.join(dir, '.recording-R1.mp4.0011223344556677.partial'), 'half');
    await writeFile(path.join(root, `2026/.note-N1.txt.meta.json.${HOST_TAG}-999999999.0011223344556677.partial`), 'half');
    await writeFile(path.join(dir, 'recording-R2.mp4'), 'complete');
    await writeFile(path.join(dir, 'recording-R3.partial'), 'a complete file whose extension is "partial"');
    expect(await sweepPartials(root)).toBe(2);
    expect(await filesUnder(root)).toEqual(['2026/03/14/Eng001/recording-R2.mp4', '2026/03/14/Eng001/recording-R3.partial']);
    expect(await sweepPartials(path.join(root, 'missing'))).toBe(0);
  });

  it('sweepPartials can spare temp files still being written', async () => {
    const file = path.join(root, '.recording-R1.mp4.00.partial');
    await writeFile(file, 'half');
    expect(await sweepPartials(root, { olderThanMs: 60_000 })).toBe(0);
    const anHourAgo = new Date(Date.now() - 3_600_000);
    await utimes(file, anHourAgo, anHourAgo);
    expect(await sweepPartials(root, { olderThanMs: 60_000 })).toBe(1);
  });

  it('sweepPartials spares a temp file whose writer may still be writing: alive here, or on another host within the hour', async () => {
    const live = path.join(root, `.recording-R1.mp4.${HOST_TAG}-${process.pid}.0011223344556677.partial`);
    const elsewhere = path.join(root, '.recording-R2.mp4.0badc0de-4242.0011223344556677.partial');
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

  it('refuses locations outside the root', async () => {
    for (const location of ['../x', '2026/../../x', '/etc/passwd', '', '.', 'a\u0000b']) {
      await expect(destination.read(location)).rejects.toThrow(/outside/);
      await expect(destination.remove(location)).rejects.toThrow(/outside/);
    }
  });
});
