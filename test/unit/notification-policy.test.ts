// The no-storm rules as pure decisions over the stored notification state.
import { describe, expect, it } from 'vitest';
import type { Run } from '../../src/domain/model.ts';
import {
  decide,
  flushDigest,
  isNotifiable,
  type NotificationStateFields,
} from '../../src/domain/notification-policy.ts';

const T0 = Date.parse('2025-03-01T10:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000);

let n = 0;
function run(status: 'succeeded' | 'failed', over: Partial<Run> = {}): Run {
  n += 1;
  return {
    id: `run_${n}`,
    projectId: 'prj',
    syncId: 'syn',
    brazeCohortId: 'bzc',
    status,
    trigger: 'real_time',
    phase: 'done',
    mode: 'full',
    queuedAt: at(n).toISOString(),
    startedAt: at(n).toISOString(),
    finishedAt: at(n + 0.5).toISOString(),
    counts: { added: 1, removed: 0, skipped: 0, failed: 0 },
    identifiers: { added: 1, removed: 0 },
    requests: 1,
    retries: 0,
    skipReasons: {},
    totalBatches: 1,
    error: status === 'failed' ? { code: 'braze_credentials', message: 'no' } : null,
    reconcile: false,
    plannedFrom: null,
    ...over,
  };
}

/** Feeds runs through decide() as the notifier does, returning the mail kinds (or '-' for none). */
function play(
  steps: [Run, Date][],
  cadence: 'real_time' | 'daily',
): { mails: string[]; state: NotificationStateFields | undefined } {
  let state: NotificationStateFields | undefined;
  const mails: string[] = [];
  for (const [r, now] of steps) {
    const d = decide(state, r, cadence, now);
    mails.push(d.mail ? d.mail.kind : '-');
    state = d.next;
  }
  return { mails, state };
}

describe('notification policy', () => {
  it('digests real-time successes hourly; a manual run of a real-time sync mails at once', () => {
    const { mails, state } = play(
      [
        [run('succeeded'), at(0)],
        [run('succeeded'), at(10)],
        [run('succeeded'), at(59)],
        [run('succeeded', { trigger: 'manual' }), at(59)],
        [run('succeeded'), at(61)],
        [run('succeeded'), at(62)],
      ],
      'real_time',
    );
    expect(mails).toEqual(['digest', '-', '-', 'success', 'digest', '-']);
    expect(state?.pendingDigest?.runs).toBe(1);
  });

  it('mails every success of scheduled syncs', () => {
    expect(
      play(
        [
          [run('succeeded', { trigger: 'schedule' }), at(0)],
          [run('succeeded', { trigger: 'schedule' }), at(1)],
        ],
        'daily',
      ).mails,
    ).toEqual(['success', 'success']);
  });

  it('mails a failure at once, then hourly while it persists, at once when the error changes, and the recovery at once', () => {
    const other = { error: { code: 'braze_unavailable', message: '503' } };
    const { mails, state } = play(
      [
        [run('failed'), at(0)],
        [run('failed'), at(5)],
        [run('failed'), at(30)],
        [run('failed'), at(61)],
        [run('failed', other), at(62)],
        [run('failed', other), at(63)],
        [run('succeeded'), at(64)],
        [run('succeeded'), at(65)],
      ],
      'real_time',
    );
    expect(mails).toEqual(['failure', '-', '-', 'still_failing', 'still_failing', '-', 'recovery', 'digest']);
    expect(state).toMatchObject({
      lastStatus: 'succeeded',
      consecutiveFailures: 0,
      suppressedFailures: 0,
      failingSince: null,
    });
  });

  it('reports suppressed failures and the streak length', () => {
    let state: NotificationStateFields | undefined;
    const first = run('failed');
    for (const [r, now] of [
      [first, at(0)],
      [run('failed'), at(1)],
      [run('failed'), at(2)],
    ] as const)
      state = decide(state, r, 'daily', now).next;
    expect(decide(state, run('failed'), 'daily', at(61)).mail).toEqual({ kind: 'still_failing', suppressed: 2 });
    expect(decide(state, run('succeeded'), 'daily', at(3)).mail).toEqual({
      kind: 'recovery',
      failedRuns: 3,
      failingSince: first.finishedAt,
    });
  });

  it('flushes a pending digest only once its hour has passed', () => {
    let state = decide(undefined, run('succeeded'), 'real_time', at(0)).next;
    state = decide(
      state,
      run('succeeded', { counts: { added: 2, removed: 3, skipped: 1, failed: 0 } }),
      'real_time',
      at(10),
    ).next;
    expect(flushDigest(state, at(59))).toBeNull();
    const flushed = flushDigest(state, at(60));
    expect(flushed?.digest).toMatchObject({ runs: 1, counts: { added: 2, removed: 3, skipped: 1, failed: 0 } });
    expect(flushed?.next).toMatchObject({ pendingDigest: null, lastDigestAt: at(60).toISOString() });
    expect(flushDigest(flushed!.next, at(200))).toBeNull();
  });

  it('ignores cancelled runs and the removal run of a deleted sync', () => {
    expect(isNotifiable({ status: 'cancelled', trigger: 'manual', mode: 'full' })).toBe(false);
    expect(isNotifiable({ status: 'succeeded', trigger: 'delete', mode: 'remove_all' })).toBe(false);
    expect(isNotifiable({ status: 'failed', trigger: 'schedule', mode: 'full' })).toBe(true);
  });
});
