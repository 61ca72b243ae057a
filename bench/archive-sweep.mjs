// The filesystem destination's start-of-run sweep on a large archive: an archive with a folder per engagement (as the
// dated layout makes, 100k a day on a large contact center) is walked whole once, when it has no staging folder yet
// (what every run did before temp files moved to `<path>/.zcc-partial/`), then each later sweep reads only the staging
// folder. `npm run bench -- archive-sweep [--engagements N]`.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from './lib/args.mjs';
import { dist } from './lib/paths.mjs';
import { check, fmt, writeResult } from './lib/result.mjs';

const { sweepPartials, STAGING_FOLDER } = await import(dist('destinations/filesystem.js'));
const args = parseArgs();
const ENGAGEMENTS = args.number('engagements', 20_000);
const FILES_PER_ENGAGEMENT = 4; // each with its sidecar

const root = mkdtempSync(path.join(tmpdir(), 'zcc-bench-archive-'));
try {
  for (let n = 0; n < ENGAGEMENTS; n++) {
    const day = new Date(Date.UTC(2026, 0, 1) + Math.floor(n / 1000) * 86_400_000).toISOString().slice(0, 10).split('-');
    const dir = path.join(root, ...day, `Eng${String(n).padStart(8, '0')}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < FILES_PER_ENGAGEMENT; f++) {
      writeFileSync(path.join(dir, `note-N${f}.json`), '{}\n');
      writeFileSync(path.join(dir, `note-N${f}.json.meta.json`), '{}\n');
    }
  }
  const timed = async () => {
    const started = performance.now();
    const removed = await sweepPartials(root);
    return { ms: performance.now() - started, removed };
  };
  const walk = await timed();
  // Three temp files a crashed run on another host left in the staging folder two hours ago: the next sweep removes them.
  const leftovers = 3;
  const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
  for (let k = 0; k < leftovers; k++) {
    const file = path.join(root, STAGING_FOLDER, `.note-N${k}.json.0123456789ab.0badc0de-4242.0011223344556677.partial`);
    writeFileSync(file, 'half');
    utimesSync(file, twoHoursAgo, twoHoursAgo);
  }
  const staged = await timed();
  const again = await timed();
  console.log(`archive: ${ENGAGEMENTS} engagement folders, ${ENGAGEMENTS * FILES_PER_ENGAGEMENT * 2} files`);
  console.log(`sweep walking the archive (once, no staging folder yet): ${fmt.ms(walk.ms)}`);
  console.log(`sweep of the staging folder: ${staged.ms.toFixed(1)} ms (removed ${staged.removed} of ${leftovers} left by a crash), then ${again.ms.toFixed(1)} ms`);
  writeResult('archive-sweep', {
    figures: { engagements: ENGAGEMENTS, files: ENGAGEMENTS * FILES_PER_ENGAGEMENT * 2, walkMs: walk.ms, stagingMs: staged.ms, stagingAgainMs: again.ms, removed: staged.removed },
    checks: [
      check(
        `archive sweep at the start of a run (${ENGAGEMENTS} engagement folders)`,
        '≤ 50 ms, removes what a kill left',
        staged.removed === leftovers ? Math.max(staged.ms, again.ms) : Number.POSITIVE_INFINITY,
        50,
        '<=',
        `${Math.max(staged.ms, again.ms).toFixed(1)} ms, removed ${staged.removed}/${leftovers} (walking the archive, as before: ${fmt.ms(walk.ms)}; ${fmt.x(walk.ms / Math.max(staged.ms, again.ms))})`,
      ),
    ],
  });
} finally {
  rmSync(root, { recursive: true, force: true });
}
