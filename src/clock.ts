// A clock the engine reads time from, so tests can fake time without touching the system's.
import { setTimeout as delay } from 'node:timers/promises';

export interface Clock {
  now(): Date;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: async (ms, signal) => {
    if (ms <= 0) return;
    await delay(ms, undefined, { signal });
  },
};
