// The realistic night every network benchmark shares: the sandbox's engagement mix (60 % voice, 85 % of calls
// recorded, 12 % transferred with two recordings, 15 % of inbound calls to voicemail, notes and dispositions, chat
// transcripts), Zoom Pro rate limits, and a network with a round trip and a bandwidth (see NETWORK).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runInChild, startSandboxProcess } from './processes.mjs';

/** Zoom Pro: the three list endpoints are MEDIUM (10/s); downloads are limited like LIGHT calls (20/s). */
export const LIMITS = { Light: 20, Medium: 10, Heavy: 5, download: 20 };

/**
 * The network between the tool and Zoom: every answer waits `latencyMs` before its first byte (a round trip plus
 * Zoom's own time, and a redirect for downloads), one download stream gets at most `streamBandwidth` (one TCP
 * connection across the internet), and all downloads together at most `bandwidth` (the field report in zcc-api.md
 * §9: 16.4 GB in 8 min 39 s, about 32 MB/s). Override with BENCH_LATENCY_MS, BENCH_STREAM_BW, BENCH_BANDWIDTH.
 */
export const NETWORK = {
  latencyMs: Number(process.env.BENCH_LATENCY_MS ?? 250),
  streamBandwidth: Number(process.env.BENCH_STREAM_BW ?? 8_000_000),
  bandwidth: Number(process.env.BENCH_BANDWIDTH ?? 32_000_000),
};

/** Voice recordings of a few minutes: 200 kB to 2 MB each (about 1.1 MB on average). */
export const MEDIA = { min: 200_000, max: 2_000_000 };

/** The sandbox's clock: early morning after the night's day, so nearly every transcript is ready. */
export const SANDBOX_NOW = '2026-11-20T06:00:00Z';
export const WINDOW = { from: '2026-11-19T00:00:00Z', to: '2026-11-20T00:00:00Z' };

export function sandboxOptions(engagementsPerDay, overrides = {}) {
  return {
    seed: 11,
    engagementsPerDay,
    days: 3,
    now: SANDBOX_NOW,
    mediaBytes: MEDIA,
    rateLimits: LIMITS,
    bandwidth: NETWORK.bandwidth || undefined,
    streamBandwidth: NETWORK.streamBandwidth || undefined,
    latencyMs: NETWORK.latencyMs || undefined,
    ...overrides,
  };
}

/** The tool's config for a sandbox: the account's limits as they are (no share held back), a fresh ledger. */
export function toolConfig(sandbox, dir, overrides = {}) {
  return {
    zoom: {
      apiBaseUrl: sandbox.apiBaseUrl,
      oauthTokenUrl: sandbox.oauthTokenUrl,
      downloadHosts: [sandbox.downloadHost],
      rateLimits: { Light: LIMITS.Light, Medium: LIMITS.Medium, Heavy: LIMITS.Heavy },
      downloadRate: LIMITS.download,
      ...overrides.zoom,
    },
    ledger: { path: path.join(dir, 'ledger.sqlite') },
    destinations: overrides.destinations ?? [{ name: 'null', type: 'filesystem', path: path.join(dir, 'unused') }],
    ...(overrides.concurrency ? { concurrency: overrides.concurrency } : {}),
  };
}

/** Requests, 429s and bytes as the sandbox counted them, between two stats snapshots. */
export function traffic(before, after) {
  const count = (stats, label, test) =>
    Object.entries(stats.byLabelStatus[label] ?? {}).reduce((sum, [status, n]) => (test(Number(status)) ? sum + n : sum), 0);
  const labels = new Set([...Object.keys(after.byLabelStatus), ...Object.keys(before.byLabelStatus)]);
  const byLabel = {};
  for (const label of labels) {
    const ok = count(after, label, (s) => s >= 200 && s < 300) - count(before, label, (s) => s >= 200 && s < 300);
    const throttled = count(after, label, (s) => s === 429) - count(before, label, (s) => s === 429);
    const all = count(after, label, () => true) - count(before, label, () => true);
    byLabel[label] = { requests: all, ok, throttled };
  }
  if (after.logged >= 200_000) throw new Error('the sandbox request log overflowed: counts would be wrong; use a smaller night');
  return {
    byLabel,
    listRequests: byLabel.Medium?.ok ?? 0,
    downloads: byLabel.download?.ok ?? 0,
    bytes: after.bytesServed - before.bytesServed,
    throttled: Object.fromEntries(Object.entries(byLabel).map(([label, row]) => [label, row.throttled])),
  };
}

/** The floor: max(list requests ÷ list rate, downloads ÷ download rate, bytes ÷ bandwidth), in ms, with its terms. */
export function floor(t, limits = LIMITS, bandwidth = NETWORK.bandwidth) {
  const terms = {
    list: (t.listRequests / limits.Medium) * 1000,
    downloads: (t.downloads / limits.download) * 1000,
    bytes: bandwidth ? (t.bytes / bandwidth) * 1000 : 0,
  };
  const [bound, ms] = Object.entries(terms).sort((a, b) => b[1] - a[1])[0];
  return { ms, bound, terms };
}

/** A fresh sandbox process and a temp folder, for one contestant; closed by the returned function. */
export async function stage(engagementsPerDay, overrides) {
  const sandbox = await startSandboxProcess(sandboxOptions(engagementsPerDay, overrides));
  const dir = mkdtempSync(path.join(tmpdir(), 'zcc-bench-'));
  return {
    sandbox,
    dir,
    close: async () => {
      await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One measured zcc-reconcile run over the night's window, with the sandbox's traffic during it. */
export async function measuredRun(staged, configOverrides = {}, options = {}) {
  const before = await staged.sandbox.stats();
  const result = await runInChild(
    {
      config: toolConfig(staged.sandbox, staged.dir, configOverrides),
      secrets: staged.sandbox.credentials,
      from: options.window?.from ?? WINDOW.from,
      to: options.window?.to ?? WINDOW.to,
      kinds: options.kinds,
      configuredDestinations: Boolean(configOverrides.destinations),
    },
    { profile: options.profile, nodeOptions: options.nodeOptions },
  );
  const after = await staged.sandbox.stats();
  return { result, traffic: traffic(before, after) };
}

/**
 * The fewest list requests the night's window needs: each list walked one page after another at its largest page
 * size (engagements 100, recordings and messages 300), as a script paging alone would. The tool lists a range as
 * concurrent slices, each ending on a partial page, so it makes a few more; a floor from its own count would hide them.
 */
export async function minimumListRequests(sandbox, window = WINDOW) {
  const basic = Buffer.from(`${sandbox.credentials.clientId}:${sandbox.credentials.clientSecret}`).toString('base64');
  const tokenAnswer = await fetch(sandbox.oauthTokenUrl, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'account_credentials', account_id: sandbox.credentials.accountId }),
  });
  const { access_token: token } = await tokenAnswer.json();
  // Zoom's `to` is inclusive, to the second.
  const from = window.from.replace(/\.\d{3}Z$/, 'Z');
  const to = new Date(Date.parse(window.to) - 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const lists = [
    ['/contact_center/engagements', { from, to, timezone: 'UTC', page_size: '100' }],
    ['/contact_center/recordings', { from, to, query_date_type: 'recording_end_time', page_size: '300' }],
    ['/contact_center/inboxes/messages', { from, to, page_size: '300' }],
  ];
  const pages = {};
  for (const [list, params] of lists) {
    pages[list] = 0;
    for (let next = ''; ; ) {
      const query = new URLSearchParams({ ...params, ...(next ? { next_page_token: next } : {}) });
      const answer = await fetch(`${sandbox.apiBaseUrl}${list}?${query}`, { headers: { authorization: `Bearer ${token}` } });
      if (!answer.ok) throw new Error(`${list} answered ${answer.status}: ${await answer.text()}`);
      pages[list]++;
      next = (await answer.json()).next_page_token ?? '';
      if (!next) break;
    }
  }
  return { total: Object.values(pages).reduce((sum, n) => sum + n, 0), pages };
}
