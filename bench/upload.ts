// The upload bench: a CSV of N members replaces a static cohort through the real HTTP API (PUT …/members,
// text/csv, streamed from the file over a socket), in a process of its own so its peak RSS is the server's and
// the streaming client's alone. Baseline, same file, same run: SQLite's own command-line `.import --csv` into a
// fresh database (the sqlite3 Debian package), timed with GNU time for its CPU and peak RSS. Also POST …/members
// with JSON bodies of 10,000 members (the most one body may hold), sent by a client in a child process (another
// machine's part: the bodies are built before the clock starts), twice: straight after the PUT, while the
// checkpointer still copies the PUT's WAL back, and again once it has (POST alone, the figure that is claimed).
// The machine is shared, so CPU time (process.cpuUsage of the server process, which also streams the file to
// itself) is reported beside wall time.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  createWriteStream,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
} from 'node:fs';
import { request } from 'node:http';
import { endianness, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pino from 'pino';
import { generateToken, hashToken } from '../src/adapters/crypto/secrets.ts';
import { compose } from '../src/entry/compose.ts';
import { buildHttpApp } from '../src/entry/http/app.ts';
import { forkWithAsk } from './child-ipc.ts';
import { peakRssMb } from './rss.ts';
import { throwawayStore } from './throwaway-store.ts';

const SELF = fileURLToPath(import.meta.url);
const POST_CLIENT = fileURLToPath(new URL('./upload-post-child.ts', import.meta.url));
/** POST …/members: bodies of 10,000 new members (the most one body may hold), 30 of them a measurement. */
const POST_BODIES = 30;
const POST_PER_BODY = 10_000;
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
  /** POST once the PUT's WAL has been checkpointed: POST alone. */
  readonly postSeconds: number;
  readonly postRowsPerSecond: number;
  readonly postCpuSeconds: number;
  /** POST straight after the PUT, while the checkpointer still copies its WAL back. */
  readonly postStraightSeconds: number;
  readonly postStraightRowsPerSecond: number;
  readonly postStraightCpuSeconds: number;
  /** From the end of the straight POSTs until the whole WAL was checkpointed (null: not SQLite). */
  readonly walWaitSeconds: number | null;
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

/**
 * Waits until every frame of a SQLite file's WAL has been copied back into the database (the background
 * checkpointer's work after a large write), read without a connection from the wal-index header in the
 * `-shm` file (sqlite.org/walformat.html: mxFrame, the last valid frame, at byte 16; nBackfill, the frames
 * checkpointed, at byte 96; native byte order). Resolves to the seconds waited.
 */
async function walCheckpointed(file: string, timeoutSeconds: number): Promise<number> {
  const start = performance.now();
  const header = Buffer.alloc(100);
  const u32 = (at: number) => (endianness() === 'LE' ? header.readUInt32LE(at) : header.readUInt32BE(at));
  for (;;) {
    const fd = openSync(`${file}-shm`, 'r');
    try {
      readSync(fd, header, 0, header.length, 0);
    } finally {
      closeSync(fd);
    }
    const seconds = (performance.now() - start) / 1000;
    // The header is kept twice (bytes 0–47 and 48–95) so that a reader can tell a torn read: both must agree.
    if (header.compare(header, 0, 48, 48, 96) === 0 && u32(96) >= u32(16)) return seconds;
    if (seconds > timeoutSeconds) throw new Error(`the WAL was not checkpointed within ${timeoutSeconds} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * CPU seconds of this process's main thread (the event loop, where SQLite's writer runs) from /proc, so that
 * the checkpointer's and sorter's threads can be told apart from it; null where /proc is not there.
 */
function mainThreadCpuSeconds(): number | null {
  try {
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (USER_HZ, 100 on Linux)
  } catch {
    return null;
  }
}

/** The kernel's dirty and writeback page cache (MB) from /proc/meminfo: a large upload leaves GBs to flush, and
 * writes of the next requests may wait for it (I/O, not CPU). Null where /proc is not there. */
function dirtyMb(): string {
  try {
    const info = readFileSync('/proc/meminfo', 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    return `${Math.round(kb('Dirty') / 1024)} MB dirty, ${Math.round(kb('Writeback') / 1024)} MB writeback`;
  } catch {
    return '–';
  }
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
    let client: ReturnType<typeof forkWithAsk> | undefined;
    try {
      const project = await call('POST', '/api/v1/projects', { name: 'Upload bench' });
      const p = `/api/v1/projects/${project.id as string}`;
      const cohort = await call('POST', `${p}/cohorts`, { name: 'Uploaded', type: 'static' });
      // The POST client starts (and builds its bodies) before the PUT, so that "straight after" is.
      const poster = forkWithAsk(POST_CLIENT, [String(POST_BODIES), String(POST_PER_BODY), 'straight', 'post']);
      client = poster;
      await poster.ask({}, 0);
      const posts = async (prefix: string) => {
        const into = await call('POST', `${p}/cohorts`, { name: `Posted ${prefix}`, type: 'static' });
        const dirty = dirtyMb();
        const cpu = process.cpuUsage();
        const mainCpu = mainThreadCpuSeconds();
        const r = await poster.ask<{ seconds: number; busyRetries: number; error?: string }>({
          prefix,
          url: url.href,
          path: `${p}/cohorts/${into.id as string}/members`,
          token: ADMIN,
        });
        if (r.error) throw new Error(r.error);
        busyRetries += r.busyRetries;
        const rows = POST_BODIES * POST_PER_BODY;
        const result = { seconds: r.seconds, rowsPerSecond: rows / r.seconds, cpuSeconds: cpuSince(cpu) };
        log(
          `[upload] POST …/members ${prefix}: ${POST_BODIES} × ${POST_PER_BODY} in ${result.seconds.toFixed(2)} s = ${Math.round(result.rowsPerSecond)} rows/s, CPU ${result.cpuSeconds.toFixed(2)} s (main thread ${mainCpu === null ? '–' : ((mainThreadCpuSeconds() ?? 0) - mainCpu).toFixed(2)} s), load ${load().join(' ')}; before it ${dirty}`,
        );
        return result;
      };
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

      const straight = await posts('straight');
      const walWaitSeconds = store.location.kind === 'sqlite' ? await walCheckpointed(store.location.file, 600) : null;
      if (walWaitSeconds !== null) log(`[upload] the WAL was checkpointed ${walWaitSeconds.toFixed(1)} s later`);
      const quiet = await posts('post');
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
        postRows: POST_BODIES * POST_PER_BODY,
        postSeconds: quiet.seconds,
        postRowsPerSecond: quiet.rowsPerSecond,
        postCpuSeconds: quiet.cpuSeconds,
        postStraightSeconds: straight.seconds,
        postStraightRowsPerSecond: straight.rowsPerSecond,
        postStraightCpuSeconds: straight.cpuSeconds,
        walWaitSeconds,
        busyRetries,
        loadBefore,
        loadAfter: load(),
      };
    } finally {
      if (client?.child.connected) client.child.disconnect();
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
