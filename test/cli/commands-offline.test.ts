// Resource commands in-process, with no server: mistakes caught before any request, and the program's shape.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './in-process.ts';

/** A port nothing listens on: any request the commands made would fail with "could not reach". */
let closedUrl = '';
beforeAll(async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closedUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await new Promise<void>((r) => server.close(() => r()));
});

const run = (args: readonly string[]) => runCli(args, { url: closedUrl });

describe('mistakes caught before any request', () => {
  it('names what is missing or wrong', async () => {
    const cases: [string[], RegExp][] = [
      [
        [
          'targets',
          'create',
          '--name',
          'x',
          '--endpoint',
          'http://e',
          '--key',
          'k',
          '--mapping',
          'user_alias',
          '--project',
          'p',
        ],
        /--mapping user_alias needs --alias-label/,
      ],
      [
        [
          'targets',
          'create',
          '--name',
          'x',
          '--endpoint',
          'http://e',
          '--key',
          'k',
          '--mapping',
          'email',
          '--project',
          'p',
        ],
        /the mapping must be one of: user_id, device_id, user_alias/,
      ],
      [['destination', 'set', '--project', 'p'], /give --enabled or --disabled/],
      [
        ['destination', 'set', '--endpoint', 'http://e', '--project', 'p'],
        /needs all of --endpoint, --key and --mapping/,
      ],
      [['syncs', 'create', '--cohort', 'c', '--project', 'p'], /--cadence is required/],
      [['syncs', 'create', '--cohort', 'c', '--cadence', 'cron', '--project', 'p'], /--cadence cron needs --cron/],
      [['cohorts', 'members', 'add', 'c', '--project', 'p'], /name at least one member/],
      [['explain', '--project', 'p'], /give --user-id <id> or --device-id <id>/],
      [['targets', 'update', 't', '--project', 'p'], /nothing to change/],
      [['runs', 'list', '--project', 'p'], /required option '--sync <syncId>'/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr, args.join(' ')).not.toMatch(/could not reach/);
    }
  });

  it('says when the server cannot be reached', async () => {
    const r = await run(['projects', 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error: could not reach cohort-sync at ${closedUrl}: connection refused`));
  });

  it('adds the global options to the program', async () => {
    const r = await run(['--help']);
    for (const flag of ['--url <url>', '--token <token>', '--project <id>', '--json']) expect(r.stdout).toContain(flag);
    for (const command of ['projects', 'destination', 'targets', 'cohorts', 'syncs', 'runs', 'explain'])
      expect(r.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    const sub = await run(['syncs', 'run', '--help']);
    expect(sub.stdout).toContain('Global Options:');
    expect(sub.stdout).toContain('--token <token>');
    expect(sub.stdout).toContain('--full');
  });
});
