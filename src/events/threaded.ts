// The main thread's side of the worker thread: starts it, wakes it when events are stored, relays its log and
// delivery counts, and stops it (it finishes or hands back its entries) when the listener closes.
import { Worker as Thread } from 'node:worker_threads';
import type { DrainSettings } from './drain.js';
import type { ListenLog } from './log.js';
import type { InboxDrain, WorkerMetrics } from './worker.js';
import type { FromThread, ThreadData, ToThread } from './worker-thread.js';

export class ThreadedWorker implements InboxDrain {
  private entries = 0;
  private stopped: Promise<{ handedBack: number }> | null = null;
  private alive = true;

  private constructor(
    private readonly thread: Thread,
    private readonly ready: Promise<void>,
  ) {}

  static async start(settings: DrainSettings, ledgerPath: string, metrics: WorkerMetrics, log: ListenLog): Promise<ThreadedWorker> {
    const data: ThreadData = { settings, ledgerPath };
    const thread = new Thread(new URL('./worker-thread.js', import.meta.url), { workerData: data });
    let ready: () => void = () => {};
    let failed: (error: Error) => void = () => {};
    const started = new Promise<void>((resolve, reject) => {
      ready = resolve;
      failed = reject;
    });
    const threaded = new ThreadedWorker(thread, started);
    thread.on('message', (message: FromThread) => {
      switch (message.type) {
        case 'ready':
          ready();
          break;
        case 'log':
          log(message.level, message.event, message.fields);
          break;
        case 'delivery':
          metrics.delivery(message.kind, message.outcome);
          break;
        case 'busy':
          threaded.entries = message.entries;
          break;
        case 'stopped':
          break;
      }
    });
    thread.on('error', (error) => {
      log('error', 'worker_failed', { error: error.message, note: 'accepted events wait in the inbox for the next start' });
      failed(error);
    });
    thread.on('exit', () => {
      threaded.alive = false;
    });
    await started;
    return threaded;
  }

  get busy(): number {
    return this.entries;
  }

  get running(): boolean {
    return this.alive;
  }

  start(): void {
    // Started with the thread.
  }

  wake(): void {
    if (this.alive) this.send({ type: 'wake' });
  }

  stop(graceMs: number): Promise<{ handedBack: number }> {
    this.stopped ??= this.alive
      ? new Promise((resolve) => {
          const onMessage = (message: FromThread) => {
            if (message.type !== 'stopped') return;
            this.thread.off('message', onMessage);
            resolve({ handedBack: message.handedBack });
          };
          this.thread.on('message', onMessage);
          this.thread.once('exit', () => resolve({ handedBack: 0 }));
          this.send({ type: 'stop', graceMs });
        })
      : Promise.resolve({ handedBack: 0 });
    return this.stopped;
  }

  private send(message: ToThread): void {
    void this.ready.then(() => this.thread.postMessage(message));
  }
}
