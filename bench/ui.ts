// The web UI's load figures (docs/benchmarks.md "Web UI"): first-load JS of the built app (gzip) beside the
// lazily loaded chart chunks, and time to interactive of the syncs page in Chromium at 1280×720 for 0, 100
// and 1,000 syncs (the empty page is the baseline of the same run), with the page's JS heap.
//
//   npm run bench -- --only ui          (or: npx tsx bench/ui.ts)
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { apiCall, launchBrowser, ROOT, type RunningServer, startServer } from '../test/support/ui-browser.ts';

const DIST = join(ROOT, 'web', 'dist');
const ADMIN = 'cs_admin_bench_ui_0123456789';

export interface BundleFigures {
  readonly firstLoadJsGzipKb: number;
  readonly firstLoadJsKb: number;
  readonly lazyJsGzipKb: number;
  readonly cssGzipKb: number;
}

export function bundleFigures(): BundleFigures {
  const html = readFileSync(join(DIST, 'index.html'), 'utf8');
  // What index.html loads before anything else: its module script and modulepreload links.
  const first = new Set([...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]!));
  const kb = (n: number) => Math.round(n / 102.4) / 10;
  let firstRaw = 0;
  let firstGz = 0;
  let lazyGz = 0;
  let cssGz = 0;
  for (const name of readdirSync(join(DIST, 'assets'))) {
    const body = readFileSync(join(DIST, 'assets', name));
    const gz = gzipSync(body, { level: 9 }).length;
    if (name.endsWith('.css')) cssGz += gz;
    else if (first.has(`assets/${name}`)) {
      firstRaw += body.length;
      firstGz += gz;
    } else if (name.endsWith('.js')) lazyGz += gz;
  }
  return {
    firstLoadJsGzipKb: kb(firstGz),
    firstLoadJsKb: kb(firstRaw),
    lazyJsGzipKb: kb(lazyGz),
    cssGzipKb: kb(cssGz),
  };
}

async function addSyncs(server: RunningServer, p: string, cohorts: string[], targets: string[], upTo: number) {
  let made = (await apiCall(server, 'GET', `/projects/${p}/syncs?limit=1000`)).items.length as number;
  for (const c of cohorts)
    for (const t of targets) {
      if (made >= upTo) return;
      await apiCall(server, 'POST', `/projects/${p}/syncs`, { cohortId: c, targetId: t, cadence: 'daily' });
      made++;
    }
}

/** Waits (at most 3 minutes) until every sync's first run has finished, so the page is timed on a quiet server. */
async function settled(server: RunningServer, p: string) {
  for (let i = 0; i < 360; i++) {
    const items = (await apiCall(server, 'GET', `/projects/${p}/syncs?limit=1000`)).items as {
      lastRun?: { status: string };
    }[];
    if (items.every((s) => s.lastRun && !['queued', 'running'].includes(s.lastRun.status))) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

export interface PageFigures {
  readonly syncs: number;
  readonly medianMs: number;
  readonly runsMs: number[];
  readonly heapMb: number;
}

/** Navigation start → the first page of the syncs table and the runs-per-day chart are on screen. */
async function timeSyncsPage(server: RunningServer, p: string, syncs: number, runs = 5): Promise<PageFigures> {
  const browser = await launchBrowser();
  try {
    const times: number[] = [];
    let heapMb = 0;
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
      await context.addInitScript(
        `sessionStorage.setItem('cohort-sync.token', ${JSON.stringify(JSON.stringify(ADMIN))});` +
          `sessionStorage.setItem('cohort-sync.whoami', '{"kind":"admin"}');`,
      );
      const page = await context.newPage();
      await page.goto(`${server.url}/p/${p}/syncs`);
      const wanted = Math.min(syncs, 50);
      await page.waitForFunction(
        `(() => { const rows = document.querySelectorAll('table[aria-label="Syncs"] tbody tr').length;
          const chart = document.querySelector('[aria-label="Runs per day, by outcome"] svg');
          return (${wanted} === 0 ? document.body.innerText.includes('No syncs') : rows === ${wanted}) && chart; })()`,
        undefined,
        { timeout: 60_000, polling: 'raf' },
      );
      times.push(Number(await page.evaluate('performance.now()')));
      const cdp = await context.newCDPSession(page);
      await cdp.send('Performance.enable');
      const { metrics } = await cdp.send('Performance.getMetrics');
      heapMb = Math.round((metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0) / 1e5) / 10;
      await context.close();
    }
    const sorted = [...times].sort((a, b) => a - b);
    return {
      syncs,
      medianMs: Math.round(sorted[Math.floor(sorted.length / 2)]!),
      runsMs: times.map(Math.round),
      heapMb,
    };
  } finally {
    await browser.close();
  }
}

export async function benchUi(): Promise<{ bundle: BundleFigures; pages: PageFigures[] }> {
  const server = await startServer(ADMIN);
  try {
    const bundle = bundleFigures();
    const project = await apiCall(server, 'POST', '/projects', { name: 'Bench' });
    const p = project.id as string;
    const targets: string[] = [];
    for (let i = 0; i < 20; i++) {
      const key = (await apiCall(server, 'POST', '/sandbox/keys')).dataImportKey;
      if (i === 0)
        await apiCall(server, 'PUT', `/projects/${p}/destinations/braze`, {
          enabled: true,
          endpoint: server.sandbox,
          dataImportKey: key,
          mapping: { type: 'user_id' },
        });
      const t = await apiCall(server, 'POST', `/projects/${p}/destinations/braze/targets`, {
        name: `Target ${i}`,
        endpoint: server.sandbox,
        dataImportKey: key,
        mapping: { type: 'user_id' },
      });
      targets.push(t.id);
    }
    const cohorts: string[] = [];
    for (let i = 0; i < 50; i++) {
      const c = await apiCall(server, 'POST', `/projects/${p}/cohorts`, { name: `Cohort ${i}`, type: 'static' });
      await apiCall(server, 'POST', `/projects/${p}/cohorts/${c.id}/members`, { add: [{ user_id: `u${i}` }] });
      cohorts.push(c.id);
    }
    const pages: PageFigures[] = [];
    for (const n of [0, 100, 1000]) {
      await addSyncs(server, p, cohorts, targets, n);
      await settled(server, p);
      pages.push(await timeSyncsPage(server, p, n));
    }
    return { bundle, pages };
  } finally {
    await server.stop();
  }
}

export function uiMarkdown(r: { bundle: BundleFigures; pages: PageFigures[] }): string {
  const b = r.bundle;
  return [
    `First-load JS ${b.firstLoadJsGzipKb} kB gzip (${b.firstLoadJsKb} kB raw); charts and other lazy chunks ${b.lazyJsGzipKb} kB gzip; CSS ${b.cssGzipKb} kB gzip.`,
    '',
    '| syncs | time to interactive, median of 5 (ms) | runs (ms) | JS heap (MB) |',
    '|---:|---:|---|---:|',
    ...r.pages.map((p) => `| ${p.syncs} | ${p.medianMs} | ${p.runsMs.join(', ')} | ${p.heapMb} |`),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchUi();
  console.log(uiMarkdown(result));
}
