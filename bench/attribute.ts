// Attribute-mode delivery (docs/custom-attribute.md): a full first run of N members through /users/track
// against the sandbox enforcing Braze's burst limit (3,000 requests per 3 s per key), on the embedded store.
// Baseline in the same run: the same number of 75-object /users/track requests sent back to back by a bare
// loop with 4 in flight (no store, no planner), i.e. what the sandbox and HTTP alone allow.
// Run: npx tsx bench/attribute.ts [members]   (default 30,000). Prints one JSON line.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { generateToken, hashToken } from '../src/adapters/crypto/secrets.ts';
import { changeMembers, createStaticCohort } from '../src/app/cohorts.ts';
import { createProject } from '../src/app/projects.ts';
import { createSync } from '../src/app/syncs.ts';
import { createTarget } from '../src/app/targets.ts';
import { startWorker } from '../src/app/worker.ts';
import { compose } from '../src/entry/compose.ts';
import { startSandbox } from '../src/sandbox/index.ts';
import { peakRssMb } from './rss.ts';

const members = Number(process.argv[2] ?? 30_000);
const sandbox = await startSandbox({ port: 0 });
const dir = mkdtempSync(join(tmpdir(), 'bench-attr-'));
const composed = await compose({
  store: { kind: 'sqlite', file: join(dir, 'bench.db') },
  secretKey: randomBytes(32),
  logger: pino({ level: 'silent' }),
  braze: { partnerSlug: 'cohort-sync', partnerKeys: {}, requestsPerHour: 250_000 },
  settings: { allowedEndpoints: [sandbox.url] },
});
const { deps } = composed;
const workspace = sandbox.state.createWorkspace();
const ids = Array.from({ length: members }, (_, i) => `m${i}`);
sandbox.state.seedUsers(
  workspace,
  ids.map((external_id) => ({ external_id })),
);
const restApiKey = sandbox.state.createRestKey(workspace).key;

// Baseline: bare requests of 75 objects, 4 in flight.
const requests = Math.ceil(members / 75);
let next = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: 4 }, async () => {
    while (next < requests) {
      const i = next++;
      const attributes = ids.slice(i * 75, i * 75 + 75).map((external_id) => ({
        external_id,
        _update_existing_only: true,
        baseline: { add: ['x'] },
      }));
      const res = await fetch(`${sandbox.url}/users/track`, {
        method: 'POST',
        headers: { authorization: `Bearer ${restApiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ attributes }),
      });
      await res.text();
      if (res.status === 429) next--; // the burst limit: ask again
    }
  }),
);
const baselineSeconds = (performance.now() - t0) / 1000;
sandbox.state.setTrackBudget(3_000, 3_000); // a fresh window for the measured run

const { project } = await createProject(deps, { generate: generateToken, hash: hashToken }, { name: 'bench' });
await deps.store.projects.update(project.id, { brazeEnabled: true }, new Date().toISOString());
const target = await createTarget(deps, project.id, {
  name: 'attr',
  endpoint: sandbox.url,
  delivery: 'custom_attribute',
  restApiKey,
  mapping: { type: 'user_id' },
});
const cohort = await createStaticCohort(deps, project.id, { name: 'Bench' });
for (let i = 0; i < members; i += 5_000)
  await changeMembers(deps, project.id, cohort.id, { add: ids.slice(i, i + 5_000).map((user_id) => ({ user_id })) });
sandbox.state.clearRequests();
const worker = await startWorker(deps, { owner: composed.owner });
const t1 = performance.now();
const sync = await createSync(deps, project.id, { cohortId: cohort.id, targetId: target.id, cadence: 'one_time' });
let run = (await deps.store.runs.list(project.id, { syncId: sync.id }, 1, null)).items[0]!;
while (!['succeeded', 'failed'].includes(run.status)) {
  await new Promise((r) => setTimeout(r, 20));
  run = (await deps.store.runs.getById(run.id))!;
}
const seconds = (performance.now() - t1) / 1000;
const inSegment = sandbox.state.workspace(workspace).attributeSegment('cohorts', { includes: 'bench' }).size;
await worker.stop();
await composed.store.close();
await sandbox.close();
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    members,
    status: run.status,
    inSegment,
    requests: run.requests,
    requestsPerUser: run.requests / members,
    seconds,
    usersPerSecond: members / seconds,
    burstCapUsersPerSecond: (3_000 / 3) * 75,
    baselineSeconds,
    baselineUsersPerSecond: members / baselineSeconds,
    peakRssMb: peakRssMb(),
  }),
);
