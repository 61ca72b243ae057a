// The listener's counters, gauges and the acknowledgement-latency histogram, rendered in the Prometheus text
// exposition format (version 0.0.4). Label values are bounded sets chosen by the code, never request data.

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([name, value]) => `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

class Series {
  private readonly values = new Map<string, number>();

  add(labels: Labels, by: number): void {
    const key = labelText(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  set(labels: Labels, value: number): void {
    this.values.set(labelText(labels), value);
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels)) ?? 0;
  }

  lines(name: string): string[] {
    return [...this.values].map(([labels, value]) => `${name}${labels} ${value}`);
  }
}

const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class ListenMetrics {
  readonly accepted = new Series();
  readonly rejected = new Series();
  readonly deliveries = new Series();
  readonly websocketReconnects = new Series();
  private readonly latencyBuckets = new Array<number>(LATENCY_BUCKETS_S.length).fill(0);
  private latencyCount = 0;
  private latencySum = 0;

  constructor(private readonly gauges: () => { inboxDepth: number; lastEventSeconds: number | null; websocketConnected: number | null }) {}

  eventAccepted(source: string, event: string): void {
    this.accepted.add({ source, event }, 1);
  }

  eventRejected(source: string, reason: string): void {
    this.rejected.add({ source, reason }, 1);
  }

  delivery(kind: string, outcome: string): void {
    this.deliveries.add({ kind, outcome }, 1);
  }

  acknowledged(seconds: number): void {
    this.latencyCount++;
    this.latencySum += seconds;
    LATENCY_BUCKETS_S.forEach((bound, index) => {
      if (seconds <= bound) this.latencyBuckets[index]! += 1;
    });
  }

  render(): string {
    const gauges = this.gauges();
    const out: string[] = [];
    const family = (name: string, type: string, help: string, lines: string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    family('zcc_listen_events_accepted_total', 'counter', 'Events verified and stored in the inbox, by source and event.', this.accepted.lines('zcc_listen_events_accepted_total'));
    family('zcc_listen_events_rejected_total', 'counter', 'Requests and frames refused, by source and reason.', this.rejected.lines('zcc_listen_events_rejected_total'));
    family('zcc_listen_deliveries_total', 'counter', 'Artifact deliveries decided by the worker, by kind and outcome.', this.deliveries.lines('zcc_listen_deliveries_total'));
    family('zcc_listen_inbox_depth', 'gauge', 'Inbox entries not processed yet.', [`zcc_listen_inbox_depth ${gauges.inboxDepth}`]);
    if (gauges.lastEventSeconds !== null) {
      family('zcc_listen_last_event_timestamp_seconds', 'gauge', 'When the last event was accepted (Unix seconds).', [`zcc_listen_last_event_timestamp_seconds ${gauges.lastEventSeconds}`]);
    }
    if (gauges.websocketConnected !== null) {
      family('zcc_listen_websocket_connected', 'gauge', '1 while the WebSocket subscription is connected.', [`zcc_listen_websocket_connected ${gauges.websocketConnected}`]);
      family('zcc_listen_websocket_reconnects_total', 'counter', 'WebSocket reconnect attempts, by reason.', this.websocketReconnects.lines('zcc_listen_websocket_reconnects_total'));
    }
    const histogram = LATENCY_BUCKETS_S.map((bound, index) => `zcc_listen_ack_latency_seconds_bucket{le="${bound}"} ${this.latencyBuckets[index]}`);
    histogram.push(
      `zcc_listen_ack_latency_seconds_bucket{le="+Inf"} ${this.latencyCount}`,
      `zcc_listen_ack_latency_seconds_sum ${this.latencySum}`,
      `zcc_listen_ack_latency_seconds_count ${this.latencyCount}`,
    );
    family('zcc_listen_ack_latency_seconds', 'histogram', 'From a request arriving to its 2xx, for stored events.', histogram);
    return `${out.join('\n')}\n`;
  }
}
