// The default wait used by the client and the limiter. Injected everywhere so tests run on a fake clock, and
// abortable so a caller that stops (lease lost, shutdown) is not held by a back-off of up to an hour.
import { setTimeout as delay } from 'node:timers/promises';

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const abortableSleep: Sleep = async (ms, signal) => {
  await delay(Math.max(0, ms), undefined, signal ? { signal } : {});
};
