// `cohort-sync targets …` and `cohort-sync destination …`: the project's Braze destination and its named
// targets. A Data Import Key goes to the server and is never printed back (the API returns only its hint).
import type { Command } from 'commander';
import { ApiError } from './api-client.ts';
import { collect, type MappingFlags, mappingFromFlags, mappingType } from './args.ts';
import { action, type CliIo, enc } from './context.ts';
import {
  asObject,
  destinationDetails,
  itemsOf,
  table,
  targetDetails,
  targetsTable,
  text,
  UsageError,
} from './format.ts';

const TARGETS = ['destinations', 'braze', 'targets'];

function mappingOptions(command: Command, required: boolean): Command {
  return command
    .option(
      `--mapping <type>`,
      `how members are sent${required ? '' : ' (single-key form)'}: user_id, device_id or user_alias`,
      mappingType,
    )
    .option('--alias-label <label>', 'alias_label for --mapping user_alias')
    .option('--alias-property <property>', 'property that gives alias_name (default user_id)')
    .option(
      '--fallback <mapping>',
      'tried in order when the mapping gives nothing: user_id, device_id or user_alias:<label>[:<property>] (repeatable)',
      collect,
    );
}

export function registerTargets(program: Command, io: CliIo): void {
  const targets = program
    .command('targets')
    .description('named Braze targets (endpoint, Data Import Key, user mapping) of a project');

  targets
    .command('list')
    .description('list the targets')
    .action(
      action(io, async (s) => {
        s.print(await s.client.get(await s.projectPath(...TARGETS)), (b) => targetsTable(itemsOf(b)));
      }),
    );

  targets
    .command('get')
    .description('show a target')
    .argument('<targetId>')
    .action(
      action(io, async (s, [id]) => {
        s.print(await s.client.get(await s.projectPath(...TARGETS, enc(id ?? ''))), targetDetails);
      }),
    );

  mappingOptions(
    targets
      .command('create')
      .description('add a target; its name and mapping cannot change later')
      .requiredOption('--name <name>', 'unique in the project')
      .requiredOption('--endpoint <url>', 'Braze REST endpoint, e.g. https://rest.iad-01.braze.com')
      .requiredOption('--key <dataImportKey>', 'the Data Import Key from Braze (stored encrypted, never shown again)'),
    true,
  ).action(
    action<MappingFlags & { name: string; endpoint: string; key: string }>(io, async (s, _args, opts) => {
      const mapping = mappingFromFlags(opts);
      const body = await s.client.post(await s.projectPath(...TARGETS), {
        name: opts.name,
        endpoint: opts.endpoint,
        dataImportKey: opts.key,
        mapping,
      });
      s.print(body, (b) => `Created target ${text(asObject(b).id)}\n${targetDetails(b)}`);
    }),
  );

  targets
    .command('update')
    .description("replace a target's Data Import Key or endpoint (name and mapping are fixed)")
    .argument('<targetId>')
    .option('--key <dataImportKey>', 'new Data Import Key')
    .option('--endpoint <url>', 'new Braze REST endpoint')
    .action(
      action<{ key?: string; endpoint?: string }>(io, async (s, [id], opts) => {
        const patch: { dataImportKey?: string; endpoint?: string } = {};
        if (opts.key !== undefined) patch.dataImportKey = opts.key;
        if (opts.endpoint !== undefined) patch.endpoint = opts.endpoint;
        if (Object.keys(patch).length === 0) throw new UsageError('nothing to change: give --key or --endpoint');
        s.print(await s.client.patch(await s.projectPath(...TARGETS, enc(id ?? '')), patch), targetDetails);
      }),
    );

  targets
    .command('delete')
    .description('delete a target (refused while syncs use it, unless --delete-syncs)')
    .argument('<targetId>')
    .option('--delete-syncs', 'also delete the syncs that use it')
    .action(
      action<{ deleteSyncs?: boolean }>(io, async (s, [id], opts) => {
        try {
          const body = await s.client.delete(
            await s.projectPath(...TARGETS, enc(id ?? '')),
            opts.deleteSyncs ? { deleteSyncs: true } : undefined,
          );
          s.print(body, () => `Deleted target ${id ?? ''}`);
        } catch (error) {
          if (error instanceof ApiError && error.code === 'target_in_use') {
            throw new ApiError(
              error.status,
              error.code,
              `${error.message}\n${syncsInUse(error.details)}\nRun again with --delete-syncs to delete them too.`,
            );
          }
          throw error;
        }
      }),
    );

  targets
    .command('test')
    .description("check the target's key against Braze; exits 1 when it does not work")
    .argument('<targetId>')
    .action(
      action(io, async (s, [id]) => {
        const body = asObject(await s.client.post(await s.projectPath(...TARGETS, enc(id ?? ''), 'test')));
        s.print(body, (b) => `${asObject(b).ok === true ? 'ok' : 'failed'}: ${text(asObject(b).message)}`);
        if (body.ok !== true) s.io.setExitCode(1);
      }),
    );
}

/** `details.syncs` of target_in_use: sync objects or ids. */
function syncsInUse(details: unknown): string {
  const raw = asObject(details).syncs;
  const syncs = Array.isArray(raw) ? raw : [];
  if (syncs.length === 0) return 'Syncs use it.';
  const rows = syncs.map((x) => (typeof x === 'string' ? [x, ''] : [text(asObject(x).id), text(asObject(x).cohortId)]));
  return `Syncs using it:\n${table(['sync', 'cohort'], rows)}`;
}

export function registerDestination(program: Command, io: CliIo): void {
  const destination = program
    .command('destination')
    .description("the project's Braze destination (enabled per project)");

  destination
    .command('get')
    .description('is Braze enabled, and which targets it has')
    .action(
      action(io, async (s) => {
        s.print(await s.client.get(await s.projectPath('destinations', 'braze')), destinationDetails);
      }),
    );

  mappingOptions(
    destination
      .command('set')
      .description(
        'enable or disable Braze; with --endpoint, --key and --mapping also set the "Default" target (single-key form)',
      )
      .option('--enabled', 'enable Braze for the project (default when setting a key)')
      .option('--disabled', 'disable Braze for the project')
      .option('--endpoint <url>', 'Braze REST endpoint of the Default target')
      .option('--key <dataImportKey>', 'Data Import Key of the Default target'),
    false,
  ).action(
    action<MappingFlags & { enabled?: boolean; disabled?: boolean; endpoint?: string; key?: string }>(
      io,
      async (s, _args, opts) => {
        if (opts.enabled && opts.disabled) throw new UsageError('give --enabled or --disabled, not both');
        const singleKey = opts.endpoint !== undefined || opts.key !== undefined || opts.mapping !== undefined;
        if (singleKey && (opts.endpoint === undefined || opts.key === undefined || opts.mapping === undefined)) {
          throw new UsageError('the single-key form needs all of --endpoint, --key and --mapping');
        }
        if (!opts.enabled && !opts.disabled && !singleKey)
          throw new UsageError('give --enabled or --disabled (and optionally --endpoint, --key, --mapping)');
        const body: Record<string, unknown> = { enabled: !opts.disabled };
        if (singleKey) {
          body.endpoint = opts.endpoint;
          body.dataImportKey = opts.key;
          body.mapping = mappingFromFlags(opts);
        }
        const answer = await s.client.put(await s.projectPath('destinations', 'braze'), body);
        // The PUT's answer is not fixed by api.md; show the destination as it now is.
        if (s.json) s.print(answer, () => '');
        else
          s.out(
            destinationDetails(
              answer !== null && 'enabled' in asObject(answer)
                ? answer
                : await s.client.get(await s.projectPath('destinations', 'braze')),
            ),
          );
      },
    ),
  );
}
