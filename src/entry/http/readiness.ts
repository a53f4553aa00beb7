// GET /readyz (docs/api.md): whether this process can do its work right now — the store and the job queue
// answer. /healthz stays a liveness check (the process is alive), so an orchestrator restarts a process only
// when it is stuck, and merely stops routing to it while PostgreSQL is away.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../../app/deps.ts';
import { defineRoute } from './route.ts';

/** A check that has not answered by then counts as failed: a load balancer must not wait on a dead server. */
const CHECK_TIMEOUT_MS = 2_000;

export const ReadinessBody = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.object({ store: z.string(), queue: z.string() }),
});
export type ReadinessBody = z.infer<typeof ReadinessBody>;

async function check(probe: () => Promise<void>, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return 'ok';
  } catch (error) {
    // The driver's message names the failure (refused, timed out, missing relation), never a password.
    const message = error instanceof Error ? error.message : String(error);
    return `failed: ${message.slice(0, 200)}`;
  } finally {
    clearTimeout(timer);
  }
}

export async function readiness(
  deps: Pick<AppDeps, 'store' | 'queue'>,
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<ReadinessBody> {
  const [store, queue] = await Promise.all([
    check(() => deps.store.ping(), timeoutMs),
    check(() => deps.queue.ping(), timeoutMs),
  ]);
  return { status: store === 'ok' && queue === 'ok' ? 'ready' : 'not_ready', checks: { store, queue } };
}

export function readinessRoute(app: FastifyInstance, deps: Pick<AppDeps, 'store' | 'queue'>): void {
  defineRoute(app, {
    method: 'GET',
    url: '/readyz',
    access: 'public',
    tags: ['service'],
    summary: 'Readiness: 200 when the store and the job queue answer, else 503 naming the failing check',
    response: ReadinessBody,
    handler: async ({ reply }) => {
      const body = await readiness(deps);
      if (body.status === 'ready') return body;
      return reply.code(503).send(body);
    },
  });
}

/** /healthz (liveness: the process answers) and /readyz, served alike by API servers and workers. */
export function probeRoutes(app: FastifyInstance, deps: Pick<AppDeps, 'store' | 'queue'>): void {
  defineRoute(app, {
    method: 'GET',
    url: '/healthz',
    access: 'public',
    tags: ['service'],
    summary: 'Liveness',
    handler: async () => ({ status: 'ok' }),
  });
  readinessRoute(app, deps);
}
