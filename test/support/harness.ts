// Test harness: a sandbox, a temp folder, a config pointing at both, and helpers to read back what was delivered.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig, type Config } from '../../src/config.js';
import { runReconciliation, type RunRequest, type RunResult } from '../../src/run.js';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/index.js';

export interface Harness {
  sandbox: Sandbox;
  dir: string;
  archive: string;
  ledgerPath: string;
  config: Config;
  configPath: string;
  clock: { now: Date };
  run(options?: Partial<RunRequest>): Promise<RunResult>;
  env(): NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export const NOW = new Date('2026-11-20T12:00:00Z');

export interface HarnessOptions extends SandboxOptions {
  /** Top-level config keys; `zoom` here replaces the whole zoom section (prefer `zoom` below). */
  config?: Record<string, unknown>;
  /** Merged into the harness's zoom section (retry, timeouts, rate limits). */
  zoom?: Record<string, unknown>;
}

export async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const clock = { now: new Date(NOW) };
  const { config: extraConfig, zoom: extraZoom, ...sandboxOptions } = options;
  const sandbox = await startSandbox({ seed: 3, engagementsPerDay: 12, days: 10, now: () => clock.now, ...sandboxOptions });
  const dir = mkdtempSync(path.join(tmpdir(), 'zcc-e2e-'));
  const raw = {
    zoom: {
      apiBaseUrl: sandbox.apiBaseUrl,
      oauthTokenUrl: sandbox.oauthTokenUrl,
      downloadHosts: [sandbox.downloadHost],
      retry: { limit: 4, maxBackoff: 'PT0.2S' },
      requestTimeout: 'PT5S',
      rateLimits: { Light: 1000, Medium: 1000, Heavy: 1000 },
      ...extraZoom,
    },
    ledger: { path: './ledger.sqlite' },
    destinations: [{ name: 'archive', type: 'filesystem', path: './archive' }],
    ...extraConfig,
  };
  const configPath = path.join(dir, 'zcc-reconcile.json');
  writeFileSync(configPath, JSON.stringify(raw, null, 2));
  const parsed = parseConfig(raw);
  const config: Config = {
    ...parsed,
    ledger: { path: path.join(dir, 'ledger.sqlite') },
    destinations: parsed.destinations.map((destination) =>
      destination.type === 'filesystem' ? { ...destination, path: path.resolve(dir, destination.path) } : destination,
    ),
  };
  const testClock = { now: () => clock.now, sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)) };
  return {
    sandbox,
    dir,
    archive: path.join(dir, 'archive'),
    ledgerPath: config.ledger.path,
    config,
    configPath,
    clock,
    run: (request = {}) => runReconciliation({ config, secrets: sandbox.credentials, clock: testClock, ...request }),
    env: () => ({
      ...process.env,
      ZOOM_ACCOUNT_ID: sandbox.credentials.accountId,
      ZOOM_CLIENT_ID: sandbox.credentials.clientId,
      ZOOM_CLIENT_SECRET: sandbox.credentials.clientSecret,
    }),
    close: () => sandbox.close(),
  };
}

export interface StoredFile {
  key: string;
  path: string;
  size: number;
  sha256: string;
  text: string | null;
}

/** Every complete artifact in a filesystem destination, found through its sidecar metadata. */
export function walkArchive(root: string): StoredFile[] {
  const found = listFiles(root)
    .filter((file) => file.endsWith('.meta.json'))
    .map((sidecar) => {
      const meta = JSON.parse(readFileSync(path.join(root, sidecar), 'utf8')) as { key: string };
      const dataPath = path.join(root, sidecar.slice(0, -'.meta.json'.length));
      const bytes = readFileSync(dataPath);
      return {
        key: meta.key,
        path: dataPath,
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        text: dataPath.endsWith('.json') ? bytes.toString('utf8') : null,
      };
    });
  return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function listFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.push(path.relative(root, full));
    }
  };
  walk(root);
  return files.sort();
}
