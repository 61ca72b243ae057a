// The node flags bin/zcc-reconcile launches with (its `#!/usr/bin/env -S node …` line): the measured runs use the same,
// so the benchmarks measure the tool as installed.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './paths.mjs';

export function launcherFlags() {
  const shebang = readFileSync(path.join(ROOT, 'bin', 'zcc-reconcile'), 'utf8').split('\n', 1)[0];
  return shebang.split(/\s+/).filter((word) => word.startsWith('--'));
}
