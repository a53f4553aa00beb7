// `cohort-sync cohorts …`: cohorts, their members, and CSV import (streamed: the file is never read whole).
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { ClientError } from './api-client.ts';
import { collect, collectMembers, type MemberBody, membersFromFlags, positiveInt } from './args.ts';
import { action, type CliIo, enc, type Session } from './context.ts';
import {
  asObject,
  cohortDetails,
  cohortsTable,
  importText,
  itemsOf,
  memberChangeText,
  membersTable,
  text,
  UsageError,
} from './format.ts';

export function registerCohorts(program: Command, io: CliIo): void {
  const cohorts = program.command('cohorts').description('cohorts: sets of users, static (CSV, API) or behavioral');

  cohorts
    .command('list')
    .description('list the cohorts')
    .action(
      action(io, async (s) => {
        s.print(await s.client.get(await s.projectPath('cohorts')), cohortsTable);
      }),
    );

  cohorts
    .command('get')
    .description('show a cohort')
    .argument('<cohortId>')
    .action(
      action(io, async (s, [id]) => {
        s.print(await s.client.get(await s.projectPath('cohorts', enc(id ?? ''))), cohortDetails);
      }),
    );

  cohorts
    .command('create')
    .description('create a static cohort (or a behavioral one with --definition)')
    .requiredOption('--name <name>', 'cohort name (can be renamed later)')
    .option('--definition <json>', 'behavioral definition as JSON, or @file.json')
    .action(
      action<{ name: string; definition?: string }>(io, async (s, _args, opts) => {
        const body =
          opts.definition === undefined
            ? { name: opts.name, type: 'static' }
            : { name: opts.name, type: 'behavioral', definition: await jsonArg('--definition', opts.definition) };
        s.print(
          await s.client.post(await s.projectPath('cohorts'), body),
          (b) => `Created cohort ${text(asObject(b).id)}\n${cohortDetails(b)}`,
        );
      }),
    );

  cohorts
    .command('rename')
    .description('rename a cohort (its id, and so its Braze cohort id, stays)')
    .argument('<cohortId>')
    .argument('<name>')
    .action(
      action(io, async (s, [id, name]) => {
        s.print(await s.client.patch(await s.projectPath('cohorts', enc(id ?? '')), { name }), cohortDetails);
      }),
    );

  cohorts
    .command('delete')
    .description('delete a cohort (refused while syncs use it)')
    .argument('<cohortId>')
    .action(
      action(io, async (s, [id]) => {
        s.print(
          await s.client.delete(await s.projectPath('cohorts', enc(id ?? ''))),
          () => `Deleted cohort ${id ?? ''}`,
        );
      }),
    );

  cohorts
    .command('import')
    .description(
      "replace a static cohort's members from a CSV file (header row; user_id, device_id, other columns become properties); - reads stdin",
    )
    .argument('<cohortId>')
    .argument('<file>', 'CSV file, or - for stdin')
    .action(
      action(io, async (s, [id, file]) => {
        const path = await s.projectPath('cohorts', enc(id ?? ''), 'members');
        const body = await importCsv(s, path, file ?? '-');
        s.print(body, (b) => importText(file === '-' ? 'stdin' : (file ?? ''), b));
      }),
    );

  const members = cohorts.command('members').description('members of a static cohort');
  for (const op of ['add', 'remove'] as const) {
    members
      .command(op)
      .description(`${op} members; each --user-id or --device-id is one member, --member gives one member both ids`)
      .argument('<cohortId>')
      .option('--user-id <id>', 'a member by user_id (repeatable)', collect)
      .option('--device-id <id>', 'a member by device_id (repeatable)', collect)
      .option('--member <ids>', 'user_id=<id>,device_id=<id> (repeatable)', collectMembers)
      .action(
        action<{ userId?: string[]; deviceId?: string[]; member?: MemberBody[] }>(io, async (s, [id], opts) => {
          const members = membersFromFlags(opts);
          const body = asObject(
            await s.client.post(await s.projectPath('cohorts', enc(id ?? ''), 'members'), { [op]: members }),
          );
          s.print(body, memberChangeText);
          // Members named on the command line that the server refused are a mistake in the command.
          if (Array.isArray(body.invalid) && body.invalid.length > 0) s.io.setExitCode(1);
        }),
      );
  }

  members
    .command('list')
    .description('list members (a page at a time; --all for every page)')
    .argument('<cohortId>')
    .option('--limit <n>', 'members per page', positiveInt)
    .option('--cursor <cursor>', 'page to start at (nextCursor of the previous page)')
    .option('--all', 'follow nextCursor to the end')
    .action(
      action<{ limit?: number; cursor?: string; all?: boolean }>(io, async (s, [id], opts) => {
        const path = await s.projectPath('cohorts', enc(id ?? ''), 'members');
        await listPages(s, path, opts, membersTable);
      }),
    );
}

/** One page (the exact API JSON with --json), or with --all every page merged into one `{items}`. */
export async function listPages(
  s: Session,
  path: string,
  opts: { limit?: number; cursor?: string; all?: boolean; query?: Record<string, string | undefined> },
  human: (body: unknown) => string,
): Promise<void> {
  let cursor = opts.cursor;
  const items: unknown[] = [];
  for (;;) {
    const page = asObject(await s.client.get(path, { ...opts.query, limit: opts.limit, cursor }));
    if (!opts.all) {
      s.print(page, human);
      if (typeof page.nextCursor === 'string' && page.nextCursor !== '' && !s.json)
        s.err(`more: --cursor ${page.nextCursor}`);
      return;
    }
    items.push(...itemsOf(page));
    cursor = typeof page.nextCursor === 'string' && page.nextCursor !== '' ? page.nextCursor : undefined;
    if (cursor === undefined) break;
  }
  s.print({ items, nextCursor: null }, human);
}

async function jsonArg(flag: string, value: string): Promise<unknown> {
  let source = value;
  if (value.startsWith('@')) {
    try {
      source = await readFile(value.slice(1), 'utf8');
    } catch (error) {
      throw new UsageError(`${flag}: cannot read ${value.slice(1)}: ${(error as Error).message}`);
    }
  }
  try {
    return JSON.parse(source);
  } catch {
    throw new UsageError(`${flag} is not valid JSON`);
  }
}

/** PUTs the file as text/csv, streamed; a byte progress bar on a terminal. */
async function importCsv(s: Session, path: string, file: string): Promise<unknown> {
  let source: Readable;
  let size: number | undefined;
  if (file === '-') {
    source = process.stdin;
  } else {
    try {
      const info = await stat(file);
      if (!info.isFile()) throw new Error('not a file');
      size = info.size;
    } catch (error) {
      throw new ClientError(`cannot read ${file}: ${(error as Error).message}`);
    }
    source = createReadStream(file);
  }
  const bar =
    size !== undefined && s.io.stderr.isTTY && !s.json
      ? new SingleBar({
          stream: s.io.stderr,
          format: 'uploading |{bar}| {percentage}% {value}/{total} bytes',
          hideCursor: true,
          clearOnComplete: true,
        })
      : null;
  bar?.start(size ?? 0, 0);
  let sent = 0;
  const counted = source.pipe(
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        sent += chunk.length;
        bar?.update(sent);
        done(null, chunk);
      },
    }),
  );
  source.once('error', (error) => counted.destroy(error));
  try {
    return await s.client.request('PUT', path, {
      body: Readable.toWeb(counted) as ReadableStream<Uint8Array>,
      contentType: 'text/csv',
    });
  } finally {
    bar?.stop();
  }
}
