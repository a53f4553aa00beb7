// `npm start` as a user runs it: a real process on a free port with the embedded Braze sandbox, driven
// only over HTTP — the public API and the sandbox's admin API.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const ADMIN = 'cs_admin_service_e2e_0123456789';
let child: ChildProcess;
let dir: string;
let api: string;
let sandbox: string;

function started(proc: ChildProcess): Promise<{ api: string; sandbox: string }> {
  return new Promise((resolveUrls, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const a = /cohort-sync listening on (http:\/\/\S+)/.exec(out)?.[1];
      const s = /Braze sandbox on (http:\/\/\S+)/.exec(out)?.[1];
      if (a && s) {
        clearTimeout(timer);
        resolveUrls({ api: a, sandbox: s });
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${out}`)));
  });
}

async function call<T = any>(
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${api}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body !== undefined ? { 'content-type': contentType } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

async function sandboxCall<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${sandbox}/sandbox${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return (await res.json()) as T;
}

async function finished(projectId: string, runId: string): Promise<any> {
  for (let i = 0; i < 300; i++) {
    const { body } = await call('GET', `/projects/${projectId}/runs/${runId}`);
    if (['succeeded', 'failed', 'cancelled'].includes(body.status)) return body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`run ${runId} did not finish`);
}

async function latestRun(projectId: string, syncId: string): Promise<any> {
  const { body } = await call('GET', `/projects/${projectId}/syncs/${syncId}/runs`);
  return finished(projectId, body.items[0].id);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cs-service-e2e-'));
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATA_DIR: dir,
    PORT: '0',
    BRAZE_SANDBOX_PORT: '0',
    COHORT_SYNC_ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: 'warn',
  };
  child = spawn('npm', ['start'], { cwd: ROOT, env, detached: true });
  ({ api, sandbox } = await started(child));
}, 90_000);

afterAll(async () => {
  if (child?.pid) {
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid, 'SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('npm start, end to end over HTTP', () => {
  it('syncs one cohort to two targets, sends deltas, keeps Default, and fails a rejected key plainly', async () => {
    expect(await (await fetch(`${api}/healthz`)).json()).toEqual({ status: 'ok' });
    const project = (await call('POST', '/projects', { name: 'E2E' })).body;

    // Two Braze workspaces with users that already exist (Braze never creates users).
    const { dataImportKey: usKey } = await sandboxCall('POST', '/workspaces');
    const { dataImportKey: euKey } = await sandboxCall('POST', '/workspaces');
    await sandboxCall('POST', `/workspaces/${usKey}/users`, {
      users: [{ external_id: 'u1' }, { external_id: 'u2' }, { external_id: 'u3' }],
    });
    await sandboxCall('POST', `/workspaces/${euKey}/users`, {
      users: [{ device_ids: ['d-anon'] }, { external_id: 'u1', device_ids: ['d1'] }],
    });

    // Default through the single-key form, then a second target with another key and mapping.
    const put = await call('PUT', `/projects/${project.id}/destinations/braze`, {
      enabled: true,
      endpoint: sandbox,
      dataImportKey: usKey,
      mapping: { type: 'user_id' },
    });
    expect(put.status).toBe(200);
    const eu = await call('POST', `/projects/${project.id}/destinations/braze/targets`, {
      name: 'EU',
      endpoint: sandbox,
      dataImportKey: euKey,
      mapping: { type: 'device_id' },
    });
    expect(eu.status).toBe(201);
    expect(JSON.stringify(eu.body)).not.toContain(euKey);
    const targets = (await call('GET', `/projects/${project.id}/destinations/braze`)).body.targets;
    expect(targets.map((t: any) => t.name).sort()).toEqual(['Default', 'EU']);

    const cohort = (await call('POST', `/projects/${project.id}/cohorts`, { name: 'Buyers', type: 'static' })).body;
    const csv = 'user_id,device_id\nu1,d1\nu2,\n,d-anon\n';
    const upload = await call('PUT', `/projects/${project.id}/cohorts/${cohort.id}/members`, csv, 'text/csv');
    expect(upload.body).toMatchObject({ size: 3, accepted: 3, rejected: [] });

    const toDefault = await call('POST', `/projects/${project.id}/syncs`, { cohortId: cohort.id, cadence: 'one_time' });
    expect(toDefault.body.targetId).toBe(targets.find((t: any) => t.name === 'Default').id);
    const toEu = await call('POST', `/projects/${project.id}/syncs`, {
      cohortId: cohort.id,
      targetId: eu.body.id,
      cadence: 'one_time',
    });
    expect((await latestRun(project.id, toDefault.body.id)).status).toBe('succeeded');
    expect((await latestRun(project.id, toEu.body.id)).status).toBe('succeeded');

    const usHeld = await sandboxCall('GET', `/workspaces/${usKey}/cohorts/${cohort.id}/identifiers`);
    expect(usHeld.user_ids).toEqual(['u1', 'u2']);
    const euHeld = await sandboxCall('GET', `/workspaces/${euKey}/cohorts/${cohort.id}/identifiers`);
    expect(euHeld).toMatchObject({ device_ids: ['d-anon', 'd1'], user_ids: ['u1', 'u2'] });

    // A membership change, then "run now": only the delta reaches Braze.
    await call('POST', `/projects/${project.id}/cohorts/${cohort.id}/members`, {
      add: [{ user_id: 'u3' }],
      remove: [{ user_id: 'u2' }],
    });
    await sandboxCall('DELETE', '/requests');
    const runNow = await call('POST', `/projects/${project.id}/syncs/${toDefault.body.id}/runs`);
    expect(runNow.status).toBe(202);
    const delta = await finished(project.id, runNow.body.id);
    expect(delta).toMatchObject({ status: 'succeeded', counts: { added: 1, removed: 1 } });
    expect((await sandboxCall('GET', `/workspaces/${usKey}/cohorts/${cohort.id}/identifiers`)).user_ids).toEqual([
      'u1',
      'u3',
    ]);
    const sent = (await sandboxCall('GET', '/requests')).items;
    expect(sent).toHaveLength(1);
    expect(sent[0].identifiers).toBe(2);

    // A key Braze rejects fails its run with a message a person can act on.
    const bad = await call('POST', `/projects/${project.id}/destinations/braze/targets`, {
      name: 'Stale key',
      endpoint: sandbox,
      dataImportKey: 'revoked-key-0000',
      mapping: { type: 'user_id' },
    });
    const badSync = await call('POST', `/projects/${project.id}/syncs`, {
      cohortId: cohort.id,
      targetId: bad.body.id,
      cadence: 'one_time',
    });
    const failed = await latestRun(project.id, badSync.body.id);
    expect(failed.status).toBe('failed');
    expect(failed.error.code).toBe('braze_credentials');
    expect(failed.error.message).toMatch(/Invalid client secret/);
    expect(failed.error.message).not.toContain('revoked-key-0000');
  });
});
