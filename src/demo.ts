// `demo`: the built-in sandbox on a free loopback port, a config written to ./demo/, and a full reconciliation into
// ./demo/archive with its ledger beside it. The only place product code meets the sandbox.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from './config.js';
import { runReconciliation, type RunEvent, type RunResult } from './run.js';

export interface DemoResult {
  run: RunResult;
  summary: string;
}

const HOUR = 3_600_000;

export async function runDemo(options: { cwd: string; onEvent?: (event: RunEvent) => void }): Promise<DemoResult> {
  const { startSandbox } = await import('./sandbox/index.js');
  // The sandbox's clock stands at the start of this hour, so two demos within the hour see the same data.
  const sandboxNow = new Date(Math.floor(Date.now() / HOUR) * HOUR);
  const sandbox = await startSandbox({ seed: 7, engagementsPerDay: 60, days: 10, now: () => sandboxNow });
  try {
    const folder = path.resolve(options.cwd, 'demo');
    mkdirSync(folder, { recursive: true });
    const raw = {
      zoom: {
        apiBaseUrl: sandbox.apiBaseUrl,
        oauthTokenUrl: sandbox.oauthTokenUrl,
        downloadHosts: [sandbox.downloadHost],
      },
      ledger: { path: './zcc-ledger.sqlite' },
      destinations: [{ name: 'archive', type: 'filesystem', path: './archive' }],
    };
    // Written for the curious; its port is only valid while the demo runs.
    writeFileSync(path.join(folder, 'zcc-reconcile.json'), `${JSON.stringify(raw, null, 2)}\n`);
    const parsed = parseConfig(raw);
    const config = {
      ...parsed,
      ledger: { path: path.join(folder, 'zcc-ledger.sqlite') },
      destinations: [{ name: 'archive', type: 'filesystem' as const, path: path.join(folder, 'archive') }],
    };
    const run = await runReconciliation({ config, secrets: sandbox.credentials, onEvent: options.onEvent });
    const summary =
      `Sandbox at ${sandbox.url} (seed 7, 60 engagements a day). Files: ${path.join(folder, 'archive')}; ` +
      `ledger: ${path.join(folder, 'zcc-ledger.sqlite')}. Run the demo again: it finds nothing new to push.`;
    return { run, summary };
  } finally {
    await sandbox.close();
  }
}
