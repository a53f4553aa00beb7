// The CLI as a user runs it: a real `node bin/cohort-sync.js` child process against the real service
// (HTTP API, store, worker and the embedded Braze sandbox) started in this process.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/entry/config.ts';
import { type RunningService, startService } from '../../src/entry/service.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'cohort-sync.js');
const ADMIN_TOKEN = 'cs_admin_e2e_0123456789abcdef';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

let service: RunningService;
let dir: string;
let url: string;

/** Runs the CLI without any COHORT_SYNC_* or DATA_DIR from the test's own environment. */
function cli(
  args: readonly string[],
  opts: { token?: string | null; env?: Record<string, string> } = {},
): Promise<Result> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NO_COLOR: '1',
    DATA_DIR: join(dir, 'no-such-dir'),
    ...opts.env,
  };
  const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
  const all = [BIN, ...args, '--url', url, ...(token === null ? [] : ['--token', token])];
  return new Promise((done) => {
    execFile(process.execPath, all, { cwd: ROOT, env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

async function json<T = Record<string, unknown>>(args: readonly string[]): Promise<T> {
  const r = await cli([...args, '--json']);
  expect(r.stderr, `stderr of ${args.join(' ')}`).toBe('');
  expect(r.code, `exit code of ${args.join(' ')}`).toBe(0);
  return JSON.parse(r.stdout) as T;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cs-cli-e2e-'));
  const config = loadConfig({
    DATA_DIR: join(dir, 'data'),
    PORT: '0',
    BRAZE_SANDBOX: 'on',
    BRAZE_SANDBOX_PORT: '0',
    COHORT_SYNC_ADMIN_TOKEN: ADMIN_TOKEN,
    LOG_LEVEL: 'silent',
  });
  service = await startService(config, { role: 'serve', print: () => {} });
  url = service.url!;
});

afterAll(async () => {
  await service?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('cohort-sync resource commands against a running server', () => {
  let projectId = '';
  let targetId = '';
  let cohortId = '';
  let syncId = '';
  let workspaceKey = '';

  it('creates a project and enables Braze for it', async () => {
    const project = await json<{ id: string; name: string }>(['projects', 'create', '--name', 'Acme']);
    expect(project.name).toBe('Acme');
    projectId = project.id;

    const listed = await cli(['projects', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${projectId}\\s+Acme\\b`, 'm'));

    const enabled = await cli(['destination', 'set', '--enabled', '--project', projectId]);
    expect(enabled.stderr).toBe('');
    expect(enabled.code).toBe(0);
    expect(enabled.stdout).toContain('Braze destination: enabled');
  });

  it('creates a target on the sandbox without ever printing its key', async () => {
    workspaceKey = service.sandbox!.state.createWorkspace();
    const args = [
      'targets',
      'create',
      '--project',
      projectId,
      '--name',
      'Main',
      '--endpoint',
      service.sandbox!.url,
      '--key',
      workspaceKey,
      '--mapping',
      'user_id',
    ];
    const human = await cli(args);
    expect(human.stderr).toBe('');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^name:\s+Main$/m);
    expect(human.stdout).toMatch(/^mapping:\s+user_id$/m);
    expect(human.stdout + human.stderr).not.toContain(workspaceKey);
    targetId = /^Created target (\S+)$/m.exec(human.stdout)![1]!;

    const listed = await json<{ items: { id: string; dataImportKeyHint: string }[] }>([
      'targets',
      'list',
      '--project',
      projectId,
    ]);
    expect(listed.items.map((t) => t.id)).toEqual([targetId]);
    expect(JSON.stringify(listed)).not.toContain(workspaceKey);
  });

  it('creates a cohort from a CSV file, reporting the bad line by number', async () => {
    const cohort = await json<{ id: string; type: string }>([
      'cohorts',
      'create',
      '--project',
      projectId,
      '--name',
      'Buyers',
    ]);
    expect(cohort.type).toBe('static');
    cohortId = cohort.id;

    const file = join(dir, 'buyers.csv');
    writeFileSync(file, 'user_id,plan\nu1,gold\nu2,silver,extra\nu3,gold\nu4,\n');
    const imported = await cli(['cohorts', 'import', cohortId, file, '--project', projectId]);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain('3 accepted, 1 rejected; cohort size is now 3');
    expect(imported.stdout).toMatch(/^ {2}line 3: /m);

    const got = await json<{ size: number }>(['cohorts', 'get', cohortId, '--project', projectId]);
    expect(got.size).toBe(3);
  });

  it('creates a sync, runs it with --wait, and Braze holds the cohort', async () => {
    const sync = await json<{ id: string; cohortId: string; targetId: string }>([
      'syncs',
      'create',
      '--project',
      projectId,
      '--cohort',
      cohortId,
      '--target',
      targetId,
      '--cadence',
      'one_time',
    ]);
    expect(sync).toMatchObject({ cohortId, targetId });
    syncId = sync.id;

    const run = await cli(['syncs', 'run', syncId, '--wait', '--interval', '0.1', '--project', projectId]);
    expect(run.code, run.stderr).toBe(0);
    // The sync's first run was queued on creation and may already have sent everyone; together they add 3.
    expect(run.stdout).toMatch(
      /^Run \S+ succeeded — added [0-3] users \([0-3] identifiers?\), removed 0 users \(0 identifiers\), skipped 0, failed 0$/m,
    );
    expect(service.sandbox!.state.cohortIdentifiers(workspaceKey, cohortId).user_ids.sort()).toEqual([
      'u1',
      'u3',
      'u4',
    ]);
  });

  it("lists the runs as the API's JSON", async () => {
    const runs = await json<{ items: { id: string; syncId: string; status: string; counts: { added: number } }[] }>([
      'runs',
      'list',
      '--sync',
      syncId,
      '--project',
      projectId,
    ]);
    expect(runs.items.length).toBeGreaterThanOrEqual(1);
    expect(runs.items.every((r) => r.syncId === syncId && r.status === 'succeeded')).toBe(true);
    expect(runs.items.reduce((n, r) => n + r.counts.added, 0)).toBe(3);
    // The exact API answer: same JSON as a direct call.
    const direct = await fetch(`${url}/api/v1/projects/${projectId}/syncs/${syncId}/runs`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(runs).toEqual(await direct.json());
  });

  it("exits 1 with the run's error when a run fails", async () => {
    const added = await cli(['cohorts', 'members', 'add', cohortId, '--user-id', 'u9', '--project', projectId]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('added 1, removed 0');
    // Braze refuses the key from now on (a revoked Data Import Key).
    service.sandbox!.state.injectFaults([{ status: 401, count: 1000 }]);
    try {
      const run = await cli(['syncs', 'run', syncId, '--wait', '--interval', '0.1', '--project', projectId]);
      expect(run.code).toBe(1);
      const failed = /^Run (\S+) failed: (.+) — /m.exec(run.stdout);
      expect(failed, run.stdout).not.toBeNull();
      const stored = await json<{ status: string; error: { message: string } }>([
        'runs',
        'get',
        failed![1]!,
        '--project',
        projectId,
      ]);
      expect(stored.status).toBe('failed');
      expect(run.stderr).toContain(`error: run ${failed![1]} failed: ${stored.error.message}`);
    } finally {
      service.sandbox!.state.clearFaults();
    }
  });

  it("exits non-zero with the API's message and code", async () => {
    const missing = await cli(['cohorts', 'get', 'coh_nope', '--project', projectId]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toBe('error: cohort coh_nope was not found (not_found, HTTP 404)\n');

    const badToken = await cli(['projects', 'list'], { token: 'cs_admin_wrong_token_000000' });
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toMatch(/^error: .+ \(\w+, HTTP 401\)$/m);
    expect(badToken.stderr).not.toContain('cs_admin_wrong_token_000000');
  });

  it('finds the admin token in DATA_DIR for a local server when none is given', async () => {
    const dataDir = join(dir, 'client-data');
    rmSync(dataDir, { recursive: true, force: true });
    const without = await cli(['projects', 'list', '--json'], { token: null, env: { DATA_DIR: dataDir } });
    expect(without.code).toBe(1);
    expect(without.stderr).toContain('no token: pass --token or set COHORT_SYNC_TOKEN');

    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'admin-token'), `${ADMIN_TOKEN}\n`, { mode: 0o600 });
    const found = await cli(['projects', 'list', '--json'], {
      token: null,
      env: { DATA_DIR: dataDir, COHORT_SYNC_PROJECT: projectId },
    });
    expect(found.code, found.stderr).toBe(0);
    expect((JSON.parse(found.stdout) as { items: { id: string }[] }).items.map((p) => p.id)).toContain(projectId);
  });
});
