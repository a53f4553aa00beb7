// When a finished run is worth a mail or a webhook (docs/product.md §5), as pure decisions over the per-sync
// notification state the store keeps. No mail storm: successful real-time runs fold into a digest mailed
// at most once per `digestEveryMs`; a persisting failure is mailed at once, then at most once per
// `failureRepeatMs` (sooner when the error changes); a recovery is mailed at once.
import type { Cadence, Run, RunCounts } from './model.ts';

export interface DigestSummary {
  readonly runs: number;
  readonly firstRunId: string;
  readonly lastRunId: string;
  /** Earliest start (or queue time) and latest finish among the runs. */
  readonly from: string;
  readonly to: string;
  readonly counts: RunCounts;
}

export interface NotificationState {
  readonly syncId: string;
  readonly projectId: string;
  /** Outcome of the last finished run that counted (succeeded or failed), null before the first. */
  readonly lastStatus: 'succeeded' | 'failed' | null;
  readonly lastErrorCode: string | null;
  /** Finish time of the first failed run of the current failure streak. */
  readonly failingSince: string | null;
  /** Failed runs in the current streak (0 after a success). */
  readonly consecutiveFailures: number;
  /** When the last failure mail went out, while failures persist. */
  readonly lastFailureMailAt: string | null;
  /** Failed runs since the last failure mail that were not mailed. */
  readonly suppressedFailures: number;
  readonly lastDigestAt: string | null;
  readonly pendingDigest: DigestSummary | null;
  /** Optimistic-concurrency counter: 0 when nothing is stored yet. */
  readonly version: number;
}

export type NotificationStateFields = Omit<NotificationState, 'version'>;

export interface NotificationPolicy {
  readonly digestEveryMs: number;
  readonly failureRepeatMs: number;
}

export const DEFAULT_NOTIFICATION_POLICY: NotificationPolicy = { digestEveryMs: 3_600_000, failureRepeatMs: 3_600_000 };

export type RunEvent = 'run.succeeded' | 'run.failed' | 'run.recovered';

export type MailDecision =
  | { readonly kind: 'success' }
  | { readonly kind: 'failure' }
  /** The failure persists; `suppressed` failed runs since the previous failure mail went unmailed. */
  | { readonly kind: 'still_failing'; readonly suppressed: number }
  | { readonly kind: 'recovery'; readonly failedRuns: number; readonly failingSince: string | null }
  | { readonly kind: 'digest'; readonly digest: DigestSummary };

export interface Decision {
  readonly mail: MailDecision | null;
  readonly event: RunEvent;
  readonly next: NotificationStateFields;
}

/** Cancelled runs, runs of deleted syncs and the removal run of a sync being deleted notify nobody. */
export function isNotifiable(run: Pick<Run, 'status' | 'trigger' | 'mode'>): boolean {
  return (
    (run.status === 'succeeded' || run.status === 'failed') && run.trigger !== 'delete' && run.mode !== 'remove_all'
  );
}

/** Real-time syncs run on every change; their successes are digested. A run someone asked for is mailed at once. */
export function isDigested(cadence: Cadence, run: Pick<Run, 'trigger'>): boolean {
  return cadence === 'real_time' && run.trigger !== 'manual';
}

const emptyState = (syncId: string, projectId: string): NotificationStateFields => ({
  syncId,
  projectId,
  lastStatus: null,
  lastErrorCode: null,
  failingSince: null,
  consecutiveFailures: 0,
  lastFailureMailAt: null,
  suppressedFailures: 0,
  lastDigestAt: null,
  pendingDigest: null,
});

const elapsed = (since: string | null, now: Date, ms: number) =>
  since === null || now.getTime() - Date.parse(since) >= ms;

export function addToDigest(digest: DigestSummary | null, run: Run): DigestSummary {
  const from = run.startedAt ?? run.queuedAt;
  const to = run.finishedAt ?? from;
  if (!digest) return { runs: 1, firstRunId: run.id, lastRunId: run.id, from, to, counts: { ...run.counts } };
  return {
    runs: digest.runs + 1,
    firstRunId: digest.firstRunId,
    lastRunId: run.id,
    from: from < digest.from ? from : digest.from,
    to: to > digest.to ? to : digest.to,
    counts: {
      added: digest.counts.added + run.counts.added,
      removed: digest.counts.removed + run.counts.removed,
      skipped: digest.counts.skipped + run.counts.skipped,
      failed: digest.counts.failed + run.counts.failed,
    },
  };
}

/** What a finished, notifiable run of a sync with `cadence` calls for, given the state before it. */
export function decide(
  prev: NotificationStateFields | undefined,
  run: Run,
  cadence: Cadence,
  now: Date,
  policy: NotificationPolicy = DEFAULT_NOTIFICATION_POLICY,
): Decision {
  const state = prev ?? emptyState(run.syncId, run.projectId);
  const at = now.toISOString();
  if (run.status === 'failed') {
    const code = run.error?.code ?? 'unknown';
    const next = {
      ...state,
      lastStatus: 'failed' as const,
      lastErrorCode: code,
      failingSince: state.lastStatus === 'failed' ? state.failingSince : (run.finishedAt ?? at),
      consecutiveFailures: state.lastStatus === 'failed' ? state.consecutiveFailures + 1 : 1,
    };
    if (state.lastStatus !== 'failed') {
      return {
        mail: { kind: 'failure' },
        event: 'run.failed',
        next: { ...next, lastFailureMailAt: at, suppressedFailures: 0 },
      };
    }
    if (code !== state.lastErrorCode || elapsed(state.lastFailureMailAt, now, policy.failureRepeatMs)) {
      return {
        mail: { kind: 'still_failing', suppressed: state.suppressedFailures },
        event: 'run.failed',
        next: { ...next, lastFailureMailAt: at, suppressedFailures: 0 },
      };
    }
    return { mail: null, event: 'run.failed', next: { ...next, suppressedFailures: state.suppressedFailures + 1 } };
  }
  const succeeded = {
    ...state,
    lastStatus: 'succeeded' as const,
    lastErrorCode: null,
    failingSince: null,
    consecutiveFailures: 0,
    lastFailureMailAt: null,
    suppressedFailures: 0,
  };
  if (state.lastStatus === 'failed') {
    // The recovered run is reported by the recovery mail itself, not folded into a digest.
    return {
      mail: { kind: 'recovery', failedRuns: state.consecutiveFailures, failingSince: state.failingSince },
      event: 'run.recovered',
      next: succeeded,
    };
  }
  if (!isDigested(cadence, run)) return { mail: { kind: 'success' }, event: 'run.succeeded', next: succeeded };
  const digest = addToDigest(state.pendingDigest, run);
  if (elapsed(state.lastDigestAt, now, policy.digestEveryMs)) {
    return {
      mail: { kind: 'digest', digest },
      event: 'run.succeeded',
      next: { ...succeeded, pendingDigest: null, lastDigestAt: at },
    };
  }
  return { mail: null, event: 'run.succeeded', next: { ...succeeded, pendingDigest: digest } };
}

/** A pending digest whose window has passed is mailed even when no further run comes to carry it. */
export function flushDigest(
  state: NotificationStateFields,
  now: Date,
  policy: NotificationPolicy = DEFAULT_NOTIFICATION_POLICY,
): { digest: DigestSummary; next: NotificationStateFields } | null {
  if (!state.pendingDigest || !elapsed(state.lastDigestAt, now, policy.digestEveryMs)) return null;
  return { digest: state.pendingDigest, next: { ...state, pendingDigest: null, lastDigestAt: now.toISOString() } };
}
