// Secrets stay secret (docs/product.md §3, docs/architecture.md "Logs"): a Data Import Key, bearer tokens and the
// ingest key never reach the log, and no Data Import Key is in the SQLite file in plain text — after a
// whole flow through the API, including refused requests, a failing run and a connection test.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/adapters/log/logger.ts';
import { startWorker, type Worker } from '../../src/app/worker.ts';
import { type Composed, compose } from '../../src/entry/compose.ts';
import { buildHttpApp } from '../../src/entry/http/app.ts';
import { type RunningSandbox, startSandbox } from '../../src/sandbox/index.ts';
import { ENGINES } from '../support/engines.ts';
import { tokenTools, waitForRun } from '../support/flows.ts';

const ADMIN = `cs_admin_${randomBytes(16).toString('hex')}`;

describe('secrets in the store file and the log (SQLite)', () => {
  const lines: string[] = [];
  let sandbox: RunningSandbox;
  let composed: Composed;
  let worker: Worker;
  let dbFile: string;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0 });
    const fresh = await ENGINES[0]!.fresh();
    if (fresh.location.kind !== 'sqlite') throw new Error('the first engine is SQLite');
    dbFile = fresh.location.file;
    drop = fresh.drop;
    // The production logger (with its redaction) at the most verbose level, writing into memory.
    const logger = createLogger({ level: 'trace', destination: { write: (s: string) => void lines.push(s) } });
    composed = await compose({
      store: fresh.location,
      secretKey: randomBytes(32),
      logger,
      braze: {
        partnerSlug: 'cohort-sync',
        partnerKeys: { US: 'sandbox-partner-key' },
        requestsPerHour: 250_000,
        retry: { baseDelayMs: 5, maxDelayMs: 20, maxAttempts: 3 },
        requestTimeoutMs: 2_000,
      },
      settings: { allowedEndpoints: [sandbox.url], leaseTtlMs: 5_000 },
    });
    worker = await startWorker(composed.deps, { owner: composed.owner, sweepEveryMs: 200 });
  });
  afterAll(async () => {
    await worker?.stop();
    await composed?.store.close();
    await sandbox?.close();
    await drop?.();
  });

  it('never writes a key or token in plain text', async () => {
    const app = await buildHttpApp({ deps: composed.deps, adminToken: ADMIN, tokens: tokenTools });
    const call = async (
      method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
      url: string,
      body?: unknown,
      token = ADMIN,
    ) => {
      const res = await app.inject({
        method,
        url,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
      });
      return { status: res.statusCode, body: res.body, json: () => res.json() as Record<string, unknown> };
    };
    const keys = [
      sandbox.state.createWorkspace(),
      sandbox.state.createWorkspace(),
      sandbox.state.createWorkspace(),
    ] as const;
    sandbox.state.seedUsers(keys[0], [{ external_id: 'u1' }]);
    sandbox.state.seedUsers(keys[2], [{ external_id: 'u1' }]);

    const project = (await call('POST', '/api/v1/projects', { name: 'Secretive' })).json();
    const p = `/api/v1/projects/${project.id as string}`;
    const ingestKey = project.ingestKey as string;
    const editor = (await call('POST', `${p}/tokens`, { role: 'editor' })).json().token as string;
    const responses: string[] = [];
    const keep = <R extends { status: number; body: string }>(r: R): R => (responses.push(r.body), r);

    keep(
      await call(
        'PUT',
        `${p}/destinations/braze`,
        { enabled: true, endpoint: sandbox.url, dataImportKey: keys[0], mapping: { type: 'user_id' } },
        editor,
      ),
    );
    const named = keep(
      await call(
        'POST',
        `${p}/destinations/braze/targets`,
        { name: 'Second', endpoint: sandbox.url, dataImportKey: keys[1], mapping: { type: 'device_id' } },
        editor,
      ),
    ).json();
    // Refused requests that carry a key: their error answers and log lines must not echo it.
    keep(
      await call(
        'POST',
        `${p}/destinations/braze/targets`,
        { name: 'Second', endpoint: sandbox.url, dataImportKey: keys[1], mapping: { type: 'device_id' } },
        editor,
      ),
    );
    keep(
      await call(
        'POST',
        `${p}/destinations/braze/targets`,
        {
          name: 'Bad',
          endpoint: 'https://nowhere.example',
          dataImportKey: keys[1],
          mapping: { type: 'nope' },
          extra: keys[1],
        },
        editor,
      ),
    );
    keep(
      await call('PATCH', `${p}/destinations/braze/targets/${named.id as string}`, { dataImportKey: keys[2] }, editor),
    );
    keep(await call('POST', `${p}/destinations/braze/targets/${named.id as string}/test`, undefined, editor));

    const cohort = (await call('POST', `${p}/cohorts`, { name: 'C', type: 'static' }, editor)).json();
    await call(
      'POST',
      `${p}/cohorts/${cohort.id as string}/members`,
      { add: [{ user_id: 'u1', device_id: 'd1' }] },
      editor,
    );
    // One run that fails on the credentials (Braze answers 401), one that succeeds.
    sandbox.state.injectFaults([{ status: 401, path: 'cohorts', count: 1 }]);
    const failing = (await call('POST', `${p}/syncs`, { cohortId: cohort.id, cadence: 'daily' }, editor)).json() as {
      id: string;
      lastRun: { id: string };
    };
    expect((await waitForRun(composed.deps, failing.lastRun.id)).status).toBe('failed');
    const ok = (
      await call('POST', `${p}/syncs`, { cohortId: cohort.id, targetId: named.id, cadence: 'one_time' }, editor)
    ).json() as { lastRun: { id: string } };
    expect((await waitForRun(composed.deps, ok.lastRun.id)).status).toBe('succeeded');
    for (const runId of [failing.lastRun.id, ok.lastRun.id]) {
      keep(await call('GET', `${p}/runs/${runId}`, undefined, editor));
      keep(await call('GET', `${p}/runs/${runId}/requests`, undefined, editor));
    }
    keep(await call('GET', `${p}/destinations/braze`, undefined, editor));
    await composed.queue.idle();
    await app.close();

    const secrets = {
      'data import key 1': keys[0],
      'data import key 2': keys[1],
      'data import key 3': keys[2],
      'admin token': ADMIN,
      'editor token': editor,
      'ingest key': ingestKey,
    };
    // The flow really logged: requests, runs and the Braze client all wrote lines.
    const log = lines.join('');
    expect(log).toContain('"msg":"request"');
    expect(log).toContain('run failed');
    for (const [what, secret] of Object.entries(secrets))
      expect(log.includes(secret), `${what} in the log`).toBe(false);
    for (const body of responses)
      for (const key of keys)
        expect(body.includes(key), `a Data Import Key in an answer: ${body.slice(0, 200)}`).toBe(false);

    // The SQLite file and its WAL, byte for byte.
    const dir = dirname(dbFile);
    const files = readdirSync(dir).filter((f) => f.startsWith('store.db'));
    expect(files).toContain('store.db');
    for (const f of files) {
      const bytes = readFileSync(join(dir, f));
      for (const key of keys) expect(bytes.includes(Buffer.from(key, 'utf8')), `a Data Import Key in ${f}`).toBe(false);
      for (const token of [ADMIN, editor])
        expect(bytes.includes(Buffer.from(token, 'utf8')), `a bearer token in ${f}`).toBe(false);
    }
  });
});
