// Real-time syncs end to end: the real store (SQLite, and PostgreSQL when configured), the real Braze
// client, the sandbox over HTTP and a worker. A membership change must reach the sandbox within seconds,
// carrying only the changed members; the periodic full reconciliation repairs what incremental runs miss.
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { changeMembers, createStaticCohort, type MembershipChanged } from '../../src/app/cohorts.ts';
import { identityChanged, membershipChanged } from '../../src/app/realtime.ts';
import { createScheduler } from '../../src/app/scheduler.ts';
import { createSync, runNow } from '../../src/app/syncs.ts';
import type { Mapping } from '../../src/domain/mapping.ts';
import type { Sync } from '../../src/domain/model.ts';
import { ENGINES } from '../support/engines.ts';
import { firstRunOf, projectWithBraze, sandboxTarget, sorted, waitForRun } from '../support/flows.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { ManualClock, membershipCalls, waitUntil } from '../support/waiting.ts';

describe.each(ENGINES)('real-time syncs on $name', (engine) => {
  let h: Harness;
  let onChanged: MembershipChanged;
  beforeEach(async () => {
    h = await startHarness(engine);
    onChanged = membershipChanged(h.deps);
  });
  afterEach(async () => {
    await h?.close();
  });

  /** A project, a sandbox target, a static cohort with `members`, and a real-time sync whose first run is done. */
  async function realtimeSync(
    mapping: Mapping,
    members: { user_id?: string; device_id?: string; properties?: Record<string, unknown> }[],
  ) {
    const project = await projectWithBraze(h.deps);
    const { target, dataImportKey } = await sandboxTarget(h, project.id, mapping);
    const cohort = await createStaticCohort(h.deps, project.id, { name: 'Live' });
    if (members.length > 0) await changeMembers(h.deps, project.id, cohort.id, { add: members });
    const sync = await createSync(h.deps, project.id, {
      cohortId: cohort.id,
      targetId: target.id,
      cadence: 'real_time',
    });
    const first = await waitForRun(h.deps, (await firstRunOf(h.deps, project.id, sync.id)).id);
    expect(first.status).toBe('succeeded');
    expect(first.mode).toBe('full');
    await h.queue.idle();
    h.sandbox.state.clearRequests();
    const inBraze = () => h.sandbox.state.cohortIdentifiers(dataImportKey, cohort.id);
    return { project, target, cohort, sync, dataImportKey, inBraze };
  }

  const runsOf = async (projectId: string, sync: Sync) =>
    (await h.store.runs.list(projectId, { syncId: sync.id }, 100, null)).items;

  it('sends each change within 5 s, carrying only the changed members', async () => {
    const initial = Array.from({ length: 50 }, (_, i) => ({ user_id: `u${i}` }));
    const { project, cohort, sync, inBraze } = await realtimeSync({ type: 'user_id' }, initial);
    expect(inBraze().user_ids).toHaveLength(50);
    // The next full reconciliation is one period (60 minutes by default) after creation.
    expect(Date.parse(sync.nextRunAt!) - Date.parse(sync.createdAt)).toBe(60 * 60_000);

    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: `new${i}` }] }, onChanged);
      await waitUntil(`new${i} in Braze`, () => inBraze().user_ids.includes(`new${i}`), 10_000);
      delays.push(performance.now() - start);
    }
    const start = performance.now();
    await changeMembers(h.deps, project.id, cohort.id, { remove: [{ user_id: 'u7' }] }, onChanged);
    await waitUntil('u7 removed from Braze', () => !inBraze().user_ids.includes('u7'), 10_000);
    delays.push(performance.now() - start);
    for (const d of delays) expect(d).toBeLessThan(5_000);

    await h.queue.idle();
    const calls = membershipCalls(h.sandbox.state.requests());
    // Exactly the changes, each once: no member of the 50 was re-sent.
    expect(sorted(calls.flatMap((c) => c.add))).toEqual(['e:new0', 'e:new1', 'e:new2', 'e:new3', 'e:new4']);
    expect(calls.flatMap((c) => c.remove)).toEqual(['e:u7']);
    const incremental = (await runsOf(project.id, sync)).filter((r) => r.mode === 'incremental');
    expect(incremental.length).toBeGreaterThanOrEqual(1);
    expect(incremental.every((r) => r.trigger === 'real_time' && r.status === 'succeeded')).toBe(true);
    expect(sorted(inBraze().user_ids)).toEqual(
      sorted([...initial.map((m) => m.user_id).filter((u) => u !== 'u7'), 'new0', 'new1', 'new2', 'new3', 'new4']),
    );
  });

  it('gathers a burst of changes into a few requests, still within 5 s', async () => {
    const { project, cohort, sync, inBraze } = await realtimeSync({ type: 'user_id' }, [{ user_id: 'a' }]);
    const start = performance.now();
    const burst = Array.from({ length: 30 }, (_, i) => `burst${i}`);
    // 30 API calls, 20 ms apart, not waiting for one another.
    const calls: Promise<unknown>[] = [];
    for (const u of burst) {
      calls.push(changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: u }] }, onChanged));
      await new Promise((r) => setTimeout(r, 20));
    }
    await Promise.all(calls);
    await waitUntil('the whole burst in Braze', () => burst.every((u) => inBraze().user_ids.includes(u)));
    expect(performance.now() - start).toBeLessThan(5_000);
    await h.queue.idle();
    const calls_ = membershipCalls(h.sandbox.state.requests());
    expect(sorted(calls_.flatMap((c) => c.add))).toEqual(sorted(burst.map((u) => `e:${u}`)));
    // Incremental runs start at most once per second (realtimeGatherMs): 30 changes over ~0.6 s take a few
    // (one run per change would be ~20: most changes find no run waiting to fold into).
    expect(calls_.length).toBeLessThanOrEqual(5);
    expect((await runsOf(project.id, sync)).filter((r) => r.mode === 'incremental').length).toBeLessThanOrEqual(5);
  });

  it('does not re-diff the cohort; the reconciliation run catches missed changes, a full reconcile repairs drift', async () => {
    const { project, cohort, sync, inBraze } = await realtimeSync({ type: 'user_id' }, [
      { user_id: 'a' },
      { user_id: 'b' },
      { user_id: 'c' },
    ]);
    // Drift: our acknowledged state loses "b" and Braze loses "c" behind our back.
    await sql`delete from braze_identifiers where braze_cohort_id = ${sync.audienceRef} and ident_key = 'e:b'`.execute(
      h.store.raw.db,
    );
    const brazeCohortWorkspace = h.sandbox.state.listWorkspaces().find((w) => w.cohorts > 0)!;
    h.sandbox.state
      .workspace(brazeCohortWorkspace.dataImportKey)
      .applyChanges(cohort.id, [{ user_ids: ['c'], device_ids: [], aliases: [], should_remove: true }]);

    await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: 'd' }] }, onChanged);
    await waitUntil('d in Braze', () => inBraze().user_ids.includes('d'));
    await h.queue.idle();
    // Only "d": a full re-diff would also have re-added "b", whose acknowledgement is missing.
    expect(membershipCalls(h.sandbox.state.requests())).toEqual([{ add: ['e:d'], remove: [] }]);

    // A change committed without the hook (a crash between commit and wake-up) is missed too.
    await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: 'e' }] });
    await new Promise((r) => setTimeout(r, 200));
    expect(inBraze().user_ids).not.toContain('e');

    // The reconciliation: the scheduler finds the real-time sync due one period later and asks for a run. It
    // plans from the change log (docs/syncs.md), which holds "e": not "b", whose acknowledgement was lost.
    h.sandbox.state.clearRequests();
    const clock = new ManualClock(Date.parse(sync.nextRunAt!) + 1_000);
    const tick = await createScheduler({ ...h.deps, clock }).tick();
    expect(tick.requested.map((r) => r.syncId)).toEqual([sync.id]);
    const reconcile = await waitForRun(h.deps, tick.requested[0]!.runId);
    expect(reconcile).toMatchObject({ status: 'succeeded', mode: 'full', trigger: 'schedule', plannedFrom: 'changes' });
    expect(sorted(membershipCalls(h.sandbox.state.requests()).flatMap((c) => c.add))).toEqual(['e:e']);
    // A full reconcile (every FULL_RECONCILE_HOURS, or asked for) re-reads every member and repairs "b".
    h.sandbox.state.clearRequests();
    const full = await waitForRun(h.deps, (await runNow(h.deps, project.id, sync.id, { reconcile: true })).id);
    expect(full).toMatchObject({ status: 'succeeded', mode: 'full', reconcile: true, plannedFrom: 'cohort' });
    expect(sorted(membershipCalls(h.sandbox.state.requests()).flatMap((c) => c.add))).toEqual(['e:b']);
    expect(sorted(inBraze().user_ids)).toEqual(['a', 'b', 'd', 'e']);
    // Braze-side drift ("c" removed in Braze) is invisible to us: Braze has no read-back API (docs/syncs.md).
    expect((await h.store.syncs.getById(sync.id))?.nextRunAt).toBe(
      new Date(clock.now().getTime() + 60 * 60_000).toISOString(),
    );
  });

  it('follows identification and merges into other cohorts, and removes the merged profile’s old identifiers', async () => {
    const { project, cohort, sync, inBraze } = await realtimeSync({ type: 'device_id' }, [
      { device_id: 'dev-1' },
      { device_id: 'dev-2' },
      { user_id: 'carol' },
    ]);
    expect(sorted(inBraze().device_ids)).toEqual(['dev-1', 'dev-2']);
    expect(inBraze().user_ids).toEqual(['carol']);
    // Identity changes arrive through another cohort: the hook names that cohort, not ours.
    const other = await createStaticCohort(h.deps, project.id, { name: 'Elsewhere' });
    const known = await createStaticCohort(h.deps, project.id, { name: 'Known' });
    await changeMembers(h.deps, project.id, known.id, { add: [{ user_id: 'bob' }] }, onChanged);

    // dev-1's anonymous profile is identified as alice: the device mapping now also sends external_id alice.
    const start = performance.now();
    await changeMembers(h.deps, project.id, other.id, { add: [{ user_id: 'alice', device_id: 'dev-1' }] }, onChanged);
    await waitUntil('alice in Braze', () => inBraze().user_ids.includes('alice'));
    expect(performance.now() - start).toBeLessThan(5_000);

    // dev-2's anonymous profile merges into bob (an identified user outside our cohort): bob becomes a member.
    await changeMembers(h.deps, project.id, other.id, { add: [{ user_id: 'bob', device_id: 'dev-2' }] }, onChanged);
    await waitUntil('bob in Braze', () => inBraze().user_ids.includes('bob'));
    await h.queue.idle();
    expect(sorted(membershipCalls(h.sandbox.state.requests()).flatMap((c) => c.add))).toEqual(['e:alice', 'e:bob']);
    expect(membershipCalls(h.sandbox.state.requests()).flatMap((c) => c.remove)).toEqual([]);

    // Bob leaves: both his external_id and the device he brought from the merged anonymous profile go.
    h.sandbox.state.clearRequests();
    await changeMembers(h.deps, project.id, cohort.id, { remove: [{ user_id: 'bob' }] }, onChanged);
    await waitUntil(
      'bob and dev-2 removed',
      () => !inBraze().user_ids.includes('bob') && !inBraze().device_ids.includes('dev-2'),
    );
    await h.queue.idle();
    expect(membershipCalls(h.sandbox.state.requests()).map((c) => ({ add: c.add, remove: sorted(c.remove) }))).toEqual([
      { add: [], remove: ['d:dev-2', 'e:bob'] },
    ]);
    expect(sorted(inBraze().user_ids)).toEqual(['alice', 'carol']);
    expect(inBraze().device_ids).toEqual(['dev-1']);
    // Nothing was lost on the way: a full plan now has nothing to do.
    expect(await h.store.audiences.ackedCount(sync.audienceRef)).toBe(3);
  });

  it('picks up within one scheduler tick a change whose hook never ran', async () => {
    const { project, cohort, sync, inBraze } = await realtimeSync({ type: 'device_id' }, [{ device_id: 'dev-9' }]);
    const other = await createStaticCohort(h.deps, project.id, { name: 'Elsewhere' });
    await changeMembers(h.deps, project.id, other.id, { add: [{ user_id: 'dana' }] });
    // The merge adds no member to "Elsewhere" (dana is one already), so the members API calls no hook,
    // yet dev-9's profile, a member of our cohort, merged into dana.
    const outcome = await changeMembers(
      h.deps,
      project.id,
      other.id,
      { add: [{ user_id: 'dana', device_id: 'dev-9' }] },
      onChanged,
    );
    expect(outcome.added).toBe(0);
    expect(await h.store.planning.hasPendingChanges(sync.audienceRef)).toBe(true);
    const scheduler = createScheduler(h.deps);
    const tick = await scheduler.tick();
    expect(tick.requested).toEqual([]);
    expect(tick.woken.map((w) => w.syncId)).toEqual([sync.id]);
    const run = await waitForRun(h.deps, tick.woken[0]!.runId);
    expect(run).toMatchObject({ status: 'succeeded', mode: 'incremental' });
    expect(inBraze().user_ids).toEqual(['dana']);
    expect(membershipCalls(h.sandbox.state.requests())).toEqual([{ add: ['e:dana'], remove: [] }]);
    // Consumed: the next tick has nothing to wake.
    expect(await h.store.planning.hasPendingChanges(sync.audienceRef)).toBe(false);
    expect((await scheduler.tick()).woken).toEqual([]);
    void cohort;
  });

  it('wakes the syncs an identity change concerns through identityChanged (ingestion’s hook)', async () => {
    const { project, sync, inBraze } = await realtimeSync({ type: 'device_id' }, [{ device_id: 'dev-5' }]);
    const unrelated = await realtimeSync({ type: 'user_id' }, [{ user_id: 'zed' }]);
    const other = await createStaticCohort(h.deps, project.id, { name: 'Elsewhere' });
    await changeMembers(h.deps, project.id, other.id, { add: [{ user_id: 'erin', device_id: 'dev-5' }] });
    await identityChanged(h.deps)(project.id);
    const [run] = await runsOf(project.id, sync);
    expect(run).toMatchObject({ mode: 'incremental', trigger: 'real_time' });
    await waitUntil('erin in Braze', () => inBraze().user_ids.includes('erin'));
    // A project's hook never wakes another project's syncs.
    expect((await runsOf(unrelated.project.id, unrelated.sync)).map((r) => r.mode)).toEqual(['full']);
  });

  it.skipIf(engine.name !== 'postgres')(
    'plans in full, without advancing, while a transaction still writes the change log',
    async () => {
      const { project, cohort, sync, inBraze } = await realtimeSync({ type: 'user_id' }, [
        { user_id: 'a' },
        { user_id: 'b' },
      ]);
      await sql`delete from braze_identifiers where braze_cohort_id = ${sync.audienceRef} and ident_key = 'e:b'`.execute(
        h.store.raw.db,
      );
      const changeSeq = await h.store.planning.changeSeq(sync.audienceRef);
      // Another transaction has written to member_changes and not committed: seqs below ours may still appear.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let writing!: () => void;
      const written = new Promise<void>((r) => (writing = r));
      const holder = h.store.raw.db.connection().execute(async (conn) => {
        await sql`begin`.execute(conn);
        await sql`insert into member_changes (project_id, cohort_id, profile_id, at) values (${project.id}, null, 0, ${new Date().toISOString()})`.execute(
          conn,
        );
        writing();
        await held;
        await sql`rollback`.execute(conn);
      });
      await written;
      try {
        await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: 'c' }] }, onChanged);
        const run = await waitForRun(h.deps, (await runsOf(project.id, sync))[0]!.id);
        expect(run).toMatchObject({ mode: 'incremental', status: 'succeeded' });
        // Planned in full (b's lost acknowledgement is repaired), and change_seq stays for the next run.
        expect(sorted(membershipCalls(h.sandbox.state.requests()).flatMap((c) => c.add))).toEqual(['e:b', 'e:c']);
        expect(await h.store.planning.changeSeq(sync.audienceRef)).toBe(changeSeq);
      } finally {
        release();
        await holder;
      }

      await h.queue.idle();
      h.sandbox.state.clearRequests();
      await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: 'd' }] }, onChanged);
      await waitUntil('d in Braze', () => inBraze().user_ids.includes('d'));
      await h.queue.idle();
      expect(membershipCalls(h.sandbox.state.requests())).toEqual([{ add: ['e:d'], remove: [] }]);
      expect(await h.store.planning.changeSeq(sync.audienceRef)).toBeGreaterThan(changeSeq);
    },
  );

  it('keeps aliases named by the user_id incremental', async () => {
    const { project, cohort, sync, inBraze } = await realtimeSync({ type: 'user_alias', aliasLabel: 'amp' }, [
      { user_id: 'm1' },
      { user_id: 'm2' },
    ]);
    expect(
      inBraze()
        .aliases.map((a) => a.alias_name)
        .sort(),
    ).toEqual(['m1', 'm2']);
    await sql`delete from braze_identifiers where braze_cohort_id = ${sync.audienceRef} and ident_key like ${'a:amp%m2'}`.execute(
      h.store.raw.db,
    );
    await changeMembers(h.deps, project.id, cohort.id, { remove: [{ user_id: 'm1' }] }, onChanged);
    await waitUntil('m1 removed', () => !inBraze().aliases.some((a) => a.alias_name === 'm1'));
    await h.queue.idle();
    // Only m1's alias: the lost acknowledgement of m2 waits for the reconciliation (an incremental plan).
    expect(membershipCalls(h.sandbox.state.requests())).toEqual([{ add: [], remove: ['a:amp:m1'] }]);
  });

  it('plans aliases on a shared property in full, so a value another member still has stays', async () => {
    const mapping: Mapping = { type: 'user_alias', aliasLabel: 'plan', aliasProperty: 'plan' };
    const { project, cohort, sync, inBraze } = await realtimeSync(mapping, [
      { user_id: 'm1', properties: { plan: 'gold' } },
      { user_id: 'm2', properties: { plan: 'gold' } },
      { user_id: 'm3', properties: { plan: 'silver' } },
    ]);
    expect(
      inBraze()
        .aliases.map((a) => a.alias_name)
        .sort(),
    ).toEqual(['gold', 'silver']);
    // Drift only a full plan sees: the acknowledgement of "silver" is lost.
    await sql`delete from braze_identifiers where braze_cohort_id = ${sync.audienceRef} and ident_key like ${'a:plan%silver'}`.execute(
      h.store.raw.db,
    );

    // m1 leaves, but m2 still has plan gold: nothing is removed (an incremental plan could not know that).
    await changeMembers(h.deps, project.id, cohort.id, { remove: [{ user_id: 'm1' }] }, onChanged);
    const runs = await runsOf(project.id, sync);
    await waitForRun(h.deps, runs[0]!.id);
    await h.queue.idle();
    expect(runs[0]!.mode).toBe('incremental');
    // Planned in full: "silver" is re-added, "gold" stays.
    expect(membershipCalls(h.sandbox.state.requests())).toEqual([{ add: ['a:plan:silver'], remove: [] }]);
    expect(
      inBraze()
        .aliases.map((a) => a.alias_name)
        .sort(),
    ).toEqual(['gold', 'silver']);

    await changeMembers(h.deps, project.id, cohort.id, { remove: [{ user_id: 'm2' }] }, onChanged);
    await waitUntil('gold removed', () => !inBraze().aliases.some((a) => a.alias_name === 'gold'));
  });

  it('sends nothing for a paused real-time sync, and folds changes into a queued run', async () => {
    const { project, cohort, sync } = await realtimeSync({ type: 'user_id' }, [{ user_id: 'a' }]);
    await h.store.syncs.update(project.id, sync.id, { paused: true }, new Date().toISOString());
    const before = (await runsOf(project.id, sync)).length;
    await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: 'b' }] }, onChanged);
    expect((await runsOf(project.id, sync)).length).toBe(before);
    await h.queue.idle();
    expect(membershipCalls(h.sandbox.state.requests())).toEqual([]);

    // Resumed, with the worker held up by a slow Braze: changes made meanwhile share one queued run.
    await h.store.syncs.update(project.id, sync.id, { paused: false }, new Date().toISOString());
    h.sandbox.state.injectFaults([{ latencyMs: 800, path: 'users' }]);
    await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: 'c' }] }, onChanged);
    await waitUntil('the first real-time run to start', async () =>
      (await runsOf(project.id, sync)).some((r) => r.status === 'running'),
    );
    for (const u of ['d', 'e', 'f'])
      await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: u }] }, onChanged);
    const queued = (await runsOf(project.id, sync)).filter((r) => r.status === 'queued');
    expect(queued).toHaveLength(1);
    await waitForRun(h.deps, queued[0]!.id);
    await h.queue.idle();
    const adds = membershipCalls(h.sandbox.state.requests()).flatMap((c) => c.add);
    expect(sorted(adds)).toEqual(['e:b', 'e:c', 'e:d', 'e:e', 'e:f']);
  });
});
