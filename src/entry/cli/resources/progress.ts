// Waiting on a run (`syncs run --wait`): polls GET …/runs/{id} and draws a progress bar on a terminal.
import { type Options, type Params, SingleBar } from 'cli-progress';
import type { Session } from './context.ts';
import { asObject, text } from './format.ts';

export const FINAL_STATUSES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled']);

export interface RunProgress {
  readonly status: string;
  readonly done: number;
  /** null when the run does not say how much there is to do (only its counts). */
  readonly total: number | null;
}

/** The run's own `progress {done, total}` when it has one; otherwise members processed so far. */
export function runProgress(run: unknown): RunProgress {
  const r = asObject(run);
  const status = text(r.status);
  const p = asObject(r.progress);
  if (typeof p.done === 'number' && typeof p.total === 'number' && p.total >= 0) {
    return { status, done: Math.min(p.done, p.total), total: p.total };
  }
  const c = asObject(r.counts);
  const done = ['added', 'removed', 'skipped', 'failed'].reduce(
    (sum, k) => sum + (typeof c[k] === 'number' ? (c[k] as number) : 0),
    0,
  );
  return { status, done, total: null };
}

/** One line of the bar: `running  [████░░░░] 50% 10/20` or, with no total, `running  10 members processed`. */
export function progressLine(progress: RunProgress, width = 30): string {
  const status = progress.status.padEnd(9);
  if (progress.total === null) return `${status} ${progress.done} members processed`;
  const ratio = progress.total === 0 ? (FINAL_STATUSES.has(progress.status) ? 1 : 0) : progress.done / progress.total;
  const filled = Math.round(Math.max(0, Math.min(1, ratio)) * width);
  return `${status} [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${Math.round(ratio * 100)}% ${progress.done}/${progress.total}`;
}

export interface WaitOptions {
  readonly intervalMs: number;
  /** Give up (and throw) after this long; undefined waits for ever. */
  readonly timeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export class WaitTimeout extends Error {
  override readonly name = 'WaitTimeout';
}

/** Polls until the run is succeeded, failed or cancelled, and returns it as the API last answered. */
export async function waitForRun(s: Session, runPath: string, first: unknown, opts: WaitOptions): Promise<unknown> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = Date.now();
  const tty = s.io.stderr.isTTY === true && !s.json;
  let latest: unknown = first;
  let bar: SingleBar | null = null;
  if (tty) {
    bar = new SingleBar({
      stream: s.io.stderr,
      hideCursor: true,
      // Our own line: the total is often unknown until planning is done.
      format: (_options: Options, _params: Params, payload: { line?: string }) => `${payload.line ?? ''}`,
    });
    bar.start(1, 0, { line: progressLine(runProgress(latest)) });
  } else if (!s.json) {
    s.err(`waiting for run ${text(asObject(latest).id)}…`);
  }
  try {
    while (!FINAL_STATUSES.has(text(asObject(latest).status))) {
      if (opts.timeoutMs !== undefined && Date.now() - started >= opts.timeoutMs) {
        throw new WaitTimeout(
          `run ${text(asObject(latest).id)} is still ${text(asObject(latest).status)} after ${Math.round(opts.timeoutMs / 1000)}s (it goes on; see \`cohort-sync runs get ${text(asObject(latest).id)}\`)`,
        );
      }
      await sleep(opts.intervalMs);
      latest = await s.client.get(runPath);
      bar?.update(0, { line: progressLine(runProgress(latest)) });
    }
    bar?.update(1, { line: progressLine(runProgress(latest)) });
  } finally {
    bar?.stop();
  }
  return latest;
}
