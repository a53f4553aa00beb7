// Issue 12, item 14 (docs/security.md, "Store under load"): a SQLite write that meets another connection's
// lock waits busy_timeout, is retried by us with backoff a few times, and only then answers 503 store_busy
// with Retry-After. The lock is held by another process, as in production (a `migrate`, an sqlite3 shell):
// SQLite's busy wait blocks this process's event loop, so a holder in this process could never let go.
import { type ChildProcess, spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BUSY_RETRY } from '../../src/adapters/store/busy-retry.ts';
import type { ErrorBody } from '../../src/entry/http/errors.ts';
import { ENGINES } from '../support/engines.ts';
import { type Api, json, startApi } from './api-support.ts';

const BUSY_TIMEOUT_MS = 200;

/** Another process takes the write lock, says so, holds it `holdMs`, then lets go and exits. */
async function holdWriteLock(file: string, holdMs: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const db = new (require('better-sqlite3'))(process.argv[1]);
       db.exec('BEGIN IMMEDIATE');
       process.stdout.write('locked\\n');
       Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.argv[2]));
       db.exec('ROLLBACK');
       db.close();`,
      file,
      String(holdMs),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('locked')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`lock holder exited (${code}) before locking`)));
  });
  return child;
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve));

describe('a busy SQLite store (item 14)', () => {
  let api: Api;
  let file: string;
  beforeAll(async () => {
    api = await startApi(ENGINES[0]!);
    const location = api.h.store.location;
    if (location.kind !== 'sqlite') throw new Error('sqlite only');
    file = location.file;
    // The default (2.5 s per attempt) would slow the suite down.
    await sql.raw(`pragma busy_timeout = ${BUSY_TIMEOUT_MS}`).execute(api.h.store.raw.db);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('retries past busy_timeout and succeeds when the lock is let go a little later', async () => {
    // Held for three busy_timeouts: one SQLite wait cannot outlast it, our retries can.
    const holder = await holdWriteLock(file, 3 * BUSY_TIMEOUT_MS);
    try {
      const created = await api.call('POST', '/api/v1/projects', { body: { name: 'Patient' } });
      expect(created.statusCode, created.body).toBe(201);
      const listed = await api.call('GET', '/api/v1/projects');
      expect(json<{ items: { name: string }[] }>(listed).items.map((p) => p.name)).toContain('Patient');
    } finally {
      await exited(holder);
    }
  });

  it('answers 503 store_busy with Retry-After once every retry met the lock, and changes nothing', async () => {
    const before = new Database(file, { readonly: true });
    const count = () => (before.prepare('select count(*) as n from projects').get() as { n: number }).n;
    const projects = count();
    const holder = await holdWriteLock(file, 60_000);
    try {
      const started = Date.now();
      const res = await api.call('POST', '/api/v1/projects', { body: { name: 'Blocked' } });
      expect(res.statusCode, res.body).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(json<ErrorBody>(res).error.code).toBe('store_busy');
      // Every attempt waited busy_timeout (lower bound only: a loaded machine is slower, never faster).
      expect(Date.now() - started).toBeGreaterThanOrEqual((DEFAULT_BUSY_RETRY.retries + 1) * BUSY_TIMEOUT_MS * 0.9);
    } finally {
      holder.kill();
      await exited(holder);
    }
    expect(count()).toBe(projects);
    before.close();
    const ok = await api.call('POST', '/api/v1/projects', { body: { name: 'Unblocked' } });
    expect(ok.statusCode).toBe(201);
  });
});
