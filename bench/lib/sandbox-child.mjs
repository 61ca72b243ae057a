// The sandbox in its own process, so neither its CPU nor its memory counts against the measured run.
// Options come as JSON in argv[2]; it answers { type: 'ready', ... } and then serves { type: 'stats' } and
// { type: 'close' } messages over IPC.
import { dist } from './paths.mjs';

const { startSandbox } = await import(dist('sandbox/index.js'));
const options = JSON.parse(process.argv[2] ?? '{}');
const now = options.now ? new Date(options.now) : null;
const sandbox = await startSandbox({ ...options, now: now ? () => now : undefined, port: options.port ?? 0 });

/** Counts by label and status from the request log (which keeps the last 200,000 requests). */
function stats() {
  const byLabelStatus = {};
  for (const request of sandbox.requests) {
    const label = request.label ?? 'none';
    const row = (byLabelStatus[label] ??= {});
    row[request.status] = (row[request.status] ?? 0) + 1;
  }
  return { ...sandbox.stats, byLabel: { ...sandbox.stats.byLabel }, byLabelStatus, logged: sandbox.requests.length };
}

process.on('message', async (message) => {
  if (message.type === 'stats') process.send({ type: 'stats', id: message.id, stats: stats() });
  if (message.type === 'close') {
    await sandbox.close();
    process.send({ type: 'closed' }, () => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));

process.send({
  type: 'ready',
  apiBaseUrl: sandbox.apiBaseUrl,
  oauthTokenUrl: sandbox.oauthTokenUrl,
  downloadHost: sandbox.downloadHost,
  credentials: sandbox.credentials,
});
