// pino, configured so Braze keys, tokens and ingest keys never reach a log line (docs/architecture.md, "Logs").

import type { DestinationStream, Level, Logger as PinoLogger } from 'pino';
import { pino } from 'pino';

export type { Logger } from '../../ports/logger.ts';

export type LogLevel = Level | 'silent';

export const REDACTED = '[redacted]';

/**
 * Field names whose values are secrets wherever they appear. Both spellings are listed because Braze's
 * wire format is snake_case (`partner_api_key`, `client_secret` = the Data Import Key) while our own
 * objects are camelCase, and request logs carry both.
 */
export const SECRET_FIELDS: readonly string[] = [
  'dataImportKey',
  'data_import_key',
  'client_secret',
  'partner_api_key',
  'partnerApiKey',
  'token',
  'adminToken',
  'authorization',
  'Authorization',
  'api_key',
  'apiKey',
  'ingestKey',
  'secret',
  'secretKey',
  'password',
];

/**
 * Redaction paths: each field at the top level and nested one and two levels deep (`*.x`, `*.*.x`;
 * `*` also matches array indexes). Paths are compiled once by pino, so deeper wildcards would cost on
 * every line; objects nested deeper than that should be logged through a narrower projection.
 */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.${f}`),
  // Explicit, though covered by the wildcards above, so the intent survives edits to the list.
  'headers.authorization',
  'req.headers.authorization',
];

export interface CreateLoggerOptions {
  level: LogLevel;
  /** Where lines go; stdout when omitted. Tests pass a stream to capture output. */
  destination?: NodeJS.WritableStream | DestinationStream;
}

export function createLogger({ level, destination }: CreateLoggerOptions): PinoLogger {
  const options = {
    level,
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    // ISO timestamps read the same in a terminal and a log store; the API uses ISO-8601 UTC too.
    timestamp: pino.stdTimeFunctions.isoTime,
    // "level":"warn" rather than pino's 40: readable without a lookup table, and what log stores filter on.
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination as DestinationStream) : pino(options);
}
