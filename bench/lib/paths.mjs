// Where things are: the project root, the built code, the results folder.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DIST = path.join(ROOT, 'dist');
export const RESULTS = path.join(ROOT, 'bench', 'results');

/** A URL for `import()` of a built module, e.g. dist('run.js'). */
export function dist(relative) {
  return pathToFileURL(path.join(DIST, relative)).href;
}

export function ensureResults() {
  mkdirSync(RESULTS, { recursive: true });
  return RESULTS;
}
