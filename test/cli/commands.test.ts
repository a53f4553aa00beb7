// The resource commands run in-process (same commander program, captured stdout/stderr) against the real
// service: the commands the end-to-end flow does not reach.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/entry/config.ts';
import { type RunningService, startService } from '../../src/entry/service.ts';
import { runCli as run } from './in-process.ts';

const ADMIN_TOKEN = 'cs_admin_cmds_0123456789abcdef';

describe('against the running service', () => {
  let service: RunningService;
  let dir: string;
  let env: { url: string; token: string };
  let projectId: string;
  let key: string;
  let targetId: string;
  let cohortId: string;
  let syncId: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cs-cli-cmds-'));
    service = await startService(
      loadConfig({
        DATA_DIR: dir,
        PORT: '0',
        BRAZE_SANDBOX: 'on',
        BRAZE_SANDBOX_PORT: '0',
        COHORT_SYNC_ADMIN_TOKEN: ADMIN_TOKEN,
        LOG_LEVEL: 'silent',
      }),
      { role: 'serve', print: () => {} },
    );
    env = { url: service.url!, token: ADMIN_TOKEN };
    const created = await run(['projects', 'create', '--name', 'Cmds', '--json'], env);
    projectId = (JSON.parse(created.stdout) as { id: string }).id;
    key = service.sandbox!.state.createWorkspace();
  });

  afterAll(async () => {
    await service?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('uses the only visible project when none is named', async () => {
    const r = await run(['cohorts', 'list'], env);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('No cohorts.\n');
  });

  it('asks for --project when several projects are visible', async () => {
    await run(['projects', 'create', '--name', 'Other'], env);
    const r = await run(['cohorts', 'list'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('pass --project <id> or set COHORT_SYNC_PROJECT');
    expect(r.stderr).toContain(projectId);
  });

  it('creates a project token and shows it once; it sees its project', async () => {
    const r = await run(['projects', 'tokens', 'create', projectId, '--role', 'viewer'], env);
    expect(r.code, r.stderr).toBe(0);
    const token = /^token:\s+(\S+)$/m.exec(r.stdout)?.[1];
    expect(token).toBeDefined();
    expect(r.stdout).toContain('shown once');
    const seen = await run(['projects', 'get', '--json'], { url: env.url, token: token!, project: projectId });
    expect(seen.code, seen.stderr).toBe(0);
    expect((JSON.parse(seen.stdout) as { id: string }).id).toBe(projectId);
  });

  it('rotates the ingest key: the new one is printed and is the one the project shows', async () => {
    const before = JSON.parse((await run(['projects', 'get', projectId, '--json'], env)).stdout) as {
      ingestKey: string;
    };
    const r = await run(['projects', 'rotate-ingest-key', projectId], env);
    expect(r.code, r.stderr).toBe(0);
    const fresh = /api_key\): (cs_ingest_\S+)$/m.exec(r.stdout)?.[1];
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(before.ingestKey);
    const after = JSON.parse((await run(['projects', 'get', projectId, '--json'], env)).stdout) as {
      ingestKey: string;
    };
    expect(after.ingestKey).toBe(fresh);
  });

  it('sets the Default target the single-key way, and tests targets', async () => {
    const p = { ...env, project: projectId };
    const set = await run(
      [
        'destination',
        'set',
        '--endpoint',
        service.sandbox!.url,
        '--key',
        key,
        '--mapping',
        'device_id',
        '--fallback',
        'user_id',
      ],
      p,
    );
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('Braze destination: enabled');
    expect(set.stdout).toMatch(/Default\s+\S+\s+cohort_import\s+…\S+\s+device_id then user_id/);
    expect(set.stdout).not.toContain(key);

    const targets = JSON.parse((await run(['targets', 'list', '--json'], p)).stdout) as {
      items: { id: string; name: string }[];
    };
    targetId = targets.items.find((t) => t.name === 'Default')!.id;
    const ok = await run(['targets', 'test', targetId], p);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ok: /);

    const changed = await run(['targets', 'update', targetId, '--key', 'not-a-sandbox-workspace'], p);
    expect(changed.code, changed.stderr).toBe(0);
    const bad = await run(['targets', 'test', targetId], p);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^failed: /);
    expect(bad.stdout).not.toContain('not-a-sandbox-workspace');
    await run(['targets', 'update', targetId, '--key', key], p);
  });

  it('manages members, previews a sync, pauses and resumes it', async () => {
    const p = { ...env, project: projectId };
    cohortId = (JSON.parse((await run(['cohorts', 'create', '--name', 'VIP', '--json'], p)).stdout) as { id: string })
      .id;
    const added = await run(
      [
        'cohorts',
        'members',
        'add',
        cohortId,
        '--user-id',
        'u1',
        '--device-id',
        'd2',
        '--member',
        'user_id=u3,device_id=d3',
      ],
      p,
    );
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('added 3, removed 0');
    const removed = await run(['cohorts', 'members', 'remove', cohortId, '--user-id', 'u1'], p);
    expect(removed.stdout).toContain('removed 1');

    const members = await run(['cohorts', 'members', 'list', cohortId, '--all', '--json'], p);
    const items = (JSON.parse(members.stdout) as { items: Record<string, unknown>[] }).items;
    expect(items).toHaveLength(2);
    expect(JSON.stringify(items)).toContain('u3');

    const renamed = await run(['cohorts', 'rename', cohortId, 'Very important'], p);
    expect(renamed.stdout).toMatch(/^name:\s+Very important$/m);

    const sync = JSON.parse(
      (await run(['syncs', 'create', '--cohort', cohortId, '--cadence', 'daily', '--json'], p)).stdout,
    ) as { id: string; targetId: string };
    expect(sync.targetId).toBe(targetId);
    syncId = sync.id;
    const paused = await run(['syncs', 'pause', syncId], p);
    expect(paused.stdout).toMatch(/^paused:\s+yes$/m);
    const refused = await run(['syncs', 'run', syncId], p);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/\(sync_paused, HTTP 409\)/);
    const resumed = await run(['syncs', 'resume', syncId], p);
    expect(resumed.stdout).toMatch(/^paused:\s+no$/m);

    const preview = await run(['syncs', 'preview', syncId], p);
    expect(preview.code, preview.stderr).toBe(0);
    expect(preview.stdout).toMatch(/^would add: \d+/m);
  });

  it('waits for a run, exports its members as CSV and explains a user', async () => {
    const p = { ...env, project: projectId };
    const waited = await run(['syncs', 'run', syncId, '--wait', '--interval', '0.1', '--json'], p);
    expect(waited.code, waited.stderr).toBe(0);
    const finished = JSON.parse(waited.stdout) as { id: string; status: string };
    expect(finished.status).toBe('succeeded');
    // --full asks for a full reconcile: the run re-reads every member (docs/syncs.md).
    const full = await run(['syncs', 'run', syncId, '--full', '--wait', '--interval', '0.1', '--json'], p);
    expect(full.code, full.stderr).toBe(0);
    expect(JSON.parse(full.stdout)).toMatchObject({ status: 'succeeded', reconcile: true, plannedFrom: 'cohort' });

    const file = join(dir, 'members.csv');
    const csv = await run(['runs', 'members-csv', finished.id, '-o', file], p);
    expect(csv.code, csv.stderr).toBe(0);
    const direct = await fetch(`${env.url}/api/v1/projects/${projectId}/runs/${finished.id}/members.csv`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(readFileSync(file, 'utf8')).toBe(await direct.text());
    const toStdout = await run(['runs', 'members-csv', finished.id], p);
    expect(toStdout.stdout).toBe(readFileSync(file, 'utf8'));

    const explained = await run(['explain', '--user-id', 'u3', '--json'], p);
    expect(explained.code, explained.stderr).toBe(0);
    const human = await run(['explain', '--user-id', 'u3'], p);
    expect(human.stdout).toContain('u3');
  });

  it('refuses to delete a target in use, listing the syncs, then deletes with --delete-syncs', async () => {
    const p = { ...env, project: projectId };
    const refused = await run(['targets', 'delete', targetId], p);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('(target_in_use, HTTP 409)');
    expect(refused.stderr).toContain(syncId);
    expect(refused.stderr).toContain('--delete-syncs');

    const deleted = await run(['targets', 'delete', targetId, '--delete-syncs'], p);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toBe(`Deleted target ${targetId}\n`);
    const gone = await run(['syncs', 'get', syncId], p);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('HTTP 404');
  });

  it('imports from a file and deletes a cohort', async () => {
    const p = { ...env, project: projectId };
    const file = join(dir, 'in.csv');
    writeFileSync(file, 'device_id\nd1\nd2\n');
    const imported = await run(['cohorts', 'import', cohortId, file, '--json'], p);
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ size: 2, accepted: 2, rejected: [] });
    const missing = await run(['cohorts', 'import', cohortId, join(dir, 'nope.csv')], p);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*nope\.csv/);
    const deleted = await run(['cohorts', 'delete', cohortId], p);
    expect(deleted.code, deleted.stderr).toBe(0);
  });
});
