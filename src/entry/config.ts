// The one place that reads the environment (docs/architecture.md). Everything else receives a Config, so a
// test or a second process can run with any settings without touching process.env. Every key is checked
// before failing, so an operator fixes all mistakes in one go instead of one per restart.
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { BrazeRegion } from '../domain/braze-instances.ts';
import { normaliseEndpoint } from '../domain/braze-instances.ts';

export const BRAZE_REGIONS = ['US', 'EU', 'AU', 'ID', 'JP', 'KR'] as const satisfies readonly BrazeRegion[];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Every variable we read, in api.md's order (problems are reported in this order too). */
export const CONFIG_KEYS = [
  'HOST',
  'PORT',
  'DATA_DIR',
  'DATABASE_URL',
  'COHORT_SYNC_ADMIN_TOKEN',
  'COHORT_SYNC_SECRET_KEY',
  'BRAZE_PARTNER_SLUG',
  'BRAZE_PARTNER_API_KEY_US',
  'BRAZE_PARTNER_API_KEY_EU',
  'BRAZE_PARTNER_API_KEY_AU',
  'BRAZE_PARTNER_API_KEY_ID',
  'BRAZE_PARTNER_API_KEY_JP',
  'BRAZE_PARTNER_API_KEY_KR',
  'BRAZE_ALLOWED_ENDPOINTS',
  'BRAZE_SANDBOX',
  'BRAZE_SANDBOX_PORT',
  'SANDBOX_ADMIN_TOKEN',
  'COHORT_NAME_PREFIX',
  'SMTP_URL',
  'MAIL_FROM',
  'LOG_LEVEL',
  'BRAZE_CONCURRENCY',
  'BRAZE_REQUESTS_PER_HOUR',
  'BRAZE_TRACK_REQUESTS_PER_3S',
  'BRAZE_TRACK_MAX_OBJECTS',
  'RUN_HISTORY_DAYS',
  'REALTIME_RECONCILE_MINUTES',
  'FULL_RECONCILE_HOURS',
  'CSV_MAX_BYTES',
  'CSV_MAX_RECORD_BYTES',
  'BRAZE_BUDGET_WINDOW_SECONDS',
  'WORKER_PORT',
  'WORKER_CONCURRENCY',
  'LEASE_TTL_SECONDS',
  'SCHEDULER_INTERVAL_SECONDS',
  'QUEUE_POLL_SECONDS',
  'QUEUE_WAKEUP',
  'INGEST_EVENTS_PER_SECOND',
  'EVENT_RETENTION_DAYS',
  'WEBHOOK_ALLOWED_HOSTS',
  'WEBHOOK_ALLOW_PRIVATE',
  'HTTP_REQUEST_TIMEOUT_MS',
] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

/** Flags of `cohort-sync serve`, by variable name; `undefined` means "flag not given", not "unset". */
export type ConfigOverrides = Partial<Record<ConfigKey, string | number | undefined>>;

export type StoreConfig =
  | { readonly kind: 'sqlite'; readonly file: string }
  | { readonly kind: 'postgres'; readonly url: string };

export interface Config {
  readonly http: { readonly host: string; readonly port: number };
  /** Absolute. Holds the SQLite file and the generated admin token and secret key. */
  readonly dataDir: string;
  readonly store: StoreConfig;
  /** Unset: generated into DATA_DIR (see adapters/crypto/admin-token.ts). */
  readonly adminToken: string | undefined;
  /** Base64 of 32 bytes. Unset: generated into DATA_DIR (only allowed on SQLite). */
  readonly secretKey: string | undefined;
  readonly braze: {
    readonly partnerSlug: string;
    readonly partnerKeys: Readonly<Partial<Record<BrazeRegion, string>>>;
    /** Normalised (see normaliseEndpoint). The sandbox's own URL is added by whoever starts it. */
    readonly allowedEndpoints: readonly string[];
    /** port 0 = pick a free port. */
    /** adminToken: SANDBOX_ADMIN_TOKEN; unset, one is generated into DATA_DIR if HOST is not loopback. */
    readonly sandbox: { readonly enabled: boolean; readonly port: number; readonly adminToken: string | undefined };
    readonly concurrency: number;
    readonly requestsPerHour: number;
    /** /users/track budget per REST API key per 3 s (Braze's burst limit: 3,000). */
    readonly trackRequestsPer3s: number;
    /** Objects per /users/track request (Braze: at most 75; it may lower the limit). */
    readonly trackMaxObjects: number;
    /**
     * The window `requestsPerHour` is counted over: an hour (Braze's partner limit) unless a test or bench
     * against the sandbox counts per second (BRAZE_BUDGET_WINDOW_SECONDS).
     */
    readonly budgetWindowSeconds: number;
  };
  readonly cohortNamePrefix: string;
  /** smtpUrl unset: notifications are logged, not sent. */
  readonly mail: { readonly smtpUrl: string | undefined; readonly from: string };
  readonly logLevel: LogLevel;
  readonly runs: {
    readonly historyDays: number;
    readonly realtimeReconcileMinutes: number;
    /** Scheduled runs re-read the whole cohort at most this long after the last full reconcile. */
    readonly fullReconcileHours: number;
  };
  /** Limits of CSV uploads: the body (413 above) and one record, in characters (src/domain/csv.ts). */
  readonly csv: { readonly maxBytes: number; readonly maxRecordBytes: number };
  /** How runs are coordinated between processes (docs/deploy.md). */
  readonly coordination: {
    /** `cohort-sync worker` serves /healthz, /readyz and /metrics here; unset: no listener. */
    readonly workerPort: number | undefined;
    /** Braze cohorts one process works on at once (PostgreSQL; each with BRAZE_CONCURRENCY requests in flight). */
    readonly workerConcurrency: number;
    /** A crashed worker's run is taken over after this; its heartbeat renews every third of it. */
    readonly leaseTtlSeconds: number;
    readonly schedulerIntervalSeconds: number;
    /** pg-boss's safety-net poll (LISTEN/NOTIFY wakes workers at once). */
    readonly queuePollSeconds: number;
    /** LISTEN/NOTIFY wake-up of idle workers; off behind a pooler that cannot LISTEN (PgBouncer, transaction mode). */
    readonly queueWakeup: boolean;
  };
  /** Amplitude-format ingestion (docs/ingestion.md): per-project events/s budget (0 = none), retention. */
  readonly ingest: { readonly eventsPerSecond: number; readonly retentionDays: number };
  /**
   * Where webhooks may go (docs/security.md): public addresses only, plus `allowedHosts` (which may be
   * private), or anywhere with `allowPrivate`.
   */
  readonly webhooks: { readonly allowedHosts: readonly string[]; readonly allowPrivate: boolean };
  /** Time to receive a whole request, body included, before 408. */
  readonly requestTimeoutMs: number;
}

export interface ConfigProblem {
  readonly key: ConfigKey;
  readonly message: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly ConfigProblem[]) {
    // Values are never echoed: several keys are secrets, and DATABASE_URL/SMTP_URL may hold passwords.
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p.key}: ${p.message}`).join('\n'),
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// Per-key schemas. Input is the trimmed string, or undefined when the variable is unset or blank (compose
// files often write `FOO=` to mean "unset").

/** Strict digits only: Number() would also accept '0x1f', '1e3' and ' ' (as 0). */
const wholeNumber = (min: number, max: number, fallback: number) =>
  z
    .string()
    .refine((s) => /^\d+$/.test(s) && Number(s) >= min && Number(s) <= max, {
      error: `must be a whole number from ${min} to ${max}`,
    })
    .transform(Number)
    .default(fallback);

const port = (fallback: number) => wholeNumber(0, 65535, fallback);

// Prefix only: pg and nodemailer parse their URLs leniently (e.g. an unencoded % in a password), so a
// stricter parse here would reject URLs that work.
const urlWithScheme = (schemes: readonly string[]) =>
  z.string().refine((s) => schemes.some((scheme) => new RegExp(`^${scheme}://.+`, 'i').test(s)), {
    error: `must be a URL starting with ${schemes.map((s) => `${s}://`).join(' or ')}`,
  });

const oneOf = <T extends string>(values: readonly [T, ...T[]]) =>
  z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(values, { error: `must be one of: ${values.join(', ')}` }));

const secretKey = z
  .string()
  .refine((s) => /^[A-Za-z0-9+/_-]+={0,2}$/.test(s) && Buffer.from(s, 'base64').length === 32, {
    error: 'must be base64 of exactly 32 bytes (e.g. `openssl rand -base64 32`)',
  });

// A bearer token that guards every project; short or spaced values are mistakes or guessable.
const adminToken = z.string().refine((s) => s.length >= 16 && !/\s/.test(s), {
  error: 'must be at least 16 characters with no spaces',
});

const endpointList = z
  .string()
  .transform((s, ctx) => {
    const items = s
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e !== '');
    for (const item of items) {
      if (!/^https?:\/\//i.test(item) || !canParseUrl(item)) {
        ctx.addIssue({ code: 'custom', message: `"${item}" is not an http:// or https:// URL` });
      }
    }
    return [...new Set(items.map(normaliseEndpoint))];
  })
  .default([]);

// Host names or IP literals, `.suffix` for every subdomain; no schemes, paths or ports.
const hostList = z
  .string()
  .transform((s, ctx) => {
    const items = s
      .split(',')
      .map((e) => e.trim().toLowerCase())
      .filter((e) => e !== '');
    for (const item of items) {
      if (!/^\.?[a-z0-9._-]+$|^\[?[0-9a-f:.]+\]?$/.test(item))
        ctx.addIssue({
          code: 'custom',
          message: `"${item}" is not a host name (write hooks.example.com or .example.com)`,
        });
    }
    return [...new Set(items)];
  })
  .default([]);

// Blank values never reach the schema (readRaw drops them), so a plain string is already non-empty.
const nonEmpty = z.string();
const optionalText = z.string().optional();

const schema = z.object({
  HOST: nonEmpty.default('127.0.0.1'),
  PORT: port(8080),
  DATA_DIR: nonEmpty.default('./data'),
  DATABASE_URL: urlWithScheme(['postgres', 'postgresql']).optional(),
  COHORT_SYNC_ADMIN_TOKEN: adminToken.optional(),
  COHORT_SYNC_SECRET_KEY: secretKey.optional(),
  // It becomes a URL path segment (/partners/{slug}/…), so only unreserved characters.
  BRAZE_PARTNER_SLUG: z
    .string()
    .regex(/^[A-Za-z0-9._~-]+$/, { error: 'may contain only letters, digits, ".", "_", "~" and "-"' })
    .default('cohort-sync'),
  BRAZE_PARTNER_API_KEY_US: optionalText,
  BRAZE_PARTNER_API_KEY_EU: optionalText,
  BRAZE_PARTNER_API_KEY_AU: optionalText,
  BRAZE_PARTNER_API_KEY_ID: optionalText,
  BRAZE_PARTNER_API_KEY_JP: optionalText,
  BRAZE_PARTNER_API_KEY_KR: optionalText,
  BRAZE_ALLOWED_ENDPOINTS: endpointList,
  BRAZE_SANDBOX: oneOf(['on', 'off']).optional(),
  BRAZE_SANDBOX_PORT: port(4010),
  SANDBOX_ADMIN_TOKEN: adminToken.optional(),
  COHORT_NAME_PREFIX: nonEmpty.default('cohort-sync'),
  SMTP_URL: urlWithScheme(['smtp', 'smtps']).optional(),
  MAIL_FROM: nonEmpty.default('cohort-sync <cohort-sync@localhost>'),
  LOG_LEVEL: oneOf(LOG_LEVELS).default('info'),
  BRAZE_CONCURRENCY: wholeNumber(1, 64, 4),
  BRAZE_REQUESTS_PER_HOUR: wholeNumber(1, 100_000_000, 250_000),
  BRAZE_TRACK_REQUESTS_PER_3S: wholeNumber(1, 1_000_000, 3_000),
  BRAZE_TRACK_MAX_OBJECTS: wholeNumber(1, 75, 75),
  RUN_HISTORY_DAYS: wholeNumber(1, 3650, 30),
  REALTIME_RECONCILE_MINUTES: wholeNumber(1, 10_080, 60),
  // Scheduled runs plan from the change log; this often one re-reads the whole cohort (docs/syncs.md).
  FULL_RECONCILE_HOURS: wholeNumber(0, 8_760, 24),
  // CSV uploads (docs/api.md "CSV uploads"): the whole body, and one record (a line, or a quoted field's lines).
  CSV_MAX_BYTES: wholeNumber(1, Number.MAX_SAFE_INTEGER, 4 * 1024 ** 3),
  CSV_MAX_RECORD_BYTES: wholeNumber(64, 1024 ** 3, 1024 ** 2),
  BRAZE_BUDGET_WINDOW_SECONDS: wholeNumber(1, 3600, 3600),
  WORKER_PORT: z
    .string()
    .refine((s) => /^\d+$/.test(s) && Number(s) <= 65535, { error: 'must be a whole number from 0 to 65535' })
    .transform(Number)
    .optional(),
  WORKER_CONCURRENCY: wholeNumber(1, 64, 4),
  LEASE_TTL_SECONDS: wholeNumber(2, 3600, 30),
  SCHEDULER_INTERVAL_SECONDS: wholeNumber(1, 3600, 5),
  QUEUE_POLL_SECONDS: wholeNumber(1, 600, 2),
  QUEUE_WAKEUP: oneOf(['on', 'off']).default('on'),
  INGEST_EVENTS_PER_SECOND: wholeNumber(0, 100_000_000, 50_000),
  EVENT_RETENTION_DAYS: wholeNumber(1, 36_500, 400),
  WEBHOOK_ALLOWED_HOSTS: hostList,
  WEBHOOK_ALLOW_PRIVATE: oneOf(['true', 'false']).default('false'),
  HTTP_REQUEST_TIMEOUT_MS: wholeNumber(1_000, 86_400_000, 600_000),
} satisfies Record<ConfigKey, z.ZodType>);

// ---------------------------------------------------------------------------------------------------------

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: ConfigOverrides = {}): Config {
  const raw = readRaw(env, overrides);
  const parsed = schema.safeParse(raw);
  const problems: ConfigProblem[] = parsed.success ? [] : parsed.error.issues.map(toProblem);

  // Cross-key rule, checked from the raw values so it is reported alongside per-key problems.
  // PostgreSQL may be shared by many workers on many machines; a key generated into one machine's
  // DATA_DIR would leave the others unable to read the Braze keys it encrypted.
  if (raw.DATABASE_URL !== undefined && raw.COHORT_SYNC_SECRET_KEY === undefined) {
    problems.push({ key: 'COHORT_SYNC_SECRET_KEY', message: 'is required when DATABASE_URL is set' });
  }

  if (!parsed.success || problems.length > 0) {
    throw new ConfigError(problems.sort((a, b) => CONFIG_KEYS.indexOf(a.key) - CONFIG_KEYS.indexOf(b.key)));
  }
  return deepFreeze(toConfig(parsed.data));
}

type Parsed = z.output<typeof schema>;

function toConfig(v: Parsed): Config {
  const dataDir = resolve(v.DATA_DIR);
  const partnerKeys: Partial<Record<BrazeRegion, string>> = {};
  for (const region of BRAZE_REGIONS) {
    const key = v[`BRAZE_PARTNER_API_KEY_${region}`];
    if (key !== undefined) partnerKeys[region] = key;
  }
  // Without any partner key nothing real can be synced, so the sandbox is the useful default.
  const sandboxEnabled = (v.BRAZE_SANDBOX ?? (Object.keys(partnerKeys).length === 0 ? 'on' : 'off')) === 'on';

  return {
    http: { host: v.HOST, port: v.PORT },
    dataDir,
    store:
      v.DATABASE_URL !== undefined
        ? { kind: 'postgres', url: v.DATABASE_URL }
        : { kind: 'sqlite', file: join(dataDir, 'cohort-sync.db') },
    adminToken: v.COHORT_SYNC_ADMIN_TOKEN,
    secretKey: v.COHORT_SYNC_SECRET_KEY,
    braze: {
      partnerSlug: v.BRAZE_PARTNER_SLUG,
      partnerKeys,
      allowedEndpoints: v.BRAZE_ALLOWED_ENDPOINTS,
      sandbox: { enabled: sandboxEnabled, port: v.BRAZE_SANDBOX_PORT, adminToken: v.SANDBOX_ADMIN_TOKEN },
      concurrency: v.BRAZE_CONCURRENCY,
      requestsPerHour: v.BRAZE_REQUESTS_PER_HOUR,
      trackRequestsPer3s: v.BRAZE_TRACK_REQUESTS_PER_3S,
      trackMaxObjects: v.BRAZE_TRACK_MAX_OBJECTS,
      budgetWindowSeconds: v.BRAZE_BUDGET_WINDOW_SECONDS,
    },
    cohortNamePrefix: v.COHORT_NAME_PREFIX,
    mail: { smtpUrl: v.SMTP_URL, from: v.MAIL_FROM },
    logLevel: v.LOG_LEVEL,
    runs: {
      historyDays: v.RUN_HISTORY_DAYS,
      realtimeReconcileMinutes: v.REALTIME_RECONCILE_MINUTES,
      fullReconcileHours: v.FULL_RECONCILE_HOURS,
    },
    csv: { maxBytes: v.CSV_MAX_BYTES, maxRecordBytes: v.CSV_MAX_RECORD_BYTES },
    coordination: {
      workerPort: v.WORKER_PORT,
      workerConcurrency: v.WORKER_CONCURRENCY,
      leaseTtlSeconds: v.LEASE_TTL_SECONDS,
      schedulerIntervalSeconds: v.SCHEDULER_INTERVAL_SECONDS,
      queuePollSeconds: v.QUEUE_POLL_SECONDS,
      queueWakeup: v.QUEUE_WAKEUP === 'on',
    },
    ingest: { eventsPerSecond: v.INGEST_EVENTS_PER_SECOND, retentionDays: v.EVENT_RETENTION_DAYS },
    webhooks: { allowedHosts: v.WEBHOOK_ALLOWED_HOSTS, allowPrivate: v.WEBHOOK_ALLOW_PRIVATE === 'true' },
    requestTimeoutMs: v.HTTP_REQUEST_TIMEOUT_MS,
  };
}

/** Known keys only, overrides winning; blank values count as unset. */
function readRaw(env: NodeJS.ProcessEnv, overrides: ConfigOverrides): Partial<Record<ConfigKey, string>> {
  const raw: Partial<Record<ConfigKey, string>> = {};
  for (const key of CONFIG_KEYS) {
    const value = overrides[key] ?? env[key];
    const text = value === undefined ? '' : String(value).trim();
    if (text !== '') raw[key] = text;
  }
  return raw;
}

function toProblem(issue: z.core.$ZodIssue): ConfigProblem {
  return { key: issue.path[0] as ConfigKey, message: issue.message };
}

function canParseUrl(s: string): boolean {
  try {
    new URL(s);
    return true;
  } catch {
    return false;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------

const HIDDEN = '[redacted]';

/** Hides passwords in `user:pass@` and in `?password=` (libpq accepts both). */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = 'redacted';
    for (const key of [...u.searchParams.keys()]) {
      if (/pass|secret|token|key/i.test(key)) u.searchParams.set(key, 'redacted');
    }
    return u.toString();
  } catch {
    // Unparseable here yet maybe fine for the driver: show only the scheme rather than risk a password.
    return url.replace(/:\/\/.*$/s, `://${HIDDEN}`);
  }
}

/** A log-safe summary for the startup line: which secrets are set, never their values. */
export function describeConfig(config: Config) {
  const set = (v: string | undefined) => (v === undefined ? 'unset' : HIDDEN);
  return {
    http: { ...config.http },
    dataDir: config.dataDir,
    store:
      config.store.kind === 'sqlite'
        ? { kind: 'sqlite' as const, file: config.store.file }
        : { kind: 'postgres' as const, url: redactUrl(config.store.url) },
    adminToken: config.adminToken === undefined ? 'unset (generated in DATA_DIR)' : HIDDEN,
    secretKey: config.secretKey === undefined ? 'unset (generated in DATA_DIR)' : HIDDEN,
    braze: {
      partnerSlug: config.braze.partnerSlug,
      partnerKeys: Object.fromEntries(BRAZE_REGIONS.map((r) => [r, set(config.braze.partnerKeys[r])])),
      allowedEndpoints: [...config.braze.allowedEndpoints],
      sandbox: {
        ...config.braze.sandbox,
        adminToken:
          config.braze.sandbox.adminToken === undefined ? 'unset (generated in DATA_DIR off loopback)' : HIDDEN,
      },
      concurrency: config.braze.concurrency,
      requestsPerHour: config.braze.requestsPerHour,
      trackRequestsPer3s: config.braze.trackRequestsPer3s,
      trackMaxObjects: config.braze.trackMaxObjects,
      budgetWindowSeconds: config.braze.budgetWindowSeconds,
    },
    cohortNamePrefix: config.cohortNamePrefix,
    mail: {
      smtpUrl: config.mail.smtpUrl === undefined ? 'unset (notifications are logged)' : redactUrl(config.mail.smtpUrl),
      from: config.mail.from,
    },
    logLevel: config.logLevel,
    runs: { ...config.runs },
    coordination: { ...config.coordination },
    ingest: { ...config.ingest },
    webhooks: { allowedHosts: [...config.webhooks.allowedHosts], allowPrivate: config.webhooks.allowPrivate },
    requestTimeoutMs: config.requestTimeoutMs,
  };
}

export type ConfigSummary = ReturnType<typeof describeConfig>;

// ---------------------------------------------------------------------------------------------------------

/** Settings of the resource commands (`cohort-sync projects …`), which talk to a running server. */
export interface ClientConfig {
  /** COHORT_SYNC_URL, default http://127.0.0.1:8080. */
  readonly url: string;
  /** COHORT_SYNC_TOKEN; unset lets a local server's `<dataDir>/admin-token` be used. */
  readonly token: string | undefined;
  /** COHORT_SYNC_PROJECT: the project of project-scoped commands. */
  readonly project: string | undefined;
  /** DATA_DIR, absolute. */
  readonly dataDir: string;
}

export function loadClientConfig(env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const read = (key: string) => (env[key] ?? '').trim() || undefined;
  return {
    url: read('COHORT_SYNC_URL') ?? 'http://127.0.0.1:8080',
    token: read('COHORT_SYNC_TOKEN'),
    project: read('COHORT_SYNC_PROJECT'),
    dataDir: resolve(read('DATA_DIR') ?? './data'),
  };
}
