// Notifications of finished runs (docs/product.md §5): mails to the project's notification e-mails and the
// sync's notifyEmails, and signed webhooks for the same events. A RunObserver: the executor calls it
// after each run. Decisions (notification-policy.ts) are taken against state kept in the store with a
// compare-and-set, so they hold across restarts and across processes; mails and webhooks then go out in
// the background so a slow SMTP server or receiver never holds up the next run.

import type { Cohort, Project, Sync, Target } from '../domain/model.ts';
import {
  DEFAULT_NOTIFICATION_POLICY,
  decide,
  flushDigest,
  isNotifiable,
  type NotificationPolicy,
  type NotificationStateFields,
} from '../domain/notification-policy.ts';
import type { Clock } from '../ports/clock.ts';
import type { Mailer } from '../ports/mailer.ts';
import type { Uses } from './deps.ts';
import { AppError, invalid } from './errors.ts';
import {
  composeDigestMail,
  composeRunMail,
  composeTestMail,
  type MailContext,
  type MailDestination,
} from './notification-mails.ts';
import { requireProject } from './projects.ts';
import type { RunFinishedEvent, RunObserver } from './run-events.ts';
import { runPayload, type WebhookSender } from './webhooks.ts';

const CAS_TRIES = 8;
const EMAIL = /^[^\s@<>,;"]+@[^\s@<>,;"]+$/;

/** Project recipients then sync recipients, trimmed, without duplicates (compared case-insensitively). */
export function recipientsOf(
  project: Pick<Project, 'notificationEmails'>,
  sync: Pick<Sync, 'notifyEmails'> | undefined,
): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of [...project.notificationEmails, ...(sync?.notifyEmails ?? [])]) {
    const address = raw.trim();
    const key = address.toLowerCase();
    if (address === '' || seen.has(key)) continue;
    seen.add(key);
    out.push(address);
  }
  return out;
}

export interface RunNotifierOptions {
  readonly mailer: Mailer;
  /** Webhooks for the same events; leave out to send mails only. */
  readonly webhooks?: WebhookSender;
  /** The clock of the hourly windows (default: the deps' clock). */
  readonly clock?: Clock;
  readonly policy?: Partial<NotificationPolicy>;
}

/** What deciding and composing notifications reads: the sync's names, the notification state, the clock. */
export type RunNotifierDeps = Uses<
  'clock' | 'logger' | 'settings' | 'destinations',
  'projects' | 'cohorts' | 'targets' | 'syncs' | 'notificationState'
>;

interface Names {
  readonly project: Project;
  readonly cohort: Pick<Cohort, 'id' | 'name'>;
  readonly target: Pick<Target, 'id' | 'name'> & { endpoint?: string };
  readonly destination: MailDestination;
}

export class RunNotifier implements RunObserver {
  private readonly policy: NotificationPolicy;
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly deps: RunNotifierDeps,
    private readonly opts: RunNotifierOptions,
  ) {
    this.policy = { ...DEFAULT_NOTIFICATION_POLICY, ...opts.policy };
  }

  private now(): Date {
    return (this.opts.clock ?? this.deps.clock).now();
  }

  async runFinished({ run, sync }: RunFinishedEvent): Promise<void> {
    if (!sync || !isNotifiable(run)) return;
    const deps = this.deps;
    const names = await this.namesOf(sync);
    if (!names) return;
    let decision: ReturnType<typeof decide> | undefined;
    for (let i = 0; i < CAS_TRIES && !decision; i++) {
      const prev = await deps.store.notificationState.get(sync.id);
      const now = this.now();
      const candidate = decide(prev, run, sync.cadence, now, this.policy);
      if (await deps.store.notificationState.save(candidate.next, prev?.version ?? 0, now.toISOString()))
        decision = candidate;
    }
    if (!decision) {
      deps.logger.warn(
        { runId: run.id, syncId: sync.id },
        'notification state kept changing under us; no notification for this run',
      );
      return;
    }
    if (decision.mail) {
      const ctx: MailContext = {
        prefix: deps.settings.cohortNamePrefix,
        project: names.project,
        sync,
        run,
        cohort: names.cohort,
        target: names.target,
        destination: names.destination,
      };
      this.send(composeRunMail(decision.mail, ctx), names.project, sync, {
        runId: run.id,
        what: `${decision.mail.kind} mail`,
      });
    }
    const webhooks = this.opts.webhooks;
    if (webhooks && names.project.webhookUrl) {
      const payload = runPayload({ project: names.project, sync, run, cohort: names.cohort, target: names.target });
      this.track(
        webhooks.deliver(sync.projectId, decision.event, payload, { runId: run.id }).then(() => undefined),
        { runId: run.id, what: 'webhook' },
      );
    }
  }

  /**
   * Mails the pending digests whose hour has passed even when no run comes to carry them. Safe to call
   * from every process: only the one whose compare-and-set wins mails a digest. Returns how many it sent.
   */
  async flushDigests(limit = 100): Promise<number> {
    const deps = this.deps;
    const now = this.now();
    const due = await deps.store.notificationState.dueDigests(
      new Date(now.getTime() - this.policy.digestEveryMs).toISOString(),
      limit,
    );
    let sent = 0;
    for (const state of due) {
      const sync = await deps.store.syncs.getById(state.syncId);
      if (!sync) {
        await deps.store.notificationState.delete(state.syncId);
        continue;
      }
      const flushed = flushDigest(state, now, this.policy);
      if (!flushed || !(await deps.store.notificationState.save(flushed.next, state.version, now.toISOString())))
        continue;
      const names = await this.namesOf(sync);
      if (!names) continue;
      sent++;
      this.send(
        composeDigestMail(flushed.digest, {
          prefix: deps.settings.cohortNamePrefix,
          project: names.project,
          sync,
          cohort: names.cohort,
          target: names.target,
          destination: names.destination,
        }),
        names.project,
        sync,
        { syncId: sync.id, what: 'digest' },
      );
    }
    return sent;
  }

  /** Flushes due digests every `everyMs` (default a minute) until stop(). */
  start(everyMs = 60_000): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.flushDigests().catch((err: unknown) =>
        this.deps.logger.error({ err }, 'flushing notification digests failed'),
      );
    }, everyMs);
    this.timer.unref();
  }

  /** Stops the digest timer and waits for mails and webhooks still going out. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.idle();
  }

  /** Resolves once every mail and webhook started so far has been sent or given up. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async namesOf(sync: Sync): Promise<Names | undefined> {
    const { store, destinations } = this.deps;
    const project = await store.projects.get(sync.projectId);
    if (!project) return undefined;
    const cohort = (await store.cohorts.get(sync.projectId, sync.cohortId)) ?? {
      id: sync.cohortId,
      name: sync.cohortId,
    };
    const target = await store.targets.get(sync.projectId, sync.targetId);
    return {
      project,
      cohort,
      target: target
        ? { id: target.id, name: target.name, endpoint: target.endpoint }
        : { id: sync.targetId, name: sync.targetId },
      // A deleted target leaves no mode to ask: the app's own words, naming whom the modes deliver to.
      destination: target
        ? destinations.get(target.delivery)
        : { product: destinations.product, remedy: () => undefined },
    };
  }

  private send(
    mail: { subject: string; text: string },
    project: Project,
    sync: Sync,
    about: Record<string, string>,
  ): void {
    const to = recipientsOf(project, sync);
    if (to.length === 0) return;
    this.track(this.opts.mailer.send({ to, subject: mail.subject, text: mail.text }), about);
  }

  private track(work: Promise<void>, about: Record<string, string>): void {
    const p: Promise<void> = work
      .catch((err: unknown) =>
        this.deps.logger.warn(
          { err: err instanceof Error ? err.message : String(err), ...about },
          'a notification could not be sent',
        ),
      )
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }
}

/** `to` (a list or one address) when given, else the project's notification e-mails. */
export async function sendTestEmail(
  deps: Uses<'clock' | 'settings', 'projects'>,
  mailer: Mailer,
  projectId: string,
  input: { to?: string | readonly string[] | undefined } = {},
): Promise<{ to: string[]; delivery: Mailer['kind'] }> {
  const project = await requireProject(deps, projectId);
  const given = input.to === undefined ? undefined : typeof input.to === 'string' ? [input.to] : [...input.to];
  const to = given ? recipientsOf({ notificationEmails: given }, undefined) : recipientsOf(project, undefined);
  const bad = to.filter((address) => !EMAIL.test(address));
  if (bad.length > 0)
    throw invalid(bad.map((address) => ({ path: 'to', message: `"${address}" is not an e-mail address` })));
  if (to.length === 0)
    throw new AppError(422, 'no_recipients', 'give "to", or set the project\'s notificationEmails first');
  const mail = composeTestMail(deps.settings.cohortNamePrefix, project, deps.clock.now().toISOString());
  try {
    await mailer.send({ to, ...mail });
  } catch (error) {
    throw new AppError(
      422,
      'mail_failed',
      `the test e-mail could not be sent: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return { to, delivery: mailer.kind };
}

export type { NotificationStateFields };
