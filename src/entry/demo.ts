// `npm run demo`: the whole flow on a fresh clone, without a Braze account — a project, a target on the
// embedded Braze sandbox, a cohort of a few thousand members, a sync with a progress bar, a membership
// change and a second run that sends only the delta, then what the sandbox's segment holds. Then events sent
// with Amplitude's Node SDK build a behavioral cohort that a real-time sync carries into the sandbox, and a
// user leaves it when they change plan (docs/cohorts.md).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInstance, Identify } from '@amplitude/analytics-node';
import { Presets, SingleBar } from 'cli-progress';
import { generateToken, hashToken } from '../adapters/crypto/secrets.ts';
import { createLogger } from '../adapters/log/logger.ts';
import { createCohort } from '../app/cohort-admin.ts';
import { changeMembers, createStaticCohort } from '../app/cohorts.ts';
import type { AppDeps } from '../app/deps.ts';
import { createProject } from '../app/projects.ts';
import { createSync, runNow, segmentFilterOf } from '../app/syncs.ts';
import { createTarget } from '../app/targets.ts';
import { startWorker } from '../app/worker.ts';
import type { Run } from '../domain/model.ts';
import { DEFAULT_PARTNER_KEY, startSandbox } from '../sandbox/index.ts';
import { type Composed, compose } from './compose.ts';
import { buildHttpApp } from './http/app.ts';
import { ingestRoutes } from './http/routes/ingest.ts';

const MEMBERS = 3000;
const say = (line = '') => process.stdout.write(`${line}\n`);

async function watch(deps: AppDeps, runId: string, label: string): Promise<Run> {
  const bar = new SingleBar(
    { format: `${label} [{bar}] {value}/{total} batches | {status}`, hideCursor: true },
    Presets.shades_classic,
  );
  bar.start(1, 0, { status: 'queued' });
  for (;;) {
    const run = await deps.store.runs.getById(runId);
    const progress = await deps.store.runs.progress(runId);
    bar.setTotal(Math.max(1, progress.total));
    bar.update(progress.done, { status: run?.status ?? '?' });
    if (run && ['succeeded', 'failed', 'cancelled'].includes(run.status)) {
      bar.stop();
      return run;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function report(run: Run): void {
  say(
    `  status ${run.status}: ${run.counts.added} users added (${run.identifiers.added} identifiers sent), ${run.counts.removed} removed, skipped ${run.counts.skipped}` +
      ` ${JSON.stringify(run.skipReasons)}, failed ${run.counts.failed}; ${run.requests} requests, ${run.retries} retries`,
  );
  if (run.error) say(`  error: ${run.error.message}`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cohort-sync-demo-'));
  const sandbox = await startSandbox({ port: 0 });
  const logger = createLogger({ level: 'warn' });
  const composed = await compose({
    store: { kind: 'sqlite', file: join(dir, 'demo.db') },
    secretKey: randomBytes(32),
    logger,
    braze: { partnerSlug: 'cohort-sync', partnerKeys: { US: DEFAULT_PARTNER_KEY }, requestsPerHour: 250_000 },
    settings: { allowedEndpoints: [sandbox.url] },
  });
  const { deps, store, owner } = composed;
  const worker = await startWorker(deps, { owner });
  try {
    say(`Braze sandbox at ${sandbox.url}; store in ${dir}`);
    const { project, ingestKey } = await createProject(
      deps,
      { generate: generateToken, hash: hashToken },
      { name: 'Demo' },
    );
    await store.projects.update(project.id, { brazeEnabled: true }, new Date().toISOString());

    // The customer's Braze workspace: most members already exist there; Braze never creates users.
    const dataImportKey = sandbox.state.createWorkspace();
    const userIds = Array.from({ length: MEMBERS }, (_, i) => `user-${String(i).padStart(5, '0')}`);
    sandbox.state.seedUsers(
      dataImportKey,
      userIds.slice(0, MEMBERS - 200).map((external_id) => ({ external_id })),
    );
    const target = await createTarget(deps, project.id, {
      name: 'US Production',
      endpoint: sandbox.url,
      dataImportKey,
      mapping: { type: 'user_id' },
    });
    say(`Target "${target.name}" → ${target.endpoint}, key ${target.keyHint}, mapping user_id → external_id`);

    const cohort = await createStaticCohort(deps, project.id, { name: 'Power users' });
    await changeMembers(deps, project.id, cohort.id, {
      add: [...userIds.map((user_id) => ({ user_id })), { device_id: 'anonymous-device-1' }],
    });
    say(`Cohort "${cohort.name}" (${cohort.id}) with ${MEMBERS + 1} members (one anonymous)`);

    const sync = await createSync(deps, project.id, { cohortId: cohort.id, targetId: target.id, cadence: 'daily' });
    const first = (await store.runs.list(project.id, { syncId: sync.id }, 1, null)).items[0]!;
    say('\nFirst run: every member');
    report(await watch(deps, first.id, 'run 1'));

    const leaving = userIds.slice(0, 250).map((user_id) => ({ user_id }));
    const joining = Array.from({ length: 100 }, (_, i) => ({ user_id: `new-user-${i}` }));
    sandbox.state.seedUsers(
      dataImportKey,
      joining.map((m) => ({ external_id: m.user_id })),
    );
    await changeMembers(deps, project.id, cohort.id, { add: joining, remove: leaving });
    say('\n250 members left the cohort and 100 joined. Second run: only the delta');
    report(await watch(deps, (await runNow(deps, project.id, sync.id)).id, 'run 2'));

    const braze = sandbox.state.listCohorts(dataImportKey);
    const segment = sandbox.state.cohortUsers(dataImportKey, cohort.id);
    say('\nWhat Braze (the sandbox) now shows:');
    for (const c of braze)
      say(`  cohort "${c.name}" (id ${c.id}): ${c.size} users in segment "cohort-sync Cohorts includes ${c.name}"`);
    say(
      `  the segment holds ${segment.size} profiles, e.g. ${segment.items
        .slice(0, 3)
        .map((u) => u.external_id)
        .join(', ')}`,
    );
    say(
      `  ${MEMBERS - 250 + 100 - segment.size} members were sent but are not in the segment: they do not exist in Braze, which never creates users.`,
    );
    say(`  sandbox requests by status: ${JSON.stringify(sandbox.state.stats().byStatus)}`);

    // The same cohort without a partner key: the customer's own REST API key writes a custom attribute.
    const restApiKey = sandbox.state.createRestKey(dataImportKey).key;
    const own = await createTarget(deps, project.id, {
      name: 'Own Braze (REST key)',
      endpoint: sandbox.url,
      delivery: 'custom_attribute',
      restApiKey,
      mapping: { type: 'user_id' },
    });
    say(`\nTarget "${own.name}": delivery custom_attribute over /users/track, REST API key ${own.keyHint}`);
    const attributeSync = await createSync(deps, project.id, {
      cohortId: cohort.id,
      targetId: own.id,
      cadence: 'daily',
    });
    say(
      `Sync writes ${JSON.stringify(attributeSync.attribute)}; in Braze build: ${await segmentFilterOf(deps, attributeSync)}`,
    );
    const attributeRun = (await store.runs.list(project.id, { syncId: attributeSync.id }, 1, null)).items[0]!;
    report(await watch(deps, attributeRun.id, 'attribute run'));
    const profiles = sandbox.state
      .workspace(dataImportKey)
      .attributeSegment(attributeSync.attribute!.name, { includes: attributeSync.attribute!.value! });
    say(
      `  the sandbox's segment "${attributeSync.attribute!.name} includes ${attributeSync.attribute!.value}" holds ${profiles.size} profiles; ` +
        `${sandbox.state.workspace(dataImportKey).trackTotals.skippedUnknown} unknown users were skipped, none created`,
    );

    await behavioralDemo(composed, { projectId: project.id, ingestKey, dataImportKey, targetId: target.id, sandbox });
  } finally {
    await worker.stop();
    await store.close();
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits for `check`, printing nothing; fails after `ms`. */
async function until(what: string, check: () => boolean, ms = 20_000): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}

async function behavioralDemo(
  composed: Composed,
  ctx: {
    projectId: string;
    ingestKey: string;
    dataImportKey: string;
    targetId: string;
    sandbox: Awaited<ReturnType<typeof startSandbox>>;
  },
): Promise<void> {
  const { deps } = composed;
  // The service's ingestion routes on a port of their own, as `cohort-sync serve` mounts them.
  const app = await buildHttpApp({
    deps,
    adminToken: generateToken('cs_admin'),
    tokens: { generate: generateToken, hash: hashToken },
    onMembershipChanged: composed.onMembershipChanged,
    extraRoutes: [ingestRoutes({ ingestion: composed.ingestion })],
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const amplitude = createInstance();
  try {
    say('\nBehavioral cohort from events sent with the Amplitude Node SDK');
    amplitude.init(ctx.ingestKey, { serverUrl: `${url}/2/httpapi`, flushIntervalMillis: 50, logLevel: 0 });
    const cohort = await createCohort(deps, ctx.projectId, {
      name: 'Pro buyers',
      type: 'behavioral',
      definition: {
        all: [
          { any: [{ event: 'Purchase', count: { op: 'gte', value: 2 }, within: { last: 30, unit: 'day' } }] },
          { any: [{ userProperty: 'plan', op: 'eq', value: 'pro' }] },
        ],
      },
    });
    // Amplitude refuses ids shorter than 5 characters (min_id_length), so the buyers' ids are longer.
    const buyers = ['buyer-ana', 'buyer-ben', 'buyer-cleo', 'buyer-dev'];
    ctx.sandbox.state.seedUsers(
      ctx.dataImportKey,
      buyers.map((external_id) => ({ external_id })),
    );
    await createSync(deps, ctx.projectId, { cohortId: cohort.id, targetId: ctx.targetId, cadence: 'real_time' });
    say(`  cohort "${cohort.name}": performed Purchase at least 2 times in the last 30 days and plan is "pro"`);
    say('  real-time sync created; sending events with @amplitude/analytics-node (serverUrl = this service)');
    const inBraze = () => ctx.sandbox.state.cohortIdentifiers(ctx.dataImportKey, cohort.id).user_ids;
    for (const user_id of buyers) {
      amplitude.identify(new Identify().set('plan', user_id === 'buyer-dev' ? 'free' : 'pro'), { user_id });
      amplitude.track('Purchase', { sku: 'A-1', price: 12 }, { user_id });
      if (user_id !== 'buyer-cleo') amplitude.track('Purchase', { sku: 'B-2', price: 30 }, { user_id });
    }
    const sentAt = Date.now();
    await amplitude.flush().promise;
    const took = await until('ana and ben in Braze', () => inBraze().length === 2);
    say(
      `  ${Date.now() - sentAt} ms after sending (${took} ms after the flush): Braze cohort holds ${inBraze().join(', ')}`,
    );
    say('  (buyer-cleo bought once; buyer-dev bought twice but is on the free plan)');

    const before = Date.now();
    amplitude.identify(new Identify().set('plan', 'free'), { user_id: 'buyer-ben' });
    await amplitude.flush().promise;
    await until('ben removed from Braze', () => !inBraze().includes('buyer-ben'));
    say(`  buyer-ben changed plan to free: ${Date.now() - before} ms later Braze cohort holds ${inBraze().join(', ')}`);
    const size = (await deps.store.cohorts.get(ctx.projectId, cohort.id))?.size ?? 0;
    say(
      `  cohort size now ${size}; size history points: ${(await deps.store.behavioral.sizeHistory(cohort.id, 0, Date.now(), 100)).map((p) => p.size).join(' → ')}`,
    );
  } finally {
    await amplitude.flush().promise;
    await app.close();
  }
}

await main();
