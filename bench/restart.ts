// The restart bench: a real `cohort-sync serve` on the embedded store sends a large first sync to the Braze
// sandbox (a process of its own, pacing at the 250,000/hour cap); it is SIGKILLed mid-run and a new `serve` is
// started on the same DATA_DIR. Timed from the SIGKILL to the new process listening and to the first membership
// request it sends, which shows that it took its dead predecessor's lease over at once rather than after the
// lease's TTL (60 s, the baseline: what a restart waited before, docs/embedded-store.md). Nothing may be lost:
// at the end the sandbox holds exactly the cohort.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
  readonly leaseTtlSeconds: number;
  readonly held: number;
  readonly lost: number;
}

function serve(dataDir: string, sandboxUrl: string): { child: ChildProcess; url: Promise<string> } {
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
      LOG_LEVEL: 'silent',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = new Promise<string>((done, fail) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m?.[1]) done(m[1]);
    });
    child.once('exit', (code) => fail(new Error(`serve exited (${code}) before listening`)));
  });
  return { child, url };
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
    children.push(second.child);
    api = await second.url;
    const listeningAt = performance.timeOrigin + performance.now();
    type Report = { answered: [number, number][]; userIds: string[] };
    let resumedAt: number | undefined;
    for (;;) {
      const r = await ask<Report>({ op: 'report', key, cohortId: cohort.id });
      // Answers in the first second after the kill are the dead process's requests already in flight (starting
      // Node.js with the TypeScript loader alone takes longer than that); the new process's come after.
      resumedAt ??= r.answered.find(([t]) => t > killedAt + IN_FLIGHT_MS)?.[0];
      const run = await call('GET', `/projects/${project.id}/runs/${runId}`);
      if (['succeeded', 'failed', 'cancelled'].includes(String(run.status))) {
        const held = new Set(r.userIds);
        const lost = ids.filter((id) => !held.has(id)).length;
        if (resumedAt === undefined) throw new Error('no membership request after the restart');
        return {
          members,
          acknowledgedAtKill,
          killToListeningSeconds: (listeningAt - killedAt) / 1000,
          killToFirstRequestSeconds: (resumedAt - killedAt) / 1000,
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
