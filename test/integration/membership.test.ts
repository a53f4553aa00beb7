import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { changeMembers, createStaticCohort, membersFromCsv, replaceMembers } from '../../src/app/cohorts.ts';
import { AppError } from '../../src/app/errors.ts';
import { type Composed, compose } from '../../src/entry/compose.ts';
import { ENGINES } from '../support/engines.ts';
import { projectWithBraze } from '../support/flows.ts';

describe.each(ENGINES)('profiles and membership on $name', (engine) => {
  let c: Composed;
  let drop: () => Promise<void>;
  beforeEach(async () => {
    const fresh = await engine.fresh();
    drop = fresh.drop;
    c = await compose({
      store: fresh.location,
      secretKey: randomBytes(32),
      logger: pino({ level: 'silent' }),
      braze: { partnerSlug: 'cohort-sync', partnerKeys: {}, requestsPerHour: 1000 },
    });
  });
  afterEach(async () => {
    await c.store.close();
    await drop();
  });

  it('identifies an anonymous profile when a member names its device and a user id', async () => {
    const project = await projectWithBraze(c.deps);
    const cohort = await createStaticCohort(c.deps, project.id, { name: 'c' });
    await changeMembers(c.deps, project.id, cohort.id, { add: [{ device_id: 'dev-1' }] });
    const anonymous = await c.store.membership.findProfile(project.id, { deviceId: 'dev-1' });
    expect(anonymous?.userId).toBeNull();

    await changeMembers(c.deps, project.id, cohort.id, { add: [{ user_id: 'User-A', device_id: 'dev-1' }] });
    const identified = await c.store.membership.findProfile(project.id, { userId: 'User-A' });
    expect(identified?.id).toBe(anonymous?.id);
    expect(identified?.deviceIds).toEqual(['dev-1']);
    expect((await c.store.cohorts.get(project.id, cohort.id))?.size).toBe(1);
    // External ids are case-sensitive: another case is another user.
    expect(await c.store.membership.findProfile(project.id, { userId: 'user-a' })).toBeUndefined();
  });

  it('merges an anonymous profile into an existing user, keeping its memberships', async () => {
    const project = await projectWithBraze(c.deps);
    const a = await createStaticCohort(c.deps, project.id, { name: 'a' });
    const b = await createStaticCohort(c.deps, project.id, { name: 'b' });
    await changeMembers(c.deps, project.id, a.id, { add: [{ device_id: 'dev-2' }] });
    await changeMembers(c.deps, project.id, b.id, { add: [{ user_id: 'u2' }] });
    await changeMembers(c.deps, project.id, b.id, { add: [{ user_id: 'u2', device_id: 'dev-2' }] });
    const profile = await c.store.membership.findProfile(project.id, { deviceId: 'dev-2' });
    expect(profile?.userId).toBe('u2');
    expect(await c.store.membership.isMember(a.id, profile!.id)).toBe(true);
    expect((await c.store.cohorts.get(project.id, a.id))?.size).toBe(1);
    expect((await c.store.cohorts.get(project.id, b.id))?.size).toBe(1);
  });

  it('reports invalid members by index and keeps the valid ones', async () => {
    const project = await projectWithBraze(c.deps);
    const cohort = await createStaticCohort(c.deps, project.id, { name: 'c' });
    const out = await changeMembers(c.deps, project.id, cohort.id, {
      add: [{ user_id: 'ok' }, {}, { user_id: 5 }, 'x'],
    });
    expect(out.added).toBe(1);
    expect(out.invalid.map((i) => i.index)).toEqual([1, 2, 3]);
    expect(out.invalid[0]?.reason).toMatch(/user_id or a device_id/);
  });

  it('replaces membership from a streamed CSV, reporting bad lines by number', async () => {
    const project = await projectWithBraze(c.deps);
    const cohort = await createStaticCohort(c.deps, project.id, { name: 'csv' });
    await changeMembers(c.deps, project.id, cohort.id, { add: [{ user_id: 'stays' }, { user_id: 'leaves' }] });
    const csv = [
      'user_id,device_id,plan',
      'stays,,pro',
      'new-1,dev-9,free',
      ',,orphan',
      'too,many,columns,here',
      'new-2,,',
    ].join('\n');
    const out = await replaceMembers(c.deps, project.id, cohort.id, membersFromCsv(Readable.from([csv])));
    expect(out).toMatchObject({ size: 3, accepted: 3, added: 2, removed: 1 });
    expect(out.rejected).toEqual([
      { line: 4, reason: 'a member needs a user_id or a device_id' },
      { line: 5, reason: 'expected 3 columns, found 4' },
    ]);
    const page = await c.store.membership.listMembers(cohort.id, 10, null);
    expect(page.items.map((m) => m.userId).sort()).toEqual(['new-1', 'new-2', 'stays']);
    expect(page.items.find((m) => m.userId === 'new-1')?.properties).toEqual({ plan: 'free' });
    expect(page.items.find((m) => m.userId === 'new-1')?.deviceIds).toEqual(['dev-9']);
  });

  it('applies user-id-only members as one set: duplicates count once, each change logged once', async () => {
    const project = await projectWithBraze(c.deps);
    const cohort = await createStaticCohort(c.deps, project.id, { name: 'set' });
    const changes = async () =>
      Number(
        (
          await c.store.raw.db
            .selectFrom('member_changes')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('cohort_id', '=', cohort.id)
            .executeTakeFirstOrThrow()
        ).n,
      );
    const add = [
      { user_id: 'a' },
      { user_id: 'a' },
      { user_id: 'b' },
      { user_id: ' ' },
      { user_id: 'c', device_id: 'd' },
    ];
    const out = await changeMembers(c.deps, project.id, cohort.id, { add });
    expect(out).toMatchObject({ added: 3, removed: 0 });
    expect(out.invalid).toEqual([{ index: 3, op: 'add', reason: 'user_id is blank (only whitespace)' }]);
    expect(await changes()).toBe(3);
    expect(await changeMembers(c.deps, project.id, cohort.id, { add: [{ user_id: 'b' }] })).toMatchObject({ added: 0 });
    const gone = await changeMembers(c.deps, project.id, cohort.id, {
      remove: [{ user_id: 'a' }, { user_id: 'never-seen' }, { user_id: 'a' }],
    });
    expect(gone).toMatchObject({ added: 0, removed: 1 });
    expect(await changes()).toBe(4);
    expect((await c.store.cohorts.get(project.id, cohort.id))?.size).toBe(2);
    expect(await c.store.membership.findProfile(project.id, { userId: 'never-seen' })).toBeUndefined();
  });

  it('adds new users and known ones alike: exactly their profiles join, each logged once under them', async () => {
    // A body (or an upload's range) of users all new takes their profiles from the ids just made; one that
    // names a known user looks every profile up. Both must give the same members and the same log.
    const project = await projectWithBraze(c.deps);
    const other = await projectWithBraze(c.deps);
    const a = await createStaticCohort(c.deps, project.id, { name: 'a' });
    const b = await createStaticCohort(c.deps, project.id, { name: 'b' });
    const elsewhere = await createStaticCohort(c.deps, other.id, { name: 'elsewhere' });
    const users = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    const members = async (cohortId: string) => {
      const out: string[] = [];
      for (let cursor: string | null = null; ; ) {
        const page = await c.store.membership.listMembers(cohortId, 500, cursor);
        out.push(...page.items.map((m) => m.userId ?? ''));
        if (!page.nextCursor) return out.sort();
        cursor = page.nextCursor;
      }
    };
    const logged = async (cohortId: string) =>
      (
        await c.store.raw.db
          .selectFrom('member_changes as c')
          .innerJoin('profiles as p', 'p.id', 'c.profile_id')
          .select(['p.user_id', 'p.project_id'])
          .where('c.cohort_id', '=', cohortId)
          .execute()
      )
        .map((r) => `${r.project_id === project.id ? '' : 'other:'}${r.user_id}`)
        .sort();
    // Profiles of the same user ids in another project, made first, must not be taken.
    await changeMembers(c.deps, other.id, elsewhere.id, { add: users('n', 5).map((user_id) => ({ user_id })) });
    const fresh = users('n', 300);
    expect(await changeMembers(c.deps, project.id, a.id, { add: fresh.map((user_id) => ({ user_id })) })).toMatchObject(
      {
        added: 300,
      },
    );
    expect(await members(a.id)).toEqual([...fresh].sort());
    expect(await logged(a.id)).toEqual([...fresh].sort());
    // Known users (members of a) with new ones, into b: looked up, each added and logged once.
    const mixed = [...users('n', 10), ...users('m', 20)];
    expect(await changeMembers(c.deps, project.id, b.id, { add: mixed.map((user_id) => ({ user_id })) })).toMatchObject(
      {
        added: 30,
      },
    );
    expect(await members(b.id)).toEqual([...mixed].sort());
    expect(await logged(b.id)).toEqual([...mixed].sort());
    expect((await c.store.cohorts.get(project.id, b.id))?.size).toBe(30);
    // A replace: all new users into a new cohort, then a file of known and new users over it.
    const r = await createStaticCohort(c.deps, project.id, { name: 'r' });
    const csv = (ids: string[]) => Readable.from([`user_id\n${ids.join('\n')}\n`]);
    await replaceMembers(c.deps, project.id, r.id, membersFromCsv(csv(users('r', 50))));
    expect(await members(r.id)).toEqual(users('r', 50).sort());
    expect(await logged(r.id)).toEqual(users('r', 50).sort());
    const second = [...users('r', 25), ...users('n', 5), ...users('s', 5)];
    const out = await replaceMembers(c.deps, project.id, r.id, membersFromCsv(csv(second)));
    expect(out).toMatchObject({ size: 35, added: 10, removed: 25 });
    expect(await members(r.id)).toEqual([...second].sort());
    expect((await logged(r.id)).length).toBe(50 + 10 + 25);
    // The other project's profiles are untouched and still its own.
    expect(await members(elsewhere.id)).toEqual(users('n', 5).sort());
  });

  it('reports malformed CSV records by the line they start on and keeps the rest', async () => {
    const project = await projectWithBraze(c.deps);
    const cohort = await createStaticCohort(c.deps, project.id, { name: 'quotes' });
    const csv = 'user_id,plan\r\nq1,"two\nlines"\nbad"id,x\n"q2",\n"open,\n';
    const out = await replaceMembers(c.deps, project.id, cohort.id, membersFromCsv(Readable.from([csv])));
    expect(out).toMatchObject({ accepted: 2, size: 2 });
    expect(out.rejected.map((r) => r.line)).toEqual([4, 6]);
    expect(out.rejected[0]?.reason).toMatch(/quote inside an unquoted field/);
    expect(out.rejected[1]?.reason).toMatch(/not closed/);
    expect((await c.store.membership.findProfile(project.id, { userId: 'q1' }))?.properties).toEqual({
      plan: 'two\nlines',
    });
  });

  it('streams a CSV in chunks without holding it, and a header without ids is a 400', async () => {
    const project = await projectWithBraze(c.deps);
    const cohort = await createStaticCohort(c.deps, project.id, { name: 'big' });
    async function* lines() {
      yield 'user_id\n';
      for (let i = 0; i < 5000; i++) yield `u-${i}\n`;
    }
    const out = await replaceMembers(c.deps, project.id, cohort.id, membersFromCsv(lines()));
    expect(out.size).toBe(5000);
    await expect(
      replaceMembers(c.deps, project.id, cohort.id, membersFromCsv(Readable.from(['email\nx@y']))),
    ).rejects.toBeInstanceOf(AppError);
    expect((await c.store.cohorts.get(project.id, cohort.id))?.size).toBe(5000);
  });
});
