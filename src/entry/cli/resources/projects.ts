// `cohort-sync projects …`: list, get, create, update, and project tokens.
import type { Command } from 'commander';
import { collectEmails, oneOf } from './args.ts';
import { action, type CliIo, enc, type Session } from './context.ts';
import { asObject, keyValues, projectDetails, projectsTable, text, UsageError } from './format.ts';

/** A project given as the argument, else the session's project (--project / COHORT_SYNC_PROJECT). */
async function projectArg(session: Session, id: string | undefined): Promise<string> {
  return id ?? (await session.projectId());
}

export function registerProjects(program: Command, io: CliIo): void {
  const projects = program
    .command('projects')
    .description('projects: isolated workspaces of cohorts, targets and syncs');

  projects
    .command('list')
    .description('list the projects the token can see')
    .action(
      action(io, async (s) => {
        s.print(await s.client.get('/api/v1/projects'), projectsTable);
      }),
    );

  projects
    .command('get')
    .description('show a project (default: --project)')
    .argument('[projectId]')
    .option('--show-ingest-key', 'print the ingest key in full (editors only)')
    .action(
      action<{ showIngestKey?: boolean }>(io, async (s, [id], opts) => {
        const body = await s.client.get(`/api/v1/projects/${enc(await projectArg(s, id))}`);
        s.print(body, (b) => projectDetails(b, { showIngestKey: opts.showIngestKey === true }));
      }),
    );

  projects
    .command('create')
    .description('create a project (admin token)')
    .requiredOption('--name <name>', 'project name')
    .action(
      action<{ name: string }>(io, async (s, _args, opts) => {
        const body = await s.client.post('/api/v1/projects', { name: opts.name });
        s.print(body, (b) => {
          const p = asObject(b);
          // A newly created ingest key is shown once here; `projects get` hides it unless asked.
          const ingest =
            typeof p.ingestKey === 'string' ? `\nIngest key (for Amplitude SDKs' api_key): ${p.ingestKey}` : '';
          return `Created project ${text(p.id)} (${text(p.name)})${ingest}\nUse it with --project ${text(p.id)} or COHORT_SYNC_PROJECT=${text(p.id)}`;
        });
      }),
    );

  projects
    .command('update')
    .description('rename a project or set who is mailed about its runs')
    .argument('[projectId]')
    .option('--name <name>', 'new name')
    .option('--notify <emails>', 'notification emails, comma-separated (repeatable); replaces the list', collectEmails)
    .option('--no-notify', 'clear the notification emails')
    .action(
      action<{ name?: string; notify?: string[] | false }>(io, async (s, [id], opts) => {
        const patch: { name?: string; notificationEmails?: string[] } = {};
        if (opts.name !== undefined) patch.name = opts.name;
        if (opts.notify !== undefined) patch.notificationEmails = opts.notify === false ? [] : opts.notify;
        if (Object.keys(patch).length === 0)
          throw new UsageError('nothing to change: give --name, --notify or --no-notify');
        const body = await s.client.patch(`/api/v1/projects/${enc(await projectArg(s, id))}`, patch);
        s.print(body, (b) => projectDetails(b, { showIngestKey: false }));
      }),
    );

  projects
    .command('rotate-ingest-key')
    .description("replace the project's ingest key (Amplitude SDKs' api_key); the old key stops working at once")
    .argument('[projectId]')
    .action(
      action(io, async (s, [id]) => {
        const body = await s.client.post(`/api/v1/projects/${enc(await projectArg(s, id))}/ingest-key/rotate`, {});
        s.print(body, (b) => {
          const p = asObject(b);
          return `New ingest key of ${text(p.id)} (for Amplitude SDKs' api_key): ${text(p.ingestKey)}\nThe previous key is refused from now on.`;
        });
      }),
    );

  const tokens = projects.command('tokens').description('project tokens (editor or viewer)');
  tokens
    .command('create')
    .description('create a project token; it is printed once and cannot be shown again')
    .argument('[projectId]')
    .requiredOption(
      '--role <role>',
      'editor (reads and changes) or viewer (reads)',
      oneOf(['editor', 'viewer'] as const, 'the role'),
    )
    .action(
      action<{ role: 'editor' | 'viewer' }>(io, async (s, [id], opts) => {
        const projectId = await projectArg(s, id);
        const body = await s.client.post(`/api/v1/projects/${enc(projectId)}/tokens`, { role: opts.role });
        s.print(body, (b) => {
          const t = asObject(b);
          return `${keyValues([
            ['project', projectId],
            ['role', text(t.role)],
            ['token', text(t.token)],
          ])}\nThis token is shown once: store it now.`;
        });
      }),
    );
}
