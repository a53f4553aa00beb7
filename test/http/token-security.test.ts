// Project tokens (issue 12 item 15): listed with hint, role, created, last used and expiry, never the token;
// revoked at once; expiring; only the admin or an editor creates them and an expiring editor cannot create
// a token that outlives it; failed authentication is rate-limited per client address.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.ts';
import { type Api, json, startApi } from './api-support.ts';

type TokenInfo = {
  id: string;
  role: string;
  name?: string;
  hint: string;
  createdAt: string;
  lastUsedAt?: string;
  expiresAt?: string;
};

describe('project tokens', () => {
  let api: Api;
  let p: string;
  beforeAll(async () => {
    api = await startApi(ENGINES[0]!, { context: { authFailureLimit: { maxFailures: 5, windowMs: 60_000 } } });
    const project = json<{ id: string }>(await api.call('POST', '/api/v1/projects', { body: { name: 'Tokens' } }));
    p = `/api/v1/projects/${project.id}`;
  });
  afterAll(async () => {
    await api?.close();
  });

  it('lists tokens with hint, role, created, last used and expiry, never the token; revokes at once', async () => {
    const created = json<TokenInfo & { token: string }>(
      await api.call('POST', `${p}/tokens`, { body: { role: 'editor', name: 'ci' } }),
    );
    expect(created).toMatchObject({ role: 'editor', name: 'ci', hint: `…${created.token.slice(-4)}` });
    expect(created.id).toMatch(/^tok_/);
    // Used once: last used is recorded.
    expect((await api.call('GET', p, { token: created.token })).statusCode).toBe(200);
    // Recorded before the answer is sent (never for a refused request): the very next call sees it.
    const list = await api.call('GET', `${p}/tokens`);
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(created.token);
    const listed = json<{ items: TokenInfo[] }>(list).items.find((t) => t.id === created.id)!;
    expect(listed).toMatchObject({ role: 'editor', name: 'ci', hint: created.hint, createdAt: created.createdAt });
    expect(listed.lastUsedAt).toBeDefined();
    expect(Object.keys(listed).sort()).toEqual(['createdAt', 'hint', 'id', 'lastUsedAt', 'name', 'role']);

    expect((await api.call('DELETE', `${p}/tokens/${created.id}`, { token: created.token })).statusCode).toBe(204);
    const after = await api.call('GET', p, { token: created.token });
    expect(after.statusCode).toBe(401);
    expect((await api.call('DELETE', `${p}/tokens/${created.id}`)).statusCode).toBe(404);
  });

  it('refuses an expired token and keeps an editor within its own rights', async () => {
    const soon = new Date(Date.now() + 60 * 60_000).toISOString();
    const later = new Date(Date.now() + 24 * 60 * 60_000).toISOString();
    const editor = json<TokenInfo & { token: string }>(
      await api.call('POST', `${p}/tokens`, { body: { role: 'editor', expiresAt: soon } }),
    );
    expect(editor.expiresAt).toBe(soon);
    const viewer = json<{ token: string }>(await api.call('POST', `${p}/tokens`, { body: { role: 'viewer' } }));

    // A viewer creates nothing; an expiring editor cannot create a token that outlives it.
    expect((await api.call('POST', `${p}/tokens`, { token: viewer.token, body: { role: 'viewer' } })).statusCode).toBe(
      403,
    );
    const outliving = await api.call('POST', `${p}/tokens`, {
      token: editor.token,
      body: { role: 'viewer', expiresAt: later },
    });
    expect(outliving.statusCode).toBe(403);
    const inherited = json<TokenInfo>(
      await api.call('POST', `${p}/tokens`, { token: editor.token, body: { role: 'viewer' } }),
    );
    expect(inherited.expiresAt).toBe(soon);
    const admin = await api.call('POST', '/api/v1/projects', { token: editor.token, body: { name: 'x' } });
    expect(admin.statusCode).toBe(403);

    // An expiry in the past is refused; a stored token past its expiry no longer authenticates.
    const past = await api.call('POST', `${p}/tokens`, { body: { role: 'viewer', expiresAt: '2020-01-01T00:00:00Z' } });
    expect(past.statusCode).toBe(400);
    await api.h.store.raw.db
      .updateTable('api_tokens')
      .set({ expires_at: '2020-01-01T00:00:00.000Z' })
      .where('id', '=', editor.id)
      .execute();
    const expired = await api.call('GET', p, { token: editor.token });
    expect(expired.statusCode).toBe(401);
    expect(json<{ error: { message: string } }>(expired).error.message).toMatch(/expired/);
  });

  it('rate-limits failed authentication per client address, the right token included, with Retry-After', async () => {
    const from = (ip: string, token: string) =>
      api.app.inject({ method: 'GET', url: p, remoteAddress: ip, headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < 5; i++) expect((await from('203.0.113.7', `cs_proj_guess${i}`)).statusCode).toBe(401);
    const blocked = await from('203.0.113.7', `cs_proj_guess_more`);
    expect(blocked.statusCode).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(json<{ error: { code: string } }>(blocked).error.code).toBe('rate_limited');
    // Even the right token is refused from that address until the window ends (guesses teach nothing)…
    const admin = 'cs_admin_test-admin-token-0123456789';
    expect((await from('203.0.113.7', admin)).statusCode).toBe(429);
    // …while other addresses are not affected.
    expect((await from('198.51.100.9', admin)).statusCode).toBe(200);
  });
});
