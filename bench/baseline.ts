// The baseline the planner is measured against: the same identifiers as two text files, differenced by
// `LC_ALL=C sort` of each and `comm -3`. Dumping the files is timed separately and excluded from the
// baseline, as seeding is excluded from the planner.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { StoreLocation } from '../src/adapters/store/index.ts';
import { BENCH_BRAZE_COHORT, BENCH_COHORT } from './seed.ts';

export interface Dumped {
  readonly desired: string;
  readonly acked: string;
  readonly seconds: number;
}

export interface BaselineResult {
  readonly seconds: number;
  /** User + system CPU of the shell and the sorts (GNU time). */
  readonly cpuSeconds: number | null;
  /** Lines `comm -3` printed: the adds plus the removes. */
  readonly deltaLines: number;
  /** Largest resident set among the shell and its children (GNU time's %M). */
  readonly peakRssMb: number | null;
  readonly command: string;
}

/** Buffers lines into ~1 MB writes. */
class LineWriter {
  private readonly fd: number;
  private parts: string[] = [];
  private size = 0;
  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }
  line(s: string): void {
    this.parts.push(s);
    this.size += s.length + 1;
    if (this.size >= 1 << 20) this.flush();
  }
  flush(): void {
    if (this.parts.length > 0) writeSync(this.fd, this.parts.join('\n') + '\n');
    this.parts = [];
    this.size = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/**
 * Writes the desired keys (members in profile order) and the acknowledged keys (in profile order too, not
 * key order: the baseline must sort for real, as it would on any export).
 */
export async function dumpIdentifiers(location: StoreLocation, dir: string): Promise<Dumped> {
  const started = performance.now();
  const desired = join(dir, 'desired.txt');
  const acked = join(dir, 'acked.txt');
  const d = new LineWriter(desired);
  const a = new LineWriter(acked);
  try {
    if (location.kind === 'sqlite') {
      const db = new Database(location.file, { readonly: true });
      try {
        const members = db
          .prepare(
            `select 'e:' || p.user_id as k from cohort_members m join profiles p on p.id = m.profile_id where m.cohort_id = ? order by m.profile_id`,
          )
          .pluck();
        for (const k of members.iterate(BENCH_COHORT)) d.line(k as string);
        const inBraze = db
          .prepare(`select ident_key from braze_identifiers where braze_cohort_id = ? order by profile_id`)
          .pluck();
        for (const k of inBraze.iterate(BENCH_BRAZE_COHORT)) a.line(k as string);
      } finally {
        db.close();
      }
    } else {
      const client = new pg.Client({ connectionString: location.url, options: `-c search_path=${location.schema}` });
      await client.connect();
      try {
        const page = async (q: string, param: string, out: LineWriter) => {
          let after = 0;
          for (;;) {
            const rows = (await client.query<{ k: string; id: number }>(q, [param, after])).rows;
            for (const r of rows) out.line(r.k);
            if (rows.length < 100_000) return;
            after = rows[rows.length - 1]!.id;
          }
        };
        await page(
          `select 'e:' || p.user_id as k, p.id from cohort_members m join profiles p on p.id = m.profile_id where m.cohort_id = $1 and m.profile_id > $2 order by m.profile_id limit 100000`,
          BENCH_COHORT,
          d,
        );
        await page(
          `select ident_key as k, profile_id as id from braze_identifiers where braze_cohort_id = $1 and profile_id > $2 order by profile_id limit 100000`,
          BENCH_BRAZE_COHORT,
          a,
        );
      } finally {
        await client.end();
      }
    }
  } finally {
    d.close();
    a.close();
  }
  return { desired, acked, seconds: (performance.now() - started) / 1000 };
}

/** Times `LC_ALL=C sort` of both files and `comm -3` of the results, as one shell pipeline. */
export function runBaseline(dumped: Dumped, dir: string): BaselineResult {
  const out = join(dir, 'delta.txt');
  const script = `export LC_ALL=C; comm -3 <(sort ${dumped.desired}) <(sort ${dumped.acked}) > ${out}`;
  const command = `export LC_ALL=C; comm -3 <(sort desired.txt) <(sort acked.txt) > delta.txt`;
  const rssFile = join(dir, 'baseline-rss.txt');
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', '-o', rssFile, 'bash', '-c', script], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const seconds = (performance.now() - started) / 1000;
  if (r.status !== 0) throw new Error(`baseline failed with status ${r.status}`);
  const [kb, user, system] = (readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? '').split(' ').map(Number);
  const wc = spawnSync('wc', ['-l', out], { encoding: 'utf8' });
  return {
    seconds,
    cpuSeconds: user !== undefined && system !== undefined && Number.isFinite(user + system) ? user + system : null,
    deltaLines: Number.parseInt(wc.stdout, 10),
    peakRssMb: kb !== undefined && Number.isFinite(kb) ? kb / 1024 : null,
    command,
  };
}
