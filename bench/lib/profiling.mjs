// --profile: the measured child runs under node --cpu-prof; the profile is summarised into the result.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { RESULTS } from './paths.mjs';
import { newestProfile, printSummary, summarize } from './profile.mjs';

export function profileFolder(name) {
  const folder = path.join(RESULTS, 'profiles', name);
  mkdirSync(folder, { recursive: true });
  return folder;
}

export function reportProfile(folder) {
  const file = newestProfile(folder);
  if (!file) return null;
  const summary = summarize(file);
  console.log(`profile: ${path.relative(process.cwd(), file)}`);
  printSummary(summary);
  return { file, ...summary };
}
