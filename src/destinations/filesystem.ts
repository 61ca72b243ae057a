// Files under a root folder in the dated layout, each written atomically (temp file in the staging folder, fsync,
// rename into place, fsync of the folder) with a `<file>.meta.json` sidecar that is in place before the data file appears.
import { createReadStream } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type FileHandle, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConfigError, DestinationError } from '../errors.js';
import { processAlive } from '../process-alive.js';
import { objectPath, UnsafeObjectPathError, type ObjectAddress } from './paths.js';
import type { Destination, PutRequest, PutResult, StoredObject } from './types.js';

export interface FilesystemDestinationOptions {
  name: string;
  root: string;
  /** Mode of complete files (default 0o640); files being written are 0o600 until complete. */
  fileMode?: number;
}

/** What a sidecar holds next to each data file. */
export interface Sidecar {
  key: string;
  kind: string;
  engagementId: string;
  contentType: string;
  metadata: Record<string, string>;
  size: number;
}

const SIDECAR_SUFFIX = '.meta.json';
const PARTIAL_SUFFIX = '.partial';
/**
 * Temp files are written in this one folder under the root and renamed into place, so the sweep at the start of a run
 * reads one small folder instead of walking an archive that gains a folder per engagement (millions within a year).
 */
export const STAGING_FOLDER = '.zcc-partial';
/**
 * Temp names carry their writer (a tag of its host, its pid): a run sweeping at start removes what dead writers left,
 * not what a listener on the same archive is writing right now.
 */
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
const WRITER = /\.([0-9a-f]{8})-(\d+)\.[0-9a-f]{16}\.partial$/;
/** A temp file untouched this long is abandoned whoever wrote it (a writer on another host, or a pid reused). */
const ABANDONED_AFTER_MS = 60 * 60_000;

/**
 * An artifact's place under the root. A file name ending like a sidecar is refused: an id such as `N1.json.meta` would
 * make note N1's metadata file (`note-N1.json.meta.json`) another note's data, and each write would spoil the other.
 */
function dataPath(request: ObjectAddress): string {
  const location = objectPath(request);
  if (location.endsWith(SIDECAR_SUFFIX)) {
    throw new UnsafeObjectPathError('key', request.key, `an id whose file name does not end in ${SIDECAR_SUFFIX} (that name holds another file's metadata)`);
  }
  return location;
}

export class FilesystemDestination implements Destination {
  readonly type = 'filesystem';
  readonly name: string;
  readonly root: string;
  private readonly staging: string;
  private readonly fileMode: number;

  constructor(options: FilesystemDestinationOptions) {
    this.name = options.name;
    this.root = path.resolve(options.root);
    this.staging = path.join(this.root, STAGING_FOLDER);
    this.fileMode = options.fileMode ?? 0o640;
  }

  async put(request: PutRequest, body: Readable, signal?: AbortSignal): Promise<PutResult> {
    let location: string;
    let finalPath: string;
    try {
      signal?.throwIfAborted();
      location = dataPath(request);
      finalPath = this.resolve(location);
      // Made again by every put (one mkdir when it exists): a staging folder someone removed costs nothing but a mkdir.
      await mkdirDurably(this.staging);
    } catch (error) {
      body.destroy();
      throw error;
    }
    const dir = path.dirname(finalPath);
    const dataTemp = stagedPath(this.staging, location);
    const sidecarTemp = stagedPath(this.staging, location + SIDECAR_SUFFIX);
    /** Copies made beside the final names (the staging folder is on another filesystem). */
    const moved: string[] = [];
    try {
      await mkdirDurably(dir);
      const size = await this.writeBody(dataTemp, body, signal);
      if (request.size !== undefined && size !== request.size) {
        throw new DestinationError(this.name, `${request.key}: received ${size} bytes, expected ${request.size}`);
      }
      const sidecar: Sidecar = {
        key: request.key,
        kind: request.kind,
        engagementId: request.engagementId,
        contentType: request.contentType,
        metadata: { ...request.metadata },
        size,
      };
      await this.writeFileDurably(sidecarTemp, `${JSON.stringify(sidecar, null, 2)}\n`);
      signal?.throwIfAborted();
      // Both files on the final name's filesystem before either replaces anything (a copy across filesystems can fail
      // or be stopped midway), then two renames back to back, sidecar first: a complete data file always has its
      // metadata next to it, and an earlier copy is never left with the new metadata.
      let ready = await this.readyToRename(sidecarTemp, dataTemp, finalPath, signal, moved, false);
      signal?.throwIfAborted();
      try {
        await rename(ready.sidecar, finalPath + SIDECAR_SUFFIX);
      } catch (error) {
        // A bind mount of the same filesystem has the same device number, and a rename still cannot cross it.
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV' || ready.sidecar !== sidecarTemp) throw error;
        ready = await this.readyToRename(sidecarTemp, dataTemp, finalPath, signal, moved, true);
        signal?.throwIfAborted();
        await rename(ready.sidecar, finalPath + SIDECAR_SUFFIX);
      }
      await rename(ready.data, finalPath);
      await fsyncDirectory(dir);
      // Staged files that were copied, not renamed.
      await Promise.all([dataTemp, sidecarTemp].filter((temp) => temp !== ready.sidecar && temp !== ready.data).map(removeIfPresent));
      return { location };
    } catch (error) {
      body.destroy();
      // The cleanup's own failures must not hide why the put failed.
      await Promise.allSettled([dataTemp, sidecarTemp, ...moved].map(removeIfPresent));
      throw error;
    }
  }

  async stat(request: ObjectAddress): Promise<StoredObject | null> {
    const location = dataPath(request);
    const finalPath = this.resolve(location);
    const stats = await stat(finalPath).catch(ignoreMissing);
    if (!stats?.isFile()) return null;
    return { location, size: stats.size, metadata: await this.readMetadata(finalPath) };
  }

  async read(location: string): Promise<Readable> {
    const handle = await open(this.resolve(location), 'r');
    return handle.createReadStream();
  }

  async remove(location: string): Promise<void> {
    const finalPath = this.resolve(location);
    await Promise.all([removeIfPresent(finalPath), removeIfPresent(finalPath + SIDECAR_SUFFIX)]);
  }

  async close(): Promise<void> {}

  /**
   * Both staged files where they can be renamed to their final names: the staged files themselves, or, where the final
   * folder is on another filesystem than the root (something mounted inside the archive; with `acrossMount`, a rename
   * already failed across a bind mount of the same filesystem), durable copies beside the final names (a rename cannot
   * cross), each noted in `moved`. Temp files a kill leaves beside final names are swept from that folder by the next
   * put into it (the next run delivers the same artifact to the same folder).
   */
  private async readyToRename(
    sidecarTemp: string,
    dataTemp: string,
    finalPath: string,
    signal: AbortSignal | undefined,
    moved: string[],
    acrossMount: boolean,
  ): Promise<{ sidecar: string; data: string }> {
    const dir = path.dirname(finalPath);
    if (!acrossMount && (await stat(dir)).dev === (await stat(this.staging)).dev) return { sidecar: sidecarTemp, data: dataTemp };
    const now = Date.now();
    await sweepFolder(dir, now, now);
    const sidecar = await this.copyBeside(sidecarTemp, finalPath + SIDECAR_SUFFIX, signal);
    moved.push(sidecar);
    const data = await this.copyBeside(dataTemp, finalPath, signal);
    moved.push(data);
    return { sidecar, data };
  }

  /** A durable copy of `staged` in `finalPath`'s folder, under a temp name. */
  private async copyBeside(staged: string, finalPath: string, signal: AbortSignal | undefined): Promise<string> {
    const beside = path.join(path.dirname(finalPath), tempName(utf8Prefix(path.basename(finalPath), LEAF_BYTES)));
    try {
      await this.writeBody(beside, createReadStream(staged), signal);
    } catch (error) {
      await removeIfPresent(beside).catch(() => false);
      throw error;
    }
    return beside;
  }

  /** An absolute path for a location, refused unless it is strictly inside the root (defence in depth). */
  private resolve(location: string): string {
    const resolved = path.resolve(this.root, location);
    const prefix = this.root.endsWith(path.sep) ? this.root : this.root + path.sep;
    if (location.includes('\0') || !resolved.startsWith(prefix)) {
      throw new DestinationError(this.name, `location ${JSON.stringify(location)} is outside ${this.root}`);
    }
    return resolved;
  }

  private async writeBody(file: string, body: Readable, signal: AbortSignal | undefined): Promise<number> {
    const handle = await open(file, 'wx', 0o600);
    try {
      let size = 0;
      // Not handle.createWriteStream: that stream keeps the handle referenced until it closes it itself,
      // and we need the handle open afterwards for fsync.
      const output = new Writable({
        write(chunk: Buffer, _encoding, done) {
          writeFully(handle, chunk).then(() => {
            size += chunk.length;
            done();
          }, done);
        },
      });
      await pipeline(body, output, { signal });
      await handle.sync();
      await handle.chmod(this.fileMode);
      return size;
    } finally {
      await handle.close();
    }
  }

  private async writeFileDurably(file: string, text: string): Promise<void> {
    const handle = await open(file, 'wx', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
      await handle.chmod(this.fileMode);
    } finally {
      await handle.close();
    }
  }

  private async readMetadata(finalPath: string): Promise<Record<string, string>> {
    const text = await readFile(finalPath + SIDECAR_SUFFIX, 'utf8').catch(ignoreMissing);
    if (text === null) return {};
    try {
      const sidecar = JSON.parse(text) as Partial<Sidecar>;
      const metadata = sidecar.metadata;
      if (metadata && typeof metadata === 'object' && Object.values(metadata).every((v) => typeof v === 'string')) {
        return { ...metadata };
      }
    } catch {
      // reported below
    }
    throw new DestinationError(this.name, `unreadable metadata in ${finalPath}${SIDECAR_SUFFIX}`);
  }
}

/** A root that cannot be a folder is a config error (exit 2), found before a run starts, not a crash mid-run. */
export async function checkRoot(root: string): Promise<void> {
  await rootExists(root);
}

/** Whether the root exists yet; a root that is not a folder throws as in checkRoot. */
async function rootExists(root: string): Promise<boolean> {
  const rootStats = await stat(root).catch(ignoreMissing);
  if (rootStats && !rootStats.isDirectory()) throw new ConfigError('destinations[].path', root, 'a folder (this is a file)');
  return rootStats !== null;
}

/**
 * Removes temp files (`.<name>.<host tag>-<pid>.<random>.partial`) that a killed process left in `root`'s staging folder;
 * returns how many. A temp file whose writer still runs on this host is spared (a listener writing into the same
 * archive), as is, from another host, one touched within the hour. `olderThanMs` also spares every file written that
 * recently. An archive without a staging folder yet (written by a version that kept temp files beside their final
 * names) is walked whole once, and gets its staging folder.
 */
export async function sweepPartials(root: string, options: { olderThanMs?: number } = {}): Promise<number> {
  const resolved = path.resolve(root);
  if (!(await rootExists(root))) return 0;
  const now = Date.now();
  const cutoff = now - (options.olderThanMs ?? 0);
  const staging = path.join(resolved, STAGING_FOLDER);
  if (await stat(staging).catch(ignoreMissing)) return (await sweepFolder(staging, cutoff, now)).removed;
  let removed = 0;
  const walk = async (dir: string): Promise<void> => {
    const swept = await sweepFolder(dir, cutoff, now);
    removed += swept.removed;
    for (const folder of swept.folders) await walk(folder);
  };
  await walk(resolved);
  await mkdirDurably(staging);
  return removed;
}

/**
 * Removes the abandoned temp files directly in `dir`; returns how many, and the folders in it. A temp file is hidden
 * (`.`-prefixed): a data file may itself end in `.partial`, but its name never starts with `.`.
 */
async function sweepFolder(dir: string, cutoff: number, now: number): Promise<{ removed: number; folders: string[] }> {
  let removed = 0;
  const folders: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(ignoreMissing);
  for (const entry of entries ?? []) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) folders.push(full);
    if (!entry.isFile() || !entry.name.endsWith(PARTIAL_SUFFIX) || !entry.name.startsWith('.')) continue;
    const stats = await stat(full).catch(ignoreMissing);
    if (stats && stats.mtimeMs <= cutoff && partialAbandoned(entry.name, stats.mtimeMs, now) && (await removeIfPresent(full))) removed += 1;
  }
  return { removed, folders };
}

/** A temp file nobody will finish: its writer is a dead process on this host, or it has not grown for an hour. */
function partialAbandoned(name: string, mtimeMs: number, now: number): boolean {
  if (now - mtimeMs > ABANDONED_AFTER_MS) return true;
  const writer = WRITER.exec(name);
  // Named without a writer: left by a version from before writers were named.
  if (!writer) return true;
  return writer[1] === HOST_TAG && !processAlive(Number(writer[2]));
}

async function writeFully(handle: FileHandle, chunk: Buffer): Promise<void> {
  for (let offset = 0; offset < chunk.length; ) {
    offset += (await handle.write(chunk, offset)).bytesWritten;
  }
}

/** The part of a final name a temp file's name keeps: with the tag, writer and random part it stays within 255 bytes. */
const LEAF_BYTES = 150;

/** A temp file's name: hidden, what it will become, then its writer and a random part. */
function tempName(leaf: string): string {
  return `.${leaf}.${HOST_TAG}-${process.pid}.${randomBytes(8).toString('hex')}${PARTIAL_SUFFIX}`;
}

/**
 * A temp path in the staging folder for `location`: its leaf (cut to stay within a file name's 255 bytes) and a tag of
 * the whole location, so two engagements' `messaging_transcript.json` never share a name, and a temp file says what it
 * was for.
 */
function stagedPath(staging: string, location: string): string {
  const leaf = utf8Prefix(path.posix.basename(location), LEAF_BYTES);
  const tag = createHash('sha256').update(location).digest('hex').slice(0, 12);
  return path.join(staging, tempName(`${leaf}.${tag}`));
}

/** The longest start of `text` that is at most `bytes` long in UTF-8, cut between characters. */
function utf8Prefix(text: string, bytes: number): string {
  let used = 0;
  let end = 0;
  for (const character of text) {
    used += Buffer.byteLength(character, 'utf8');
    if (used > bytes) break;
    end += character.length;
  }
  return text.slice(0, end);
}

/** Creates `dir` and fsyncs the parent of every folder it had to create, so the new entries survive a crash. */
async function mkdirDurably(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  for (let current = dir; ; current = path.dirname(current)) {
    const parent = path.dirname(current);
    await fsyncDirectory(parent);
    if (current === first || parent === current) return;
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  if (process.platform === 'win32') return; // directories cannot be opened for fsync there
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function removeIfPresent(file: string): Promise<boolean> {
  try {
    await unlink(file);
    return true;
  } catch (error) {
    ignoreMissing(error);
    return false;
  }
}

function ignoreMissing(error: unknown): null {
  if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') return null;
  throw error;
}
