// The inbox worker in a thread of its own, so that downloading, hashing and its ledger writes never delay the
// acknowledgement of the next webhook on the main thread. It has its own ledger connection (SQLite WAL lets the two
// write in turn) and talks to the main thread in small messages: wake, stop; log, delivery, busy, stopped.
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { systemClock } from '../clock.js';
import { SqliteLedger } from '../ledger/sqlite.js';
import { buildWorker, type DrainSettings } from './drain.js';
import type { LogFields, LogLevel } from './log.js';

export type ToThread = { type: 'wake' } | { type: 'stop'; graceMs: number };
export type FromThread =
  | { type: 'ready' }
  | { type: 'log'; level: LogLevel; event: string; fields: LogFields }
  | { type: 'delivery'; kind: string; outcome: string }
  | { type: 'busy'; entries: number }
  | { type: 'stopped'; handedBack: number };

export interface ThreadData {
  settings: DrainSettings;
  ledgerPath: string;
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('worker-thread.js runs only as a worker thread');
  const post = (message: FromThread) => port.postMessage(message);
  const { settings, ledgerPath } = workerData as ThreadData;
  // On Linux this lowers only this thread: when the CPU is short, acknowledging the next webhook comes first.
  try {
    setPriority(10);
  } catch {
    // Not permitted or not supported: the thread alone already keeps downloads off the acknowledgement path.
  }
  const ledger = SqliteLedger.open(ledgerPath);
  const { worker, close } = await buildWorker(settings, {
    ledger,
    clock: systemClock,
    metrics: { delivery: (kind, outcome) => post({ type: 'delivery', kind, outcome }) },
    log: (level, event, fields = {}) => post({ type: 'log', level, event, fields }),
    onBusy: (entries) => post({ type: 'busy', entries }),
  });
  port.on('message', (message: ToThread) => {
    if (message.type === 'wake') worker.wake();
    if (message.type === 'stop') {
      void worker.stop(message.graceMs).then(async ({ handedBack }) => {
        await close();
        ledger.close();
        post({ type: 'stopped', handedBack });
        port.close();
      });
    }
  });
  worker.start();
  post({ type: 'ready' });
}

await main();
