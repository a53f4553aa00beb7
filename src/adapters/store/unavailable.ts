// Which driver errors mean "the store cannot take writes now" (retry later) rather than a bug: read-only
// or full databases, lock timeouts, lost or refused connections, a store already closed. Ingestion answers
// those with 503, which Amplitude's SDKs retry.
import { StoreUnavailableError } from '../../ports/event-store.ts';

const SQLITE_UNAVAILABLE = /^SQLITE_(READONLY|BUSY|LOCKED|FULL|IOERR|CANTOPEN|PROTOCOL|NOLFS)/;
// PostgreSQL SQLSTATE classes: 08 connection, 53 insufficient resources, 57 operator intervention
// (shutdown, cannot connect now), 25006 read-only transaction, 58 system errors.
const PG_UNAVAILABLE = /^(08|53|57|58)|^25006$/;
const NODE_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTCONN', 'EHOSTUNREACH']);
const MESSAGES = [
  /driver has already been destroyed/i,
  /cannot use a pool after calling end/i,
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /database connection is not open/i,
  /client has encountered a connection error/i,
];

export function isUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (SQLITE_UNAVAILABLE.test(code) || NODE_UNAVAILABLE.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code) && PG_UNAVAILABLE.test(code)) return true;
  }
  return MESSAGES.some((m) => m.test(error.message));
}

/** The error a store call should throw for `error`: StoreUnavailableError for unavailability, else itself. */
export function asUnavailable(error: unknown): unknown {
  if (isUnavailable(error) && !(error instanceof StoreUnavailableError))
    return new StoreUnavailableError(error instanceof Error ? error.message : String(error), { cause: error });
  return error;
}

/** Runs a store call, turning unavailability errors into StoreUnavailableError (other errors pass). */
export async function unavailableAs<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asUnavailable(error);
  }
}

// Concurrent first sightings of one user or device collide on a unique key; deadlocks and serialization
// failures are retryable too. Only PostgreSQL has concurrent writers; SQLite serialises transactions.
const PG_RETRYABLE = new Set(['23505', '40001', '40P01']);
export const isRetryableConflict = (error: unknown): boolean =>
  error instanceof Error && PG_RETRYABLE.has(String((error as { code?: unknown }).code));
/** PostgreSQL's unique_violation (retryable too, see isRetryableConflict). */
export const isUniqueViolation = (error: unknown): boolean =>
  error instanceof Error && (error as { code?: unknown }).code === '23505';
