// Runs of the real CLI as child processes (bin/zcc-reconcile, built into dist/), for the kill and leak tests.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listFiles } from '../support/harness.js';

const ROOT = path.resolve(fileURLToPath(import.meta.url), '../../..');
export const BIN = path.join(ROOT, 'bin', 'zcc-reconcile');

export interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Child {
  process: ChildProcess;
  exited: Promise<Exited>;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv, cwd: string): Child {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<Exited>((resolve) => {
    child.on('exit', (code, signal) => {
      // Let the pipes drain before reporting what the child wrote.
      setImmediate(() => resolve({ code, signal, stdout, stderr, ms: Date.now() - started }));
    });
  });
  return { process: child, exited };
}

/**
 * The CLI runs from dist/: a build older than the sources would test yesterday's code, so a stale dist/ is rebuilt
 * (what `npm test` does first anyway).
 */
export function ensureBuild(): void {
  const stale = listFiles(path.join(ROOT, 'src'))
    .filter((file) => file.endsWith('.ts'))
    .some((file) => {
      const built = statSync(path.join(ROOT, 'dist', file.replace(/\.ts$/, '.js')), { throwIfNoEntry: false });
      return !built || built.mtimeMs < statSync(path.join(ROOT, 'src', file)).mtimeMs;
    });
  if (stale) execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
}

/** Mulberry32: a small seeded PRNG, so a failing kill schedule can be replayed with the same seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
