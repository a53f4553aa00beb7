// The upload bench: a CSV of N members replaces a static cohort through the real HTTP API (PUT …/members,
// text/csv, streamed from the file over a socket), in a process of its own so its peak RSS is the server's and
// the streaming client's alone. Baseline, same file, same run: SQLite's own command-line `.import --csv` into a
// fresh database (the sqlite3 Debian package), timed with GNU time for its CPU and peak RSS. Also POST …/members
// with JSON bodies of 10,000 members (the most one body may hold). The machine is shared, so CPU time
// (process.cpuUsage of the server process, which also streams the file to itself) is reported beside wall time.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pino from 'pino';
import { generateToken, hashToken } from '../src/adapters/crypto/secrets.ts';
import { compose } from '../src/entry/compose.ts';
import { buildHttpApp } from '../src/entry/http/app.ts';
import { peakRssMb } from './rss.ts';
import { throwawayStore } from './throwaway-store.ts';

const SELF = fileURLToPath(import.meta.url);
const ADMIN = 'cs_admin_bench_upload_0123456789abcdef';

export interface UploadResult {
  readonly rows: number;
  readonly fileMb: number;
  readonly uploadSeconds: number;
  readonly rowsPerSecond: number;
  /** CPU seconds (user + system) of the process during the upload. */
  readonly uploadCpuSeconds: number;
  /** Peak RSS before the upload (the started server) and after it. */
  readonly peakRssBeforeMb: number;
  readonly peakRssMb: number;
  readonly accepted: number;
  readonly size: number;
  readonly importSeconds: number | null;
  readonly importCpuSeconds: number | null;
  readonly importPeakRssMb: number | null;
  readonly postRows: number;
  readonly postSeconds: number;
  readonly postRowsPerSecond: number;
  readonly postCpuSeconds: number;
  /** Requests answered 503 store_busy and retried. */
  readonly busyRetries: number;
  readonly loadBefore: number[];
  readonly loadAfter: number[];
}

/** user_id column only: `csv_` + a 10-digit scramble of i (a bijection below 2^32), so ids are unique and unordered. */
async function writeCsv(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  const write = (s: string) =>
    out.write(s) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r()));
  await write('user_id\n');
  const chunk = 10_000;
  for (let i = 1; i <= rows; i += chunk) {
    const lines: string[] = [];
    for (let j = i; j < Math.min(i + chunk, rows + 1); j++)
      lines.push(`csv_${String((j * 2654435761) % 4294967296).padStart(10, '0')}`);
    await write(`${lines.join('\n')}\n`);
  }
  await new Promise<void>((r) => out.end(() => r()));
}

/** sqlite3's .import of the same file; null when the sqlite3 command is not installed. */
function sqliteImport(file: string, dir: string): { seconds: number; cpuSeconds: number; peakRssMb: number } | null {
  const db = join(dir, 'import.db');
  const start = performance.now();
  // The store's settings (WAL, synchronous = NORMAL), so the baseline writes as the service does.
  const r = spawnSync(
    '/usr/bin/time',
    [
      '-f',
      '%M %U %S',
      'sqlite3',
      '-cmd',
      'pragma journal_mode = wal',
      '-cmd',
      'pragma synchronous = normal',
      db,
      `.import --csv ${file} members`,
    ],
    { encoding: 'utf8' },
  );
  const seconds = (performance.now() - start) / 1000;
  if (r.error || r.status !== 0) return null;
  const [kb, user, sys] = (r.stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
  return { seconds, cpuSeconds: (user ?? 0) + (sys ?? 0), peakRssMb: (kb ?? 0) / 1024 };
}

const cpuSince = (from: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
};
const load = () => loadavg().map((x) => Number(x.toFixed(2)));

/** `databaseUrl`: upload into a throw-away schema on that PostgreSQL server instead of a SQLite file. */
export function benchUploadInChild(rows: number, databaseUrl?: string): UploadResult {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', SELF, String(rows), ...(databaseUrl ? [databaseUrl] : [])],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`upload bench failed with status ${r.status}: ${r.stdout}`);
  return JSON.parse(line.slice('RESULT '.length)) as UploadResult;
}

async function benchUpload(
  rows: number,
  databaseUrl: string | undefined,
  log: (line: string) => void,
): Promise<UploadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cohort-sync-bench-upload-'));
  const store = await throwawayStore(databaseUrl ? 'postgres' : 'sqlite', databaseUrl, { prefix: 'upload', dir });
  try {
    const file = join(dir, 'members.csv');
    await writeCsv(file, rows);
    const fileMb = statSync(file).size / 2 ** 20;
    log(`[upload] ${rows} rows, ${fileMb.toFixed(0)} MB of CSV`);
    const baseline = sqliteImport(file, dir);
    log(
      `[upload] sqlite3 .import: ${baseline ? `${baseline.seconds.toFixed(1)} s, CPU ${baseline.cpuSeconds.toFixed(1)} s` : 'sqlite3 not installed'}`,
    );

    const composed = await compose({
      store: store.location,
      secretKey: randomBytes(32),
      logger: pino({ level: 'silent' }),
      braze: { partnerSlug: 'cohort-sync', partnerKeys: {}, requestsPerHour: 250_000 },
    });
    const app = await buildHttpApp({
      deps: composed.deps,
      adminToken: ADMIN,
      tokens: { generate: generateToken, hash: hashToken },
    });
    const url = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
    // A 503 store_busy (the background checkpointer restarting a WAL that a large upload grew) is retried
    // after its Retry-After, as a client should; the waits are counted and reported.
    let busyRetries = 0;
    const call = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
      for (;;) {
        const res = await fetch(new URL(path, url), {
          method,
          headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        const text = await res.text();
        if (res.status === 503 && busyRetries < 60) {
          busyRetries += 1;
          await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get('retry-after') ?? 1)));
          continue;
        }
        if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
        return JSON.parse(text) as Record<string, unknown>;
      }
    };
    try {
      const project = await call('POST', '/api/v1/projects', { name: 'Upload bench' });
      const p = `/api/v1/projects/${project.id as string}`;
      const cohort = await call('POST', `${p}/cohorts`, { name: 'Uploaded', type: 'static' });
      const loadBefore = load();
      const peakRssBeforeMb = peakRssMb();
      const cpu = process.cpuUsage();
      const start = performance.now();
      const out = await new Promise<Record<string, unknown>>((done, fail) => {
        const req = request(
          new URL(`${p}/cohorts/${cohort.id as string}/members`, url),
          { method: 'PUT', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'text/csv' } },
          (res) => {
            let text = '';
            res.on('data', (d: Buffer) => {
              text += d.toString();
            });
            res.on('end', () =>
              res.statusCode === 200 ? done(JSON.parse(text)) : fail(new Error(`${res.statusCode} ${text}`)),
            );
          },
        );
        req.on('error', fail);
        createReadStream(file).pipe(req);
      });
      const uploadSeconds = (performance.now() - start) / 1000;
      const uploadCpuSeconds = cpuSince(cpu);
      log(
        `[upload] PUT text/csv: ${uploadSeconds.toFixed(1)} s, CPU ${uploadCpuSeconds.toFixed(1)} s, peak RSS ${peakRssMb().toFixed(0)} MB`,
      );

      // POST …/members, 10,000 new members a body (its limit), 30 bodies.
      const other = await call('POST', `${p}/cohorts`, { name: 'Posted', type: 'static' });
      const perBody = 10_000;
      const bodies = 30;
      const postCpu = process.cpuUsage();
      const postStart = performance.now();
      for (let b = 0; b < bodies; b++) {
        const add = Array.from({ length: perBody }, (_, i) => ({ user_id: `post_${b}_${i}` }));
        await call('POST', `${p}/cohorts/${other.id as string}/members`, { add });
      }
      const postSeconds = (performance.now() - postStart) / 1000;
      const postCpuSeconds = cpuSince(postCpu);
      return {
        rows,
        fileMb,
        uploadSeconds,
        rowsPerSecond: rows / uploadSeconds,
        uploadCpuSeconds,
        peakRssBeforeMb,
        peakRssMb: peakRssMb(),
        accepted: Number(out.accepted),
        size: Number(out.size),
        importSeconds: baseline?.seconds ?? null,
        importCpuSeconds: baseline?.cpuSeconds ?? null,
        importPeakRssMb: baseline?.peakRssMb ?? null,
        postRows: perBody * bodies,
        postSeconds,
        postRowsPerSecond: (perBody * bodies) / postSeconds,
        postCpuSeconds,
        busyRetries,
        loadBefore,
        loadAfter: load(),
      };
    } finally {
      await app.close();
      await composed.store.close();
    }
  } finally {
    await store.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchUpload(Number(process.argv[2]), process.argv[3], (line) =>
    process.stderr.write(`${line}\n`),
  );
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}
