// Signed webhooks end to end: a real engine runs syncs against the sandbox, the RunNotifier delivers the
// events over real HTTP to a local receiver that checks the signature on its own, answers scripted
// statuses, and the delivery log records every attempt. Also the HTTP routes, through Fastify.
import { createHmac } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GuardedWebhookTransport } from '../../src/adapters/http/guarded-webhook-transport.ts';
import { SmtpMailer } from '../../src/adapters/mail/smtp-mailer.ts';
import { changeMembers, createStaticCohort } from '../../src/app/cohorts.ts';
import { RunNotifier } from '../../src/app/notifications.ts';
import { createProjectToken } from '../../src/app/projects.ts';
import { createSync, runNow } from '../../src/app/syncs.ts';
import {
  clearWebhook,
  getWebhook,
  listWebhookDeliveries,
  setWebhook,
  verifyWebhookSignature,
  WebhookSender,
} from '../../src/app/webhooks.ts';
import type { Run } from '../../src/domain/model.ts';
import { notificationRoutes } from '../../src/entry/http/routes/notifications.ts';
import { ENGINES } from '../support/engines.ts';
import { firstRunOf, projectWithBraze, sandboxTarget, tokenTools } from '../support/flows.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { notifiedRuns } from '../support/notified-runs.ts';
import { type SmtpInbox, startSmtpInbox } from '../support/smtp-inbox.ts';
import { type ReceivedHook, startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const SECRET = 'whsec_test_0123456789abcdef';
/** The receiver listens on 127.0.0.1, which webhooks may reach only when the operator allows it. */
const LOCAL = { allowPrivate: true } as const;

/** The receiver's check, written from the documented scheme and independent of src/app/webhooks.ts. */
function signatureValid(hook: ReceivedHook, secret: string): boolean {
  const header = String(hook.headers['x-cohortsync-signature'] ?? '');
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${hook.body}`).digest('hex');
  return expected === m[2] && Math.abs(Date.now() / 1000 - Number(m[1])) < 300;
}

describe.each(ENGINES)('signed webhooks on $name', (engine) => {
  let h: Harness;
  let receiver: WebhookReceiver;
  let inbox: SmtpInbox;
  let mailer: SmtpMailer;
  let sender: WebhookSender;
  let notifier: RunNotifier;
  const notified = notifiedRuns(() => notifier);
  let sleeps: number[];

  beforeEach(async () => {
    sleeps = [];
    receiver = await startWebhookReceiver();
    inbox = await startSmtpInbox();
    mailer = new SmtpMailer({ url: inbox.url, from: 'cohort-sync@test.invalid', timeoutMs: 5_000 });
    h = await startHarness(engine);
    sender = new WebhookSender(h.deps, {
      transport: new GuardedWebhookTransport(LOCAL),
      retry: { maxAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 60_000, timeoutMs: 2_000 },
      // Back-off is recorded, not waited: the policy is what is under test, not the timer.
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 1,
    });
    notifier = new RunNotifier(h.deps, { mailer, webhooks: sender });
    h.runEvents.subscribe(notified.observer);
  });
  afterEach(async () => {
    await h?.close();
    mailer?.close();
    await inbox?.close();
    await receiver?.close();
  });

  // Waits until the notifier has handled the run and its mails are out, so a test can also assert silence.
  const finished = (runId: string): Promise<Run> => notified.finished(h.deps, runId);

  async function setup(opts: { dataImportKey?: string; webhook?: boolean } = {}) {
    const project = await projectWithBraze(h.deps, 'Shop');
    if (opts.webhook !== false) await setWebhook(h.deps, project.id, { url: receiver.url, secret: SECRET }, LOCAL);
    const { target, dataImportKey } = await sandboxTarget(
      h,
      project.id,
      { type: 'user_id' },
      { name: 'EU workspace', ...(opts.dataImportKey ? { dataImportKey: opts.dataImportKey } : {}) },
    );
    if (!opts.dataImportKey) h.sandbox.state.seedUsers(dataImportKey, [{ external_id: 'u1' }, { external_id: 'u2' }]);
    const cohort = await createStaticCohort(h.deps, project.id, { name: 'Buyers' });
    await changeMembers(h.deps, project.id, cohort.id, { add: [{ user_id: 'u1' }, { user_id: 'u2' }] });
    const sync = await createSync(h.deps, project.id, { cohortId: cohort.id, targetId: target.id, cadence: 'daily' });
    const first = await finished((await firstRunOf(h.deps, project.id, sync.id)).id);
    return { project, target, cohort, sync, first };
  }

  it('posts run.succeeded signed with HMAC-SHA256 over "<t>.<body>" and logs the delivery', async () => {
    const { project, target, cohort, sync, first } = await setup();
    expect(first.status).toBe('succeeded');
    const [hook] = await receiver.waitFor(1);
    expect(hook!.method).toBe('POST');
    expect(hook!.path).toBe('/hooks/cohort-sync');
    expect(hook!.headers['content-type']).toBe('application/json');
    expect(hook!.headers['x-cohortsync-event']).toBe('run.succeeded');
    expect(signatureValid(hook!, SECRET)).toBe(true);
    expect(signatureValid(hook!, 'another-secret-of-some-length')).toBe(false);
    expect(hook!.body).toContain('"added":2');
    expect(signatureValid({ ...hook!, body: hook!.body.replace('"added":2', '"added":3') }, SECRET)).toBe(false);
    // The exported verifier agrees with the receiver and refuses stale timestamps.
    const header = String(hook!.headers['x-cohortsync-signature']);
    const t = Number(/t=(\d+)/.exec(header)![1]);
    expect(verifyWebhookSignature(SECRET, hook!.body, header, { nowSeconds: t + 10 })).toBe(true);
    expect(verifyWebhookSignature(SECRET, hook!.body, header, { nowSeconds: t + 301 })).toBe(false);
    expect(verifyWebhookSignature(SECRET, `${hook!.body} `, header, { nowSeconds: t })).toBe(false);

    const body = JSON.parse(hook!.body);
    expect(body).toMatchObject({
      event: 'run.succeeded',
      project: { id: project.id, name: 'Shop' },
      sync: { id: sync.id, cohortId: cohort.id, targetId: target.id, cadence: 'daily' },
      run: {
        id: first.id,
        status: 'succeeded',
        trigger: 'schedule',
        startedAt: first.startedAt,
        finishedAt: first.finishedAt,
        counts: { added: 2, removed: 0, skipped: 0, failed: 0 },
      },
      cohort: { id: cohort.id, name: 'Buyers' },
      target: { id: target.id, name: 'EU workspace' },
    });
    expect(body.id).toBe(hook!.headers['x-cohortsync-delivery']);
    expect(hook!.body).not.toContain(SECRET);

    const log = await listWebhookDeliveries(h.deps, project.id);
    expect(log.items).toHaveLength(1);
    expect(log.items[0]).toMatchObject({
      id: body.id,
      event: 'run.succeeded',
      url: receiver.url,
      runId: first.id,
      status: 'delivered',
      attempts: 1,
      responseStatus: 200,
      lastError: null,
    });
    expect(sleeps).toEqual([]);
  });

  it('retries 500s with exponential back-off, re-signing each attempt, and gives up after five', async () => {
    receiver.script([500, 503, 200]);
    const { project, sync, first } = await setup();
    const hooks = await receiver.waitFor(3);
    expect(hooks.map((x) => x.status)).toEqual([500, 503, 200]);
    expect(new Set(hooks.map((x) => x.headers['x-cohortsync-delivery'])).size).toBe(1);
    expect(new Set(hooks.map((x) => x.body)).size).toBe(1);
    for (const x of hooks) expect(signatureValid(x, SECRET)).toBe(true);
    expect(sleeps).toEqual([1_000, 2_000]);
    let log = await listWebhookDeliveries(h.deps, project.id);
    expect(log.items[0]).toMatchObject({
      runId: first.id,
      status: 'delivered',
      attempts: 3,
      responseStatus: 200,
      lastError: null,
    });

    // Five 500s: the delivery is given up and the log says why.
    sleeps = [];
    receiver.script([500, 500, 500, 500, 500, 500]);
    const second = await finished((await runNow(h.deps, project.id, sync.id)).id);
    await receiver.waitFor(8);
    expect(sleeps).toEqual([1_000, 2_000, 4_000, 8_000]);
    log = await listWebhookDeliveries(h.deps, project.id);
    expect(log.items[0]).toMatchObject({
      runId: second.id,
      status: 'failed',
      attempts: 5,
      responseStatus: 500,
      lastError: 'the receiver answered HTTP 500',
    });

    // A 4xx other than 408/425/429 is final at once.
    sleeps = [];
    receiver.script([410]);
    const third = await finished((await runNow(h.deps, project.id, sync.id)).id);
    await receiver.waitFor(9);
    expect(sleeps).toEqual([]);
    log = await listWebhookDeliveries(h.deps, project.id, { limit: 2 });
    expect(log.items[0]).toMatchObject({ runId: third.id, status: 'failed', attempts: 1, responseStatus: 410 });
    expect(log.nextCursor).not.toBeNull();
    const rest = await listWebhookDeliveries(h.deps, project.id, { limit: 2, cursor: log.nextCursor });
    expect(rest.items.map((d) => d.runId)).toEqual([first.id]);
    expect(rest.nextCursor).toBeNull();

    // A receiver that is not there at all: network errors are retried and logged too.
    await receiver.close();
    sleeps = [];
    const fourth = await finished((await runNow(h.deps, project.id, sync.id)).id);
    log = await listWebhookDeliveries(h.deps, project.id, { limit: 1 });
    expect(log.items[0]).toMatchObject({ runId: fourth.id, status: 'failed', attempts: 5, responseStatus: null });
    expect(log.items[0]!.lastError).toMatch(/ECONNREFUSED/);
    receiver = await startWebhookReceiver();
  });

  it('posts run.failed with the error, then run.recovered', async () => {
    const { project, sync, first } = await setup({ dataImportKey: 'key-braze-never-issued-0009' });
    expect(first.status).toBe('failed');
    const [failedHook] = await receiver.waitFor(1);
    const failed = JSON.parse(failedHook!.body);
    expect(failed.event).toBe('run.failed');
    expect(failed.run.error).toEqual(first.error);
    expect(failed.run.error.code).toBe('braze_credentials');
    expect(failedHook!.body).not.toContain('key-braze-never-issued-0009');

    const key = h.sandbox.state.createWorkspace();
    h.sandbox.state.seedUsers(key, [{ external_id: 'u1' }]);
    const targets = await h.deps.store.targets.list(project.id);
    await (await import('../../src/app/targets.ts')).updateTarget(h.deps, project.id, targets[0]!.id, {
      dataImportKey: key,
    });
    const ok = await finished((await runNow(h.deps, project.id, sync.id)).id);
    expect(ok.status).toBe('succeeded');
    const [, recoveredHook] = await receiver.waitFor(2);
    expect(recoveredHook!.headers['x-cohortsync-event']).toBe('run.recovered');
    expect(JSON.parse(recoveredHook!.body)).toMatchObject({
      event: 'run.recovered',
      run: { id: ok.id, status: 'succeeded' },
    });
    expect(signatureValid(recoveredHook!, SECRET)).toBe(true);
  });

  it('keeps the secret encrypted and never returns it; only http(s) URLs; the operator may restrict hosts', async () => {
    const { project } = await setup({ webhook: false });
    expect(receiver.received).toHaveLength(0); // no webhook set: nothing posted
    expect(await getWebhook(h.deps, project.id)).toEqual({ url: null });

    const shown = await setWebhook(h.deps, project.id, { url: receiver.url, secret: SECRET }, LOCAL);
    expect(shown).toEqual({ url: receiver.url, secretHint: '…cdef' });
    const sealed = await h.deps.store.projects.webhookSecretEnc(project.id);
    expect(sealed).not.toBeNull();
    expect(sealed).not.toContain(SECRET);
    expect(JSON.stringify(await h.deps.store.projects.get(project.id))).not.toContain(SECRET);

    // Changing only the URL keeps the secret.
    await setWebhook(h.deps, project.id, { url: `${receiver.url}?v=2` }, LOCAL);
    expect((await getWebhook(h.deps, project.id)).secretHint).toBe('…cdef');

    await expect(setWebhook(h.deps, project.id, { url: 'ftp://example.com/x', secret: SECRET })).rejects.toMatchObject({
      status: 400,
    });
    await expect(setWebhook(h.deps, project.id, { url: 'not a url', secret: SECRET })).rejects.toMatchObject({
      status: 400,
    });
    await expect(
      setWebhook(h.deps, project.id, { url: 'https://user:pw@example.com/x', secret: SECRET }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(
      setWebhook(h.deps, project.id, { url: 'https://example.com/x', secret: 'short' }),
    ).rejects.toMatchObject({ status: 400 });
    // Local addresses are refused unless the operator allows them (docs/security.md).
    await expect(setWebhook(h.deps, project.id, { url: 'http://127.0.0.1:9/x', secret: SECRET })).rejects.toMatchObject(
      { status: 422, code: 'webhook_address_not_allowed' },
    );
    await expect(
      setWebhook(h.deps, project.id, { url: 'http://hooks.example.com/x', secret: SECRET }, { requireHttps: true }),
    ).rejects.toMatchObject({ status: 400 });
    expect(
      await setWebhook(
        h.deps,
        project.id,
        { url: 'http://127.0.0.1:9/x', secret: SECRET },
        { allowedHosts: ['127.0.0.1'] },
      ),
    ).toMatchObject({ url: 'http://127.0.0.1:9/x' });

    await clearWebhook(h.deps, project.id);
    expect(await getWebhook(h.deps, project.id)).toEqual({ url: null });
    expect(await h.deps.store.projects.webhookSecretEnc(project.id)).toBeNull();
    await expect(setWebhook(h.deps, project.id, { url: receiver.url }, LOCAL)).rejects.toMatchObject({ status: 400 }); // no secret stored any more
  });

  describe('HTTP routes', () => {
    let app: FastifyInstance;
    const ADMIN = 'admin-token-for-tests-0123456789';
    afterEach(async () => {
      await app?.close();
    });

    it('sets, shows, tests and clears the webhook with the right tokens, and sends a test e-mail', async () => {
      app = Fastify();
      await app.register(notificationRoutes, {
        deps: h.deps,
        mailer,
        webhooks: sender,
        adminToken: ADMIN,
        webhookPolicy: LOCAL,
      });
      const { project } = await setup({ webhook: false });
      const other = await projectWithBraze(h.deps, 'Other');
      const editor = (await createProjectToken(h.deps, tokenTools, project.id, 'editor')).token;
      const viewer = (await createProjectToken(h.deps, tokenTools, project.id, 'viewer')).token;
      const stranger = (await createProjectToken(h.deps, tokenTools, other.id, 'editor')).token;
      const call = (method: 'GET' | 'PUT' | 'DELETE' | 'POST', path: string, token: string | null, payload?: object) =>
        app.inject({
          method,
          url: `/api/v1/projects/${project.id}${path}`,
          headers: token ? { authorization: `Bearer ${token}` } : {},
          ...(payload ? { payload } : {}),
        });

      expect((await call('PUT', '/webhook', null, { url: receiver.url, secret: SECRET })).statusCode).toBe(401);
      const asViewer = await call('PUT', '/webhook', viewer, { url: receiver.url, secret: SECRET });
      expect(asViewer.statusCode).toBe(403);
      expect(asViewer.json()).toMatchObject({ error: { code: 'forbidden' } });
      expect((await call('PUT', '/webhook', stranger, { url: receiver.url, secret: SECRET })).statusCode).toBe(404);
      const bad = await call('PUT', '/webhook', editor, { url: 'gopher://x', secret: SECRET, extra: 1 });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.code).toBe('invalid_input');

      const put = await call('PUT', '/webhook', editor, { url: receiver.url, secret: SECRET });
      expect(put.statusCode).toBe(204);
      const shown = await call('GET', '/webhook', viewer);
      expect(shown.statusCode).toBe(200);
      expect(shown.json()).toEqual({ url: receiver.url, secretHint: '…cdef' });
      expect(shown.body).not.toContain(SECRET);

      const tested = await call('POST', '/webhook/test', editor);
      expect(tested.statusCode).toBe(200);
      expect(tested.json()).toMatchObject({ event: 'webhook.test', status: 'delivered', attempts: 1 });
      const [hook] = await receiver.waitFor(1);
      expect(hook!.headers['x-cohortsync-event']).toBe('webhook.test');
      expect(signatureValid(hook!, SECRET)).toBe(true);

      const deliveries = await call('GET', '/webhook/deliveries?limit=10', viewer);
      expect(deliveries.statusCode).toBe(200);
      expect(deliveries.json()).toMatchObject({
        items: [{ event: 'webhook.test', status: 'delivered' }],
        nextCursor: null,
      });
      expect((await call('GET', '/webhook/deliveries?limit=0', viewer)).statusCode).toBe(400);

      const mail = await call('POST', '/notifications/test-email', editor, { to: 'ops@example.com' });
      expect(mail.statusCode).toBe(200);
      expect(mail.json()).toEqual({ to: ['ops@example.com'], delivery: 'smtp' });
      const [received] = await inbox.waitFor(1);
      expect(received!.envelopeTo).toEqual(['ops@example.com']);
      expect((await call('POST', '/notifications/test-email', editor)).json()).toMatchObject({
        error: { code: 'no_recipients' },
      });
      expect((await call('POST', '/notifications/test-email', viewer, { to: 'ops@example.com' })).statusCode).toBe(403);

      const admin = await call('DELETE', '/webhook', ADMIN);
      expect(admin.statusCode).toBe(204);
      expect((await call('GET', '/webhook', editor)).json()).toEqual({ url: null });
    });
  });
});
