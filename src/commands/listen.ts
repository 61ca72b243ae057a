// `zcc-reconcile listen`: the real-time path as a command. Loads the config and secrets, starts the listener, logs
// through the CLI's logger, and on SIGTERM/SIGINT stops accepting, finishes or hands back in-flight work, exits 0.
import type { Command } from 'commander';
import type { LogFields, LogLevel } from '../events/log.js';
import type { CommandContext } from './context.js';

export function registerListen(program: Command, context: () => CommandContext, setExitCode: (code: number) => void): void {
  program
    .command('listen')
    .description('the real-time path: Zoom webhooks, the WebSocket stream and flow events, into the same ledger and destinations')
    .addHelpText(
      'after',
      `
Environment:
  ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET  the Server-to-Server OAuth app (REST fetches, WebSocket token)
  ZOOM_WEBHOOK_SECRET_TOKEN                             the event subscription's secret token (serves listen.webhookPath)
  ZCC_FLOW_SECRET                                       the bearer secret flow scripts send (serves listen.flowPath)

Endpoints: POST listen.webhookPath (default /zoom/events), POST listen.flowPath (default /flow/events),
GET /healthz, GET /metrics (Prometheus). SIGTERM: stop accepting, finish or hand back in-flight work, exit 0.
Keep the nightly \`zcc-reconcile run\` scheduled: it delivers whatever the events missed.

Examples:
  $ zcc-reconcile listen --config /etc/zcc-reconcile/config.json --log-format json
  $ curl -s http://127.0.0.1:8787/healthz         # ledger writable, inbox depth, last event time
  $ zcc-reconcile status                           # per day: artifacts via events, and those the run caught`,
    )
    .action(async () => {
      setExitCode(await listenCommand(context()));
    });
}

export async function listenCommand(context: CommandContext): Promise<number> {
  const { createLogger, loadCommandConfig } = await import('./context.js');
  const { readZoomSecrets } = await import('../config.js');
  const { startListener } = await import('../events/listener.js');
  const { config } = await loadCommandConfig(context);
  const secrets = readZoomSecrets(context.env);
  const logger = createLogger(context);
  const json = context.global.logFormat === 'json';
  // Records go through the CLI's logger (JSON, --verbose, --log-file); warnings and errors reach stderr even when
  // it is quiet (text without --verbose), so a rejected request is never silent.
  const log = (level: LogLevel, event: string, fields: LogFields = {}): void => {
    if (logger.active) logger.write({ level, event, ...fields });
    else if (!context.global.quiet && level !== 'info') context.err(`zcc-reconcile listen: ${level}: ${event}${describe(fields)}\n`);
  };
  // The start and stop lines: a record in JSON, a sentence for people otherwise.
  const announce = (event: string, text: string, fields: LogFields): void => {
    if (json) log('info', event, fields);
    else if (!context.global.quiet) context.err(`zcc-reconcile listen: ${text}\n`);
  };
  let stop: (signal: NodeJS.Signals) => void = () => {};
  const stopped = new Promise<NodeJS.Signals>((resolve) => (stop = resolve));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    const listener = await startListener({
      config,
      secrets,
      webhookSecret: context.env.ZOOM_WEBHOOK_SECRET_TOKEN || null,
      flowSecret: context.env.ZCC_FLOW_SECRET || null,
      workerThread: true,
      log,
    });
    const served = [listener.webhookUrl && `webhooks at ${listener.webhookUrl}`, listener.flowUrl && `flow events at ${listener.flowUrl}`];
    if (config.listen.websocket.subscriptionId !== null) served.push(`WebSocket subscription ${config.listen.websocket.subscriptionId}`);
    announce('listen_start', `listening on ${listener.url} (${served.filter(Boolean).join(', ')})`, {
      url: listener.url,
      webhooks: listener.webhookUrl,
      flow: listener.flowUrl,
      websocket: config.listen.websocket.subscriptionId,
    });
    const signal = await stopped;
    announce('listen_stopping', `${signal}: stopping; in-flight work is finished or handed back`, { signal });
    const { handedBack } = await listener.close();
    announce('listen_stopped', `stopped (${handedBack} inbox entries handed back for the next start)`, { handedBack });
    return 0;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    await logger.close();
  }
}

function describe(fields: LogFields): string {
  const parts = Object.entries(fields)
    .filter(([, value]) => value !== undefined && value !== null && value !== '')
    .map(([name, value]) => `${name}=${typeof value === 'string' && /\s/.test(value) ? JSON.stringify(value) : String(value)}`);
  return parts.length > 0 ? ` ${parts.join(' ')}` : '';
}
