// What a `cohort-sync worker` serves on its own port (--port / WORKER_PORT): liveness, readiness and metrics,
// so an orchestrator can probe and scrape workers like API servers. No API routes, no auth needed.
import Fastify, { type FastifyInstance } from 'fastify';
import type { AppDeps } from '../../app/deps.ts';
import type { ServiceMetrics } from '../../app/metrics.ts';
import { probeRoutes } from './readiness.ts';
import { metricsRoutes } from './routes/metrics.ts';

export async function buildWorkerHttpApp(
  deps: Pick<AppDeps, 'store' | 'queue'>,
  metrics: Pick<ServiceMetrics, 'registry'>,
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  probeRoutes(app, deps);
  await metricsRoutes(app, { metrics });
  return app;
}
