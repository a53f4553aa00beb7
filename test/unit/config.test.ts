import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Config } from '../../src/entry/config.ts';
import { ConfigError, describeConfig, loadConfig } from '../../src/entry/config.ts';

const KEY_32 = Buffer.alloc(32, 7).toString('base64');

function problemsOf(fn: () => unknown): { key: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig defaults', () => {
  it('fills every default from api.md when the environment is empty', () => {
    const config = loadConfig({});
    const dataDir = resolve('./data');
    expect(config).toEqual({
      http: { host: '127.0.0.1', port: 8080 },
      dataDir,
      store: { kind: 'sqlite', file: join(dataDir, 'cohort-sync.db') },
      adminToken: undefined,
      secretKey: undefined,
      braze: {
        partnerSlug: 'cohort-sync',
        partnerKeys: {},
        allowedEndpoints: [],
        sandbox: { enabled: true, port: 4010, adminToken: undefined },
        concurrency: 4,
        requestsPerHour: 250_000,
        trackRequestsPer3s: 3_000,
        trackMaxObjects: 75,
        budgetWindowSeconds: 3600,
      },
      cohortNamePrefix: 'cohort-sync',
      mail: { smtpUrl: undefined, from: 'cohort-sync <cohort-sync@localhost>' },
      logLevel: 'info',
      runs: { historyDays: 30, realtimeReconcileMinutes: 60, fullReconcileHours: 24 },
      csv: { maxBytes: 4 * 1024 ** 3, maxRecordBytes: 1024 ** 2 },
      coordination: {
        workerPort: undefined,
        workerConcurrency: 4,
        leaseTtlSeconds: 30,
        schedulerIntervalSeconds: 5,
        queuePollSeconds: 2,
        queueWakeup: true,
      },
      ingest: { eventsPerSecond: 50_000, retentionDays: 400 },
      webhooks: { allowedHosts: [], allowPrivate: false },
      requestTimeoutMs: 600_000,
    } satisfies Config);
  });

  it('reads the CSV upload limits and refuses ones out of range', () => {
    expect(loadConfig({ CSV_MAX_BYTES: '1000', CSV_MAX_RECORD_BYTES: '4096' }).csv).toEqual({
      maxBytes: 1000,
      maxRecordBytes: 4096,
    });
    expect(() => loadConfig({ CSV_MAX_RECORD_BYTES: '10' })).toThrow(/CSV_MAX_RECORD_BYTES/);
    expect(() => loadConfig({ CSV_MAX_BYTES: 'lots' })).toThrow(/CSV_MAX_BYTES/);
  });

  it('returns an absolute DATA_DIR and puts the SQLite file in it', () => {
    const config = loadConfig({ DATA_DIR: 'some/rel' });
    expect(config.dataDir).toBe(resolve('some/rel'));
    expect(config.store).toEqual({ kind: 'sqlite', file: join(resolve('some/rel'), 'cohort-sync.db') });
  });

  it('turns the sandbox off by default once any partner key is set, and on again when asked', () => {
    expect(loadConfig({ BRAZE_PARTNER_API_KEY_EU: 'pk-eu' }).braze.sandbox.enabled).toBe(false);
    expect(loadConfig({ BRAZE_PARTNER_API_KEY_KR: 'pk-kr' }).braze.sandbox.enabled).toBe(false);
    expect(loadConfig({ BRAZE_PARTNER_API_KEY_US: 'pk', BRAZE_SANDBOX: 'on' }).braze.sandbox.enabled).toBe(true);
    expect(loadConfig({ BRAZE_SANDBOX: 'off' }).braze.sandbox.enabled).toBe(false);
    expect(loadConfig({ BRAZE_SANDBOX: 'ON' }).braze.sandbox.enabled).toBe(true);
  });

  it('treats blank variables as unset', () => {
    const config = loadConfig({ PORT: '', HOST: '  ', DATABASE_URL: '', BRAZE_PARTNER_API_KEY_US: '' });
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(config.store.kind).toBe('sqlite');
    expect(config.braze.partnerKeys).toEqual({});
  });
});

describe('loadConfig values', () => {
  it('maps every variable to its camelCased field', () => {
    const config = loadConfig({
      HOST: '0.0.0.0',
      PORT: '0',
      DATA_DIR: '/var/lib/cs',
      DATABASE_URL: 'postgresql://u:p@db:5432/cs',
      COHORT_SYNC_ADMIN_TOKEN: 'admin-token-0123456789',
      COHORT_SYNC_SECRET_KEY: KEY_32,
      BRAZE_PARTNER_SLUG: 'acme',
      BRAZE_PARTNER_API_KEY_US: 'pk-us',
      BRAZE_PARTNER_API_KEY_JP: 'pk-jp',
      BRAZE_ALLOWED_ENDPOINTS: ' http://localhost:4010/ ,https://Braze.Example.com,,',
      BRAZE_SANDBOX_PORT: '0',
      COHORT_NAME_PREFIX: 'acme',
      SMTP_URL: 'smtps://u:p@mail.example.com:465',
      MAIL_FROM: 'ops@example.com',
      LOG_LEVEL: 'DEBUG',
      BRAZE_CONCURRENCY: '8',
      BRAZE_REQUESTS_PER_HOUR: '1000',
      RUN_HISTORY_DAYS: '7',
      REALTIME_RECONCILE_MINUTES: '15',
    });
    expect(config.http).toEqual({ host: '0.0.0.0', port: 0 });
    expect(config.dataDir).toBe('/var/lib/cs');
    expect(config.store).toEqual({ kind: 'postgres', url: 'postgresql://u:p@db:5432/cs' });
    expect(config.adminToken).toBe('admin-token-0123456789');
    expect(config.secretKey).toBe(KEY_32);
    expect(config.braze).toEqual({
      partnerSlug: 'acme',
      partnerKeys: { US: 'pk-us', JP: 'pk-jp' },
      allowedEndpoints: ['http://localhost:4010', 'https://braze.example.com'],
      sandbox: { enabled: false, port: 0 },
      concurrency: 8,
      requestsPerHour: 1000,
      trackRequestsPer3s: 3_000,
      trackMaxObjects: 75,
      budgetWindowSeconds: 3600,
    });
    expect(config.cohortNamePrefix).toBe('acme');
    expect(config.mail).toEqual({ smtpUrl: 'smtps://u:p@mail.example.com:465', from: 'ops@example.com' });
    expect(config.logLevel).toBe('debug');
    expect(config.runs).toEqual({ historyDays: 7, realtimeReconcileMinutes: 15, fullReconcileHours: 24 });
  });

  it('returns a deeply frozen object', () => {
    const config = loadConfig({ BRAZE_PARTNER_API_KEY_US: 'pk' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.braze.sandbox)).toBe(true);
    expect(Object.isFrozen(config.braze.partnerKeys)).toBe(true);
    expect(Object.isFrozen(config.braze.allowedEndpoints)).toBe(true);
    expect(() => {
      (config.http as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('lets overrides (serve flags) win, and ignores overrides left undefined', () => {
    const config = loadConfig({ PORT: '8000', HOST: '10.0.0.1' }, { PORT: 9000, HOST: undefined });
    expect(config.http).toEqual({ host: '10.0.0.1', port: 9000 });
    expect(problemsOf(() => loadConfig({}, { PORT: 'nope' })).map((p) => p.key)).toEqual(['PORT']);
  });

  describe('process.env', () => {
    afterEach(() => {
      vi.unstubAllEnvs();
    });

    it('is read only when no env is passed', () => {
      vi.stubEnv('PORT', '9999');
      expect(loadConfig().http.port).toBe(9999);
      expect(loadConfig({}).http.port).toBe(8080);
    });
  });
});

describe('loadConfig validation', () => {
  it('lists every bad key in one ConfigError', () => {
    const problems = problemsOf(() =>
      loadConfig({
        PORT: 'eighty',
        DATABASE_URL: 'mysql://db/cs',
        COHORT_SYNC_SECRET_KEY: 'c2hvcnQ=',
        BRAZE_PARTNER_SLUG: 'a/b',
        BRAZE_ALLOWED_ENDPOINTS: 'https://ok.example.com,ftp://files.example.com',
        BRAZE_SANDBOX: 'maybe',
        BRAZE_SANDBOX_PORT: '70000',
        SMTP_URL: 'http://mail',
        LOG_LEVEL: 'loud',
        BRAZE_CONCURRENCY: '0',
        BRAZE_REQUESTS_PER_HOUR: '-5',
        RUN_HISTORY_DAYS: '1.5',
        REALTIME_RECONCILE_MINUTES: '1e3',
      }),
    );
    expect(problems.map((p) => p.key)).toEqual([
      'PORT',
      'DATABASE_URL',
      'COHORT_SYNC_SECRET_KEY',
      'BRAZE_PARTNER_SLUG',
      'BRAZE_ALLOWED_ENDPOINTS',
      'BRAZE_SANDBOX',
      'BRAZE_SANDBOX_PORT',
      'SMTP_URL',
      'LOG_LEVEL',
      'BRAZE_CONCURRENCY',
      'BRAZE_REQUESTS_PER_HOUR',
      'RUN_HISTORY_DAYS',
      'REALTIME_RECONCILE_MINUTES',
    ]);
    for (const p of problems) expect(p.message.length).toBeGreaterThan(5);
    expect(problems.find((p) => p.key === 'BRAZE_ALLOWED_ENDPOINTS')?.message).toContain('ftp://files.example.com');
    expect(problems.find((p) => p.key === 'PORT')?.message).toMatch(/0 to 65535/);
  });

  it('names every key in the error message but never echoes values', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'x', COHORT_SYNC_SECRET_KEY: 'my-secret-value', COHORT_SYNC_ADMIN_TOKEN: 'tiny' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('PORT');
    expect(message).toContain('COHORT_SYNC_SECRET_KEY');
    expect(message).toContain('COHORT_SYNC_ADMIN_TOKEN');
    expect(message).not.toContain('my-secret-value');
    expect(message).not.toContain('tiny');
  });

  it('requires COHORT_SYNC_SECRET_KEY with DATABASE_URL, reported together with other problems', () => {
    const problems = problemsOf(() => loadConfig({ DATABASE_URL: 'postgres://db/cs', PORT: 'x' }));
    expect(problems.map((p) => p.key)).toEqual(['PORT', 'COHORT_SYNC_SECRET_KEY']);
    expect(problems[1]?.message).toMatch(/DATABASE_URL/);

    const config = loadConfig({ DATABASE_URL: 'postgres://db/cs', COHORT_SYNC_SECRET_KEY: KEY_32 });
    expect(config.store).toEqual({ kind: 'postgres', url: 'postgres://db/cs' });
  });

  it('accepts only base64 of exactly 32 bytes as the secret key', () => {
    const bad = [Buffer.alloc(31).toString('base64'), Buffer.alloc(33).toString('base64'), `${KEY_32.slice(0, -2)}!!`];
    for (const key of bad) {
      expect(problemsOf(() => loadConfig({ COHORT_SYNC_SECRET_KEY: key })).map((p) => p.key)).toEqual([
        'COHORT_SYNC_SECRET_KEY',
      ]);
    }
    expect(loadConfig({ COHORT_SYNC_SECRET_KEY: Buffer.alloc(32, 255).toString('base64url') }).secretKey).toBeDefined();
  });

  it('rejects numbers that Number() would accept loosely', () => {
    for (const value of ['0x1f', '1e3', '12abc', '-1', '65536']) {
      expect(problemsOf(() => loadConfig({ PORT: value })).map((p) => p.key)).toEqual(['PORT']);
    }
  });
});

describe('describeConfig', () => {
  it('keeps the shape but hides every secret', () => {
    const secrets = {
      COHORT_SYNC_ADMIN_TOKEN: 'admin-SENTINEL-token-1',
      COHORT_SYNC_SECRET_KEY: KEY_32,
      BRAZE_PARTNER_API_KEY_US: 'pk-SENTINEL-us',
      BRAZE_PARTNER_API_KEY_EU: 'pk-SENTINEL-eu',
    };
    const config = loadConfig({
      ...secrets,
      DATABASE_URL: 'postgres://cs:dbSENTINELpw@db:5432/cs?sslpassword=sslSENTINEL',
      SMTP_URL: 'smtp://mailer:smtpSENTINELpw@mail:587',
    });
    const summary = describeConfig(config);
    const text = JSON.stringify(summary);
    expect(text).not.toContain('SENTINEL');
    expect(text).not.toContain(KEY_32);
    expect(summary.store).toEqual({ kind: 'postgres', url: 'postgres://cs:redacted@db:5432/cs?sslpassword=redacted' });
    expect(summary.mail.smtpUrl).toBe('smtp://mailer:redacted@mail:587');
    expect(summary.braze.partnerKeys).toMatchObject({ US: '[redacted]', EU: '[redacted]', AU: 'unset' });
    expect(summary.http).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(summary.adminToken).toBe('[redacted]');
  });

  it('hides an unparseable URL entirely rather than risk its password', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://u:50%off@db/cs', COHORT_SYNC_SECRET_KEY: KEY_32 });
    expect(JSON.stringify(describeConfig(config))).not.toContain('50%off');
  });
});
