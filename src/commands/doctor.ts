// `doctor`: checks everything a run needs, one line each with ✓/✗ and what to do: config, secrets (never shown),
// a token, each List endpoint, each destination (a probe written and removed), the ledger, disk space.
// Exit 0 when all pass, 2 for config or missing secrets, 3 otherwise. JSON shape: docs/schemas/doctor.schema.json.
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, rmdirSync, statfsSync, statSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import chalk from 'chalk';
import { Duration } from 'luxon';
import { artifactKey, SOURCE_OF_KIND, SOURCES, type ArtifactKind, type SourceName } from '../artifacts.js';
import { systemClock } from '../clock.js';
import type { Config, DestinationConfig, ZoomSecrets } from '../config.js';
import { ConfigError, CredentialsRefusedError, ZoomApiError } from '../errors.js';
import { formatBytes } from '../report.js';
import { dateInZone } from '../window.js';
import type { ZoomClient } from '../zoom/client.js';
import { loadCommandConfig, parsePositiveInt, type CommandContext } from './context.js';

export interface DoctorOptions {
  format: 'text' | 'json';
  minFree: string;
}

export interface Check {
  name: string;
  status: 'ok' | 'failed' | 'skipped';
  detail: string;
  /** What to do about a failure. */
  fix: string | null;
  /** A failure of the config or the environment (exit 2) rather than of what they point at (exit 3). */
  config?: boolean;
}

const SECRETS = ['ZOOM_ACCOUNT_ID', 'ZOOM_CLIENT_ID', 'ZOOM_CLIENT_SECRET'] as const;

const ENDPOINTS: Record<SourceName, { path: string; query: Record<string, string>; scopes: string }> = {
  engagements: {
    path: '/contact_center/engagements',
    query: { timezone: 'UTC' },
    scopes: 'contact_center:read:list_engagements:admin (classic: contact_center_report:read:admin)',
  },
  recordings: {
    path: '/contact_center/recordings',
    query: { query_date_type: 'recording_end_time' },
    scopes: 'contact_center:read:list_recordings:admin (classic: contact_center_recording:read:admin)',
  },
  messages: {
    path: '/contact_center/inboxes/messages',
    query: {},
    scopes: 'contact_center:read:inbox_messages:admin (classic: contact_center_inbox:read:admin)',
  },
};

export async function doctorCommand(options: DoctorOptions, context: CommandContext): Promise<number> {
  const minFreeBytes = parsePositiveInt('--min-free', options.minFree) * 1_000_000;
  const checks: Check[] = [];
  const add = (check: Check) => {
    checks.push(check);
    if (options.format === 'text') context.out(`${line(check)}\n`);
  };

  let config: Config | null = null;
  try {
    const loaded = await loadCommandConfig(context);
    config = loaded.config;
    add(ok('config', loaded.source ? `${loaded.source} is valid` : 'no config file found; using the embedded defaults'));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    add({ name: 'config', status: 'failed', detail: error.message, fix: 'fix the key named above (config.example.json shows every key)', config: true });
  }

  for (const name of SECRETS) {
    add(
      context.env[name]
        ? ok(`env ${name}`, 'set (value not shown)')
        : { name: `env ${name}`, status: 'failed', detail: 'not set', fix: `export ${name}=… from your Zoom Server-to-Server OAuth app (App credentials)`, config: true },
    );
  }
  const secrets: ZoomSecrets | null = SECRETS.every((name) => context.env[name])
    ? { accountId: context.env.ZOOM_ACCOUNT_ID!, clientId: context.env.ZOOM_CLIENT_ID!, clientSecret: context.env.ZOOM_CLIENT_SECRET! }
    : null;

  if (!config) {
    for (const name of ['zoom token', 'zoom endpoints', 'destinations', 'ledger', 'disk space']) add(skipped(name, 'needs a valid config'));
  } else {
    for (const check of await zoomChecks(config, secrets)) add(check);
    for (const destination of config.destinations) add(await destinationCheck(destination, config.zoom.timezone));
    add(await ledgerCheck(config.ledger.path));
    for (const check of diskChecks(config, minFreeBytes)) add(check);
  }

  const failed = checks.filter((check) => check.status === 'failed');
  const exitCode = failed.length === 0 ? 0 : failed.some((check) => check.config) ? 2 : 3;
  if (options.format === 'json') {
    const report = { schemaVersion: 1, ok: exitCode === 0, exitCode, checks: checks.map(({ config: _config, ...check }) => check) };
    context.out(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    context.out(
      exitCode === 0
        ? chalk.green(`All ${checks.length} checks passed.\n`)
        : chalk.red(`${failed.length} of ${checks.length} checks failed (exit ${exitCode}).\n`),
    );
  }
  return exitCode;
}

async function zoomChecks(config: Config, secrets: ZoomSecrets | null): Promise<Check[]> {
  if (!secrets) return [skipped('zoom token', 'needs ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET')];
  const { TokenProvider } = await import('../zoom/auth.js');
  const { ZoomClient } = await import('../zoom/client.js');
  const { RatePacer } = await import('../zoom/pacer.js');
  // Doctor wants an answer, not patience: no retries, a short timeout.
  const timeoutMs = Math.min(Duration.fromISO(config.zoom.requestTimeout).toMillis(), 15_000);
  const auth = new TokenProvider({ tokenUrl: config.zoom.oauthTokenUrl, secrets, clock: systemClock, retryLimit: 0, timeoutMs });
  const tokenHost = new URL(config.zoom.oauthTokenUrl).host;
  const checks: Check[] = [];
  try {
    await auth.token();
    checks.push(ok('zoom token', `${tokenHost} issued an access token`));
  } catch (error) {
    const refused = error instanceof CredentialsRefusedError;
    checks.push({
      name: 'zoom token',
      status: 'failed',
      detail: refused ? (error as Error).message.replace(/; check .*$/, '') : (error as Error).message,
      fix: refused
        ? 'check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET (Zoom does not say which one is wrong) and that the app is activated'
        : `check zoom.oauthTokenUrl, DNS, proxy and firewall: HTTPS to ${tokenHost} must be reachable`,
    });
    return [...checks, ...SOURCES.map((source) => skipped(`list ${source}`, 'needs a token'))];
  }
  const rates = config.zoom.rateLimits;
  const zoom = new ZoomClient({
    apiBaseUrl: config.zoom.apiBaseUrl,
    downloadHosts: config.zoom.downloadHosts,
    auth,
    pacer: new RatePacer({ Light: rates.Light, Medium: rates.Medium, Heavy: rates.Heavy }, systemClock),
    clock: systemClock,
    timeoutMs,
    retryLimit: 0,
    maxBackoffMs: 1000,
    maxWaitMs: Duration.fromISO(config.zoom.maxWait).toMillis(),
  });
  const needed = new Set(config.kinds.map((kind) => SOURCE_OF_KIND[kind]));
  for (const source of SOURCES) {
    checks.push(needed.has(source) ? await endpointCheck(zoom, source, config.zoom.apiBaseUrl) : skipped(`list ${source}`, 'no configured kind needs it'));
  }
  return checks;
}

async function endpointCheck(zoom: ZoomClient, source: SourceName, apiBaseUrl: string): Promise<Check> {
  const endpoint = ENDPOINTS[source];
  const to = new Date();
  const from = new Date(to.getTime() - 86_400_000);
  const zoomTime = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const query = new URLSearchParams({ from: zoomTime(from), to: zoomTime(to), page_size: '1', ...endpoint.query });
  const name = `list ${source}`;
  try {
    const body = (await zoom.getJson(endpoint.path, query, 'Medium')) as { total_records?: unknown };
    const total = typeof body.total_records === 'number' ? ` (${body.total_records} in the last 24 h)` : '';
    return ok(name, `GET ${endpoint.path} answered${total}`);
  } catch (error) {
    const message = (error as Error).message;
    let fix = `check zoom.apiBaseUrl (${apiBaseUrl}) and that HTTPS to it is reachable`;
    if (error instanceof ZoomApiError && (error.status === 401 || error.status === 403 || error.code === 4700 || error.code === 4711)) {
      fix = `add the scope ${endpoint.scopes} to the Zoom app, then reactivate it`;
    } else if (error instanceof ZoomApiError && error.status === 429) {
      fix = 'the account is rate limited right now; try again later or lower zoom.rateShare for other apps';
    } else if (error instanceof ZoomApiError) {
      fix = `Zoom refused the request; check zoom.apiBaseUrl (${apiBaseUrl}) points at the Contact Center API`;
    }
    return { name, status: 'failed', detail: message, fix };
  }
}

/** Writes a small probe object through the destination's own put and removes it again (CRMs: a read-only probe). */
async function destinationCheck(destination: DestinationConfig, timezone: string): Promise<Check> {
  const name = `destination ${destination.name}`;
  const kind: ArtifactKind = destination.kinds?.includes('note') === false ? destination.kinds[0]! : 'note';
  const engagementId = 'zcc-doctor-probe';
  const id = `probe-${randomBytes(6).toString('hex')}`;
  const key = probeKey(kind, engagementId, id);
  const body = Buffer.from(`zcc-reconcile doctor probe ${new Date().toISOString()}\n`);
  const where = destination.type === 'filesystem' ? ` at ${destination.path}` : '';
  let location: string | null = null;
  try {
    const { openDestinationQuietly } = await import('./context.js');
    const target = await openDestinationQuietly(destination);
    if (target.probe) {
      // A CRM: a probe write would leave a record agents see, so its check is read-only.
      try {
        return ok(name, `${destination.type}: ${await target.probe()}`);
      } finally {
        await target.close();
      }
    }
    try {
      const put = await target.put(
        {
          key,
          kind,
          engagementId,
          occurredAt: new Date().toISOString(),
          date: dateInZone(new Date().toISOString(), timezone),
          extension: 'txt',
          contentType: 'text/plain',
          metadata: { probe: 'zcc-reconcile doctor' },
          size: body.length,
        },
        Readable.from([body]),
      );
      location = put.location;
      await target.remove(location);
    } finally {
      await target.close();
    }
    if (destination.type === 'filesystem') removeEmptyFolders(destination.path, location);
    return ok(name, `${destination.type}${where}: wrote and removed a probe object`);
  } catch (error) {
    const fix =
      destination.type === 'filesystem'
        ? `make ${destination.path} a folder this user can create and write (or change its "path" in the config)`
        : `check destination "${destination.name}": its credentials, permissions and address`;
    // A secret the destination names in the environment but that is not set is a config problem (exit 2).
    return { name, status: 'failed', detail: `${destination.type}${where}: ${(error as Error).message}`, fix, ...(error instanceof ConfigError ? { config: true } : {}) };
  }
}

function probeKey(kind: ArtifactKind, engagementId: string, id: string): string {
  switch (kind) {
    case 'note':
    case 'disposition':
      return artifactKey[kind](engagementId, id);
    case 'messaging_transcript':
      return artifactKey.messaging_transcript(engagementId);
    default:
      return artifactKey[kind](id);
  }
}

/** The probe's dated folders are left empty by remove(); take them away again, stopping at the first non-empty one. */
function removeEmptyFolders(root: string, location: string | null): void {
  if (!location) return;
  const base = path.resolve(root);
  for (let dir = path.dirname(path.resolve(base, location)); dir.startsWith(base + path.sep); dir = path.dirname(dir)) {
    try {
      rmdirSync(dir);
    } catch {
      return;
    }
  }
}

async function ledgerCheck(file: string): Promise<Check> {
  if (!existsSync(file)) {
    const parent = nearestExisting(path.dirname(file));
    try {
      accessSync(parent, constants.W_OK);
      return ok('ledger', `none yet at ${file}; the first run creates it`);
    } catch {
      return { name: 'ledger', status: 'failed', detail: `${file} cannot be created: ${parent} is not writable`, fix: 'make that folder writable or change ledger.path', config: true };
    }
  }
  const { SqliteLedger } = await import('../ledger/sqlite.js');
  try {
    accessSync(file, constants.R_OK | constants.W_OK);
    const ledger = SqliteLedger.open(file, { readonly: true });
    try {
      const { version, latest } = ledger.schemaInfo();
      const { artifacts } = ledger.counts();
      const holder = ledger.runLockHolder();
      const lock = holder ? `; a run holds it (pid ${holder.pid} on ${holder.host} since ${holder.startedAt})` : '';
      if (version > latest) {
        return { name: 'ledger', status: 'failed', detail: `${file} has schema v${version}, newer than this zcc-reconcile knows (v${latest})`, fix: 'upgrade zcc-reconcile' };
      }
      const upgrade = version < latest ? `; the next run upgrades its schema from v${version} to v${latest}` : `, schema v${version} is current`;
      return ok('ledger', `${file} opens (${artifacts} artifacts)${upgrade}${lock}`);
    } finally {
      ledger.close();
    }
  } catch (error) {
    return {
      name: 'ledger',
      status: 'failed',
      detail: `${file}: ${(error as Error).message}`,
      fix: 'make it readable and writable by this user; if it is damaged, move it aside (the next run starts a new one and re-delivers)',
    };
  }
}

function diskChecks(config: Config, minFreeBytes: number): Check[] {
  const folders = new Map<number, { label: string; dir: string }>();
  const places = [
    { label: 'ledger', dir: path.dirname(config.ledger.path) },
    ...config.destinations.flatMap((destination) => (destination.type === 'filesystem' ? [{ label: destination.name, dir: destination.path }] : [])),
  ];
  for (const place of places) {
    const dir = nearestExisting(place.dir);
    const device = statSync(dir).dev;
    const seen = folders.get(device);
    folders.set(device, seen ? { ...seen, label: `${seen.label}, ${place.label}` } : { label: place.label, dir });
  }
  return [...folders.values()].map(({ label, dir }) => {
    const stats = statfsSync(dir);
    const free = stats.bavail * stats.bsize;
    const name = `disk space (${label})`;
    return free >= minFreeBytes
      ? ok(name, `${formatBytes(free)} free at ${dir}`)
      : { name, status: 'failed', detail: `only ${formatBytes(free)} free at ${dir} (want at least ${formatBytes(minFreeBytes)})`, fix: 'free up space or move the folder to a larger disk' };
  });
}

function nearestExisting(dir: string): string {
  let current = path.resolve(dir);
  while (!existsSync(current) && path.dirname(current) !== current) current = path.dirname(current);
  return current;
}

function ok(name: string, detail: string): Check {
  return { name, status: 'ok', detail, fix: null };
}

function skipped(name: string, detail: string): Check {
  return { name, status: 'skipped', detail, fix: null };
}

function line(check: Check): string {
  if (check.status === 'skipped') return chalk.dim(`- ${check.name}: skipped (${check.detail})`);
  if (check.status === 'ok') return `${chalk.green('✓')} ${check.name}: ${check.detail}`;
  return `${chalk.red('✗')} ${check.name}: ${check.detail} ${chalk.yellow(`→ ${check.fix ?? ''}`)}`;
}
