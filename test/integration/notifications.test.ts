// Email notifications end to end: a real engine (store, worker, Braze client, sandbox over HTTP) with the
// RunNotifier as its run observer, mailing through nodemailer to a real in-process SMTP server.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SmtpMailer } from '../../src/adapters/mail/smtp-mailer.ts';
import { changeMembers, createStaticCohort } from '../../src/app/cohorts.ts';
import { RunNotifier, recipientsOf, sendTestEmail } from '../../src/app/notifications.ts';
import { createSync, requestRun, runNow } from '../../src/app/syncs.ts';
import { updateTarget } from '../../src/app/targets.ts';
import type { Run } from '../../src/domain/model.ts';
import type { Clock } from '../../src/ports/clock.ts';
import { ENGINES } from '../support/engines.ts';
import { firstRunOf, projectWithBraze, sandboxTarget } from '../support/flows.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { notifiedRuns } from '../support/notified-runs.ts';
import { type ReceivedMail, type SmtpInbox, startSmtpInbox } from '../support/smtp-inbox.ts';

const HOUR = 3_600_000;

class TestClock implements Clock {
  constructor(private t: number) {}
  now() {
    return new Date(this.t);
  }
  advance(ms: number) {
    this.t += ms;
  }
}

describe.each(ENGINES)('email notifications on $name', (engine) => {
  let h: Harness;
  let inbox: SmtpInbox;
  let mailer: SmtpMailer;
  let clock: TestClock;
  let notifier: RunNotifier;
  const notified = notifiedRuns(() => notifier);

  beforeEach(async () => {
    inbox = await startSmtpInbox();
    mailer = new SmtpMailer({ url: inbox.url, from: 'cohort-sync <cohort-sync@test.invalid>', timeoutMs: 5_000 });
    clock = new TestClock(Date.now());
    h = await startHarness(engine);
    notifier = new RunNotifier(h.deps, { mailer, clock });
    h.runEvents.subscribe(notified.observer);
  });
  afterEach(async () => {
    await h?.close();
    mailer?.close();
    await inbox?.close();
  });

  // Waits until the notifier has handled the run and its mails are out, so a test can also assert silence.
  const finished = (runId: string): Promise<Run> => notified.finished(h.deps, runId);

  async function setup(opts: {
    cadence: 'one_time' | 'daily' | 'real_time';
    dataImportKey?: string;
    projectEmails?: string[];
    syncEmails?: string[];
  }) {
    const project = await projectWithBraze(h.deps, 'Shop');
    await h.deps.store.projects.update(
      project.id,
      { notificationEmails: opts.projectEmails ?? ['ops@example.com'] },
      new Date().toISOString(),
    );
    const { target, dataImportKey } = await sandboxTarget(
      h,
      project.id,
      { type: 'user_id' },
      { name: 'EU workspace', ...(opts.dataImportKey ? { dataImportKey: opts.dataImportKey } : {}) },
    );
    if (!opts.dataImportKey)
      h.sandbox.state.seedUsers(dataImportKey, [{ external_id: 'u1' }, { external_id: 'u2' }, { external_id: 'u3' }]);
    const cohort = await createStaticCohort(h.deps, project.id, { name: 'Buyers' });
    await changeMembers(h.deps, project.id, cohort.id, {
      add: [{ user_id: 'u1' }, { user_id: 'u2' }, { device_id: 'anon-1' }],
    });
    const sync = await createSync(h.deps, project.id, {
      cohortId: cohort.id,
      targetId: target.id,
      cadence: opts.cadence,
      ...(opts.syncEmails ? { notifyEmails: opts.syncEmails } : {}),
    });
    const first = await finished((await firstRunOf(h.deps, project.id, sync.id)).id);
    return { project, target, cohort, sync, first, dataImportKey };
  }

  const lower = (xs: string[]) => xs.map((x) => x.toLowerCase()).sort();

  it('mails a partial success when Braze names members in the errors of a 2xx, saying they are sent again', async () => {
    h.sandbox.state.injectFaults([
      { path: 'users', status: 201, body: { message: 'success', errors: ["user_id 'u2' was not processed"] } },
    ]);
    const { first } = await setup({ cadence: 'one_time' });
    expect(first).toMatchObject({ status: 'succeeded', counts: { added: 1, failed: 1 } });
    const [mail] = await inbox.waitFor(1);
    expect(mail!.subject).toBe(
      '[cohort-sync] Sync partly succeeded: "Buyers" → Braze target "EU workspace" (+1 −0, 1 failed)',
    );
    expect(mail!.text).toContain('1 member(s) failed (partial success); the next run sends them again.');
    expect(mail!.text).toContain("members.csv lists them with Braze's reason");
    const { runPayload } = await import('../../src/app/webhooks.ts');
    const sync = (await h.deps.store.syncs.getById(first.syncId))!;
    const project = (await h.deps.store.projects.get(sync.projectId))!;
    const payload = runPayload({
      project,
      sync,
      run: first,
      cohort: { id: 'c', name: 'Buyers' },
      target: { id: 't', name: 'EU workspace' },
    });
    expect(payload.run).toMatchObject({ status: 'succeeded', partial: true, identifiers: { added: 1, removed: 0 } });
  });

  it('mails a success to the project and sync recipients, deduplicated, naming cohort, target, counts, run and times', async () => {
    const { sync, first } = await setup({
      cadence: 'one_time',
      projectEmails: ['Ops@Example.com', 'dev@example.com'],
      syncEmails: ['ops@example.com', ' owner@example.com '],
    });
    expect(first.status).toBe('succeeded');
    const [mail] = await inbox.waitFor(1);
    await notifier.idle();
    expect(inbox.mails).toHaveLength(1);
    expect(lower(mail!.envelopeTo)).toEqual(['dev@example.com', 'ops@example.com', 'owner@example.com']);
    expect(mail!.envelopeFrom).toBe('cohort-sync@test.invalid');
    expect(mail!.subject).toBe('[cohort-sync] Sync succeeded: "Buyers" → Braze target "EU workspace" (+2 −0)');
    expect(mail!.text).toContain(`Run:      ${first.id} (trigger schedule, status succeeded)`);
    expect(mail!.text).toContain(`Started:  ${first.startedAt}`);
    expect(mail!.text).toContain(`Finished: ${first.finishedAt}`);
    expect(mail!.text).toContain(
      'Added: 2 users (2 identifiers)   Removed: 0 users (0 identifiers)   Skipped: 1   Failed: 0',
    );
    expect(mail!.text).toContain(`Sync:     ${sync.id} (cadence one_time)`);
    expect(mail!.text).toContain('no_user_id: 1');
    expect(mail!.text).not.toContain('What to do');
  });

  it('mails a failure with what failed and what to do, holds repeats to one an hour, then mails the recovery', async () => {
    const { project, target, sync, first } = await setup({
      cadence: 'daily',
      dataImportKey: 'key-braze-never-issued-0001',
    });
    expect(first.status).toBe('failed');
    expect(first.error?.code).toBe('braze_credentials');
    const [failure] = await inbox.waitFor(1);
    expect(failure!.subject).toBe(
      '[cohort-sync] Sync FAILED: "Buyers" → Braze target "EU workspace" (braze_credentials)',
    );
    expect(failure!.text).toContain(`What failed: braze_credentials: ${first.error?.message}`);
    expect(failure!.text).toContain('What to do:');
    expect(failure!.text).toContain('Partner Integrations → Technology Partners');
    expect(failure!.text).toContain('regenerate the Data Import Key');
    expect(failure!.text).toContain(`PATCH /api/v1/projects/${project.id}/destinations/braze/targets/${target.id}`);
    expect(failure!.text).toContain(`at ${h.sandbox.url}`);
    expect(failure!.text).toContain(first.id);
    // The key never shows up in a mail.
    expect(failure!.raw).not.toContain('key-braze-never-issued-0001');

    // Failing again within the hour: no mail.
    const second = await finished((await runNow(h.deps, project.id, sync.id)).id);
    expect(second.status).toBe('failed');
    expect(inbox.mails).toHaveLength(1);

    // An hour later it still fails: one reminder, counting the run that was not mailed.
    clock.advance(HOUR + 1000);
    const third = await finished((await runNow(h.deps, project.id, sync.id)).id);
    expect(third.status).toBe('failed');
    const [, still] = await inbox.waitFor(2);
    expect(still!.subject).toBe(
      '[cohort-sync] Sync still failing: "Buyers" → Braze target "EU workspace" (braze_credentials)',
    );
    expect(still!.text).toContain('1 more failed run(s) since the last mail were not mailed');
    expect(still!.text).toContain(third.id);

    // Fix the key: the next run succeeds and a recovery goes out at once.
    const key = h.sandbox.state.createWorkspace();
    h.sandbox.state.seedUsers(key, [{ external_id: 'u1' }, { external_id: 'u2' }]);
    await updateTarget(h.deps, project.id, target.id, { dataImportKey: key });
    const fixed = await finished((await runNow(h.deps, project.id, sync.id)).id);
    expect(fixed.status).toBe('succeeded');
    const [, , recovery] = await inbox.waitFor(3);
    expect(recovery!.subject).toBe('[cohort-sync] Sync recovered: "Buyers" → Braze target "EU workspace"');
    expect(recovery!.text).toContain('succeeded again after 3 failed run(s)');
    expect(recovery!.text).toContain(`failing since ${first.finishedAt}`);
    expect(recovery!.text).toContain('Added: 2 users (2 identifiers)   Removed: 0 users');

    // Back to normal: the next success is an ordinary success mail.
    const again = await finished((await runNow(h.deps, project.id, sync.id)).id);
    expect(again.status).toBe('succeeded');
    const mails = await inbox.waitFor(4);
    expect(mails[3]!.subject).toContain('Sync succeeded');
  });

  it('summarises real-time successes at most hourly, mails real-time failures at once and never storms', async () => {
    const { project, cohort, sync, first } = await setup({ cadence: 'real_time' });
    expect(first.status).toBe('succeeded');
    // The first digest goes out at once: nothing was mailed in the last hour.
    const [firstDigest] = await inbox.waitFor(1);
    expect(firstDigest!.subject).toBe(
      '[cohort-sync] Real-time sync summary: "Buyers" → Braze target "EU workspace": 1 successful run(s) (+2 −0)',
    );

    // Three more real-time runs within the hour: no mail.
    const runs: Run[] = [];
    for (const user of ['u3', 'u1', 'u3']) {
      const op =
        runs.length === 1
          ? { remove: [{ user_id: user }] }
          : runs.length === 0
            ? { add: [{ user_id: user }] }
            : { remove: [{ user_id: user }] };
      await changeMembers(h.deps, project.id, cohort.id, op);
      runs.push(await finished((await requestRun(h.deps, sync, 'real_time')).id));
    }
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(inbox.mails).toHaveLength(1);
    expect(await notifier.flushDigests()).toBe(0); // the hour has not passed

    // The hour passes with no further run: the flush mails one digest for the three.
    // Two processes flush at once (a second notifier over the same store): only one mails it.
    clock.advance(HOUR);
    const other = new RunNotifier(h.deps, { mailer, clock });
    const flushed = await Promise.all([notifier.flushDigests(), other.flushDigests()]);
    await other.idle();
    await notifier.idle();
    expect(flushed[0] + flushed[1]).toBe(1);
    const [, digest] = await inbox.waitFor(2);
    expect(inbox.mails).toHaveLength(2);
    expect(digest!.subject).toBe(
      '[cohort-sync] Real-time sync summary: "Buyers" → Braze target "EU workspace": 3 successful run(s) (+1 −2)',
    );
    expect(digest!.text).toContain(`Runs:     3 (first ${runs[0]!.id}, last ${runs[2]!.id})`);
    expect(digest!.text).toContain(`From:     ${runs[0]!.startedAt}`);
    expect(digest!.text).toContain(`To:       ${runs[2]!.finishedAt}`);
    expect(await notifier.flushDigests()).toBe(0); // claimed once

    // A failure mails at once even inside the digest window; repeats within the hour do not. Braze answers
    // 401 to the next four membership calls (the sandbox's fault injection), as for a revoked key.
    h.sandbox.state.injectFaults([{ status: 401, path: 'users', count: 4 }]);
    await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: 'u3' }] });
    const failed = await finished((await requestRun(h.deps, sync, 'real_time')).id);
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('braze_credentials');
    const [, , failure] = await inbox.waitFor(3);
    expect(failure!.subject).toContain('Sync FAILED');
    expect(failure!.text).toContain('regenerate the Data Import Key');
    for (let i = 0; i < 3; i++)
      expect((await finished((await requestRun(h.deps, sync, 'real_time')).id)).status).toBe('failed');
    expect(inbox.mails).toHaveLength(3);

    // The recovery mails at once, though a digest went out minutes ago.
    expect(h.sandbox.state.pendingFaults()).toEqual([]);
    const recovered = await finished((await requestRun(h.deps, sync, 'real_time')).id);
    expect(recovered.status).toBe('succeeded');
    const [, , , recovery] = await inbox.waitFor(4);
    expect(recovery!.subject).toContain('Sync recovered');
    expect(recovery!.text).toContain('after 4 failed run(s)');
    expect(recovery!.text).toContain('Added: 1 users (1 identifier)   Removed: 0 users');

    // The next success lands in the digest; an hour later the run after it carries the digest out.
    await changeMembers(h.deps, project.id, cohort.id, { remove: [{ user_id: 'u3' }] });
    const quiet = await finished((await requestRun(h.deps, sync, 'real_time')).id);
    expect(quiet.status).toBe('succeeded');
    expect(inbox.mails).toHaveLength(4);
    clock.advance(HOUR);
    await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: 'u3' }] });
    const carrier = await finished((await requestRun(h.deps, sync, 'real_time')).id);
    const [, , , , carried] = await inbox.waitFor(5);
    expect(carried!.subject).toContain('2 successful run(s) (+1 −1)');
    expect(carried!.text).toContain(`first ${quiet.id}, last ${carrier.id}`);
    expect(inbox.mails).toHaveLength(5);
  });

  it('keeps the notification state in the store: a new notifier (a restart, another process) still holds repeats back', async () => {
    const { project, sync } = await setup({ cadence: 'daily', dataImportKey: 'key-braze-never-issued-0003' });
    await inbox.waitFor(1);
    // Replace the notifier as a restarted process would; the failure streak is read from the store.
    notifier = new RunNotifier(h.deps, { mailer, clock });
    expect((await finished((await runNow(h.deps, project.id, sync.id)).id)).status).toBe('failed');
    expect(inbox.mails).toHaveLength(1);
    const state = await h.deps.store.notificationState.get(sync.id);
    expect(state).toMatchObject({
      lastStatus: 'failed',
      lastErrorCode: 'braze_credentials',
      consecutiveFailures: 2,
      suppressedFailures: 1,
    });
  });

  it('sends nothing for cancelled runs nor for the removal run of a deleted sync', async () => {
    const { project, sync } = await setup({ cadence: 'daily' });
    await inbox.waitFor(1);
    const paused = await h.deps.store.syncs.update(project.id, sync.id, { paused: true }, new Date().toISOString());
    const cancelled = await finished((await requestRun(h.deps, paused!, 'manual')).id);
    expect(cancelled.status).toBe('cancelled');
    const removal = await finished((await requestRun(h.deps, sync, 'delete', 'remove_all')).id);
    expect(removal.status).toBe('succeeded');
    expect(removal.trigger).toBe('delete');
    expect(inbox.mails).toHaveLength(1);
  });

  it("sends a test e-mail to given recipients or to the project's", async () => {
    const project = await projectWithBraze(h.deps, 'Shop');
    await expect(sendTestEmail(h.deps, mailer, project.id)).rejects.toMatchObject({
      status: 422,
      code: 'no_recipients',
    });
    await expect(sendTestEmail(h.deps, mailer, project.id, { to: 'not an address' })).rejects.toMatchObject({
      status: 400,
    });
    expect(await sendTestEmail(h.deps, mailer, project.id, { to: 'alice@example.com' })).toEqual({
      to: ['alice@example.com'],
      delivery: 'smtp',
    });
    await h.deps.store.projects.update(
      project.id,
      { notificationEmails: ['a@example.com', 'A@example.com', 'b@example.com'] },
      new Date().toISOString(),
    );
    await sendTestEmail(h.deps, mailer, project.id);
    const mails: ReceivedMail[] = await inbox.waitFor(2);
    expect(mails[0]!.envelopeTo).toEqual(['alice@example.com']);
    expect(mails[0]!.subject).toBe('[cohort-sync] Test e-mail for project "Shop"');
    expect(lower(mails[1]!.envelopeTo)).toEqual(['a@example.com', 'b@example.com']);
    // An SMTP server that is gone is reported, not swallowed.
    await inbox.close();
    const dead = new SmtpMailer({ url: inbox.url, from: 'x@test.invalid', timeoutMs: 2_000 });
    await expect(sendTestEmail(h.deps, dead, project.id)).rejects.toMatchObject({ status: 422, code: 'mail_failed' });
    inbox = await startSmtpInbox();
  });
});

describe('recipientsOf', () => {
  it('puts project recipients first and drops blanks and case-insensitive duplicates', () => {
    expect(
      recipientsOf(
        { notificationEmails: ['A@x.io', ' ', 'b@x.io'] },
        { notifyEmails: ['a@X.io', 'c@x.io', 'B@x.io '] },
      ),
    ).toEqual(['A@x.io', 'b@x.io', 'c@x.io']);
    expect(recipientsOf({ notificationEmails: [] }, undefined)).toEqual([]);
  });
});
