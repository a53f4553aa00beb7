// GET /metrics: Prometheus text exposition format 0.0.4, no auth (api.md lists it with /healthz's kind).
// Operators who expose the port beyond their network should restrict /metrics at their proxy.
import type { FastifyInstance } from 'fastify';
import {
  defaultMetrics,
  type MetricsRegistry,
  PROMETHEUS_CONTENT_TYPE,
  type ServiceMetrics,
} from '../../../app/metrics.ts';

export interface MetricsRoutesContext {
  /** Default: the process-wide defaultMetrics. */
  readonly metrics?: ServiceMetrics | MetricsRegistry;
}

export async function metricsRoutes(app: FastifyInstance, ctx: MetricsRoutesContext = {}): Promise<void> {
  const m = ctx.metrics ?? defaultMetrics;
  const registry = 'registry' in m ? m.registry : m;
  // No schema: the answer is text, and the OpenAPI document covers /api/v1 only.
  app.get('/metrics', { config: { access: 'public' } }, async (_request, reply) => {
    return reply
      .header('content-type', PROMETHEUS_CONTENT_TYPE)
      .header('cache-control', 'no-store')
      .send(registry.render());
  });
}
