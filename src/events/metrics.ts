// The listener's metrics on a prom-client registry of its own (never the global one: two listeners in one process,
// as in the tests, must not share counters). Label values are bounded sets chosen by the code, never request data.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface ListenGauges {
  inboxDepth: number;
  /** Unix seconds of the last accepted event, or null before the first one. */
  lastEventSeconds: number | null;
  /** 1 connected, 0 not, null when no WebSocket subscription is configured. */
  websocketConnected: number | null;
}

export interface ListenMetricsOptions {
  /** Registers the WebSocket families (only a listener with a subscription has them). */
  websocket?: boolean;
}

/** Upper bounds in seconds: the 2xx must come well inside Zoom's 3 s, and p99 under 50 ms is the target. */
const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export const METRIC = {
  accepted: 'zcc_listen_events_accepted_total',
  rejected: 'zcc_listen_events_rejected_total',
  deliveries: 'zcc_listen_deliveries_total',
  inboxDepth: 'zcc_listen_inbox_depth',
  lastEvent: 'zcc_listen_last_event_timestamp_seconds',
  ackLatency: 'zcc_listen_ack_latency_seconds',
  websocketConnected: 'zcc_listen_websocket_connected',
  websocketReconnects: 'zcc_listen_websocket_reconnects_total',
} as const;

type MetricName = (typeof METRIC)[keyof typeof METRIC];

export class ListenMetrics {
  readonly registry = new Registry();
  private readonly accepted: Counter<'source' | 'event'>;
  private readonly rejected: Counter<'source' | 'reason'>;
  private readonly deliveries: Counter<'kind' | 'outcome'>;
  private readonly ackLatency: Histogram;
  private readonly inboxDepth: Gauge;
  private lastEvent: Gauge | null = null;
  private readonly websocketConnected: Gauge | null = null;
  private readonly websocketReconnects: Counter<'reason'> | null = null;

  constructor(
    private readonly gauges: () => ListenGauges,
    options: ListenMetricsOptions = {},
  ) {
    const registers = [this.registry];
    this.accepted = new Counter({
      name: METRIC.accepted,
      help: 'Events verified and stored in the inbox, by source and event.',
      labelNames: ['source', 'event'],
      registers,
    });
    this.rejected = new Counter({ name: METRIC.rejected, help: 'Requests and frames refused, by source and reason.', labelNames: ['source', 'reason'], registers });
    this.deliveries = new Counter({
      name: METRIC.deliveries,
      help: 'Artifact deliveries decided by the worker, by kind and outcome.',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.inboxDepth = new Gauge({ name: METRIC.inboxDepth, help: 'Inbox entries not processed yet.', registers });
    this.ackLatency = new Histogram({
      name: METRIC.ackLatency,
      help: 'From a request arriving to its 2xx, for stored events.',
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    if (options.websocket) {
      this.websocketConnected = new Gauge({ name: METRIC.websocketConnected, help: '1 while the WebSocket subscription is connected.', registers });
      this.websocketReconnects = new Counter({
        name: METRIC.websocketReconnects,
        help: 'WebSocket reconnect attempts, by reason.',
        labelNames: ['reason'],
        registers,
      });
    }
  }

  eventAccepted(source: string, event: string): void {
    this.accepted.inc({ source, event });
  }

  eventRejected(source: string, reason: string): void {
    this.rejected.inc({ source, reason });
  }

  delivery(kind: string, outcome: string): void {
    this.deliveries.inc({ kind, outcome });
  }

  acknowledged(seconds: number): void {
    this.ackLatency.observe(seconds);
  }

  websocketReconnect(reason: string): void {
    this.websocketReconnects?.inc({ reason });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text; the gauges are read (from the ledger, the socket) at scrape time. */
  async render(): Promise<string> {
    const gauges = this.gauges();
    this.inboxDepth.set(gauges.inboxDepth);
    if (gauges.lastEventSeconds !== null) {
      // Registered with the first event: a timestamp of 0 would read as "the last event was in 1970".
      this.lastEvent ??= new Gauge({ name: METRIC.lastEvent, help: 'When the last event was accepted (Unix seconds).', registers: [this.registry] });
      this.lastEvent.set(gauges.lastEventSeconds);
    }
    if (gauges.websocketConnected !== null) this.websocketConnected?.set(gauges.websocketConnected);
    return this.registry.metrics();
  }

  /** One counter's or gauge's series (0 when it has none yet): for health checks and tests. */
  async value(name: Exclude<MetricName, typeof METRIC.ackLatency>, labels: Record<string, string> = {}): Promise<number> {
    const metric = this.registry.getSingleMetric(name);
    if (!metric) return 0;
    const { values } = await metric.get();
    const wanted = Object.entries(labels);
    const series = values.find(
      (value) => Object.keys(value.labels).length === wanted.length && wanted.every(([label, text]) => value.labels[label] === text),
    );
    return series?.value ?? 0;
  }
}
