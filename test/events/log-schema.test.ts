// The listener's JSON log lines hold to docs/schemas/log-event.schema.json: every event name the code logs is in the
// schema, the records of a listener that sees every kind of traffic validate (in process, through the CLI's JSON
// logger), and so do those of `zcc-reconcile --log-format json listen` from start to SIGTERM. No secret in any line.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryDestination } from '../../src/destinations/memory.js';
import { startListener, type Listener } from '../../src/events/listener.js';
import type { ListenLog } from '../../src/events/log.js';
import { Logger } from '../../src/logging.js';
import { ROOT, schemaErrors } from '../commands/helpers.js';
import { harness, NOW, type Harness } from '../support/harness.js';
import { freePort, listenConfig, startChild, type Child } from './child.js';
import { DAY, FLOW_SECRET, movingClock, waitFor, WEBHOOK_SECRET } from './support.js';

let h: Harness | null = null;
let listener: Listener | null = null;
let child: Child | null = null;
afterEach(async () => {
  child?.process.kill('SIGKILL');
  await child?.exited;
  await listener?.close();
  await h?.close();
  child = null;
  listener = null;
  h = null;
});

const LISTEN_EVENTS = [
  'listen_start', 'listen_stopping', 'listen_stopped', 'event_accepted', 'event_rejected', 'event_ignored', 'event_retry',
  'event_left_for_run', 'event_not_stored', 'url_validation_answered', 'deletion_recorded', 'websocket_connected',
  'websocket_disconnected', 'websocket_refused', 'websocket_token_failed', 'worker_failed', 'inbox_unreadable',
  'inbox_entry_failed', 'inbox_prune_failed', 'request_failed',
];

const window = { from: new Date(NOW.getTime() - 2 * DAY), to: new Date(NOW.getTime() - DAY) };

function schemaEventNames(): string[] {
  const schema = JSON.parse(readFileSync(path.join(ROOT, 'docs/schemas/log-event.schema.json'), 'utf8')) as { properties: { event: { enum: string[] } } };
  return schema.properties.event.enum;
}

/** Every `log('level', 'name'` and `announce('name'` in the listener's code. */
function loggedNames(): string[] {
  const files = [
    ...readdirSync(path.join(ROOT, 'src/events')).filter((name) => name.endsWith('.ts')).map((name) => path.join(ROOT, 'src/events', name)),
    path.join(ROOT, 'src/commands/listen.ts'),
  ];
  const names = new Set<string>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/\blog\(\s*'(?:info|warn|error)',\s*'([a-z_]+)'/g)) names.add(match[1]!);
    for (const match of text.matchAll(/\bannounce\(\s*'([a-z_]+)'/g)) names.add(match[1]!);
  }
  return [...names].sort();
}

function records(lines: readonly string[]): { event: string; [field: string]: unknown }[] {
  return lines.flatMap((text) => text.split('\n')).filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as { event: string });
}

function expectValid(found: readonly { event: string }[]): void {
  const invalid = found.map((record) => ({ record, errors: schemaErrors('log-event', record) })).filter(({ errors }) => errors.length > 0);
  expect(invalid).toEqual([]);
}

describe('listen: JSON log lines and their schema', () => {
  it('lists every event name the listener logs', () => {
    const names = loggedNames();
    expect(names).toEqual(expect.arrayContaining(LISTEN_EVENTS));
    expect(names.filter((name) => !schemaEventNames().includes(name))).toEqual([]);
  });

  it('validates the records of a listener that sees every kind of traffic', async () => {
    h = await harness();
    const sandbox = h.sandbox;
    const lines: string[] = [];
    // The command's own wiring: the CLI's JSON logger, one record per call.
    const logger = new Logger({ format: 'json', verbose: false, stderr: (text) => lines.push(text), redact: (text) => text });
    const log: ListenLog = (level, event, fields = {}) => logger.write({ level, event, ...fields });
    const clock = movingClock();
    const config = { ...h.config, listen: { ...h.config.listen, websocket: { url: sandbox.wsUrl, subscriptionId: 'sub-log-1' } } };
    listener = await startListener({
      config,
      secrets: sandbox.credentials,
      webhookSecret: WEBHOOK_SECRET,
      flowSecret: FLOW_SECRET,
      clock,
      destinations: [new MemoryDestination({ name: 'archive' })],
      log,
      tuning: { port: 0, retryDelaysMs: [20, 40], heartbeatMs: 200, reconnectBackoff: { minMs: 20, maxMs: 60 } },
    });
    const live = listener;
    const seen = () => records(lines).map((record) => record.event);
    const sender = sandbox.webhooks({ url: live.webhookUrl!, secret: WEBHOOK_SECRET, now: () => clock.now().getTime(), retryDelaysMs: [] });
    const events = sandbox.events.forWindow(window);
    const [note, otherNote] = events.filter((event) => event.event === 'contact_center.engagement_note_added');
    const recording = events.find((event) => event.event === 'contact_center.recording_completed')!;

    await waitFor(() => live.websocketConnected() === true, 'the WebSocket connected');
    expect((await sender.crc()).passed).toBe(true);
    expect((await sender.send(note!.body)).delivered).toBe(true);
    expect((await sender.send(note!.body, { wrongSecret: true })).delivered).toBe(false);
    expect((await sender.send({ ...note!.body, event: 'contact_center.task_created' })).delivered).toBe(true);
    expect((await sender.send(sandbox.events.recordingDeleted(recording.keys[0]!.split('/')[1]!).body)).delivered).toBe(true);
    // A recording still processing: retried, then left for the nightly run.
    const end = new Date(NOW.getTime() - 60_000);
    const { recordingId } = sandbox.mutate.addRecording(note!.engagementId, { endTime: end });
    const processing = {
      ...recording.body,
      payload: {
        ...recording.body.payload,
        object: {
          recording_id: recordingId,
          engagement_id: note!.engagementId,
          recording_start_time_ms: new Date(end.getTime() - 300_000).toISOString(),
          recording_end_time_ms: end.toISOString(),
        },
      },
    };
    expect((await sender.send(processing)).delivered).toBe(true);
    // A refused token, then a connection again.
    sandbox.stream.refuseNext(1, 'Invalid Token');
    sandbox.stream.dropConnections();
    await waitFor(() => seen().includes('websocket_refused') && live.websocketConnected() === true, 'reconnected after a refusal');
    expect(sandbox.stream.publish(otherNote!.body)).toBe(1);
    const flowCall = await fetch(live.flowUrl!, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"engagement_id":"Eng1"}' });
    expect(flowCall.status).toBe(401);
    await waitFor(() => seen().includes('event_left_for_run') && seen().filter((name) => name === 'artifact_delivered').length >= 2, 'the worker done');
    await listener.close();
    listener = null;
    await logger.close();

    const found = records(lines);
    expectValid(found);
    expect(new Set(found.map((record) => record.event))).toEqual(
      new Set([
        'websocket_connected', 'url_validation_answered', 'event_accepted', 'event_rejected', 'event_ignored', 'deletion_recorded',
        'event_retry', 'event_left_for_run', 'websocket_disconnected', 'websocket_refused', 'artifact_delivered',
      ]),
    );
    expect(found.filter((record) => record.event === 'event_accepted').map((record) => record.source).sort()).toEqual(['webhook', 'webhook', 'webhook', 'websocket']);
    expect(found.filter((record) => record.event === 'event_rejected').map((record) => [record.source, record.reason])).toEqual([
      ['webhook', 'bad_signature'],
      ['flow', 'missing_bearer'],
    ]);
    const text = lines.join('');
    for (const secret of [WEBHOOK_SECRET, FLOW_SECRET, sandbox.credentials.clientSecret]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/access_token/);
  });

  it('validates what `zcc-reconcile --log-format json listen` writes from start to SIGTERM', async () => {
    h = await harness();
    const port = await freePort();
    child = await startChild(h, listenConfig(h, port), {}, { args: ['--log-format', 'json'], ready: /"event":"listen_start"/ });
    const sender = h.sandbox.webhooks({ url: `http://127.0.0.1:${port}/zoom/events`, secret: WEBHOOK_SECRET, retryDelaysMs: [] });
    const [note] = h.sandbox.events.forWindow(window).filter((event) => event.event === 'contact_center.engagement_note_added');
    expect((await sender.send(note!.body)).delivered).toBe(true);
    expect((await sender.send(note!.body, { skewSeconds: 400 })).attempts[0]!.status).toBe(401);
    const running = child;
    await waitFor(() => /"event":"artifact_delivered"/.test(running.stderr()), 'the note delivered');
    child.process.kill('SIGTERM');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    const found = records([child.stderr()]);
    child = null;
    expectValid(found);
    expect(found.map((record) => record.event)).toEqual(
      expect.arrayContaining(['listen_start', 'event_accepted', 'event_rejected', 'artifact_delivered', 'listen_stopping', 'listen_stopped']),
    );
    expect(found.find((record) => record.event === 'event_rejected')).toMatchObject({ level: 'warn', source: 'webhook', reason: 'stale_timestamp', status: 401 });
    expect(found.at(-1)).toMatchObject({ event: 'listen_stopped', handedBack: 0 });
  });
});
