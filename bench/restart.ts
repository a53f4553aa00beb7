// The restart bench: a real `cohort-sync serve` on the embedded store sends a large first sync to the Braze
// sandbox (a process of its own, pacing at the 250,000/hour cap); it is SIGKILLed mid-run and a new `serve` is
// started on the same DATA_DIR. Timed from the SIGKILL to the new process listening and to the first membership
// request it sends, which shows that it took its dead predecessor's lease over at once rather than after the
// lease's TTL (60 s, the baseline: what a restart waited before, docs/embedded-store.md). Nothing may be lost:
// at the end the sandbox holds exactly the cohort.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forkWithAsk } from './child-ipc.ts';

const BIN = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', 'bin', 'cohort-sync.js');
const SANDBOX_CHILD = fileURLToPath(new URL('./sandbox-child.ts', import.meta.url));
const ADMIN = 'cs_admin_bench_restart_0123456789abcdef';
const LEASE_TTL_SECONDS = 60;
const IN_FLIGHT_MS = 1_000;

export interface RestartResult {
  readonly members: number;
  readonly acknowledgedAtKill: number;
  readonly killToListeningSeconds: number;
  readonly killToFirstRequestSeconds: number;
  /**
   * Where the new process's start went, in seconds after the SIGKILL, from its own log lines: its modules
   * loaded (the first line), its predecessor's leases voided, the run resumed, and the HTTP API listening.
   */
  readonly breakdown: {
    readonly spawned: number;
    readonly modulesLoaded: number | null;
    readonly leasesVoided: number | null;
    readonly resuming: number | null;
    readonly listening: number;
    readonly firstRequest: number;
  };
  /** CPU time the new process had used when it was listening (user + system), seconds. */
  readonly startCpuSeconds: number | null;
  readonly leaseTtlSeconds: number;
  readonly held: number;
  readonly lost: number;
}

/** Epoch ms of the first log line whose msg starts with `prefix`. */
type LogTimes = Map<string, number>;

function serve(dataDir: string, sandboxUrl: string): { child: ChildProcess; url: Promise<string>; logged: LogTimes } {
  const logged: LogTimes = new Map();
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dataDir,
      PORT: '0',
      BRAZE_SANDBOX: 'off',
      BRAZE_ALLOWED_ENDPOINTS: sandboxUrl,
      BRAZE_PARTNER_API_KEY_US: 'sandbox-partner-key',
      COHORT_SYNC_ADMIN_TOKEN: ADMIN,
      // Info lines carry the times of the start-up steps (their msg and ISO time); nothing else is logged per batch.
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = new Promise<string>((done, fail) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      out = lines.pop() ?? '';
      for (const line of lines) {
        const m = /listening on (\S+)/.exec(line);
        if (m?.[1]) done(m[1]);
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg?: string; time?: string };
        if (entry.msg && entry.time && !logged.has(entry.msg)) logged.set(entry.msg, Date.parse(entry.time));
      }
    });
    child.once('exit', (code) => fail(new Error(`serve exited (${code}) before listening`)));
  });
  return { child, url, logged };
}

const firstLogged = (logged: LogTimes, prefix: string): number | null => {
  for (const [msg, at] of logged) if (msg.startsWith(prefix)) return at;
  return null;
};

/** user + system CPU seconds of a live process, from /proc (Linux); null elsewhere. */
function cpuSecondsOf(pid: number | undefined): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

export async function benchRestart(members: number, log: (line: string) => void): Promise<RestartResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cohort-sync-bench-restart-'));
  const { child: sandboxChild, ask } = forkWithAsk(SANDBOX_CHILD, ['250000'], { serialization: 'advanced' });
  const children: ChildProcess[] = [sandboxChild];
  try {
    const { url: sandboxUrl } = await ask<{ url: string }>({}, 0);
    const first = serve(dir, sandboxUrl);
    children.push(first.child);
    let api = await first.url;
    const call = async (method: string, path: string, body?: unknown, type = 'application/json') => {
      const res = await fetch(`${api}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN}`, ...(body !== undefined ? { 'content-type': type } : {}) },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
      return JSON.parse(text) as Record<string, unknown> & { id: string };
    };
    const project = await call('POST', '/projects', { name: 'Restart bench' });
    const key = (await ask<{ key: string }>({ op: 'workspace' })).key;
    await call('PUT', `/projects/${project.id}/destinations/braze`, {
      enabled: true,
      endpoint: sandboxUrl,
      dataImportKey: key,
      mapping: { type: 'user_id' },
    });
    const cohort = await call('POST', `/projects/${project.id}/cohorts`, { name: 'Restart', type: 'static' });
    const ids = Array.from(
      { length: members },
      (_, i) => `rst_${String((i * 2654435761) % 4294967296).padStart(10, '0')}`,
    );
    await call(
      'PUT',
      `/projects/${project.id}/cohorts/${cohort.id}/members`,
      `user_id\n${ids.join('\n')}\n`,
      'text/csv',
    );
    const sync = await call('POST', `/projects/${project.id}/syncs`, { cohortId: cohort.id, cadence: 'one_time' });
    const runId = (sync.lastRun as { id: string }).id;
    const added = async () =>
      Number(((await call('GET', `/projects/${project.id}/runs/${runId}`)).counts as { added: number }).added);
    // Kill once a quarter of the cohort is acknowledged: the run is then sending, with batches in flight.
    let acknowledgedAtKill = 0;
    while ((acknowledgedAtKill = await added()) < members / 4) await new Promise((r) => setTimeout(r, 100));
    const killedAt = performance.timeOrigin + performance.now();
    first.child.kill('SIGKILL');
    log(`[restart] SIGKILL with ${acknowledgedAtKill} of ${members} acknowledged`);
    const second = serve(dir, sandboxUrl);
    const spawnedAt = performance.timeOrigin + performance.now();
    children.push(second.child);
    api = await second.url;
    const listeningAt = performance.timeOrigin + performance.now();
    const startCpuSeconds = cpuSecondsOf(second.child.pid);
    let resumedAt: number | undefined;
    for (;;) {
      const r = await ask<{ answered: [number, number][] }>({ op: 'report' });
      // Answers in the first second after the kill are the dead process's requests already in flight (starting
      // Node.js with the TypeScript loader alone takes longer than that); the new process's come after.
      resumedAt ??= r.answered.find(([t]) => t > killedAt + IN_FLIGHT_MS)?.[0];
      const run = await call('GET', `/projects/${project.id}/runs/${runId}`);
      if (['succeeded', 'failed', 'cancelled'].includes(String(run.status))) {
        const page = await ask<{ userIds: string[] }>({
          op: 'ids',
          key,
          cohortId: cohort.id,
          offset: 0,
          limit: members * 2,
        });
        const held = new Set(page.userIds);
        const lost = ids.filter((id) => !held.has(id)).length;
        if (resumedAt === undefined) throw new Error('no membership request after the restart');
        const since = (at: number | null) => (at === null ? null : (at - killedAt) / 1000);
        return {
          members,
          acknowledgedAtKill,
          killToListeningSeconds: (listeningAt - killedAt) / 1000,
          killToFirstRequestSeconds: (resumedAt - killedAt) / 1000,
          breakdown: {
            spawned: (spawnedAt - killedAt) / 1000,
            modulesLoaded: since(firstLogged(second.logged, 'starting cohort-sync')),
            leasesVoided: since(firstLogged(second.logged, 'took over the leases')),
            resuming: since(firstLogged(second.logged, 'resuming a run')),
            listening: (listeningAt - killedAt) / 1000,
            firstRequest: (resumedAt - killedAt) / 1000,
          },
          startCpuSeconds,
          leaseTtlSeconds: LEASE_TTL_SECONDS,
          held: held.size,
          lost,
        };
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    for (const c of children.reverse()) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
