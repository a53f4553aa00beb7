// The text of notification mails: what ran (cohort, target, run id, times), what it did (counts), and for
// failures what failed and what to do about it. Plain text, so every mail client shows the same thing.

import type { Cohort, Project, Run, Sync, Target } from '../domain/model.ts';
import type { DigestSummary, MailDecision } from '../domain/notification-policy.ts';
import type { DestinationDefinition } from '../ports/destination.ts';

export interface MailContext {
  /** Subject tag, COHORT_NAME_PREFIX (e.g. `[cohort-sync] …`). */
  readonly prefix: string;
  readonly project: Pick<Project, 'id' | 'name'>;
  readonly sync: Pick<Sync, 'id' | 'cadence' | 'audienceRef'>;
  readonly run: Run;
  readonly cohort: Pick<Cohort, 'id' | 'name'>;
  readonly target: Pick<Target, 'id' | 'name'> & { readonly endpoint?: string };
  /** The definition of the target's delivery mode: whom it delivers to, and the remedies of its failures. */
  readonly destination: MailDestination;
}

export type MailDestination = Pick<DestinationDefinition, 'product' | 'remedy'>;

export interface ComposedMail {
  readonly subject: string;
  readonly text: string;
}

/** What a person can do about a failed run, by the run's error code (run-executor.ts). */
export function remedyFor(code: string, ctx: Pick<MailContext, 'target' | 'project' | 'destination'>): string {
  const given = ctx.destination.remedy(code, {
    projectId: ctx.project.id,
    targetId: ctx.target.id,
    targetName: ctx.target.name,
    endpoint: ctx.target.endpoint,
  });
  if (given !== undefined) return given;
  switch (code) {
    case 'target_missing':
      return `The ${ctx.destination.product} target of this sync was deleted. Delete the sync, or create a new sync of the cohort to another target.`;
    case 'cohort_missing':
      return 'The cohort of this sync was deleted. Delete the sync.';
    case 'internal':
      return 'The run stopped on an unexpected error. Run the sync again; if it fails the same way, give your operator the run id above (the service log has the details).';
    default:
      return 'Run the sync again; if it keeps failing, give your operator the run id above.';
  }
}

const who = (ctx: Pick<MailContext, 'cohort' | 'target' | 'destination'>) =>
  `"${ctx.cohort.name}" → ${ctx.destination.product} target "${ctx.target.name}"`;

function duration(run: Run): string {
  if (!run.startedAt || !run.finishedAt) return '';
  const s = Math.max(0, Math.round((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000));
  return s < 120 ? ` (${s} s)` : ` (${Math.round(s / 60)} min)`;
}

/** Counts are members (users); the identifiers sent for them follow in brackets when a run has them. */
function countsLine(c: Run['counts'], identifiers?: Run['identifiers']): string {
  const ids = (n: number) => (identifiers ? ` (${n} identifier${n === 1 ? '' : 's'})` : '');
  return `Added: ${c.added} users${ids(identifiers?.added ?? 0)}   Removed: ${c.removed} users${ids(identifiers?.removed ?? 0)}   Skipped: ${c.skipped}   Failed: ${c.failed}`;
}

/** A run that succeeded while some members failed ("Partial" in the UI). */
export const isPartial = (run: Run): boolean => run.status === 'succeeded' && run.counts.failed > 0;

function header(ctx: Omit<MailContext, 'run'>): string[] {
  return [
    `Project:  ${ctx.project.name} (${ctx.project.id})`,
    `Cohort:   ${ctx.cohort.name} (${ctx.cohort.id})`,
    `Target:   ${ctx.target.name} (${ctx.target.id})${ctx.target.endpoint ? ` at ${ctx.target.endpoint}` : ''}`,
    `Sync:     ${ctx.sync.id} (cadence ${ctx.sync.cadence})`,
  ];
}

function runLines(run: Run, product: string): string[] {
  return [
    `Run:      ${run.id} (trigger ${run.trigger}, status ${run.status})`,
    `Started:  ${run.startedAt ?? 'not started'}`,
    `Finished: ${run.finishedAt ?? '-'}${duration(run)}`,
    countsLine(run.counts, run.identifiers),
    `Requests to ${product}: ${run.requests} (retries: ${run.retries})`,
  ];
}

function skippedNote(run: Run, product: string): string[] {
  const lines: string[] = [];
  if (run.counts.skipped > 0) {
    const reasons = Object.entries(run.skipReasons)
      .map(([reason, n]) => `${reason}: ${n}`)
      .join(', ');
    lines.push(
      `${run.counts.skipped} member(s) were skipped because the target's mapping gives them no identifier${reasons ? ` (${reasons})` : ''}.`,
    );
  }
  if (run.counts.failed > 0) {
    lines.push(
      `${run.counts.failed} member(s) failed: ${product} refused their batch, or named them in the errors of its answer. The run's members.csv lists them with ${product}'s reason; the next run sends them again.`,
    );
  }
  return lines;
}

const FOOTER = [
  '',
  '--',
  "Sent by cohort-sync. Recipients are the project's notification e-mails and the sync's notifyEmails.",
];

/** What every run mail ends with: the sync, the run's figures, skipped members, and the footer. */
function runDetails(ctx: MailContext): string[] {
  const { product } = ctx.destination;
  return [...header(ctx), ...runLines(ctx.run, product), ...withGap(skippedNote(ctx.run, product)), ...FOOTER];
}

export function composeRunMail(decision: MailDecision, ctx: MailContext): ComposedMail {
  const { run } = ctx;
  const tag = `[${ctx.prefix}]`;
  switch (decision.kind) {
    case 'success':
      if (isPartial(run))
        return {
          subject: `${tag} Sync partly succeeded: ${who(ctx)} (+${run.counts.added} −${run.counts.removed}, ${run.counts.failed} failed)`,
          text: [
            `The sync of ${who(ctx)} finished, but ${run.counts.failed} member(s) failed (partial success); the next run sends them again.`,
            '',
            ...runDetails(ctx),
          ].join('\n'),
        };
      return {
        subject: `${tag} Sync succeeded: ${who(ctx)} (+${run.counts.added} −${run.counts.removed})`,
        text: [`The sync of ${who(ctx)} finished successfully.`, '', ...runDetails(ctx)].join('\n'),
      };
    case 'failure':
    case 'still_failing': {
      const code = run.error?.code ?? 'unknown';
      const lead =
        decision.kind === 'failure'
          ? `The sync of ${who(ctx)} failed.`
          : `The sync of ${who(ctx)} is still failing.${decision.suppressed > 0 ? ` ${decision.suppressed} more failed run(s) since the last mail were not mailed (at most one failure mail per hour).` : ''}`;
      return {
        subject: `${tag} Sync ${decision.kind === 'failure' ? 'FAILED' : 'still failing'}: ${who(ctx)} (${code})`,
        text: [
          lead,
          '',
          `What failed: ${code}: ${run.error?.message ?? 'no details were recorded'}`,
          '',
          'What to do:',
          remedyFor(code, ctx),
          '',
          ...runDetails(ctx),
        ].join('\n'),
      };
    }
    case 'recovery':
      return {
        subject: `${tag} Sync recovered: ${who(ctx)}`,
        text: [
          `The sync of ${who(ctx)} succeeded again after ${decision.failedRuns} failed run(s)${decision.failingSince ? `, failing since ${decision.failingSince}` : ''}.`,
          '',
          ...runDetails(ctx),
        ].join('\n'),
      };
    case 'digest':
      return composeDigestMail(decision.digest, ctx);
  }
}

function withGap(lines: string[]): string[] {
  return lines.length > 0 ? ['', ...lines] : [];
}

export function composeTestMail(prefix: string, project: Pick<Project, 'id' | 'name'>, at: string): ComposedMail {
  return {
    subject: `[${prefix}] Test e-mail for project "${project.name}"`,
    text: [
      `This is a test e-mail from cohort-sync for project "${project.name}" (${project.id}), sent at ${at}.`,
      'If you can read it, sync notifications can reach you.',
      ...FOOTER,
    ].join('\n'),
  };
}

export function composeDigestMail(d: DigestSummary, ctx: Omit<MailContext, 'run'>): ComposedMail {
  return {
    subject: `[${ctx.prefix}] Real-time sync summary: ${who(ctx)}: ${d.runs} successful run(s) (+${d.counts.added} −${d.counts.removed})`,
    text: [
      `The real-time sync of ${who(ctx)} ran ${d.runs} time(s) successfully between ${d.from} and ${d.to}.`,
      'Real-time syncs run on every change, so their successes are summarised at most once an hour; failures are mailed at once.',
      '',
      ...header(ctx),
      `Runs:     ${d.runs} (first ${d.firstRunId}, last ${d.lastRunId})`,
      `From:     ${d.from}`,
      `To:       ${d.to}`,
      countsLine(d.counts),
      ...FOOTER,
    ].join('\n'),
  };
}
