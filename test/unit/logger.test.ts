import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED } from '../../src/adapters/log/logger.ts';
import type { Logger } from '../../src/ports/logger.ts';

/** A logger writing into an array, one parsed JSON object per line. */
function capture(level: Parameters<typeof createLogger>[0]['level'] = 'debug') {
  const lines: string[] = [];
  const logger = createLogger({ level, destination: { write: (s: string) => void lines.push(s) } });
  return {
    logger,
    lines,
    text: () => lines.join(''),
    parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const SECRET_FIELDS = [
  'dataImportKey',
  'data_import_key',
  'client_secret',
  'partner_api_key',
  'partnerApiKey',
  'token',
  'authorization',
  'api_key',
  'apiKey',
  'ingestKey',
  'secret',
  'password',
];

/** `{field: 'SENTINEL-<tag>-<field>'}` for every secret field. */
const sentinels = (tag: string) => Object.fromEntries(SECRET_FIELDS.map((f) => [f, `SENTINEL-${tag}-${f}`]));

describe('createLogger redaction', () => {
  it('hides secret fields at the top level but keeps the others', () => {
    const { logger, text, parsed } = capture();
    logger.info({ ...sentinels('top'), runId: 'run_1', endpoint: 'https://rest.iad-01.braze.com' }, 'sent batch');
    expect(text()).not.toContain('SENTINEL');
    const [line] = parsed();
    for (const f of SECRET_FIELDS) expect(line?.[f]).toBe(REDACTED);
    expect(line).toMatchObject({ runId: 'run_1', endpoint: 'https://rest.iad-01.braze.com', msg: 'sent batch' });
  });

  it('hides them one and two levels deep, in arrays and in request headers', () => {
    const { logger, text, parsed } = capture();
    logger.warn(
      {
        target: { ...sentinels('one'), name: 'prod' },
        run: { request: { ...sentinels('two'), cohort_id: 'c1' } },
        batches: [{ client_secret: 'SENTINEL-array' }],
        req: { method: 'POST', headers: { authorization: 'Bearer SENTINEL-hdr', 'content-type': 'application/json' } },
        headers: { authorization: 'Bearer SENTINEL-hdr2' },
      },
      'retrying',
    );
    expect(text()).not.toContain('SENTINEL');
    const [line] = parsed();
    expect(line).toMatchObject({
      target: { dataImportKey: REDACTED, name: 'prod' },
      run: { request: { partner_api_key: REDACTED, client_secret: REDACTED, cohort_id: 'c1' } },
      batches: [{ client_secret: REDACTED }],
      req: { method: 'POST', headers: { authorization: REDACTED, 'content-type': 'application/json' } },
      headers: { authorization: REDACTED },
    });
  });

  it('hides secrets bound on a child logger', () => {
    const { logger, text, parsed } = capture();
    logger.child({ token: 'SENTINEL-child', projectId: 'p1' }).error({ ingestKey: 'SENTINEL-ik' }, 'bad');
    expect(text()).not.toContain('SENTINEL');
    expect(parsed()[0]).toMatchObject({ token: REDACTED, projectId: 'p1', ingestKey: REDACTED });
  });

  it('does not change the caller’s object', () => {
    const { logger } = capture();
    const body = { partner_api_key: 'pk', nested: { client_secret: 'dik' } };
    logger.info({ body }, 'request');
    expect(body).toEqual({ partner_api_key: 'pk', nested: { client_secret: 'dik' } });
  });
});

describe('createLogger levels', () => {
  it('drops lines below the configured level', () => {
    const { logger, parsed } = capture('warn');
    logger.info({ a: 1 }, 'quiet');
    logger.debug({ a: 2 }, 'quieter');
    logger.warn({ a: 3 }, 'loud');
    expect(parsed().map((l) => l['msg'])).toEqual(['loud']);
    // Levels are written as names (issue 12 item 17).
    expect(parsed()[0]!['level']).toBe('warn');
  });

  it('satisfies the Logger port', () => {
    const { logger, parsed } = capture();
    const port: Logger = logger;
    port.child({ runId: 'r1' }).info({ n: 1 }, 'via port');
    expect(parsed()[0]).toMatchObject({ runId: 'r1', n: 1, msg: 'via port' });
  });
});
