// Webhooks and server-side request forgery (issue 12 items 1 and 2): local addresses are refused when the
// URL is set (every IPv4 spelling, IPv6, IPv4-mapped) and again when the connection is made, on the
// address actually dialled — a name whose DNS answer is loopback reaches nothing. Failed deliveries record
// a status and a fixed message, never the receiver's body.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GuardedWebhookTransport, type Resolve } from '../../src/adapters/http/guarded-webhook-transport.ts';
import { LoggingMailer } from '../../src/adapters/mail/log-mailer.ts';
import { createProjectToken } from '../../src/app/projects.ts';
import { listWebhookDeliveries, sendTestWebhook, setWebhook, WebhookSender } from '../../src/app/webhooks.ts';
import { notificationRoutes } from '../../src/entry/http/routes/notifications.ts';
import { ENGINES } from '../support/engines.ts';
import { projectWithBraze, tokenTools } from '../support/flows.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const SECRET = 'whsec_test_0123456789abcdef';
const ADMIN = 'admin-token-for-tests-0123456789';

/** A DNS server that answers 127.0.0.1 for every name (what a rebinding attacker's server does). */
const toLoopback: Resolve = (_host, _options, callback) => callback(null, [{ address: '127.0.0.1', family: 4 }]);

describe('webhooks never reach local addresses unless the operator allows them', () => {
  let h: Harness;
  let receiver: WebhookReceiver;
  let app: FastifyInstance;
  beforeAll(async () => {
    h = await startHarness(ENGINES[0]!);
    receiver = await startWebhookReceiver();
    app = Fastify();
    await app.register(notificationRoutes, {
      deps: h.deps,
      mailer: new LoggingMailer(h.deps.logger),
      webhooks: new WebhookSender(h.deps, { transport: new GuardedWebhookTransport() }),
      adminToken: ADMIN,
    });
  });
  afterAll(async () => {
    await app?.close();
    await receiver?.close();
    await h?.close();
  });

  it('refuses local URLs in every spelling when the webhook is set (422), and keeps the old one', async () => {
    const project = await projectWithBraze(h.deps, 'SSRF');
    const editor = (await createProjectToken(h.deps, tokenTools, project.id, 'editor')).token;
    const put = (url: string) =>
      app.inject({
        method: 'PUT',
        url: `/api/v1/projects/${project.id}/webhook`,
        headers: { authorization: `Bearer ${editor}` },
        payload: { url, secret: SECRET },
      });
    expect((await put('https://hooks.example.com/x')).statusCode).toBe(204);
    const port = new URL(receiver.url).port;
    const local = [
      `http://127.0.0.1:${port}/`,
      'http://[::1]:6379/',
      `${h.sandbox.url}/sandbox/reset`,
      'http://169.254.169.254/latest/meta-data/',
      'http://2130706433/',
      'http://0x7f000001/',
      'http://0177.0.0.1/',
      'http://127.1/',
      'http://0/',
      'http://[::]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::ffff:a9fe:a9fe]/',
      'http://10.0.0.8/',
      'http://192.168.1.1/',
      'http://[fd00::1]/',
      'http://[fe80::1]/',
      'http://224.0.0.251/',
      'http://localhost:8080/',
      'http://api.localhost/',
    ];
    for (const url of local) {
      const res = await put(url);
      expect(res.statusCode, `${url}: ${res.body}`).toBe(422);
      expect(res.json()).toMatchObject({ error: { code: 'webhook_address_not_allowed' } });
    }
    const shown = await app.inject({
      method: 'GET',
      url: `/api/v1/projects/${project.id}/webhook`,
      headers: { authorization: `Bearer ${editor}` },
    });
    expect(shown.json()).toMatchObject({ url: 'https://hooks.example.com/x' });
  });

  it('checks the address when connecting: a name that resolves to loopback is never dialled', async () => {
    const project = await projectWithBraze(h.deps, 'Rebind');
    const port = new URL(receiver.url).port;
    const url = `http://hooks.rebind.example:${port}/hooks/cohort-sync`;
    // The name looks public when it is set; the DNS answer at delivery time is 127.0.0.1.
    await setWebhook(h.deps, project.id, { url, secret: SECRET });
    const before = receiver.received.length;
    const guarded = new WebhookSender(h.deps, { transport: new GuardedWebhookTransport({}, toLoopback) });
    const refused = await sendTestWebhook(h.deps, guarded, project.id);
    expect(refused).toMatchObject({ status: 'failed', responseStatus: null });
    expect(refused.lastError).toMatch(/loopback address, which webhooks may not reach/);
    expect(receiver.received.length).toBe(before);

    // The operator trusts that host: the same answer is then dialled.
    const trusted = new WebhookSender(h.deps, {
      transport: new GuardedWebhookTransport({ allowedHosts: ['.rebind.example'] }, toLoopback),
    });
    expect(await sendTestWebhook(h.deps, trusted, project.id)).toMatchObject({ status: 'delivered' });
    expect(receiver.received.length).toBe(before + 1);
  });

  it('refuses an IP literal at delivery too (a URL stored before the rule, or set with allowPrivate)', async () => {
    const project = await projectWithBraze(h.deps, 'Literal');
    await setWebhook(h.deps, project.id, { url: receiver.url, secret: SECRET }, { allowPrivate: true });
    const before = receiver.received.length;
    const sender = new WebhookSender(h.deps, { transport: new GuardedWebhookTransport() });
    const d = await sendTestWebhook(h.deps, sender, project.id);
    expect(d).toMatchObject({ status: 'failed', responseStatus: null });
    expect(receiver.received.length).toBe(before);
  });

  it('records a failed delivery with its status and a fixed message, never the answer body (item 2)', async () => {
    const project = await projectWithBraze(h.deps, 'Body');
    await setWebhook(h.deps, project.id, { url: receiver.url, secret: SECRET }, { allowPrivate: true });
    const sender = new WebhookSender(h.deps, { transport: new GuardedWebhookTransport({ allowPrivate: true }) });
    receiver.script([500]);
    const d = await sendTestWebhook(h.deps, sender, project.id);
    expect(d).toMatchObject({ status: 'failed', responseStatus: 500, lastError: 'the receiver answered HTTP 500' });
    const log = await listWebhookDeliveries(h.deps, project.id);
    expect(JSON.stringify(log)).not.toContain('receiver says');
  });

  it('seals the deliveries cursor like every other: bound to its project, refused with 400 otherwise (item 5)', async () => {
    const sender = new WebhookSender(h.deps, { transport: new GuardedWebhookTransport({ allowPrivate: true }) });
    const projects = [];
    for (const name of ['Deliveries A', 'Deliveries B']) {
      const project = await projectWithBraze(h.deps, name);
      await setWebhook(h.deps, project.id, { url: receiver.url, secret: SECRET }, { allowPrivate: true });
      await sendTestWebhook(h.deps, sender, project.id);
      await sendTestWebhook(h.deps, sender, project.id);
      projects.push(project);
    }
    const [a, b] = projects as unknown as [{ id: string }, { id: string }];
    const first = await listWebhookDeliveries(h.deps, a.id, { limit: 1 });
    expect(first.nextCursor).not.toBeNull();
    const second = await listWebhookDeliveries(h.deps, a.id, { limit: 1, cursor: first.nextCursor });
    expect(second.items.map((d) => d.id)).not.toEqual(first.items.map((d) => d.id));
    await expect(listWebhookDeliveries(h.deps, b.id, { limit: 1, cursor: first.nextCursor })).rejects.toMatchObject({
      status: 400,
    });
    // The store's own cursor, unsealed, is not accepted either.
    const raw = first.nextCursor!.slice(0, first.nextCursor!.lastIndexOf('.'));
    await expect(listWebhookDeliveries(h.deps, a.id, { limit: 1, cursor: raw })).rejects.toMatchObject({ status: 400 });
  });
});
