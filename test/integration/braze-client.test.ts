// The Braze partner client against a real HTTP server on a local port, with scripted answers. The client's
// clock and sleep are fake (waits are recorded, not slept), except the timeout test, which needs real time.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BrazeHttp,
  type BrazeHttpOptions,
  CONNECTION_TEST_COHORT_ID,
  CohortImportDefinition,
  type CohortImportOptions,
  InMemoryRateLimiter,
} from '../../src/adapters/braze/index.ts';
import type { Identifier } from '../../src/domain/identifiers.ts';
import {
  type CallOptions,
  type CallStats,
  DeliveryError,
  type DestinationTarget,
  type MembershipChange,
  type RequestLogEntry,
} from '../../src/ports/destination.ts';

const START = Date.UTC(2030, 0, 1, 12, 0, 0);
const PARTNER_KEY = 'partner-api-key-US-0000-PK42';
const DIK = 'data-import-key-0000-0000-D1K9';

type Step =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | 'drop' // destroy the socket without answering (connection reset)
  | 'hang'; // never answer

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

let server: Server;
let endpoint: string;
let script: Step[] = [];
let received: Received[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: JSON.parse(text) as unknown,
      });
      const step = script.shift() ?? { status: 599, body: { message: 'test server: no scripted answer left' } };
      if (step === 'drop') return void req.socket.destroy();
      if (step === 'hang') return;
      res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers });
      res.end(step.body === undefined ? '' : JSON.stringify(step.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  script = [];
  received = [];
});

/** Fake clock: `sleep` records the wait, moves time forward, and honours abort like the real one. */
function fakeTime() {
  let t = START;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: async (ms: number, signal?: AbortSignal) => {
      signal?.throwIfAborted();
      sleeps.push(ms);
      t += ms;
    },
  };
}

type ClientOptions = Partial<CohortImportOptions> &
  Partial<Omit<BrazeHttpOptions, 'limiter'>> & {
    limiter?: InMemoryRateLimiter;
  };

/** The cohort import definition over its HTTP layer, called as the run executor calls it. */
function client(overrides: ClientOptions = {}) {
  const time = fakeTime();
  const { partnerSlug, partnerKeys, budget, limiter, ...http } = overrides;
  const now = http.now ?? time.now;
  const sleep = http.sleep ?? time.sleep;
  const definition = new CohortImportDefinition(
    new BrazeHttp({
      limiter: limiter ?? new InMemoryRateLimiter({ now, sleep }),
      now,
      sleep,
      random: () => 0, // exact back-off: 1 s, 2 s, 4 s…
      ...http,
    }),
    {
      partnerSlug: partnerSlug ?? 'acme',
      partnerKeys: partnerKeys ?? { US: PARTNER_KEY },
      ...(budget ? { budget } : {}),
    },
  );
  const destination = {
    definition,
    upsertCohort: (
      target: DestinationTarget,
      cohort: { id: string; name: string; createdAt: string },
      opts?: CallOptions,
    ) => definition.ensureAudience(target, { ...cohort, attribute: null }, opts),
    changeMembership: (target: DestinationTarget, cohortId: string, change: MembershipChange, opts?: CallOptions) =>
      definition.sendBatch(
        target,
        { id: cohortId, name: cohortId, createdAt: new Date(START).toISOString(), attribute: null },
        change,
        opts,
      ),
    testConnection: (target: DestinationTarget) => definition.testConnection(target),
  };
  return { destination, sleeps: time.sleeps, target: { endpoint, secret: DIK } };
}

const ext = (value: string): Identifier => ({ kind: 'external_id', value });
const dev = (value: string): Identifier => ({ kind: 'device_id', value });
const alias = (label: string, name: string): Identifier => ({ kind: 'alias', label, name });

async function failure(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DeliveryError) return error;
    throw error;
  }
  throw new Error('expected a DeliveryError');
}

const ok201 = { status: 201, body: { message: 'success' } };

describe('request shape (docs/design.md §1)', () => {
  it('creates or renames a cohort with the five required fields, keys in the body', async () => {
    const { destination, target } = client();
    script = [ok201];
    const stats = await destination.upsertCohort(target, {
      id: 'cohort-7',
      name: 'Power users',
      createdAt: '2029-12-31T10:00:00.000Z',
    });
    expect(stats).toMatchObject<CallStats>({ requests: 1, retries: 0 });
    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/partners/acme/cohorts');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers.authorization).toBeUndefined();
    expect(request?.body).toStrictEqual({
      partner_api_key: PARTNER_KEY,
      client_secret: DIK,
      cohort_id: 'cohort-7',
      name: 'Power users',
      created_at: '2029-12-31T10:00:00.000Z',
    });
  });

  it('sends an add block and a should_remove block to /cohorts/users', async () => {
    const { destination, target } = client();
    script = [{ status: 200, body: { message: 'success' } }];
    await destination.changeMembership(target, 'cohort-7', {
      add: [ext('User-1'), alias('email', 'a@b.io'), dev('dev-1')],
      remove: [ext('user-2')],
    });
    expect(received[0]?.url).toBe('/partners/acme/cohorts/users');
    expect(received[0]?.body).toStrictEqual({
      partner_api_key: PARTNER_KEY,
      client_secret: DIK,
      cohort_id: 'cohort-7',
      cohort_changes: [
        { user_ids: ['User-1'], device_ids: ['dev-1'], aliases: [{ alias_name: 'a@b.io', alias_label: 'email' }] },
        { user_ids: ['user-2'], should_remove: true },
      ],
    });
  });

  it('leaves out an empty block', async () => {
    const { destination, target } = client();
    script = [ok201];
    await destination.changeMembership(target, 'cohort-7', { add: [], remove: [dev('d-1'), dev('d-2')] });
    expect((received[0]!.body as { cohort_changes: unknown }).cohort_changes).toStrictEqual([
      { device_ids: ['d-1', 'd-2'], should_remove: true },
    ]);
  });

  it('sends nothing for an empty change', async () => {
    const { destination, target } = client();
    expect(await destination.changeMembership(target, 'cohort-7', { add: [], remove: [] })).toEqual({
      requests: 0,
      retries: 0,
      outcomes: [],
    });
    expect(received).toHaveLength(0);
  });

  it('rejects more than 1,000 identifiers before sending', async () => {
    const { destination, target } = client();
    const ids = Array.from({ length: 1_001 }, (_, i) => ext(`u${i}`));
    const error = await failure(destination.changeMembership(target, 'cohort-7', { add: ids, remove: [] }));
    expect(error.kind).toBe('bad_request');
    expect(error.stats.requests).toBe(0);
    expect(received).toHaveLength(0);
  });

  it('rejects an identifier sent twice before sending', async () => {
    const { destination, target } = client();
    const both = await failure(destination.changeMembership(target, 'c', { add: [ext('u1')], remove: [ext('u1')] }));
    const twice = await failure(
      destination.changeMembership(target, 'c', { add: [alias('l', 'n'), ext('u1'), alias('l', 'n')], remove: [] }),
    );
    expect([both.kind, twice.kind]).toEqual(['bad_request', 'bad_request']);
    expect(both.message).toMatch(/external_id "u1" appears in both/);
    expect(twice.message).toMatch(/alias "l:n" appears twice in the add block/);
    expect(received).toHaveLength(0);
  });

  it('chooses the partner key by region, and fails as credentials before sending when none applies', async () => {
    const { destination } = client({ partnerKeys: { EU: 'eu-partner-key-000000' } });
    const error = await failure(
      destination.upsertCohort({ endpoint, secret: DIK }, { id: 'c', name: 'n', createdAt: '2030-01-01T00:00:00Z' }),
    );
    // A local endpoint is not a known instance, so it is treated as US; there is no US key.
    expect(error.kind).toBe('credentials');
    expect(error.message).toContain('BRAZE_PARTNER_API_KEY_US');
    expect(received).toHaveLength(0);
  });
});

describe('answers that end the call', () => {
  it('fails the whole batch when a 2xx carries errors that name no identifier', async () => {
    const { destination, target } = client();
    script = [{ status: 201, body: { message: 'success', errors: ['alias_label missing for 1 alias'] } }];
    const result = await destination.changeMembership(target, 'c', { add: [ext('u1'), ext('u2')], remove: [] });
    expect(result).toMatchObject({ requests: 1, retries: 0 });
    expect(result.outcomes).toHaveLength(2);
    for (const outcome of result.outcomes) {
      expect(outcome.status).toBe('failed');
      expect(outcome.status === 'failed' && outcome.reason).toMatch(
        /naming no identifier.*alias_label missing for 1 alias/,
      );
    }
  });

  it('fails only the identifiers a 2xx errors array names, quoting Braze', async () => {
    const { destination, target } = client();
    script = [
      {
        status: 201,
        body: { message: 'success', errors: ["invalid user_id 'u2'", { device_id: 'd-9', error: 'unknown device' }] },
      },
    ];
    const result = await destination.changeMembership(target, 'c', {
      add: [ext('u1'), ext('u2'), dev('d-9')],
      remove: [ext('u3')],
    });
    expect(result.outcomes.map((o) => o.status)).toEqual(['sent', 'failed', 'failed', 'sent']);
    expect(result.outcomes[1]).toEqual({ status: 'failed', reason: "invalid user_id 'u2'" });
    expect(result.outcomes[2]).toEqual({ status: 'failed', reason: '{"device_id":"d-9","error":"unknown device"}' });
  });

  it('fails a 3xx as bad_request naming the redirect, without following it', async () => {
    const { destination, target, sleeps } = client();
    // Following it would re-send both keys to the redirect's address, here this same server answering 201.
    script = [{ status: 307, headers: { location: `${endpoint}/elsewhere` } }, ok201];
    const error = await failure(destination.changeMembership(target, 'c', { add: [ext('u1')], remove: [] }));
    expect(error.kind).toBe('bad_request');
    expect(error.status).toBe(307);
    expect(error.message).toContain(`HTTP 307, a redirect to "${endpoint}/elsewhere", which is not followed`);
    expect(received.map((r) => r.url)).toEqual(['/partners/acme/cohorts/users']);
    expect(sleeps).toEqual([]);
  });

  it("fails a 400 as bad_request with Braze's message, without retrying", async () => {
    const { destination, target, sleeps } = client();
    script = [{ status: 400, body: { message: "'cohort_changes' is malformed" } }];
    const error = await failure(destination.changeMembership(target, 'c', { add: [ext('u1')], remove: [] }));
    expect(error.kind).toBe('bad_request');
    expect(error.status).toBe(400);
    expect(error.message).toContain("'cohort_changes' is malformed");
    expect(error.stats).toMatchObject<CallStats>({ requests: 1, retries: 0 });
    expect(sleeps).toEqual([]);
  });

  it.each([
    [
      'Invalid client secret',
      /Data Import Key \(ending …D1K9\) is wrong.*another Braze instance.*Partner Integrations → Technology Partners/,
    ],
    ['Invalid Partner API key', /partner API key of this service \(ending …PK42\).*operator.*BRAZE_PARTNER_API_KEY_US/],
    [
      `Partner not enabled for client with client secret: ${DIK}`,
      /acme integration is not enabled.*enable the integration/,
    ],
    ['Unauthorized access', /wrong instance.*generate a new Data Import Key/],
  ])('fails 401 "%s" as credentials with an actionable message', async (text, expected) => {
    const { destination, target, sleeps } = client();
    script = [{ status: 401, body: { message: text } }];
    const error = await failure(destination.changeMembership(target, 'c', { add: [ext('u1')], remove: [] }));
    expect(error.kind).toBe('credentials');
    expect(error.status).toBe(401);
    expect(error.message).toContain(endpoint);
    expect(error.message).toMatch(expected);
    expect(error.message).not.toContain(DIK);
    expect(error.message).not.toContain(PARTNER_KEY);
    expect(received).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('fails a 403 as credentials', async () => {
    const { destination, target } = client();
    script = [{ status: 403, body: { message: 'Forbidden' } }];
    expect(
      (await failure(destination.upsertCohort(target, { id: 'c', name: 'n', createdAt: '2030-01-01T00:00:00Z' }))).kind,
    ).toBe('credentials');
  });

  it('fails a 404 as bad_request pointing at the endpoint and slug', async () => {
    const { destination, target } = client();
    script = [{ status: 404, body: 'Not Found' }];
    const error = await failure(
      destination.upsertCohort(target, { id: 'c', name: 'n', createdAt: '2030-01-01T00:00:00Z' }),
    );
    expect(error.kind).toBe('bad_request');
    expect(error.message).toMatch(/HTTP 404.*partner slug "acme"/);
  });
});

describe('retries', () => {
  it('retries a 423 after the base delay', async () => {
    const { destination, target, sleeps } = client();
    script = [{ status: 423, body: { message: 'Resource locked' } }, ok201];
    const stats = await destination.changeMembership(target, 'c', { add: [ext('u1')], remove: [] });
    expect(stats).toMatchObject<CallStats>({ requests: 2, retries: 1 });
    expect(sleeps).toEqual([1_000]);
    expect(received[1]?.body).toStrictEqual(received[0]?.body);
  });

  it('waits until X-RateLimit-Reset after a 429 (header read case-insensitively)', async () => {
    const { destination, target, sleeps } = client();
    script = [
      {
        status: 429,
        body: { message: 'rate limited' },
        headers: { 'X-RATELIMIT-RESET': String(START / 1000 + 30), 'X-RateLimit-Remaining': '0' },
      },
      ok201,
    ];
    const stats = await destination.changeMembership(target, 'c', { add: [ext('u1')], remove: [] });
    expect(stats.retries).toBe(1);
    // The client waits exactly until the reset; the shared limiter, on the same clock, then lets it through.
    expect(sleeps).toEqual([30_000]);
  });

  it('prefers Retry-After in seconds after a 429', async () => {
    const { destination, target, sleeps } = client();
    script = [{ status: 429, headers: { 'retry-after': '7', 'x-ratelimit-reset': String(START / 1000 + 600) } }, ok201];
    await destination.changeMembership(target, 'c', { add: [ext('u1')], remove: [] });
    expect(sleeps).toEqual([7_000]);
  });

  it('honours Retry-After as an HTTP date', async () => {
    const { destination, target, sleeps } = client();
    script = [{ status: 429, headers: { 'Retry-After': new Date(START + 12_000).toUTCString() } }, ok201];
    await destination.changeMembership(target, 'c', { add: [ext('u1')], remove: [] });
    expect(sleeps).toEqual([12_000]);
  });

  it('backs off exponentially through 5xx answers, then succeeds', async () => {
    const { destination, target, sleeps } = client();
    script = [{ status: 500 }, { status: 502, body: 'Bad Gateway' }, { status: 503 }, ok201];
    const stats = await destination.changeMembership(target, 'c', { add: [ext('u1')], remove: [] });
    expect(stats).toMatchObject<CallStats>({ requests: 4, retries: 3 });
    expect(sleeps).toEqual([1_000, 2_000, 4_000]);
  });

  it('applies jitter from the policy', async () => {
    const { destination, target, sleeps } = client({ retry: { jitter: 0.5 }, random: () => 0.5 });
    script = [{ status: 500 }, { status: 500 }, ok201];
    await destination.changeMembership(target, 'c', { add: [ext('u1')], remove: [] });
    expect(sleeps).toEqual([750, 1_500]);
  });

  it('gives up after the default 8 attempts with retries_exhausted', async () => {
    const { destination, target, sleeps } = client();
    script = Array.from({ length: 8 }, () => ({ status: 503, body: { message: 'Service Unavailable' } }));
    const error = await failure(destination.changeMembership(target, 'c', { add: [ext('u1')], remove: [] }));
    expect(error.kind).toBe('retries_exhausted');
    expect(error.status).toBe(503);
    expect(error.message).toMatch(/after 8 attempts.*HTTP 503 "Service Unavailable"/);
    expect(error.stats).toMatchObject<CallStats>({ requests: 8, retries: 7 });
    expect(received).toHaveLength(8);
    expect(sleeps).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000]);
  });

  it('retries a dropped connection', async () => {
    const { destination, target, sleeps } = client();
    const log: RequestLogEntry[] = [];
    script = ['drop', ok201];
    const stats = await destination.changeMembership(
      target,
      'c',
      { add: [ext('u1')], remove: [] },
      { onRequest: (e) => log.push(e) },
    );
    expect(stats).toMatchObject<CallStats>({ requests: 2, retries: 1 });
    expect(sleeps).toEqual([1_000]);
    expect(log.map((e) => e.status)).toEqual([null, 201]);
    expect(log[0]?.response).toEqual({ error: expect.stringMatching(/socket|closed|ECONNRESET|terminated/i) });
  });

  it('retries a request that hangs past the timeout', async () => {
    const { destination, target, sleeps } = client({ requestTimeoutMs: 200 });
    const log: RequestLogEntry[] = [];
    script = ['hang', ok201];
    const started = Date.now();
    const stats = await destination.changeMembership(
      target,
      'c',
      { add: [ext('u1')], remove: [] },
      { onRequest: (e) => log.push(e) },
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(stats.retries).toBe(1);
    expect(sleeps).toEqual([1_000]);
    expect(log[0]?.response).toEqual({ error: 'no answer within 200 ms' });
  });

  it('stops promptly with aborted when the caller aborts during a back-off', async () => {
    const controller = new AbortController();
    const sleeps: number[] = [];
    // A real-time sleep that would take an hour unless aborted.
    const { destination, target } = client({
      sleep: (ms, signal) =>
        new Promise<void>((resolve, reject) => {
          sleeps.push(ms);
          const timer = setTimeout(resolve, 3_600_000);
          signal?.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(signal.reason);
          });
        }),
    });
    script = [{ status: 503 }];
    const pending = destination.changeMembership(
      target,
      'c',
      { add: [ext('u1')], remove: [] },
      { signal: controller.signal },
    );
    await expect.poll(() => sleeps.length).toBe(1);
    const abortedAt = Date.now();
    controller.abort();
    const error = await failure(pending);
    expect(error.kind).toBe('aborted');
    expect(error.stats.requests).toBe(1);
    expect(Date.now() - abortedAt).toBeLessThan(1_000);
  });

  it('stops promptly with aborted when the caller aborts a request in flight', async () => {
    const controller = new AbortController();
    const { destination, target, sleeps } = client();
    const log: RequestLogEntry[] = [];
    script = ['hang'];
    const pending = destination.changeMembership(
      target,
      'c',
      { add: [ext('u1')], remove: [] },
      { signal: controller.signal, onRequest: (e) => log.push(e) },
    );
    await expect.poll(() => received.length).toBe(1);
    controller.abort();
    const error = await failure(pending);
    expect(error.kind).toBe('aborted');
    expect(received).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(log.map((e) => e.response)).toEqual([{ error: 'aborted by the caller' }]);
  });
});

describe('rate limiter feedback', () => {
  it('holds the next call until the reset when Braze reports Remaining at 0 on a success', async () => {
    const time = fakeTime();
    const limiter = new InMemoryRateLimiter({ now: time.now, sleep: time.sleep });
    const { destination, target } = client({ now: time.now, sleep: time.sleep, limiter });
    script = [
      {
        status: 201,
        body: { message: 'success' },
        headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(START / 1000 + 40) },
      },
      ok201,
    ];
    await destination.changeMembership(target, 'c', { add: [ext('u1')], remove: [] });
    expect(time.sleeps).toEqual([]);
    await destination.changeMembership(target, 'c', { add: [ext('u2')], remove: [] });
    expect(time.sleeps).toEqual([40_000]);
    expect(received).toHaveLength(2);
  });
});

describe('request log', () => {
  it('gives one entry per attempt with keys redacted, also where Braze echoes a key', async () => {
    const { destination, target } = client();
    const log: RequestLogEntry[] = [];
    script = [{ status: 500, body: { message: `internal error for ${DIK}` } }, ok201];
    await destination.changeMembership(
      target,
      'cohort-9',
      { add: [ext('u1'), ext('u2')], remove: [dev('d1')] },
      { onRequest: (e) => log.push(e) },
    );
    expect(log).toHaveLength(2);
    expect(log.map((e) => [e.attempt, e.status, e.identifiers])).toEqual([
      [1, 500, 3],
      [2, 201, 3],
    ]);
    expect(log[0]).toMatchObject({
      at: new Date(START).toISOString(),
      endpoint: `${endpoint}/partners/acme/cohorts/users`,
    });
    expect(log[0]?.request).toStrictEqual({
      partner_api_key: '[redacted]',
      client_secret: '[redacted]',
      cohort_id: 'cohort-9',
      cohort_changes: [{ user_ids: ['u1', 'u2'] }, { device_ids: ['d1'], should_remove: true }],
    });
    expect(log[0]?.response).toEqual({ message: 'internal error for [redacted]' });
    expect(log[1]?.response).toEqual({ message: 'success' });
    const serialised = JSON.stringify(log);
    expect(serialised).not.toContain(DIK);
    expect(serialised).not.toContain(PARTNER_KEY);
  });
});

describe('testConnection', () => {
  it('names the throw-away cohort and reports ok', async () => {
    const { destination, target } = client();
    script = [ok201];
    const result = await destination.testConnection(target);
    expect(result.ok).toBe(true);
    expect(result.message).toContain(endpoint);
    expect(received[0]?.url).toBe('/partners/acme/cohorts');
    expect(received[0]?.body).toMatchObject({
      cohort_id: CONNECTION_TEST_COHORT_ID,
      client_secret: DIK,
      created_at: new Date(START).toISOString(),
    });
  });

  it('reports a rejected key plainly, without throwing', async () => {
    const { destination, target } = client();
    script = [{ status: 401, body: { message: 'Invalid client secret' } }];
    const result = await destination.testConnection(target);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/Invalid client secret.*regenerate|generate a new Data Import Key/);
  });

  it('reports an unreachable endpoint as "cannot reach", after one quick retry', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadEndpoint = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const { destination, sleeps } = client();
    const result = await destination.testConnection({ endpoint: deadEndpoint, secret: DIK });
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(new RegExp(`^cannot reach ${deadEndpoint}: .*ECONNREFUSED`));
    expect(sleeps).toEqual([1_000]);
  });

  it("reports a missing partner key as the operator's to fix", async () => {
    const { destination, target } = client({ partnerKeys: {} });
    const result = await destination.testConnection(target);
    expect(result).toEqual({ ok: false, message: expect.stringContaining('BRAZE_PARTNER_API_KEY_US') });
  });
});
