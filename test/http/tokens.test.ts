// Project tokens: created with a name and shown once, listed by hint only, revoked at once (api.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.ts';
import { type Api, json, startApi } from './api-support.ts';

describe.each(ENGINES)('project tokens on $name', (engine) => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi(engine);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('lists tokens by name and hint, never the token, and revokes one at once', async () => {
    const p = json<{ id: string }>(await api.call('POST', '/api/v1/projects', { body: { name: 'Tokens' } })).id;
    const created = json<any>(
      await api.call('POST', `/api/v1/projects/${p}/tokens`, { body: { role: 'editor', name: 'Deploy bot' } }),
    );
    expect(created).toMatchObject({ role: 'editor', name: 'Deploy bot', hint: `…${created.token.slice(-4)}` });
    const viewer = json<any>(await api.call('POST', `/api/v1/projects/${p}/tokens`, { body: { role: 'viewer' } }));

    const list = await api.call('GET', `/api/v1/projects/${p}/tokens`);
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(created.token);
    expect(json<any>(list).items.map((t: any) => [t.id, t.role, t.name ?? null])).toEqual([
      [created.id, 'editor', 'Deploy bot'],
      [viewer.id, 'viewer', null],
    ]);
    // Viewers read the project, but not its tokens.
    expect((await api.call('GET', `/api/v1/projects/${p}/tokens`, { token: viewer.token })).statusCode).toBe(403);
    expect((await api.call('GET', `/api/v1/projects/${p}`, { token: created.token })).statusCode).toBe(200);

    expect((await api.call('DELETE', `/api/v1/projects/${p}/tokens/${created.id}`)).statusCode).toBe(204);
    expect((await api.call('GET', `/api/v1/projects/${p}`, { token: created.token })).statusCode).toBe(401);
    expect((await api.call('DELETE', `/api/v1/projects/${p}/tokens/${created.id}`)).statusCode).toBe(404);
    expect(json<any>(await api.call('GET', `/api/v1/projects/${p}/tokens`)).items).toHaveLength(1);
  });
});
