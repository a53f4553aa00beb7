// Crash recovery (docs/architecture.md: "A crash anywhere leaves a run that the next process resumes from its first
// unacknowledged batch"). A child process runs the sync of a 5,000-member cohort against the Braze sandbox,
// which lives here in the test process and answers membership calls slowly so kills land mid-run. The child
// is SIGKILLed at random points — while planning, mid-batch (a request in the sandbox's hands), right after a
// batch was answered — and a new child takes over once the lease expires. Every time, Braze must end up with
// exactly the cohort, and only batches in flight at a kill may have been sent twice.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { changeMembers, createStaticCohort } from '../../src/app/cohorts.ts';
import { createSync, runNow } from '../../src/app/syncs.ts';
import { createTarget } from '../../src/app/targets.ts';
import type { Mapping } from '../../src/domain/mapping.ts';
import { type Composed, compose } from '../../src/entry/compose.ts';
import { type RunningSandbox, startSandbox } from '../../src/sandbox/index.ts';
import type { CrashChildConfig } from '../support/crash-child.ts';
import { ENGINES } from '../support/engines.ts';
import { firstRunOf, projectWithBraze, trackRequests } from '../support/flows.ts';
import { prng } from '../support/prng.ts';
import { ackedKeys, expectedKeys, membershipRequests, type SentChange, sandboxKeys } from '../support/sync-checks.ts';

const CHILD = fileURLToPath(new URL('../support/crash-child.ts', import.meta.url));
const MEMBERS = 5_000;
const LATENCY_MS = 300;
const CONCURRENCY = 2;
const LEASE_TTL_MS = 1_000;
const ARRIVALS = 1_000_000; // a latency fault this many membership requests long: its use count is the arrival count

type KillMode = 'planning' | 'mid-batch' | 'after-answer';

const tick = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What differs between delivery modes for this test: the target, and how the sandbox shows what it got. */
interface ModeUnderTest {
  readonly name: string;
  /** Members of round 1; round 2 removes `leave` and adds `join`. */
  readonly members: number;
  readonly leave: number;
  readonly join: number;
  readonly batchMax: number;
  readonly faultPath: 'users' | 'track';
  target(
    deps: Composed['deps'],
    projectId: string,
    sandbox: RunningSandbox,
    mapping: Mapping,
    users: string[],
  ): Promise<{
    targetId: string;
    /** Identifier keys Braze (the sandbox) holds for the audience. */
    holds(audience: { cohortId: string; value: string | null }): string[];
  }>;
  requests(sandbox: RunningSandbox): SentChange[];
}

const MODES: readonly ModeUnderTest[] = [
  {
    name: 'cohort_import',
    members: MEMBERS,
    leave: 1_200,
    join: 1_300,
    batchMax: 1_000,
    faultPath: 'users',
    async target(deps, projectId, sandbox, mapping) {
      const dataImportKey = sandbox.state.createWorkspace();
      const target = await createTarget(deps, projectId, {
        name: 'crash',
        endpoint: sandbox.url,
        dataImportKey,
        mapping,
      });
      return { targetId: target.id, holds: ({ cohortId }) => sandboxKeys(sandbox, dataImportKey, cohortId) };
    },
    requests: membershipRequests,
  },
  {
    // 75 users per request: fewer members keep the number of batches (and the test's time) alike.
    name: 'custom_attribute',
    members: 1_500,
    leave: 300,
    join: 400,
    batchMax: 75,
    faultPath: 'track',
    async target(deps, projectId, sandbox, mapping, users) {
      const workspace = sandbox.state.createWorkspace();
      sandbox.state.seedUsers(
        workspace,
        users.map((external_id) => ({ external_id })),
      );
      const restApiKey = sandbox.state.createRestKey(workspace).key;
      const target = await createTarget(deps, projectId, {
        name: 'crash',
        endpoint: sandbox.url,
        delivery: 'custom_attribute',
        restApiKey,
        mapping,
      });
      return {
        targetId: target.id,
        holds: ({ value }) =>
          sandbox.state
            .workspace(workspace)
            .attributeSegment('cohorts', { includes: value ?? '' })
            .items.map((p) => `e:${p.external_id}`)
            .sort(),
      };
    },
    requests: (sandbox) =>
      trackRequests(sandbox).map((r) => ({
        status: r.status,
        cohortId: '',
        adds: r.attributes.filter((a) => (a.cohorts as { add?: unknown })?.add).map((a) => `e:${a.external_id}`),
        removes: r.attributes
          .filter((a) => (a.cohorts as { remove?: unknown })?.remove)
          .map((a) => `e:${a.external_id}`),
      })),
  },
];

describe.each(
  ENGINES.flatMap((engine) => MODES.map((mode) => ({ engine, mode, name: `${engine.name}, ${mode.name}` }))),
)('crash recovery on $name', ({ engine, mode }) => {
  const children = new Set<ChildProcess>();
  afterEach(() => {
    for (const c of children) c.kill('SIGKILL');
    children.clear();
  });

  it('a sync SIGKILLed at random points ends with Braze holding exactly the cohort, resending only in-flight batches', async () => {
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    const sandbox: RunningSandbox = await startSandbox();
    const fresh = await engine.fresh();
    const secretKey = randomBytes(32);
    // The test process prepares the store and watches it; it never runs a worker.
    const parent: Composed = await compose({
      store: fresh.location,
      secretKey,
      logger: pino({ level: 'silent' }),
      braze: { partnerSlug: 'cohort-sync', partnerKeys: { US: 'sandbox-partner-key' }, requestsPerHour: 250_000 },
      settings: { allowedEndpoints: [sandbox.url] },
    });
    const log: string[] = [];
    try {
      const { deps, store } = parent;
      const project = await projectWithBraze(deps);
      const mapping: Mapping = { type: 'user_id' };
      const user = (i: number) => ({ user_id: `crash-${String(i).padStart(5, '0')}` });
      const everyone = Array.from({ length: mode.members + mode.join }, (_, i) => user(i).user_id);
      const delivery = await mode.target(deps, project.id, sandbox, mapping, everyone);
      const target = { id: delivery.targetId };
      const cohort = await createStaticCohort(deps, project.id, { name: 'Crash' });
      for (let i = 0; i < mode.members; i += 500) {
        await changeMembers(deps, project.id, cohort.id, {
          add: Array.from({ length: Math.min(500, mode.members - i) }, (_, j) => user(i + j)),
        });
      }
      const sync = await createSync(deps, project.id, {
        cohortId: cohort.id,
        targetId: target.id,
        cadence: 'one_time',
      });
      const brazeCohortId = sync.audienceRef;
      sandbox.state.injectFaults([{ latencyMs: LATENCY_MS, path: mode.faultPath, count: ARRIVALS }]);

      const config: CrashChildConfig = {
        store: fresh.location,
        secretKey: secretKey.toString('hex'),
        sandboxUrl: sandbox.url,
        brazeCohortId,
        leaseTtlMs: LEASE_TTL_MS,
        concurrency: CONCURRENCY,
      };
      const arrivals = () => ARRIVALS - (sandbox.state.pendingFaults()[0]?.remaining ?? ARRIVALS);
      const answered = () => mode.requests(sandbox).length;
      const fence = async () =>
        Number(
          (
            await store.raw.db
              .selectFrom('braze_cohorts')
              .select('fence')
              .where('id', '=', brazeCohortId)
              .executeTakeFirstOrThrow()
          ).fence,
        );

      /** One child's life: started, then killed when `mode` says, or left to finish. Returns whether it finished. */
      const life = async (runId: string, mode: KillMode | 'finish'): Promise<boolean> => {
        const fenceBefore = await fence();
        const arrivedBefore = arrivals();
        const answeredBefore = answered();
        const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
          env: { ...process.env, CRASH_CHILD_CONFIG: JSON.stringify(config) },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        children.add(child);
        let stderr = '';
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        child.stdout!.resume();
        let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
        const exited = new Promise<void>((resolve) =>
          child.on('exit', (code, signal) => {
            exit = { code, signal };
            children.delete(child);
            resolve();
          }),
        );
        const deadline = Date.now() + 30_000;
        const alive = () => {
          if (exit) return false;
          if (Date.now() > deadline) throw new Error(`child stuck (mode ${mode}); stderr: ${stderr}`);
          return true;
        };

        if (mode === 'finish') {
          while (alive()) await sleep(20);
        } else {
          let hit = false;
          if (mode === 'planning') {
            // The child holds the lease (fence bumped) and plans: kill before the plan is complete (or, when
            // planning was quicker than our polling, as soon as it is seen past it).
            while (alive() && !hit) {
              const run = await store.runs.getById(runId);
              hit = (await fence()) > fenceBefore && run?.phase !== 'queued';
              if (!hit) await tick();
            }
          } else if (mode === 'mid-batch') {
            const nth = 1 + Math.floor(random() * 3);
            while (alive() && arrivals() - arrivedBefore < nth) await tick();
            // The request is in the sandbox's hands (answered LATENCY_MS after it arrived): kill well before that.
            if (alive()) await sleep(Math.floor(random() * (LATENCY_MS / 6)));
            hit = true;
          } else {
            const nth = 1 + Math.floor(random() * 3);
            while (alive() && answered() - answeredBefore < nth) await tick();
            hit = true;
          }
          if (hit && !exit) {
            const phase = (await store.runs.getById(runId))?.phase;
            const progress = await store.runs.progress(runId);
            child.kill('SIGKILL');
            log.push(
              `kill ${mode}: phase ${phase}, batches done ${progress.done}/${progress.total}, requests arrived ${arrivals() - arrivedBefore}`,
            );
          }
        }
        await exited;
        // Requests the dead child left in the sandbox's hands land now, not during the next life.
        if (!exit || (exit as { signal: string | null }).signal === 'SIGKILL') await sleep(LATENCY_MS + 50);
        const finished = (exit as { code: number | null } | null)?.code === 0;
        if (!finished && (exit as { signal: string | null } | null)?.signal !== 'SIGKILL')
          throw new Error(`child failed: ${JSON.stringify(exit)}; stderr: ${stderr}`);
        if (finished) log.push(`child finished (mode ${mode})`);
        return finished;
      };

      /** Runs `runId` to completion through `kills` killed children and then one left alone. */
      const survive = async (runId: string, kills: number) => {
        sandbox.state.clearRequests();
        const arrivedAtStart = arrivals();
        let killed = 0;
        for (let i = 0; i < kills; i++) {
          const run = await store.runs.getById(runId);
          if (run?.status !== 'queued' && run?.status !== 'running') break;
          const modes: KillMode[] =
            run.phase === 'queued' || run.phase === 'planning'
              ? ['planning', 'mid-batch', 'after-answer']
              : ['mid-batch', 'after-answer'];
          // The first kill of a run lands while planning, the second mid-batch; later ones are drawn at random.
          const mode = i === 0 ? 'planning' : i === 1 ? 'mid-batch' : modes[Math.floor(random() * modes.length)]!;
          if (!(await life(runId, mode))) killed += 1;
        }
        for (
          let i = 0;
          i < 3 && !['succeeded', 'failed', 'cancelled'].includes((await store.runs.getById(runId))!.status);
          i++
        )
          await life(runId, 'finish');
        await sleep(LATENCY_MS + 100); // let requests a killed child left in the sandbox's hands land
        const run = (await store.runs.getById(runId))!;
        return { run, killed, arrived: arrivals() - arrivedAtStart };
      };

      const check = async (round: string, runId: string, kills: number, delta: { added: number; removed: number }) => {
        const { run, killed, arrived } = await survive(runId, kills);
        const expected = await expectedKeys(store, cohort.id, [mapping]);
        log.push(`${round}: ${killed} kills, ${run.totalBatches} batches, ${arrived} membership requests`);
        expect(run, `seed ${seed}\n${log.join('\n')}`).toMatchObject({
          status: 'succeeded',
          counts: { ...delta, failed: 0 },
        });
        // Braze holds exactly the cohort, and the store knows it.
        expect(delivery.holds({ cohortId: cohort.id, value: sync.attribute?.value ?? null })).toEqual(expected);
        expect(await ackedKeys(store, brazeCohortId)).toEqual(expected);
        // Only in-flight batches were sent again: at most `concurrency` per kill, and only as whole batches.
        const sent = mode.requests(sandbox);
        expect(sent.every((r) => r.status === 201 && r.adds.length + r.removes.length <= mode.batchMax)).toBe(true);
        expect(sent).toHaveLength(arrived);
        const resent = arrived - run.totalBatches;
        expect(resent, `seed ${seed}\n${log.join('\n')}`).toBeLessThanOrEqual(killed * CONCURRENCY);
        const batchOf = (r: { adds: string[]; removes: string[] }) =>
          JSON.stringify([[...r.adds].sort(), [...r.removes].sort()]);
        const distinct = new Set(sent.map(batchOf));
        expect(distinct.size).toBe(run.totalBatches);
        const seen = new Map<string, number>();
        for (const r of sent)
          for (const k of [...r.adds.map((a) => `+${a}`), ...r.removes.map((x) => `-${x}`)])
            seen.set(k, (seen.get(k) ?? 0) + 1);
        const twice = [...seen.values()].filter((n) => n > 1).reduce((a, n) => a + n - 1, 0);
        expect(twice).toBeLessThanOrEqual(resent * mode.batchMax);
        return resent;
      };

      // Round 1: the first full run of 5,000 members (5 batches).
      const first = await firstRunOf(deps, project.id, sync.id);
      const resent1 = await check('round 1', first.id, 3, { added: mode.members, removed: 0 });

      // Round 2: some leave and more join (batches mixing adds and removes).
      await changeMembers(deps, project.id, cohort.id, {
        remove: Array.from({ length: mode.leave }, (_, i) => user(i)),
      });
      await changeMembers(deps, project.id, cohort.id, {
        add: Array.from({ length: mode.join }, (_, i) => user(mode.members + i)),
      });
      const second = await runNow(deps, project.id, sync.id);
      const resent2 = await check('round 2', second.id, 2, { added: mode.join, removed: mode.leave });

      // The kills did land mid-run: some batch was in the sandbox's hands when its sender died.
      expect(resent1 + resent2, `seed ${seed}\n${log.join('\n')}`).toBeGreaterThan(0);
      if (process.env.CRASH_VERBOSE) console.log(`seed ${seed} (${engine.name})\n${log.join('\n')}`);
    } finally {
      for (const c of children) c.kill('SIGKILL');
      await parent.store.close();
      await sandbox.close();
      await fresh.drop();
    }
  }, 240_000);
});
