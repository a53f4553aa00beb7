import { describe, expect, it } from 'vitest';
import { type ClassifyContext, classify } from '../../src/adapters/braze/classify.ts';
import { type PartnerTextContext, partnerTexts } from '../../src/adapters/braze/cohort-import-texts.ts';
import { choosePartnerKey } from '../../src/adapters/braze/partner-keys.ts';
import { keyHint, redactJson, scrubSecrets } from '../../src/adapters/braze/secrets.ts';
import { DeliveryError } from '../../src/ports/destination.ts';

const NOW = Date.UTC(2030, 0, 1);
const DIK = 'dik-secret-0000-WXYZ';
const PARTNER = 'partner-secret-0000-PQRS';
const partner: PartnerTextContext = {
  endpoint: 'https://rest.iad-03.braze.com',
  partnerSlug: 'acme',
  region: 'US',
  partnerKeyRegion: 'US',
  partnerKeyHint: keyHint(PARTNER),
  dataImportKeyHint: keyHint(DIK),
};
const ctx: ClassifyContext = {
  url: 'https://rest.iad-03.braze.com/partners/acme/cohorts/users',
  endpoint: 'https://rest.iad-03.braze.com',
  secrets: [PARTNER, DIK],
  nowMs: NOW,
  texts: partnerTexts(partner),
};
const answer = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  ({ kind: 'response', status, body, headers: new Headers(headers) }) as const;

describe('classify', () => {
  it('accepts any 2xx and keeps an errors array as partial failures', () => {
    expect(classify(answer(200, { message: 'success' }), ctx)).toEqual({ action: 'done', partialErrors: [] });
    expect(classify(answer(204, null), ctx)).toEqual({ action: 'done', partialErrors: [] });
    expect(classify(answer(201, { message: 'success', errors: ['bad alias', { id: 'x' }] }), ctx)).toEqual({
      action: 'done',
      partialErrors: ['bad alias', '{"id":"x"}'],
    });
  });

  it.each([301, 302, 307, 308])('fails a %i redirect as bad_request naming where it points', (status) => {
    const verdict = classify(answer(status, null, { location: 'https://elsewhere.example/x' }), ctx);
    expect(verdict).toMatchObject({ action: 'fail', kind: 'bad_request', status });
    expect(verdict.action === 'fail' && verdict.message).toContain('a redirect to "https://elsewhere.example/x"');
  });

  it('waits as X-Ratelimit-Retry-After says on a 429 without Retry-After', () => {
    expect(classify(answer(429, {}, { 'X-Ratelimit-Retry-After': '2' }), ctx)).toMatchObject({ waitMs: 2_000 });
  });

  it.each([423, 429, 500, 502, 503, 504])('retries %i', (status) => {
    expect(classify(answer(status, { message: 'nope' }), ctx)).toMatchObject({ action: 'retry', status });
  });

  it('retries a network failure with its description', () => {
    expect(classify({ kind: 'network', description: 'other side closed (ECONNRESET)' }, ctx)).toEqual({
      action: 'retry',
      problem: 'other side closed (ECONNRESET)',
      status: null,
    });
  });

  it('takes the wait of a 429 from Retry-After or the reset, but a 500 only from Retry-After', () => {
    expect(classify(answer(429, {}, { 'x-ratelimit-reset': String(NOW / 1000 + 20) }), ctx)).toMatchObject({
      waitMs: 20_000,
    });
    expect(classify(answer(500, {}, { 'x-ratelimit-reset': String(NOW / 1000 + 20) }), ctx)).not.toHaveProperty(
      'waitMs',
    );
    expect(classify(answer(503, {}, { 'retry-after': '3' }), ctx)).toMatchObject({ waitMs: 3_000 });
  });

  it.each([400, 404, 413, 422])('fails %i as bad_request quoting Braze', (status) => {
    const verdict = classify(answer(status, { message: "Invalid 'cohort_id'" }), ctx);
    expect(verdict).toMatchObject({ action: 'fail', kind: 'bad_request', status });
    expect(verdict.action === 'fail' && verdict.message).toContain(`HTTP ${status}): "Invalid 'cohort_id'"`);
  });

  it('says which Data Import Key is wrong and where to regenerate it', () => {
    const verdict = classify(answer(401, { message: 'Invalid client secret' }), ctx);
    expect(verdict).toMatchObject({ action: 'fail', kind: 'credentials', status: 401 });
    const message = verdict.action === 'fail' ? verdict.message : '';
    expect(message).toContain('https://rest.iad-03.braze.com');
    expect(message).toContain('…WXYZ');
    expect(message).toMatch(/another Braze instance.*Partner Integrations → Technology Partners → acme/);
    expect(message).not.toContain(DIK);
  });

  it('points the operator at the partner API key setting, naming the fallback', () => {
    const verdict = classify(answer(401, { message: 'Invalid Partner API key' }), {
      ...ctx,
      texts: partnerTexts({ ...partner, region: 'JP', partnerKeyRegion: 'US' }),
    });
    const message = verdict.action === 'fail' ? verdict.message : '';
    expect(message).toMatch(/operator configuration.*BRAZE_PARTNER_API_KEY_JP/);
    expect(message).toContain('the US key was used');
    expect(message).toContain('…PQRS');
  });

  it('asks to enable the integration, without echoing the secret Braze put in its text', () => {
    const verdict = classify(
      answer(401, { message: `Partner not enabled for client with client secret: ${DIK}` }),
      ctx,
    );
    const message = verdict.action === 'fail' ? verdict.message : '';
    expect(message).toMatch(/not enabled.*enable the integration/);
    expect(message).not.toContain(DIK);
    expect(message).toContain('[redacted]');
  });

  it('treats 403 and "Unauthorized access" as credentials, suspecting the wrong instance', () => {
    for (const status of [401, 403]) {
      const verdict = classify(answer(status, { message: 'Unauthorized access' }), ctx);
      expect(verdict).toMatchObject({ action: 'fail', kind: 'credentials' });
      expect(verdict.action === 'fail' && verdict.message).toMatch(/wrong instance.*generate a new Data Import Key/);
    }
  });
});

describe('choosePartnerKey', () => {
  it("uses the key of the endpoint's region", () => {
    expect(choosePartnerKey({ US: 'us-key', EU: 'eu-key' }, 'https://rest.fra-02.braze.eu')).toEqual({
      key: 'eu-key',
      region: 'EU',
      keyRegion: 'EU',
    });
  });

  it('falls back to the US key', () => {
    expect(choosePartnerKey({ US: 'us-key' }, 'https://rest.au-01.braze.com')).toEqual({
      key: 'us-key',
      region: 'AU',
      keyRegion: 'US',
    });
  });

  it('fails as credentials naming the setting when no key applies', () => {
    let error: unknown;
    try {
      choosePartnerKey({ JP: 'jp-key' }, 'https://rest.fra-01.braze.eu');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as DeliveryError).kind).toBe('credentials');
    expect((error as DeliveryError).message).toMatch(/BRAZE_PARTNER_API_KEY_EU \(or BRAZE_PARTNER_API_KEY_US/);
  });
});

describe('secrets', () => {
  it('shows only the last 4 characters of a key', () => {
    expect(keyHint('abcdefghijkl1234')).toBe('…1234');
    expect(keyHint('k9Q7z2')).not.toContain('Q7z2');
  });

  it('redacts key fields and stray copies of a key in a JSON value', () => {
    expect(
      redactJson({ partner_api_key: 'p-key-1', client_secret: 'c-key-1', nested: ['see c-key-1'], n: 3 }, ['c-key-1']),
    ).toEqual({
      partner_api_key: '[redacted]',
      client_secret: '[redacted]',
      nested: ['see [redacted]'],
      n: 3,
    });
    expect(scrubSecrets('a abcd b abcd', ['abcd'])).toBe('a [redacted] b [redacted]');
  });
});
