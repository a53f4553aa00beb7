// A store, the HTTP app with the ingestion routes on a real port, and a project with its ingest key, for
// ingestion tests. Helpers read what was stored straight from the tables.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { createProject } from '../../src/app/projects.ts';
import { type Composed, compose } from '../../src/entry/compose.ts';
import { buildHttpApp } from '../../src/entry/http/app.ts';
import { ingestRoutes } from '../../src/entry/http/routes/ingest.ts';
import type { Clock } from '../../src/ports/clock.ts';
import type { TestEngine } from '../support/engines.ts';
import { tokenTools } from '../support/flows.ts';

export const ADMIN = 'cs_admin_ingest-test-admin-token-0123';

export interface IngestBed {
  readonly c: Composed;
  readonly app: FastifyInstance;
  readonly url: string;
  readonly projectId: string;
  readonly apiKey: string;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  storedEvents(): Promise<any[]>;
  profileOf(by: { userId?: string; deviceId?: string }): ReturnType<Composed['store']['membership']['findProfile']>;
  close(): Promise<void>;
}

export async function startIngestBed(
  engine: TestEngine,
  opts: { eventsPerSecond?: number; clock?: Clock; beforeListen?: (app: FastifyInstance) => void } = {},
): Promise<IngestBed> {
  const fresh = await engine.fresh();
  const c = await compose({
    store: fresh.location,
    secretKey: randomBytes(32),
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    braze: { partnerSlug: 'cohort-sync', partnerKeys: {}, requestsPerHour: 1000 },
    ingest: { eventsPerSecond: opts.eventsPerSecond ?? 0 },
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  const { project, ingestKey } = await createProject(c.deps, tokenTools, { name: 'Ingest' });
  const app = await buildHttpApp({
    deps: c.deps,
    adminToken: ADMIN,
    tokens: tokenTools,
    extraRoutes: [ingestRoutes({ ingestion: c.ingestion })],
  });
  opts.beforeListen?.(app);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    c,
    app,
    url,
    projectId: project.id,
    apiKey: ingestKey,
    async post(path, body, headers = {}) {
      const r = await app.inject({
        method: 'POST',
        url: path,
        headers: { 'content-type': 'application/json', ...headers },
        payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
      });
      return { status: r.statusCode, body: r.body === '' ? undefined : JSON.parse(r.body) };
    },
    storedEvents: () =>
      c.store.raw.db.selectFrom('events').selectAll().where('project_id', '=', project.id).orderBy('id').execute(),
    profileOf: (by) => c.store.membership.findProfile(project.id, by),
    async close() {
      await app.close();
      await c.store.close();
      await fresh.drop();
    },
  };
}
