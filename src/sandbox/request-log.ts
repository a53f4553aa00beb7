// A bounded log of partner requests and counts by status, so tests can assert on exactly what our client
// sent (and how often) without a network capture. Keys are redacted before storage: the log is served over
// HTTP and may end up in test output.
import { isJsonObject } from './json-checks.ts';

export interface LoggedRequest {
  /** ISO-8601 time the request was answered (or dropped). */
  readonly at: string;
  readonly method: string;
  readonly path: string;
  /** HTTP status answered; 0 when the connection was dropped by an injected fault. */
  readonly status: number;
  /** user_ids + device_ids + aliases counted in the body (0 for name calls and unreadable bodies). */
  readonly identifiers: number;
  /** The JSON body with `partner_api_key` and `client_secret` replaced by "[redacted]"; null if not JSON. */
  readonly body: unknown;
  /** Set when an injected fault shaped the answer. */
  readonly fault?: string;
}

export interface RequestStats {
  requests: number;
  /** Counts by status code as a string; dropped connections count under "dropped". */
  byStatus: Record<string, number>;
}

const SECRET_FIELDS = ['partner_api_key', 'client_secret'];
export const REDACTED = '[redacted]';

export class RequestLog {
  private entries: LoggedRequest[] = [];
  private counts = new Map<string, number>();
  private total = 0;

  constructor(private readonly capacity = 1000) {}

  record(entry: LoggedRequest): void {
    this.entries.push({ ...entry, body: redact(entry.body) });
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
    const bucket = entry.status === 0 ? 'dropped' : String(entry.status);
    this.counts.set(bucket, (this.counts.get(bucket) ?? 0) + 1);
    this.total += 1;
  }

  /** The most recent `limit` requests, oldest first. */
  list(limit = 100): LoggedRequest[] {
    return limit <= 0 ? [] : this.entries.slice(-limit);
  }

  stats(): RequestStats {
    return { requests: this.total, byStatus: Object.fromEntries(this.counts) };
  }

  /** Clears both the log and the counts: a test asks "what happened since I cleared". */
  clear(): void {
    this.entries = [];
    this.counts = new Map();
    this.total = 0;
  }
}

function redact(body: unknown): unknown {
  if (!isJsonObject(body)) return body;
  const copy: Record<string, unknown> = { ...body };
  for (const field of SECRET_FIELDS) if (field in copy) copy[field] = REDACTED;
  return copy;
}
