// /metrics through prom-client: each listener has a registry of its own (never prom-client's global one), the families
// and their labels, the histogram of acknowledgement latency, gauges read at scrape time, WebSocket families only
// with a subscription, and a valid Prometheus text exposition.
import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ListenMetrics, METRIC, type ListenGauges } from '../../src/events/metrics.js';

function metrics(gauges: Partial<ListenGauges> = {}, websocket = false): ListenMetrics {
  return new ListenMetrics(() => ({ inboxDepth: 0, lastEventSeconds: null, websocketConnected: null, ...gauges }), { websocket });
}

/** Every line is empty, a comment or `name{labels} value`, and every sample belongs to a family declared before it. */
function expectExposition(text: string): void {
  const declared = new Set<string>();
  for (const line of text.trimEnd().split('\n')) {
    const type = /^# TYPE (\w+) (counter|gauge|histogram)$/.exec(line);
    if (type) declared.add(type[1]!);
    // prom-client separates families with an empty line, which the format allows.
    if (line === '') continue;
    if (line.startsWith('#')) {
      expect(line).toMatch(/^# (HELP|TYPE) \w+ .+$/);
      continue;
    }
    const sample = /^(\w+?)(_bucket|_sum|_count)?(\{(\w+="(?:[^"\\]|\\.)*",?)*\})? (-?[\d.e+-]+|NaN|\+Inf)$/.exec(line);
    expect(sample, line).not.toBeNull();
    expect(declared.has(sample![1]!) || declared.has(`${sample![1]}${sample![2] ?? ''}`), line).toBe(true);
  }
}

describe('listen metrics (prom-client)', () => {
  it('counts events by source and event or reason, deliveries by kind and outcome, in a registry of its own', async () => {
    const a = metrics({ inboxDepth: 3 });
    const b = metrics();
    a.eventAccepted('webhook', 'contact_center.recording_completed');
    a.eventAccepted('webhook', 'contact_center.recording_completed');
    a.eventAccepted('flow', 'flow');
    a.eventRejected('webhook', 'bad_signature');
    a.delivery('recording', 'delivered');
    a.delivery('note', 'unchanged');
    const text = await a.render();
    expect(a.contentType).toMatch(/^text\/plain; version=0\.0\.4; charset=utf-8$/);
    expect(text).toContain(`# TYPE ${METRIC.accepted} counter`);
    expect(text).toMatch(/^zcc_listen_events_accepted_total\{source="webhook",event="contact_center.recording_completed"\} 2$/m);
    expect(text).toMatch(/^zcc_listen_events_accepted_total\{source="flow",event="flow"\} 1$/m);
    expect(text).toMatch(/^zcc_listen_events_rejected_total\{source="webhook",reason="bad_signature"\} 1$/m);
    expect(text).toMatch(/^zcc_listen_deliveries_total\{kind="recording",outcome="delivered"\} 1$/m);
    expect(text).toMatch(/^zcc_listen_inbox_depth 3$/m);
    expectExposition(text);
    expect(await a.value(METRIC.deliveries, { kind: 'note', outcome: 'unchanged' })).toBe(1);
    expect(await a.value(METRIC.deliveries, { kind: 'note', outcome: 'failed' })).toBe(0);
    // Nothing leaks into the other listener or the process-wide registry.
    expect(await b.value(METRIC.accepted, { source: 'flow', event: 'flow' })).toBe(0);
    expect(await b.render()).not.toMatch(/^zcc_listen_events_accepted_total\{/m);
    expect(await globalRegistry.metrics()).not.toContain('zcc_listen');
  });

  it('keeps acknowledgement latency as a histogram with buckets up to 2.5 s', async () => {
    const m = metrics();
    for (const seconds of [0.0008, 0.004, 0.004, 0.03, 3]) m.acknowledged(seconds);
    const text = await m.render();
    expect(text).toContain('# TYPE zcc_listen_ack_latency_seconds histogram');
    expect(text).toMatch(/^zcc_listen_ack_latency_seconds_bucket\{le="0.001"\} 1$/m);
    expect(text).toMatch(/^zcc_listen_ack_latency_seconds_bucket\{le="0.005"\} 3$/m);
    expect(text).toMatch(/^zcc_listen_ack_latency_seconds_bucket\{le="0.05"\} 4$/m);
    expect(text).toMatch(/^zcc_listen_ack_latency_seconds_bucket\{le="2.5"\} 4$/m);
    expect(text).toMatch(/^zcc_listen_ack_latency_seconds_bucket\{le="\+Inf"\} 5$/m);
    expect(text).toMatch(/^zcc_listen_ack_latency_seconds_count 5$/m);
    expect(Number(/^zcc_listen_ack_latency_seconds_sum (\S+)$/m.exec(text)![1])).toBeCloseTo(3.0388, 6);
    expectExposition(text);
  });

  it('reads gauges at scrape time; the last-event time appears with the first event, the WebSocket only with a subscription', async () => {
    const state: ListenGauges = { inboxDepth: 0, lastEventSeconds: null, websocketConnected: 0 };
    const withSocket = new ListenMetrics(() => state, { websocket: true });
    let text = await withSocket.render();
    expect(text).not.toContain('zcc_listen_last_event_timestamp_seconds');
    expect(text).toMatch(/^zcc_listen_websocket_connected 0$/m);
    withSocket.websocketReconnect('token_refused');
    withSocket.websocketReconnect('token_refused');
    withSocket.websocketReconnect('error');
    Object.assign(state, { inboxDepth: 7, lastEventSeconds: 1_795_000_000.5, websocketConnected: 1 });
    text = await withSocket.render();
    expect(text).toMatch(/^zcc_listen_inbox_depth 7$/m);
    expect(text).toMatch(/^zcc_listen_last_event_timestamp_seconds 1795000000.5$/m);
    expect(text).toMatch(/^zcc_listen_websocket_connected 1$/m);
    expect(text).toMatch(/^zcc_listen_websocket_reconnects_total\{reason="token_refused"\} 2$/m);
    expect(text).toMatch(/^zcc_listen_websocket_reconnects_total\{reason="error"\} 1$/m);
    expectExposition(text);

    const without = metrics();
    without.websocketReconnect('error');
    expect(await without.render()).not.toContain('websocket');
  });
});
