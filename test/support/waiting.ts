// A clock tests move by hand, and polling waits that report what they were waiting for.
import type { Clock } from '../../src/ports/clock.ts';
import type { LoggedRequest } from '../../src/sandbox/index.ts';

export class ManualClock implements Clock {
  private t: number;
  constructor(start: Date | number = Date.now()) {
    this.t = typeof start === 'number' ? start : start.getTime();
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
  set(to: Date | string): void {
    this.t = new Date(to).getTime();
  }
}

/** Polls `check` every few milliseconds until it returns true; returns the elapsed milliseconds. */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  everyMs = 5,
): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The membership calls in a sandbox request log, as {add, remove} lists of every identifier sent. */
export function membershipCalls(requests: readonly LoggedRequest[]): { add: string[]; remove: string[] }[] {
  return requests
    .filter((r) => r.path.endsWith('/cohorts/users'))
    .map((r) => {
      const body = r.body as {
        cohort_changes?: {
          user_ids?: string[];
          device_ids?: string[];
          aliases?: { alias_name: string; alias_label: string }[];
          should_remove?: boolean;
        }[];
      };
      const out = { add: [] as string[], remove: [] as string[] };
      for (const block of body.cohort_changes ?? []) {
        const ids = [
          ...(block.user_ids ?? []).map((v) => `e:${v}`),
          ...(block.device_ids ?? []).map((v) => `d:${v}`),
          ...(block.aliases ?? []).map((a) => `a:${a.alias_label}:${a.alias_name}`),
        ];
        (block.should_remove ? out.remove : out.add).push(...ids);
      }
      return out;
    });
}
