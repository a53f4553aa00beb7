// GET /metrics: Prometheus text exposition format 0.0.4, no auth (api.md lists it with /healthz's kind).
// Operators who expose the port beyond their network should restrict /metrics at their proxy.
import type { FastifyInstance } from 'fastify';
import type { ServiceMetrics } from '../../../app/metrics.ts';

export interface MetricsRoutesContext {
  /** This server's metrics (one registry per service, so several can share a process). */
  readonly metrics: Pick<ServiceMetrics, 'registry'>;
}

export async function metricsRoutes(app: FastifyInstance, ctx: MetricsRoutesContext): Promise<void> {
  const { registry } = ctx.metrics;
  // No schema: the answer is text, and the OpenAPI document covers /api/v1 only.
  app.get('/metrics', { config: { access: 'public' } }, async (_request, reply) => {
    const text = await registry.render();
    return reply.header('content-type', registry.contentType).header('cache-control', 'no-store').send(text);
  });
}
