// The port the run executor drives to put a cohort into a destination, without knowing it is Braze.
import type { Identifier } from '../domain/identifiers.ts';

export interface DestinationTarget {
  /** REST endpoint of the customer's instance, e.g. https://rest.iad-01.braze.com */
  readonly endpoint: string;
  /** The customer's Data Import Key, decrypted just for the call. */
  readonly dataImportKey: string;
}

export interface MembershipChange {
  readonly add: readonly Identifier[];
  readonly remove: readonly Identifier[];
}

export interface CallStats {
  /** HTTP requests made, including retries. */
  readonly requests: number;
  readonly retries: number;
  /** Non-fatal per-identifier errors a 2xx answer carried (braze.md §1A "Responses"). */
  readonly partialErrors: readonly string[];
}

/** One HTTP exchange, for the per-run request log. Keys are already redacted. */
export interface RequestLogEntry {
  readonly at: string;
  readonly endpoint: string;
  readonly identifiers: number;
  readonly status: number | null;
  readonly latencyMs: number;
  readonly attempt: number;
  readonly request: unknown;
  readonly response: unknown;
}

export interface CallOptions {
  readonly onRequest?: (entry: RequestLogEntry) => void;
  readonly signal?: AbortSignal;
}

export interface Destination {
  /** Creates or renames the cohort (Braze: POST /partners/{slug}/cohorts). */
  upsertCohort(
    target: DestinationTarget,
    cohort: { id: string; name: string; createdAt: string },
    opts?: CallOptions,
  ): Promise<CallStats>;
  /** Sends one batch of at most 1,000 identifiers. Resolves only once the destination acknowledged it (2xx). */
  changeMembership(
    target: DestinationTarget,
    cohortId: string,
    change: MembershipChange,
    opts?: CallOptions,
  ): Promise<CallStats>;
  /** Checks a key against the destination; never throws for a rejected key. */
  testConnection(target: DestinationTarget): Promise<{ ok: boolean; message: string }>;
}

/**
 * Errors carry the retry decision (architecture.md, example 2). The destination adapter retries what it can
 * by itself; what reaches the executor is final for this attempt.
 */
export type DeliveryErrorKind =
  | 'bad_request' // 400/404/413: our bug or bad data; fail the batch
  | 'credentials' // 401/403: fail the run; a person must fix the key or instance
  | 'retries_exhausted' // 423/429/5xx/network faults outlasted the retry policy
  | 'aborted'; // the caller stopped (lease lost, shutdown)

export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    readonly kind: DeliveryErrorKind,
    message: string,
    readonly status: number | null = null,
    readonly stats: CallStats = { requests: 0, retries: 0, partialErrors: [] },
  ) {
    super(message);
  }
}
