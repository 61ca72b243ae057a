// Benchmark: how fast `zcc-reconcile listen` acknowledges webhooks while its worker is busy downloading.
// Three processes, so that none measures another's work: the listener as the real CLI, the sandbox (Zoom's REST API
// and multi-megabyte recordings, served as fast as loopback allows), and this one, an open-loop sender POSTing signed
// events at a fixed rate and timing each answer.
// Goal: p99 acknowledgement latency under 50 ms at 200 events/s. Writes bench/results/listen-ack.json.
//
//   npm run build && node bench/listen-ack.mjs [--rate 200] [--seconds 20]
import { spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { launcherFlags } from './lib/launcher.mjs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
};
const RATE = arg('rate', 200);
const SECONDS = arg('seconds', 20);
// Bytes per second the sandbox serves downloads at (0: as fast as loopback goes).
const BANDWIDTH = arg('bandwidth', 0);
const WARMUP_SECONDS = 3;
const SECRET = 'bench-webhook-secret-0123456789';
const GOAL_P99_MS = 50;

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const now = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);

if (process.argv[2] === '--sandbox') {
  // The sandbox's own process: it answers with its URLs, credentials and the events Zoom would send for its data.
  const { startSandbox } = await import('../dist/sandbox/index.js');
  const sandbox = await startSandbox({ seed: 21, engagementsPerDay: 400, days: 12, now: () => now, mediaBytes: { min: 1_000_000, max: 4_000_000 }, ...(BANDWIDTH ? { bandwidth: BANDWIDTH } : {}) });
  const events = sandbox.events.forWindow({ from: new Date(now.getTime() - 10 * 86_400_000), to: new Date(now.getTime() - 86_400_000) });
  process.on('disconnect', () => void sandbox.close().then(() => process.exit(0)));
  process.send({ apiBaseUrl: sandbox.apiBaseUrl, oauthTokenUrl: sandbox.oauthTokenUrl, downloadHost: sandbox.downloadHost, credentials: sandbox.credentials, events: events.map((event) => ({ event: event.event, body: event.body })) });
  await new Promise(() => {});
}

const sandboxProcess = spawn(process.execPath, [fileURLToPath(import.meta.url), '--sandbox'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const sandbox = await new Promise((resolve) => sandboxProcess.once('message', resolve));
const dir = mkdtempSync(path.join(tmpdir(), 'zcc-bench-listen-'));
const port = await freePort();
const configFile = path.join(dir, 'zcc-reconcile.json');
writeFileSync(
  configFile,
  JSON.stringify({
    zoom: {
      apiBaseUrl: sandbox.apiBaseUrl,
      oauthTokenUrl: sandbox.oauthTokenUrl,
      downloadHosts: [sandbox.downloadHost],
      rateLimits: { Light: 1000, Medium: 1000, Heavy: 1000 },
    },
    ledger: { path: './ledger.sqlite' },
    destinations: [{ name: 'archive', type: 'filesystem', path: './archive' }],
    listen: { port },
  }),
);

// The launcher's node flags too, as the installed command runs (`node <bin>` alone would read its first line as a comment).
const child = spawn(process.execPath, [...launcherFlags(), path.join(HERE, '../bin/zcc-reconcile'), '--config', configFile, 'listen'], {
  cwd: dir,
  env: {
    ...process.env,
    ZOOM_ACCOUNT_ID: sandbox.credentials.accountId,
    ZOOM_CLIENT_ID: sandbox.credentials.clientId,
    ZOOM_CLIENT_SECRET: sandbox.credentials.clientSecret,
    ZOOM_WEBHOOK_SECRET_TOKEN: SECRET,
  },
  stdio: ['ignore', 'ignore', 'pipe'],
});
let stderr = '';
child.stderr.on('data', (chunk) => { stderr += chunk; if (process.env.BENCH_DEBUG) process.stderr.write(chunk); });
while (!stderr.includes('listening on')) {
  if (child.exitCode !== null) throw new Error(`listen exited: ${stderr}`);
  await new Promise((resolve) => setTimeout(resolve, 20));
}

// Recording events first: their downloads keep the worker busy for the whole measurement.
const all = sandbox.events;
const recordings = all.filter((event) => event.event === 'contact_center.recording_completed');
const others = all.filter((event) => event.event !== 'contact_center.recording_completed');
const needed = RATE * (SECONDS + WARMUP_SECONDS);
const events = [];
for (let i = 0; events.length < needed && (i < recordings.length || i < others.length); i++) {
  if (recordings[i]) events.push(recordings[i]);
  if (others[i]) events.push(others[i]);
}
if (events.length < needed) throw new Error(`only ${events.length} events for ${needed} sends`);

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
function post(body) {
  const bytes = Buffer.from(JSON.stringify(body));
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = `v0=${createHmac('sha256', SECRET).update(`v0:${timestamp}:`).update(bytes).digest('hex')}`;
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/zoom/events',
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'content-length': bytes.length,
          'user-agent': 'Zoom Marketplace/1.0a',
          'x-zm-request-timestamp': timestamp,
          'x-zm-signature': signature,
          'x-zm-request-id': randomUUID().replace(/-/g, '_'),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started, ...(res.statusCode === 200 ? {} : { body: text }) }));
      },
    );
    req.on('error', (error) => resolve({ status: 0, ms: performance.now() - started, error: error.message }));
    req.end(bytes);
  });
}

async function metric(name) {
  const text = await new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
  return text.split('\n').filter((line) => line.startsWith(name));
}

// Open loop: a send every 1/RATE seconds whatever the answers do, as Zoom's senders would. The sender's own
// event-loop delay is measured too: on a loaded machine part of a measured latency is the sender's, not the listener's.
const senderLag = monitorEventLoopDelay({ resolution: 5 });
const results = [];
const inFlight = [];
const interval = 1000 / RATE;
const start = performance.now();
for (let i = 0; i < events.length; i++) {
  if (i === RATE * WARMUP_SECONDS) senderLag.enable();
  const due = start + i * interval;
  const wait = due - performance.now();
  if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
  const warm = i < RATE * WARMUP_SECONDS;
  inFlight.push(post(events[i].body).then((result) => !warm && results.push(result)));
}
await Promise.all(inFlight);
const elapsed = (performance.now() - start) / 1000;

const latencies = results.filter((r) => r.status === 200).map((r) => r.ms).sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? null;
const round = (value) => (value === null ? null : Math.round(value * 100) / 100);
const delivered = (await metric('zcc_listen_deliveries_total')).filter((line) => line.includes('outcome="delivered"'));
const report = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? null,
  // The machine is shared: its load (1, 5, 15 min) when the measurement ended says how much CPU the three had.
  loadAverage: loadavg().map((load) => Math.round(load * 100) / 100),
  rate: RATE,
  measuredSeconds: SECONDS,
  warmupSeconds: WARMUP_SECONDS,
  sent: results.length,
  acknowledged: latencies.length,
  errors: results.filter((r) => r.status !== 200).length,
  errorKinds: results.filter((r) => r.status !== 200).reduce((kinds, r) => {
    const kind = `${r.status} ${r.error ?? r.body ?? ''}`.trim();
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    return kinds;
  }, {}),
  achievedRate: Math.round((events.length / elapsed) * 10) / 10,
  latencyMs: { p50: round(pct(50)), p90: round(pct(90)), p99: round(pct(99)), max: round(latencies.at(-1) ?? null) },
  goalP99Ms: GOAL_P99_MS,
  pass: latencies.length === results.length && (pct(99) ?? Infinity) < GOAL_P99_MS,
  workerWhileMeasuring: {
    deliveries: delivered.reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0),
    inboxDepthAtEnd: Number((await metric('zcc_listen_inbox_depth'))[0]?.split(' ')[1] ?? NaN),
    mediaBytesPerRecording: BANDWIDTH ? `1-4 MB at ${BANDWIDTH} B/s` : '1-4 MB, unthrottled loopback',
  },
  senderLoopDelayMs: { p99: round(senderLag.percentile(99) / 1e6), max: round(senderLag.max / 1e6) },
  // From the listener's own clock: request handler entered → 2xx written (excludes time queued before the handler).
  serverAckHistogram: await metric('zcc_listen_ack_latency_seconds'),
};

child.kill('SIGTERM');
await new Promise((resolve) => child.once('exit', resolve));
agent.destroy();
sandboxProcess.disconnect();
await new Promise((resolve) => sandboxProcess.once('exit', resolve));
rmSync(dir, { recursive: true, force: true });
mkdirSync(path.join(HERE, 'results'), { recursive: true });
writeFileSync(path.join(HERE, 'results/listen-ack.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify({ loadAverage: report.loadAverage, senderLoopDelayMs: report.senderLoopDelayMs, rate: report.rate, sent: report.sent, errors: report.errors, errorKinds: report.errorKinds, latencyMs: report.latencyMs, pass: report.pass, worker: report.workerWhileMeasuring }, null, 2));
