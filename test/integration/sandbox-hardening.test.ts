// Issue 12, item 4 (docs/sandbox.md, "Admin token" and "State on disk"): the sandbox's admin API wants a
// token once the sandbox listens beyond loopback, lists keys as hints only, and with a data directory keeps
// workspaces, users, cohorts, attributes and keys across restarts — also as embedded in `cohort-sync serve`.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/entry/config.ts';
import { startService } from '../../src/entry/service.ts';
import { isLoopbackHost } from '../../src/sandbox/admin-auth.ts';
import {
  type RunningSandbox,
  runSandboxCli,
  SANDBOX_ADMIN_TOKEN_FILE,
  SNAPSHOT_FILE,
  startSandbox,
} from '../../src/sandbox/index.ts';

let dir: string;
const running: RunningSandbox[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cs-sandbox-hardening-'));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function start(opts: Parameters<typeof startSandbox>[0] = {}): Promise<RunningSandbox> {
  const sandbox = await startSandbox(opts);
  running.push(sandbox);
  return sandbox;
}

async function call(
  base: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown } = {},
): Promise<{ status: number; headers: Headers; json: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

describe('the admin token', () => {
  it('counts only loopback addresses and localhost as loopback', () => {
    for (const host of ['127.0.0.1', '127.9.9.9', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost'])
      expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1', 'fe80::1', 'sandbox.example.com'])
      expect(isLoopbackHost(host), host).toBe(false);
  });

  it('is wanted from every caller, loopback included, once the sandbox listens on 0.0.0.0', async () => {
    const sandbox = await start({ host: '0.0.0.0' });
    expect(sandbox.url).toMatch(/^http:\/\/127\.0\.0\.1:/);
    expect(sandbox.adminToken).toMatch(/^sb_admin_/);

    const none = await call(sandbox.url, 'GET', '/sandbox/workspaces');
    expect(none.status).toBe(401);
    expect(none.json).toEqual({ message: expect.stringContaining('sandbox admin token required') });
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await call(sandbox.url, 'POST', '/sandbox/reset', { token: 'sb_admin_wrong' })).status).toBe(401);
    // A refused call changed nothing.
    expect((await call(sandbox.url, 'POST', '/sandbox/workspaces', { body: { dataImportKey: 'dik-x' } })).status).toBe(
      401,
    );
    expect(sandbox.state.listWorkspaces()).toEqual([]);

    const token = sandbox.adminToken as string;
    expect(
      (await call(sandbox.url, 'POST', '/sandbox/workspaces', { token, body: { dataImportKey: 'dik-x' } })).status,
    ).toBe(201);
    expect((await call(sandbox.url, 'GET', '/sandbox/workspaces', { token })).status).toBe(200);

    // The partner endpoints keep their own keys: no admin token there.
    const named = await call(sandbox.url, 'POST', '/partners/cohort-sync/cohorts', {
      body: {
        partner_api_key: 'sandbox-partner-key',
        client_secret: 'dik-x',
        cohort_id: 'c-1',
        name: 'C',
        created_at: '2030-01-01T00:00:00Z',
      },
    });
    expect(named.status).toBe(201);
  });

  it('is not needed on loopback unless one is configured, and then it is', async () => {
    const open = await start();
    expect(open.adminToken).toBeNull();
    expect((await call(open.url, 'GET', '/sandbox/workspaces')).status).toBe(200);

    const guarded = await start({ adminToken: 'sb-configured-token-123' });
    expect((await call(guarded.url, 'GET', '/sandbox/stats')).status).toBe(401);
    expect((await call(guarded.url, 'GET', '/sandbox/stats', { token: 'sb-configured-token-123' })).status).toBe(200);
  });

  it('is generated into DATA_DIR (mode 0600) beyond loopback, and the same one is read at the next start', async () => {
    const first = await start({ host: '0.0.0.0', dataDir: dir });
    const file = join(dir, SANDBOX_ADMIN_TOKEN_FILE);
    expect(first.adminTokenGeneratedInto).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.adminToken);
    await first.close();

    const second = await start({ host: '0.0.0.0', dataDir: dir });
    expect(second.adminToken).toBe(first.adminToken);
    expect(second.adminTokenGeneratedInto).toBeUndefined();
  });

  it('`cohort-sync sandbox --host 0.0.0.0` refuses to start without a token or a data dir, and never prints it', async () => {
    await expect(runSandboxCli({ host: '0.0.0.0', port: 0 }, { log: () => {} })).rejects.toThrow(
      /--admin-token \(or SANDBOX_ADMIN_TOKEN\), or --data-dir/,
    );
    const lines: string[] = [];
    const stop = new AbortController();
    let sandbox: RunningSandbox | undefined;
    const done = runSandboxCli(
      { host: '0.0.0.0', port: 0, dataDir: dir, partnerKey: 'pk-operator-secret-9876' },
      { log: (l) => lines.push(l), signal: stop.signal, onStarted: (s) => (sandbox = s) },
    );
    await expect.poll(() => sandbox).toBeDefined();
    const out = lines.join('\n');
    expect(out).toContain(`admin token generated into ${join(dir, SANDBOX_ADMIN_TOKEN_FILE)} (mode 0600)`);
    expect(out).not.toContain(sandbox?.adminToken as string);
    expect(out).not.toContain('pk-operator-secret-9876');
    expect(out).toContain('…9876');
    stop.abort();
    await done;
  });
});

describe('keys in the admin API', () => {
  it('are listed as hints only; the full key is given once, when it is created', async () => {
    const sandbox = await start();
    const created = await call(sandbox.url, 'POST', '/sandbox/workspaces');
    const dik = created.json.dataImportKey as string;
    const rest = (await call(sandbox.url, 'POST', `/sandbox/workspaces/${dik}/rest-keys`)).json.restApiKey as string;
    expect(rest).toMatch(/^sandbox-rest-/);

    const listed = await call(sandbox.url, 'GET', '/sandbox/workspaces');
    expect(listed.json.items).toEqual([{ dataImportKeyHint: `…${dik.slice(-4)}`, users: 0, cohorts: 0 }]);
    for (const path of [
      '/sandbox/workspaces',
      `/sandbox/workspaces/${dik}/profiles`,
      '/sandbox/requests',
      '/sandbox/stats',
    ]) {
      const text = JSON.stringify((await call(sandbox.url, 'GET', path)).json);
      for (const key of [dik, rest, 'sandbox-partner-key']) expect(text, `${path} shows ${key}`).not.toContain(key);
    }
  });
});

describe('state on disk', () => {
  /** A workspace with two users, a cohort holding u1 and a custom attribute on u2, set up over HTTP. */
  async function populate(sandbox: RunningSandbox, token?: string) {
    const auth = token === undefined ? {} : { token };
    const dik = (await call(sandbox.url, 'POST', '/sandbox/workspaces', auth)).json.dataImportKey as string;
    await call(sandbox.url, 'POST', `/sandbox/workspaces/${dik}/users`, {
      ...auth,
      body: { users: [{ external_id: 'u1', device_ids: ['d1'] }, { external_id: 'u2' }] },
    });
    const keys = { partner_api_key: 'sandbox-partner-key', client_secret: dik, cohort_id: 'c-1' };
    const named = { ...keys, name: 'Churn', created_at: '2030-01-01T00:00:00Z' };
    expect((await call(sandbox.url, 'POST', '/partners/cohort-sync/cohorts', { body: named })).status).toBe(201);
    const changes = { ...keys, cohort_changes: [{ user_ids: ['u1', 'ghost'] }] };
    expect((await call(sandbox.url, 'POST', '/partners/cohort-sync/cohorts/users', { body: changes })).status).toBe(
      201,
    );
    const rest = (await call(sandbox.url, 'POST', `/sandbox/workspaces/${dik}/rest-keys`, auth)).json.restApiKey;
    const tracked = await fetch(`${sandbox.url}/users/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${rest}` },
      body: JSON.stringify({ attributes: [{ external_id: 'u2', _update_existing_only: true, vip: true }] }),
    });
    expect(tracked.status).toBe(201);
    return { dik, rest: rest as string };
  }

  function expectPopulated(sandbox: RunningSandbox, dik: string) {
    expect(sandbox.state.listWorkspaces()).toEqual([{ dataImportKey: dik, users: 2, cohorts: 1 }]);
    expect(sandbox.state.cohortUsers(dik, 'c-1')).toEqual({
      items: [{ external_id: 'u1', device_ids: ['d1'], aliases: [] }],
      size: 1,
    });
    expect(sandbox.state.cohortIdentifiers(dik, 'c-1').user_ids).toEqual(['ghost', 'u1']);
    expect(sandbox.state.workspace(dik).profiles()).toContainEqual({
      external_id: 'u2',
      device_ids: [],
      aliases: [],
      custom_attributes: { vip: true },
    });
  }

  it('keeps workspaces, users, cohorts, attributes and keys across a restart; reset persists the empty state', async () => {
    const first = await start({ dataDir: dir });
    const { dik, rest } = await populate(first);
    await first.close();
    expect(statSync(join(dir, SNAPSHOT_FILE)).mode & 0o777).toBe(0o600);

    const second = await start({ dataDir: dir });
    expectPopulated(second, dik);
    // The REST key still opens its workspace; new profiles get ids of their own (no clash with restored ones).
    const tracked = await fetch(`${second.url}/users/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${rest}` },
      body: JSON.stringify({ attributes: [{ external_id: 'u3', tier: 'gold' }] }),
    });
    expect(tracked.status).toBe(201);
    expect(second.state.workspace(dik).users.size).toBe(3);
    expect((await call(second.url, 'POST', '/sandbox/reset')).status).toBe(200);
    await second.close();

    const third = await start({ dataDir: dir });
    expect(third.state.listWorkspaces()).toEqual([]);
  });

  it('is written a moment after a change, before any close (a crash then loses at most that moment)', async () => {
    const sandbox = await start({ dataDir: dir, snapshotDebounceMs: 20 });
    const { dik } = await populate(sandbox);
    const onDisk = (): string => {
      try {
        return readFileSync(join(dir, SNAPSHOT_FILE), 'utf8');
      } catch {
        return '';
      }
    };
    // The last change of populate() is the custom attribute.
    await expect.poll(() => onDisk().includes('"vip"')).toBe(true);
    // A second sandbox reading the file as it is now (no close of the first) sees everything.
    const reader = await start({ dataDir: mkdtempSync(join(dir, 'copy-')) });
    reader.state.restore(JSON.parse(readFileSync(join(dir, SNAPSHOT_FILE), 'utf8')));
    expectPopulated(reader, dik);
  });

  it('refuses a damaged snapshot file, naming it, rather than start empty', async () => {
    const first = await start({ dataDir: dir });
    await populate(first);
    await first.close();
    const file = join(dir, SNAPSHOT_FILE);
    const text = readFileSync(file, 'utf8');
    await import('node:fs').then((fs) => fs.writeFileSync(file, text.slice(0, text.length / 2)));
    await expect(startSandbox({ dataDir: dir })).rejects.toThrow(`${file} is not valid JSON`);
  });

  it('the sandbox embedded in `cohort-sync serve` keeps its state in DATA_DIR and wants a token on HOST=0.0.0.0', async () => {
    const config = loadConfig({
      DATA_DIR: dir,
      HOST: '0.0.0.0',
      PORT: '0',
      BRAZE_SANDBOX: 'on',
      BRAZE_SANDBOX_PORT: '0',
      LOG_LEVEL: 'silent',
    });
    const printed: string[] = [];
    const first = await startService(config, { role: 'serve', print: (l) => printed.push(l) });
    const sandbox = first.sandbox as RunningSandbox;
    const token = readFileSync(join(dir, SANDBOX_ADMIN_TOKEN_FILE), 'utf8').trim();
    expect(printed.join('\n')).toContain(`admin token generated into ${join(dir, SANDBOX_ADMIN_TOKEN_FILE)}`);
    expect(printed.join('\n')).not.toContain(token);
    expect((await call(sandbox.url, 'GET', '/sandbox/workspaces')).status).toBe(401);
    const { dik } = await populate(sandbox, token);
    await first.close();

    const second = await startService(config, { role: 'serve', print: () => {} });
    try {
      expectPopulated(second.sandbox as RunningSandbox, dik);
      expect((await call((second.sandbox as RunningSandbox).url, 'GET', '/sandbox/stats', { token })).status).toBe(200);
    } finally {
      await second.close();
    }
  });
});
