// Builds the HTTP API over a whole engine (real store, real Braze client, real sandbox, worker) for
// route tests, and small helpers to call it with inject().
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildHttpApp, type HttpContext } from '../../src/entry/http/app.ts';
import type { TestEngine } from '../support/engines.ts';
import { tokenTools } from '../support/flows.ts';
import { type Harness, startHarness } from '../support/harness.ts';

export const ADMIN_TOKEN = 'cs_admin_test-admin-token-0123456789';

export interface Api {
  readonly h: Harness;
  readonly app: FastifyInstance;
  /** inject() with a bearer token (admin unless another or null is given) and a JSON body. */
  call(
    method: InjectOptions['method'],
    url: string,
    opts?: {
      token?: string | null;
      body?: unknown;
      payload?: string | Buffer;
      headers?: Record<string, string>;
      query?: Record<string, string>;
    },
  ): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function startApi(
  engine: TestEngine,
  opts: { context?: Partial<HttpContext>; harness?: Parameters<typeof startHarness>[1] } = {},
): Promise<Api> {
  const h = await startHarness(engine, opts.harness);
  const app = await buildHttpApp({
    deps: h.deps,
    adminToken: ADMIN_TOKEN,
    tokens: tokenTools,
    // The isolation and fuzz walks send thousands of bad tokens from one address on purpose.
    authFailureLimit: { maxFailures: 1_000_000, windowMs: 60_000 },
    ...opts.context,
  });
  await app.ready();
  return {
    h,
    app,
    call: (method, url, o = {}) => {
      const token = o.token === undefined ? ADMIN_TOKEN : o.token;
      const headers: Record<string, string> = {
        ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
        ...o.headers,
      };
      if (o.body !== undefined) headers['content-type'] ??= 'application/json';
      return app.inject({
        method,
        url,
        headers,
        ...(o.query ? { query: o.query } : {}),
        ...(o.body !== undefined
          ? { payload: JSON.stringify(o.body) }
          : o.payload !== undefined
            ? { payload: o.payload }
            : {}),
      });
    },
    async close() {
      await app.close();
      await h.close();
    },
  };
}

export const json = <T = Record<string, unknown>>(r: LightMyRequestResponse): T => r.json() as T;
