// `cohort-sync runs …` (history of a sync's runs, one run, its per-member CSV) and `cohort-sync explain`.
import { createWriteStream } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { explainQuery, positiveInt, runStatus } from './args.ts';
import { listPages } from './cohorts.ts';
import { action, type CliIo, enc } from './context.ts';
import { render, runDetails, runsTable } from './format.ts';

export function registerRuns(program: Command, io: CliIo): void {
  const runs = program.command('runs').description('runs of syncs: status, counts, per-member outcomes');

  runs
    .command('list')
    .description('runs of a sync, newest first')
    .requiredOption('--sync <syncId>', 'the sync')
    .option('--status <status>', 'only runs in this status (queued, running, succeeded, failed, cancelled)', runStatus)
    .option('--from <time>', 'only runs from this ISO time')
    .option('--to <time>', 'only runs until this ISO time')
    .option('--limit <n>', 'runs per page', positiveInt)
    .option('--cursor <cursor>', 'page to start at (nextCursor of the previous page)')
    .option('--all', 'follow nextCursor to the end')
    .action(
      action<{
        sync: string;
        status?: string;
        from?: string;
        to?: string;
        limit?: number;
        cursor?: string;
        all?: boolean;
      }>(io, async (s, _args, opts) => {
        const path = await s.projectPath('syncs', enc(opts.sync), 'runs');
        await listPages(s, path, { ...opts, query: { status: opts.status, from: opts.from, to: opts.to } }, runsTable);
      }),
    );

  runs
    .command('get')
    .description('show a run')
    .argument('<runId>')
    .action(
      action(io, async (s, [id]) => {
        s.print(await s.client.get(await s.projectPath('runs', enc(id ?? ''))), runDetails);
      }),
    );

  runs
    .command('members-csv')
    .description("the run's members as CSV: operation, identifier, outcome and reason per member")
    .argument('<runId>')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .action(
      action<{ output?: string }>(io, async (s, [id], opts) => {
        const response = await s.client.send('GET', `${await s.projectPath('runs', enc(id ?? ''), 'members.csv')}`);
        const body = response.body
          ? Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>)
          : Readable.from([]);
        if (opts.output !== undefined) {
          await pipeline(body, createWriteStream(opts.output));
          s.err(`wrote ${opts.output}`);
        } else {
          // stdout is not ours to close: pipe into a wrapper that leaves it open.
          await pipeline(
            body,
            new Writable({
              write: (chunk, _e, done) => (s.io.stdout.write(chunk) ? done() : s.io.stdout.once('drain', () => done())),
            }),
          );
        }
      }),
    );
}

export function registerExplain(program: Command, io: CliIo): void {
  program
    .command('explain')
    .description('why a user is or is not in Braze: membership, identifiers, what was sent and when')
    .option('--user-id <id>', 'the user by user_id')
    .option('--device-id <id>', 'the user by device_id')
    .action(
      action<{ userId?: string; deviceId?: string }>(io, async (s, _args, opts) => {
        const query = explainQuery(opts);
        s.print(await s.client.get(await s.projectPath('explain'), query), (b) => render(b));
      }),
    );
}
