// The Braze partner client against the project's Braze sandbox (src/sandbox): an end-to-end check that what
// the client sends is what a Braze-like server accepts and applies. The exhaustive client tests live in
// braze-client.test.ts against a scripted server; this file only checks the two agree.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrazeHttp, CohortImportDefinition, InMemoryRateLimiter } from '../../src/adapters/braze/index.ts';
import type { Audience } from '../../src/ports/destination.ts';
import { type RunningSandbox, startSandbox } from '../../src/sandbox/index.ts';

const PARTNER_KEY = 'sandbox-partner-key-0000-PK01';
let sandbox: RunningSandbox;
let dik: string;
const sleeps: number[] = [];

const http = new BrazeHttp({
  limiter: new InMemoryRateLimiter(),
  random: () => 0,
  sleep: async (ms) => {
    sleeps.push(ms);
  },
});
const destination = new CohortImportDefinition(http, { partnerSlug: 'acme', partnerKeys: { US: PARTNER_KEY } });
const cohort = (id: string, name = id): Audience => ({
  id,
  name,
  createdAt: '2030-01-01T00:00:00.000Z',
  attribute: null,
});

beforeAll(async () => {
  sandbox = await startSandbox({ partnerSlug: 'acme', partnerKeys: [PARTNER_KEY] });
  dik = sandbox.state.createWorkspace('sandbox-dik-0000-0000-AB12');
  sandbox.state.seedUsers(dik, [
    { external_id: 'u1', device_ids: ['d-of-u1'] },
    { device_ids: ['anon-1'] },
    { external_id: 'u2', aliases: [{ alias_name: 'a@x.io', alias_label: 'email' }] },
  ]);
});

afterAll(async () => {
  await sandbox.close();
});

describe('the cohort import definition against the sandbox', () => {
  it('names a cohort, adds and removes members, and Braze matches them as documented', async () => {
    const target = { endpoint: sandbox.url, secret: dik };
    await destination.ensureAudience(target, cohort('c-1', 'Churn risk'));
    const added = await destination.sendBatch(target, cohort('c-1'), {
      add: [
        { kind: 'external_id', value: 'u1' },
        { kind: 'device_id', value: 'anon-1' },
        { kind: 'alias', label: 'email', name: 'a@x.io' },
        { kind: 'external_id', value: 'nobody' },
      ],
      remove: [],
    });
    expect(added).toMatchObject({ requests: 1, retries: 0 });
    expect(added.outcomes.map((o) => o.status)).toEqual(['sent', 'sent', 'sent', 'sent']);
    expect(sandbox.state.listCohorts(dik)).toMatchObject([{ id: 'c-1', name: 'Churn risk', size: 3 }]);

    await destination.sendBatch(target, cohort('c-1'), { add: [], remove: [{ kind: 'external_id', value: 'u1' }] });
    const members = sandbox.state.cohortUsers(dik, 'c-1').items.map((p) => p.external_id ?? p.device_ids[0]);
    expect(members.sort()).toEqual(['anon-1', 'u2']);
  });

  it('retries an injected 503 and a dropped connection', async () => {
    sleeps.length = 0;
    sandbox.state.injectFaults([
      { status: 503, path: 'users' },
      { drop: true, path: 'users' },
    ]);
    const stats = await destination.sendBatch({ endpoint: sandbox.url, secret: dik }, cohort('c-1'), {
      add: [{ kind: 'external_id', value: 'u1' }],
      remove: [],
    });
    expect(stats).toMatchObject({ requests: 3, retries: 2 });
    expect(sleeps).toEqual([1_000, 2_000]);
    expect(sandbox.state.cohortUsers(dik, 'c-1').size).toBe(3);
  });

  it('reports an unknown Data Import Key as a credentials problem in testConnection', async () => {
    const ok = await destination.testConnection({ endpoint: sandbox.url, secret: dik });
    expect(ok.ok).toBe(true);
    const bad = await destination.testConnection({ endpoint: sandbox.url, secret: 'not-a-sandbox-key-9999' });
    expect(bad.ok).toBe(false);
    expect(bad.message).toContain(sandbox.url);
    expect(bad.message).toContain('…9999');
    expect(bad.message).not.toContain('not-a-sandbox-key-9999');
  });
});
