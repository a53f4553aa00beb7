// `cohort-sync syncs …`: one cohort to one target; pause, resume, preview, and runs now (optionally waited on).
import type { Command } from 'commander';
import { type CadenceArg, cadence, collectEmails, positiveNumber } from './args.ts';
import { action, type CliIo, enc } from './context.ts';
import { asObject, previewText, runOutcome, syncDetails, syncsTable, text, UsageError } from './format.ts';
import { waitForRun } from './progress.ts';

export function registerSyncs(program: Command, io: CliIo): void {
  const syncs = program.command('syncs').description('syncs: a cohort kept in step with a Braze target');

  syncs
    .command('list')
    .description('list the syncs')
    .action(
      action(io, async (s) => {
        s.print(await s.client.get(await s.projectPath('syncs')), syncsTable);
      }),
    );

  syncs
    .command('get')
    .description('show a sync')
    .argument('<syncId>')
    .action(
      action(io, async (s, [id]) => {
        s.print(await s.client.get(await s.projectPath('syncs', enc(id ?? ''))), syncDetails);
      }),
    );

  syncs
    .command('create')
    .description('sync a cohort to a target; the first run starts right away')
    .requiredOption('--cohort <cohortId>', 'the cohort to send')
    .option('--target <targetId>', 'the target (default: the "Default" target)')
    .option('--cadence <cadence>', 'one_time, hourly, daily, real_time or cron', cadence)
    .option('--cron <expression>', 'cron expression (implies --cadence cron)')
    .option('--notify <emails>', 'mail these addresses about its runs, comma-separated (repeatable)', collectEmails)
    .action(
      action<{ cohort: string; target?: string; cadence?: CadenceArg; cron?: string; notify?: string[] }>(
        io,
        async (s, _args, opts) => {
          const chosen = opts.cadence ?? (opts.cron !== undefined ? 'cron' : undefined);
          if (chosen === undefined)
            throw new UsageError('--cadence is required (one_time, hourly, daily, real_time or cron)');
          if (chosen === 'cron' && opts.cron === undefined)
            throw new UsageError('--cadence cron needs --cron <expression>');
          const body: Record<string, unknown> = { cohortId: opts.cohort, cadence: chosen };
          if (opts.target !== undefined) body.targetId = opts.target;
          if (opts.cron !== undefined) body.cron = opts.cron;
          if (opts.notify !== undefined) body.notifyEmails = opts.notify;
          s.print(
            await s.client.post(await s.projectPath('syncs'), body),
            (b) => `Created sync ${text(asObject(b).id)}; its first run is queued\n${syncDetails(b)}`,
          );
        },
      ),
    );

  for (const [name, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    syncs
      .command(name)
      .description(paused ? 'stop scheduled and real-time runs' : 'start running again')
      .argument('<syncId>')
      .action(
        action(io, async (s, [id]) => {
          s.print(
            await s.client.patch(await s.projectPath('syncs', enc(id ?? '')), { paused }),
            (b) => `${paused ? 'Paused' : 'Resumed'} sync ${id ?? ''}\n${syncDetails(b)}`,
          );
        }),
      );
  }

  syncs
    .command('delete')
    .description('delete a sync')
    .argument('<syncId>')
    .option('--remove-members', 'also remove its members from the Braze cohort')
    .action(
      action<{ removeMembers?: boolean }>(io, async (s, [id], opts) => {
        const body = await s.client.delete(
          await s.projectPath('syncs', enc(id ?? '')),
          opts.removeMembers ? { removeMembers: true } : undefined,
        );
        s.print(
          body,
          () => `Deleted sync ${id ?? ''}${opts.removeMembers ? '; its members are being removed from Braze' : ''}`,
        );
      }),
    );

  syncs
    .command('preview')
    .description('what the next run would add, remove and skip (sends nothing)')
    .argument('<syncId>')
    .action(
      action(io, async (s, [id]) => {
        s.print(await s.client.get(await s.projectPath('syncs', enc(id ?? ''), 'preview')), previewText);
      }),
    );

  syncs
    .command('run')
    .description(
      'run a sync now (it plans from the membership changes when that is exact); with --wait, follow it and exit 1 if it fails',
    )
    .argument('<syncId>')
    .option('--full', 'a full reconcile: re-read every member of the cohort, not only the changes')
    .option('--wait', 'wait for the run to finish, with a progress bar')
    .option('--interval <seconds>', 'how often to poll while waiting', positiveNumber, 0.5)
    .option('--timeout <seconds>', 'give up waiting after this long (the run goes on)', positiveNumber)
    .action(
      action<{ full?: boolean; wait?: boolean; interval: number; timeout?: number }>(io, async (s, [id], opts) => {
        const path = await s.projectPath('syncs', enc(id ?? ''), 'runs');
        const queued = asObject(await s.client.post(path, opts.full ? { reconcile: true } : undefined));
        if (!opts.wait) {
          s.print(
            queued,
            (b) =>
              `Run ${text(asObject(b).id)} is ${text(asObject(b).status)}; follow it with \`cohort-sync runs get ${text(asObject(b).id)}\``,
          );
          return;
        }
        const runPath = await s.projectPath('runs', enc(text(queued.id)));
        const final = asObject(
          await waitForRun(s, runPath, queued, {
            intervalMs: opts.interval * 1000,
            timeoutMs: opts.timeout === undefined ? undefined : opts.timeout * 1000,
          }),
        );
        s.print(final, runOutcome);
        if (final.status !== 'succeeded') {
          const error = asObject(final.error);
          const reason =
            typeof error.message === 'string'
              ? `${error.message}${typeof error.code === 'string' ? ` (${error.code})` : ''}`
              : 'no error was recorded';
          s.err(`error: run ${text(final.id)} ${text(final.status)}: ${reason}`);
          s.io.setExitCode(1);
        }
      }),
    );
}
