// Braze REST instances, from Braze's public docs ("API basics → Braze REST endpoints").
// Shared by the Braze client (endpoint validation, partner-key region) and the sandbox.
export type BrazeRegion = 'US' | 'EU' | 'AU' | 'ID' | 'JP' | 'KR';

export interface BrazeInstance {
  readonly id: string;
  readonly endpoint: string;
  readonly region: BrazeRegion;
}

const us = (n: number): BrazeInstance => ({
  id: `US-0${n}`,
  endpoint: `https://rest.iad-0${n}.braze.com`,
  region: 'US',
});

export const BRAZE_INSTANCES: readonly BrazeInstance[] = [
  us(1),
  us(2),
  us(3),
  us(4),
  us(5),
  us(6),
  us(7),
  us(8), // there is no US-09
  { id: 'US-10', endpoint: 'https://rest.us-10.braze.com', region: 'US' },
  { id: 'EU-01', endpoint: 'https://rest.fra-01.braze.eu', region: 'EU' },
  { id: 'EU-02', endpoint: 'https://rest.fra-02.braze.eu', region: 'EU' },
  { id: 'AU-01', endpoint: 'https://rest.au-01.braze.com', region: 'AU' },
  { id: 'ID-01', endpoint: 'https://rest.id-01.braze.com', region: 'ID' },
  { id: 'JP-01', endpoint: 'https://rest.jp-01.braze.com', region: 'JP' },
  { id: 'KR-01', endpoint: 'https://rest.kr-01.braze.com', region: 'KR' },
];

/** Normalises an endpoint for comparison: lower-case scheme and host, no trailing slash. */
export function normaliseEndpoint(endpoint: string): string {
  return endpoint.trim().replace(/\/+$/, '').toLowerCase();
}

export function findInstance(endpoint: string): BrazeInstance | undefined {
  const wanted = normaliseEndpoint(endpoint);
  return BRAZE_INSTANCES.find((i) => i.endpoint === wanted);
}

/** The region whose partner key applies to an endpoint; unknown endpoints (sandbox, allowed extras) use US. */
export function regionOf(endpoint: string): BrazeRegion {
  return findInstance(endpoint)?.region ?? 'US';
}
