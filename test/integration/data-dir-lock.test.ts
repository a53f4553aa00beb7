// The embedded store belongs to one process (docs/embedded-store.md): real `cohort-sync serve` processes on
// one DATA_DIR — the second is refused and names the holder, the lock goes with its holder on SIGKILL and on
// a clean exit, and the process that takes over voids the leases its dead predecessor left.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirInUseError, HOLDER_FILE, lockDataDir } from '../../src/adapters/store/data-dir-lock.ts';
import { openStore } from '../../src/adapters/store/index.ts';
import { waitUntil } from '../support/waiting.ts';

const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'cohort-sync.js');
const dir = mkdtempSync(join(tmpdir(), 'cs-lock-'));
const children: ChildProcess[] = [];

interface Serve {
  readonly child: ChildProcess;
  out: string;
  err: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function serve(dataDir = dir): Serve {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      BRAZE_SANDBOX: 'off',
      LOG_LEVEL: 'silent',
      COHORT_SYNC_ADMIN_TOKEN: 'cs_admin_lock_test_0123456789',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const s: Serve = {
    child,
    out: '',
    err: '',
    exited: new Promise((done) => child.once('exit', (code, signal) => done({ code, signal }))),
  };
  child.stdout!.on('data', (d: Buffer) => {
    s.out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    s.err += d.toString();
  });
  return s;
}

const listening = (s: Serve) => waitUntil('serve to listen', () => s.out.includes('listening on'), 30_000, 20);

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('the DATA_DIR lock', () => {
  it('refuses a second serve naming the holder, is released by SIGKILL and by exit, and voids dead leases', async () => {
    // A lease a killed process left behind, valid for another hour.
    const store = await openStore({ kind: 'sqlite', file: join(dir, 'cohort-sync.db') });
    const now = new Date().toISOString();
    await store.raw.db
      .insertInto('braze_cohorts')
      .values({
        id: 'bc_dead',
        project_id: 'prj_x',
        workspace_key: 'wk',
        cohort_id: 'coh_x',
        named_as: null,
        created_at: now,
        lease_owner: 'gone-host:1:dead',
        lease_until: new Date(Date.now() + 3_600_000).toISOString(),
        fence: 3,
        dirty: 0,
        change_seq: 0,
      })
      .execute();
    const leaseOwner = async () =>
      (
        await sql<{ o: string | null }>`select lease_owner as o from braze_cohorts where id = 'bc_dead'`.execute(
          store.raw.db,
        )
      ).rows[0]?.o ?? null;

    const first = serve();
    await listening(first);
    expect(await leaseOwner()).toBeNull();
    // In-process too: the lock is the operating system's, not a file anyone could overlook.
    expect(() => lockDataDir(dir, 'test')).toThrow(DataDirInUseError);

    const second = serve();
    const refused = await second.exited;
    expect(refused.code).not.toBe(0);
    expect(second.err).toContain(`in use by process ${first.child.pid}`);
    expect(second.err).toContain(dir);
    expect(second.out).not.toContain('listening on');

    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    await store.raw.db
      .updateTable('braze_cohorts')
      .set({ lease_owner: 'killed-serve', lease_until: new Date(Date.now() + 3_600_000).toISOString() })
      .where('id', '=', 'bc_dead')
      .execute();

    const third = serve();
    await listening(third);
    expect(await leaseOwner()).toBeNull();
    third.child.kill('SIGTERM');
    // The whole exit and stderr in the message: a signal here would say how the process died.
    expect({ ...(await third.exited), err: third.err }).toEqual({ code: 0, signal: null, err: '' });
    const mine = lockDataDir(dir, 'test');
    mine.release();
    await store.close();
  }, 90_000);

  it('stops cleanly on a SIGTERM that comes while it starts, once the start is done', async () => {
    // The holder file is written as the start begins: a supervisor stopping a process that is still coming
    // up must not meet the signal's default action (killed, no clean close, nothing released in order).
    const early = mkdtempSync(join(tmpdir(), 'cs-lock-early-'));
    try {
      const s = serve(early);
      await waitUntil('the start to take the lock', () => existsSync(join(early, HOLDER_FILE)), 30_000, 5);
      s.child.kill('SIGTERM');
      expect({ ...(await s.exited), err: s.err }).toEqual({ code: 0, signal: null, err: '' });
      expect(existsSync(join(early, HOLDER_FILE))).toBe(false);
      lockDataDir(early, 'test').release();
    } finally {
      rmSync(early, { recursive: true, force: true });
    }
  }, 90_000);
});
