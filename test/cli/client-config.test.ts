import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadClientConfig } from '../../src/entry/config.ts';

describe('loadClientConfig', () => {
  it('defaults to the local server, no token, no project and ./data', () => {
    expect(loadClientConfig({})).toEqual({
      url: 'http://127.0.0.1:8080',
      token: undefined,
      project: undefined,
      dataDir: resolve('./data'),
    });
  });

  it('reads COHORT_SYNC_URL, COHORT_SYNC_TOKEN, COHORT_SYNC_PROJECT and DATA_DIR, trimmed', () => {
    const config = loadClientConfig({
      COHORT_SYNC_URL: ' https://sync.example.com ',
      COHORT_SYNC_TOKEN: 'cs_proj_abc\n',
      COHORT_SYNC_PROJECT: 'prj_1',
      DATA_DIR: '/var/lib/cohort-sync',
    });
    expect(config).toEqual({
      url: 'https://sync.example.com',
      token: 'cs_proj_abc',
      project: 'prj_1',
      dataDir: '/var/lib/cohort-sync',
    });
  });

  it('treats blank values as unset (compose files write FOO=)', () => {
    const config = loadClientConfig({
      COHORT_SYNC_URL: '',
      COHORT_SYNC_TOKEN: '  ',
      COHORT_SYNC_PROJECT: '',
      DATA_DIR: ' ',
    });
    expect(config).toEqual({
      url: 'http://127.0.0.1:8080',
      token: undefined,
      project: undefined,
      dataDir: resolve('./data'),
    });
  });

  it('resolves a relative DATA_DIR to an absolute path', () => {
    expect(loadClientConfig({ DATA_DIR: 'state' }).dataDir).toBe(resolve('state'));
  });
});
