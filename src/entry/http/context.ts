// What the HTTP app is built from: the use cases' dependencies, the tokens, and the hooks of other features.
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../../app/deps.ts';
import type { TokenTools } from '../../app/projects.ts';
import type { AuthFailureLimit } from './auth.ts';

export interface HttpContext {
  readonly deps: AppDeps;
  readonly adminToken: string;
  readonly tokens: TokenTools;
  /** Told after a cohort's membership changed through the API (real-time syncs). */
  readonly onMembershipChanged?: (projectId: string, cohortId: string) => Promise<void>;
  /**
   * More routes on the same server (ingestion, UI, metrics), added after the API's. They handle their own
   * authentication (or declare `config: {access: 'read' | 'write' | 'admin'}` to use the API's), and add
   * content-type parsers for bodies other than JSON and CSV (form-encoded /identify, say).
   */
  readonly extraRoutes?: ((app: FastifyInstance) => Promise<void>)[];
  /** Largest JSON body accepted (413 above); CSV uploads stream and are not bound by it. Default 4 MiB. */
  readonly bodyLimitBytes?: number;
  /** CSV uploads: the largest body (413 above, nothing changed) and record, in characters (src/domain/csv.ts). */
  readonly csvLimits?: { readonly maxBytes: number; readonly maxRecordBytes: number };
  /** Time to receive a whole request, body included; 408 after it. Default 10 minutes (HTTP_REQUEST_TIMEOUT_MS). */
  readonly requestTimeoutMs?: number;
  /** Failed authentications allowed per client address (then 429); default 20 a minute. */
  readonly authFailureLimit?: AuthFailureLimit;
}
