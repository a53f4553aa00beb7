// The Braze destination and its targets over HTTP (docs/product.md §3, api.md "Braze destination").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.ts';
import { type Api, json, startApi } from './api-support.ts';

type ErrorBody = {
  error: { code: string; message: string; details?: { fields?: { path: string }[]; syncs?: string[] } };
};
type Target = {
  id: string;
  name: string;
  endpoint: string;
  dataImportKeyHint: string;
  mapping: unknown;
  createdAt: string;
};

describe.each(ENGINES)('Braze destination and targets on $name', (engine) => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi(engine);
  });
  afterAll(async () => {
    await api?.close();
  });

  const newProject = async () => {
    const { id } = json<{ id: string }>(
      await api.call('POST', '/api/v1/projects', { body: { name: `P ${Math.random()}` } }),
    );
    return `/api/v1/projects/${id}`;
  };

  it('enables the destination and keeps the single-key form as the "Default" target', async () => {
    const p = await newProject();
    expect(json(await api.call('GET', `${p}/destinations/braze`))).toEqual({ enabled: false, targets: [] });
    const key = api.h.sandbox.state.createWorkspace();
    const put = await api.call('PUT', `${p}/destinations/braze`, {
      body: { enabled: true, endpoint: api.h.sandbox.url, dataImportKey: key, mapping: { type: 'user_id' } },
    });
    expect(put.statusCode).toBe(200);
    const dest = json<{ enabled: boolean; targets: Target[] }>(put);
    expect(dest.enabled).toBe(true);
    expect(dest.targets).toEqual([
      expect.objectContaining({
        name: 'Default',
        endpoint: api.h.sandbox.url,
        dataImportKeyHint: `…${key.slice(-4)}`,
        mapping: { type: 'user_id' },
      }),
    ]);
    expect(put.body).not.toContain(key);

    // Same form again with a new key: the Default target is updated in place, not duplicated.
    const rotated = api.h.sandbox.state.createWorkspace();
    const again = json<{ targets: Target[] }>(
      await api.call('PUT', `${p}/destinations/braze`, {
        body: { enabled: true, endpoint: api.h.sandbox.url, dataImportKey: rotated, mapping: { type: 'user_id' } },
      }),
    );
    expect(again.targets).toHaveLength(1);
    expect(again.targets[0]).toMatchObject({ id: dest.targets[0]!.id, dataImportKeyHint: `…${rotated.slice(-4)}` });

    // Its mapping cannot change.
    const remap = await api.call('PUT', `${p}/destinations/braze`, {
      body: { enabled: true, mapping: { type: 'device_id' } },
    });
    expect(remap.statusCode).toBe(409);
    expect(json<ErrorBody>(remap).error.code).toBe('target_mapping_immutable');

    // Disabling keeps the targets.
    const off = json<{ enabled: boolean; targets: Target[] }>(
      await api.call('PUT', `${p}/destinations/braze`, { body: { enabled: false } }),
    );
    expect(off).toMatchObject({ enabled: false, targets: [expect.objectContaining({ name: 'Default' })] });
  });

  it('refuses a partial single-key form listing what is missing, and changes nothing', async () => {
    const p = await newProject();
    const res = await api.call('PUT', `${p}/destinations/braze`, {
      body: { enabled: true, endpoint: api.h.sandbox.url },
    });
    expect(res.statusCode).toBe(400);
    expect(json<ErrorBody>(res).error.details?.fields?.map((f) => f.path)).toEqual(['dataImportKey', 'mapping']);
    expect(json(await api.call('GET', `${p}/destinations/braze`))).toEqual({ enabled: false, targets: [] });
  });

  it('creates named targets: unique names, "Default" reserved, endpoints and mappings checked', async () => {
    const p = await newProject();
    const key = api.h.sandbox.state.createWorkspace();
    const body = {
      name: 'EU app',
      endpoint: api.h.sandbox.url,
      dataImportKey: key,
      mapping: { type: 'user_alias', aliasLabel: 'amp_id', fallbacks: [{ type: 'device_id' }] },
    };
    const created = await api.call('POST', `${p}/destinations/braze/targets`, { body });
    expect(created.statusCode).toBe(201);
    const target = json<Target>(created);
    expect(target).toEqual({
      id: expect.any(String),
      name: 'EU app',
      delivery: 'cohort_import',
      endpoint: api.h.sandbox.url,
      dataImportKeyHint: `…${key.slice(-4)}`,
      mapping: body.mapping,
      createdAt: expect.any(String),
    });
    expect(created.body).not.toContain(key);

    expect(json<ErrorBody>(await api.call('POST', `${p}/destinations/braze/targets`, { body })).error.code).toBe(
      'target_name_taken',
    );
    const reserved = await api.call('POST', `${p}/destinations/braze/targets`, { body: { ...body, name: 'Default' } });
    expect(reserved.statusCode).toBe(409);
    const badEndpoint = await api.call('POST', `${p}/destinations/braze/targets`, {
      body: { ...body, name: 'Other', endpoint: 'https://evil.example.com' },
    });
    expect(badEndpoint.statusCode).toBe(400);
    expect(json<ErrorBody>(badEndpoint).error.details?.fields?.[0]).toEqual({
      path: 'endpoint',
      message:
        'https://evil.example.com is not a Braze REST endpoint (e.g. https://rest.iad-01.braze.com) nor one the operator allowed',
    });
    const noLabel = await api.call('POST', `${p}/destinations/braze/targets`, {
      body: { ...body, name: 'Other', mapping: { type: 'user_alias' } },
    });
    expect(noLabel.statusCode).toBe(400);
    expect(json<ErrorBody>(noLabel).error.details?.fields?.[0]?.path).toBe('mapping.aliasLabel');
    const badType = await api.call('POST', `${p}/destinations/braze/targets`, {
      body: { ...body, name: 'Other', mapping: { type: 'email' }, dataImportKey: '' },
    });
    expect(
      json<ErrorBody>(badType)
        .error.details?.fields?.map((f) => f.path)
        .sort(),
    ).toEqual(['dataImportKey', 'mapping.type']);

    // A real Braze instance is accepted too (the sandbox is only allowed by configuration).
    const real = await api.call('POST', `${p}/destinations/braze/targets`, {
      body: { ...body, name: 'US-03', endpoint: 'https://rest.iad-03.braze.com/' },
    });
    expect(real.statusCode).toBe(201);
    expect(json<Target>(real).endpoint).toBe('https://rest.iad-03.braze.com');

    const list = json<{ items: Target[]; nextCursor: string | null }>(
      await api.call('GET', `${p}/destinations/braze/targets`),
    );
    expect(list.items.map((t) => t.name)).toEqual(['EU app', 'US-03']);
    const firstPage = json<{ items: Target[]; nextCursor: string }>(
      await api.call('GET', `${p}/destinations/braze/targets?limit=1`),
    );
    expect(firstPage.items.map((t) => t.name)).toEqual(['EU app']);
    const second = json<{ items: Target[]; nextCursor: string | null }>(
      await api.call(
        'GET',
        `${p}/destinations/braze/targets?limit=1&cursor=${encodeURIComponent(firstPage.nextCursor)}`,
      ),
    );
    expect(second).toEqual({ items: [expect.objectContaining({ name: 'US-03' })], nextCursor: null });
    expect(json(await api.call('GET', `${p}/destinations/braze/targets/${target.id}`))).toEqual(target);
    expect((await api.call('GET', `${p}/destinations/braze/targets/tgt_nope`)).statusCode).toBe(404);
  });

  it('keeps name and mapping immutable and lets the key and endpoint change', async () => {
    const p = await newProject();
    const key = api.h.sandbox.state.createWorkspace();
    const t = json<Target>(
      await api.call('POST', `${p}/destinations/braze/targets`, {
        body: { name: 'Main', endpoint: api.h.sandbox.url, dataImportKey: key, mapping: { type: 'user_id' } },
      }),
    );
    const url = `${p}/destinations/braze/targets/${t.id}`;
    const rename = await api.call('PATCH', url, { body: { name: 'Renamed' } });
    expect(rename.statusCode).toBe(409);
    expect(json<ErrorBody>(rename).error.code).toBe('target_name_immutable');
    const remap = await api.call('PATCH', url, { body: { mapping: { type: 'device_id' } } });
    expect(remap.statusCode).toBe(409);
    expect(json<ErrorBody>(remap).error.code).toBe('target_mapping_immutable');
    // Repeating the current name and mapping is no change at all.
    expect((await api.call('PATCH', url, { body: { name: 'Main', mapping: { type: 'user_id' } } })).statusCode).toBe(
      200,
    );

    const newKey = api.h.sandbox.state.createWorkspace();
    const rotated = await api.call('PATCH', url, {
      body: { dataImportKey: newKey, endpoint: `${api.h.sandbox.url}/` },
    });
    expect(rotated.statusCode).toBe(200);
    expect(json<Target>(rotated)).toMatchObject({
      name: 'Main',
      dataImportKeyHint: `…${newKey.slice(-4)}`,
      endpoint: api.h.sandbox.url,
    });
    expect(rotated.body).not.toContain(newKey);
  });

  it('tests a connection and says plainly when the key is wrong', async () => {
    const p = await newProject();
    const good = json<Target>(
      await api.call('POST', `${p}/destinations/braze/targets`, {
        body: {
          name: 'Good',
          endpoint: api.h.sandbox.url,
          dataImportKey: api.h.sandbox.state.createWorkspace(),
          mapping: { type: 'user_id' },
        },
      }),
    );
    const bad = json<Target>(
      await api.call('POST', `${p}/destinations/braze/targets`, {
        body: {
          name: 'Bad',
          endpoint: api.h.sandbox.url,
          dataImportKey: 'not-a-key-braze-knows',
          mapping: { type: 'user_id' },
        },
      }),
    );
    const ok = await api.call('POST', `${p}/destinations/braze/targets/${good.id}/test`);
    expect(ok.statusCode).toBe(200);
    expect(json(ok)).toMatchObject({ ok: true });
    const refused = json<{ ok: boolean; message: string }>(
      await api.call('POST', `${p}/destinations/braze/targets/${bad.id}/test`),
    );
    expect(refused.ok).toBe(false);
    expect(refused.message).toMatch(/client secret|key/i);
    expect(refused.message).not.toContain('not-a-key-braze-knows');
  });

  it('refuses to delete a target in use (409 with its syncs) unless deleteSyncs=true', async () => {
    const p = await newProject();
    await api.call('PUT', `${p}/destinations/braze`, { body: { enabled: true } });
    const t = json<Target>(
      await api.call('POST', `${p}/destinations/braze/targets`, {
        body: {
          name: 'Main',
          endpoint: api.h.sandbox.url,
          dataImportKey: api.h.sandbox.state.createWorkspace(),
          mapping: { type: 'user_id' },
        },
      }),
    );
    const cohort = json<{ id: string }>(
      await api.call('POST', `${p}/cohorts`, { body: { name: 'C', type: 'static' } }),
    );
    const sync = json<{ id: string }>(
      await api.call('POST', `${p}/syncs`, { body: { cohortId: cohort.id, targetId: t.id, cadence: 'daily' } }),
    );
    await api.h.queue.idle();

    const refused = await api.call('DELETE', `${p}/destinations/braze/targets/${t.id}`);
    expect(refused.statusCode).toBe(409);
    expect(json<ErrorBody>(refused).error).toMatchObject({ code: 'target_in_use', details: { syncs: [sync.id] } });
    expect((await api.call('GET', `${p}/destinations/braze/targets/${t.id}`)).statusCode).toBe(200);

    const deleted = await api.call('DELETE', `${p}/destinations/braze/targets/${t.id}?deleteSyncs=true`);
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    expect((await api.call('GET', `${p}/destinations/braze/targets/${t.id}`)).statusCode).toBe(404);
    expect((await api.call('GET', `${p}/syncs/${sync.id}`)).statusCode).toBe(404);
    expect((await api.call('DELETE', `${p}/destinations/braze/targets/${t.id}`)).statusCode).toBe(404);
  });
});
