// Projects, tokens and the error contract every route shares (api.md "Errors", "Authentication").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/adapters/crypto/secrets.ts';
import { ENGINES } from '../support/engines.ts';
import { type Api, json, startApi } from './api-support.ts';

type ErrorBody = {
  error: {
    code: string;
    message: string;
    details?: { fields?: { path: string; in: string; message: string }[]; syncs?: string[] };
  };
};

describe.each(ENGINES)('projects and the error contract on $name', (engine) => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi(engine);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('serves /healthz without a token', async () => {
    const res = await api.call('GET', '/healthz', { token: null });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('creates a project (201, ingest key shown) and reads it back per role', async () => {
    const created = await api.call('POST', '/api/v1/projects', { body: { name: '  Shop  ' } });
    expect(created.statusCode).toBe(201);
    const project = json<{ id: string; name: string; brazeEnabled: boolean; ingestKey: string }>(created);
    expect(project).toMatchObject({ name: 'Shop', brazeEnabled: false, notificationEmails: [] });
    expect(project.ingestKey).toMatch(/^cs_ingest_/);

    const editor = json<{ token: string; role: string }>(
      await api.call('POST', `/api/v1/projects/${project.id}/tokens`, { body: { role: 'editor' } }),
    );
    expect(editor.role).toBe('editor');
    const viewerRes = await api.call('POST', `/api/v1/projects/${project.id}/tokens`, {
      token: editor.token,
      body: { role: 'viewer' },
    });
    expect(viewerRes.statusCode).toBe(201);
    const viewer = json<{ token: string; role: string }>(viewerRes);
    expect(viewer.token).not.toBe(editor.token);
    // Tokens are stored as hashes: the store knows the hash, never the token.
    expect(await api.h.store.tokens.findByHash(hashToken(viewer.token))).toMatchObject({
      projectId: project.id,
      role: 'viewer',
    });

    expect(json(await api.call('GET', `/api/v1/projects/${project.id}`, { token: editor.token }))).toMatchObject({
      id: project.id,
      ingestKey: project.ingestKey,
    });
    const asViewer = json(await api.call('GET', `/api/v1/projects/${project.id}`, { token: viewer.token }));
    expect(asViewer).toMatchObject({ id: project.id, name: 'Shop' });
    expect(asViewer).not.toHaveProperty('ingestKey');
    const listed = json<{ items: Record<string, unknown>[] }>(
      await api.call('GET', '/api/v1/projects', { token: viewer.token }),
    );
    expect(listed.items).toHaveLength(1);
    expect(listed.items[0]).not.toHaveProperty('ingestKey');
  });

  it('renames a project and sets its recipients; a bad address is a 400 naming it', async () => {
    const { id } = json<{ id: string }>(await api.call('POST', '/api/v1/projects', { body: { name: 'Before' } }));
    const patched = await api.call('PATCH', `/api/v1/projects/${id}`, {
      body: { name: 'After', notificationEmails: ['ops@example.com', 'ops@example.com', 'cto@example.com'] },
    });
    expect(patched.statusCode).toBe(200);
    expect(json(patched)).toMatchObject({ name: 'After', notificationEmails: ['ops@example.com', 'cto@example.com'] });

    const bad = await api.call('PATCH', `/api/v1/projects/${id}`, {
      body: { notificationEmails: ['ok@example.com', 'not-an-address'] },
    });
    expect(bad.statusCode).toBe(400);
    expect(json<ErrorBody>(bad).error.details?.fields).toEqual([
      expect.objectContaining({ path: 'notificationEmails[1]', in: 'body' }),
    ]);
    expect(json(await api.call('GET', `/api/v1/projects/${id}`))).toMatchObject({ name: 'After' });
  });

  it('answers 400 invalid_input listing every bad field, of the body and the query alike', async () => {
    const res = await api.call('POST', '/api/v1/projects', { body: { name: 42, colour: 'red', size: 3 } });
    expect(res.statusCode).toBe(400);
    const body = json<ErrorBody>(res);
    expect(body.error.code).toBe('invalid_input');
    expect(body.error.details?.fields?.map((f) => f.path).sort()).toEqual(['colour', 'name', 'size']);

    const { id } = json<{ id: string }>(await api.call('POST', '/api/v1/projects', { body: { name: 'Q' } }));
    const cohort = json<{ id: string }>(
      await api.call('POST', `/api/v1/projects/${id}/cohorts`, { body: { name: 'C', type: 'static' } }),
    );
    const query = await api.call('GET', `/api/v1/projects/${id}/cohorts/${cohort.id}/members?limit=0&cursor=forged`);
    expect(query.statusCode).toBe(400);
    expect(json<ErrorBody>(query).error.details?.fields).toEqual([
      expect.objectContaining({ path: 'limit', in: 'query' }),
    ]);
    const forged = await api.call('GET', `/api/v1/projects/${id}/cohorts/${cohort.id}/members?cursor=forged`);
    expect(forged.statusCode).toBe(400);
    expect(json<ErrorBody>(forged).error.details?.fields?.[0]?.path).toBe('cursor');
  });

  it('answers 400 to malformed JSON and to a missing body, never 500', async () => {
    for (const payload of ['{"name":', '{"name":"x"}}', '\u0000', '{"__proto__":{"admin":true},"name":"x"}']) {
      const res = await api.call('POST', '/api/v1/projects', {
        payload,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.statusCode, payload).toBe(400);
      expect(json<ErrorBody>(res).error.code).toBe('invalid_input');
    }
    const empty = await api.call('POST', '/api/v1/projects', {
      payload: '',
      headers: { 'content-type': 'application/json' },
    });
    expect(empty.statusCode).toBe(400);
    expect(json<ErrorBody>(empty).error.details?.fields?.[0]).toMatchObject({ path: 'body' });
  });

  it('answers 415 to a body in a type the route does not take', async () => {
    for (const type of ['text/plain', 'text/csv', 'application/x-www-form-urlencoded']) {
      const res = await api.call('POST', '/api/v1/projects', { payload: 'name=x', headers: { 'content-type': type } });
      expect(res.statusCode, type).toBe(415);
      expect(json<ErrorBody>(res).error.code).toBe('unsupported_media_type');
    }
  });

  it('answers 401 with a WWW-Authenticate challenge, and 404 not_found to unknown routes and ids', async () => {
    const res = await api.call('GET', '/api/v1/projects', { token: null });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(json<ErrorBody>(res).error.code).toBe('unauthorized');
    const unknownRoute = await api.call('GET', '/api/v1/nothing');
    expect(unknownRoute.statusCode).toBe(404);
    expect(json<ErrorBody>(unknownRoute).error.code).toBe('not_found');
    const unknownProject = await api.call('GET', '/api/v1/projects/prj_nope');
    expect(unknownProject.statusCode).toBe(404);
    expect(json<ErrorBody>(unknownProject).error).toMatchObject({
      code: 'not_found',
      message: expect.stringContaining('prj_nope'),
    });
  });

  it('answers 413 payload_too_large above the body limit, and stores nothing', async () => {
    const small = await startApi(engine, { context: { bodyLimitBytes: 1024 } });
    try {
      const res = await small.call('POST', '/api/v1/projects', { body: { name: 'x'.repeat(2000) } });
      expect(res.statusCode).toBe(413);
      expect(json<ErrorBody>(res).error.code).toBe('payload_too_large');
      expect(await small.h.store.projects.list()).toEqual([]);
      // Without a token the body is not even read: 401 first.
      expect(
        (await small.call('POST', '/api/v1/projects', { token: null, body: { name: 'x'.repeat(2000) } })).statusCode,
      ).toBe(401);
    } finally {
      await small.close();
    }
  });
});
