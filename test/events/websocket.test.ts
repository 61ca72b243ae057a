// The WebSocket client against the sandbox's event stream: connect with the token in the query string, heartbeats,
// events as string or object content, a dropped connection, a refused token, a silent server; each disconnected
// interval recorded, each reconnection with a new token.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryDestination } from '../../src/destinations/memory.js';
import type { Destination } from '../../src/destinations/types.js';
import { startListener, type Listener, type ListenRequest } from '../../src/events/listener.js';
import { harness, NOW, type Harness } from '../support/harness.js';
import { DAY, movingClock, waitFor } from './support.js';

let h: Harness | null = null;
let listener: Listener | null = null;
afterEach(async () => {
  await listener?.close();
  await h?.close();
  listener = null;
  h = null;
});

/** A listener on the sandbox's event stream alone (no webhook or flow secret), with quick heartbeats and reconnections. */
function socketListener(on: Harness, subscriptionId: string, destination: Destination, tuning: ListenRequest['tuning'] = {}): Promise<Listener> {
  const config = { ...on.config, listen: { ...on.config.listen, websocket: { url: on.sandbox.wsUrl, subscriptionId } } };
  return startListener({
    config,
    secrets: on.sandbox.credentials,
    webhookSecret: null,
    flowSecret: null,
    clock: movingClock(),
    destinations: [destination],
    tuning: { port: 0, heartbeatMs: 50, reconnectBackoff: { minMs: 20, maxMs: 80 }, ...tuning },
  });
}

describe('listen: the WebSocket event stream', () => {
  it('connects, heartbeats, reconnects with a new token after a drop, a refusal and silence, and records the gaps', async () => {
    h = await harness();
    const sandbox = h.sandbox;
    const memory = new MemoryDestination({ name: 'archive' });
    listener = await socketListener(h, 'sub-test-1', memory, { retryDelaysMs: [50, 100] });
    const live = listener;
    const notes = sandbox.events.forWindow({ from: new Date(NOW.getTime() - 2 * DAY), to: new Date(NOW.getTime() - DAY) }).filter((event) => event.event === 'contact_center.engagement_note_added');
    const [first, lost, second, third] = notes;
    const tokens = () => sandbox.requests.filter((request) => request.operationId === 'oauthToken').length;
    const gaps = () => live.ledger.websocketGaps(new Date(0).toISOString());

    await waitFor(() => live.websocketConnected() === true, 'connected');
    expect(sandbox.stream.connects).toMatchObject([{ ok: true }]);
    // Until Zoom accepted the first connection, events sent would have been lost too.
    expect(gaps()).toMatchObject([{ subscriptionId: 'sub-test-1', reason: 'listener starting', reconnectedAt: expect.any(String) }]);
    await waitFor(() => sandbox.stream.heartbeats >= 3, 'heartbeats answered');
    expect(sandbox.stream.publish(first!.body)).toBe(1);
    await waitFor(() => memory.putCount.get(first!.keys[0]!) === 1, 'the first event delivered');

    const tokensBefore = tokens();
    sandbox.stream.dropConnections();
    // Zoom does not replay: what it sends while nobody is connected is lost (the nightly run covers it).
    expect(sandbox.stream.publish(lost!.body)).toBe(0);
    await waitFor(() => live.websocketConnected() === true && sandbox.stream.connections === 1 && gaps().length === 2 && gaps()[1]!.reconnectedAt !== null, 'reconnected');
    expect(tokens()).toBeGreaterThan(tokensBefore);
    expect(sandbox.stream.publish(second!.body, { contentAsObject: true })).toBe(1);
    await waitFor(() => memory.putCount.get(second!.keys[0]!) === 1, 'an event with object content delivered');

    // A refused token: build_connection says no; the client gets another token and tries again.
    const connectsBefore = sandbox.stream.connects.length;
    sandbox.stream.refuseNext(2, 'Invalid Token');
    sandbox.stream.dropConnections();
    await waitFor(() => sandbox.stream.connects.length >= connectsBefore + 3 && live.websocketConnected() === true, 'reconnected after refusals');
    expect(sandbox.stream.connects.slice(connectsBefore).map((connect) => connect.reason)).toEqual(['Invalid Token', 'Invalid Token', 'connected']);
    await waitFor(() => gaps().length === 3 && gaps()[2]!.reconnectedAt !== null, 'the third gap closed');

    // A server that stops answering heartbeats is treated as gone.
    sandbox.stream.silent = true;
    const beforeSilence = sandbox.stream.connects.length;
    await waitFor(() => sandbox.stream.connects.length > beforeSilence, 'a reconnection after silence');
    sandbox.stream.silent = false;
    await waitFor(() => live.websocketConnected() === true && gaps().every((gap) => gap.reconnectedAt !== null), 'connected again');
    expect(sandbox.stream.publish(third!.body)).toBe(1);
    await waitFor(() => memory.putCount.get(third!.keys[0]!) === 1, 'the last event delivered');

    expect(memory.putCount.has(lost!.keys[0]!)).toBe(false);
    expect(gaps().length).toBeGreaterThanOrEqual(4);
    for (const gap of gaps()) expect(Date.parse(gap.reconnectedAt!)).toBeGreaterThanOrEqual(Date.parse(gap.disconnectedAt));
    const metrics = await listener.metrics.render();
    expect(metrics).toMatch(/^zcc_listen_websocket_connected 1$/m);
    expect(metrics).toMatch(/^zcc_listen_events_accepted_total\{source="websocket",event="contact_center.engagement_note_added"\} 3$/m);
  });
  it('an event whose event_ts is no date (1e20) is dated when received and delivered; the listener stays connected', async () => {
    h = await harness();
    const sandbox = h.sandbox;
    const memory = new MemoryDestination({ name: 'archive' });
    listener = await socketListener(h, 'sub-test-3', memory);
    const live = listener;
    await waitFor(() => live.websocketConnected() === true, 'connected');
    const notes = sandbox.events.forWindow({ from: new Date(NOW.getTime() - 2 * DAY), to: new Date(NOW.getTime() - DAY) }).filter((event) => event.event === 'contact_center.engagement_note_added');
    const [odd, next] = notes;
    expect(sandbox.stream.publish({ ...(odd!.body as Record<string, unknown>), event_ts: 1e20 })).toBe(1);
    expect(sandbox.stream.publish(next!.body)).toBe(1);
    await waitFor(() => memory.putCount.get(odd!.keys[0]!) === 1 && memory.putCount.get(next!.keys[0]!) === 1, 'both events delivered');
    expect(live.websocketConnected()).toBe(true);
    expect(sandbox.stream.connects).toHaveLength(1);
  });

  it('records the time a stopped listener was away as a gap, and a stop during a reconnection opens no socket', async () => {
    h = await harness();
    const sandbox = h.sandbox;
    const start = () => socketListener(h!, 'sub-test-2', new MemoryDestination({ name: 'archive' }));
    listener = await start();
    const first = listener;
    await waitFor(() => first.websocketConnected() === true, 'connected');
    await first.close();
    const [note] = sandbox.events.forWindow({ from: new Date(NOW.getTime() - 2 * DAY), to: new Date(NOW.getTime() - DAY) });
    expect(sandbox.stream.publish(note!.body)).toBe(0);
    listener = await start();
    const second = listener;
    await waitFor(() => second.websocketConnected() === true, 'connected again');
    const gaps = second.ledger.websocketGaps(new Date(0).toISOString());
    expect(gaps.map((gap) => gap.reason)).toEqual(['listener starting', 'listener stopped']);
    expect(gaps.every((gap) => gap.reconnectedAt !== null)).toBe(true);

    // Stopped while a reconnection waits for its token: the token comes after the stop, and no socket follows.
    sandbox.faults.add({ label: 'token' }, { type: 'slow', delayMs: 300 }, { times: 1 });
    const connects = sandbox.stream.connects.length;
    sandbox.stream.dropConnections();
    await waitFor(() => sandbox.faults.fired.length === 1, 'a token requested');
    await second.close();
    listener = null;
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(sandbox.stream.connects.length).toBe(connects);
  });
});
