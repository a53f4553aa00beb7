// Public surface of the Braze adapter: the two delivery definitions (cohort import, custom attribute) over one
// HTTP layer; entry/ registers them in the destination registry the app looks modes up in.
export { BrazeHttp, type BrazeHttpOptions, type BrazeLogger, MAX_BODY_BYTES } from './braze-http.ts';
export {
  COHORT_IMPORT_BUDGET,
  CONNECTION_TEST_COHORT_ID,
  CohortImportDefinition,
  type CohortImportOptions,
} from './cohort-import.ts';
export {
  CustomAttributeDefinition,
  type CustomAttributeOptions,
  MAX_TRACK_OBJECTS,
  TRACK_BUDGET,
} from './custom-attribute.ts';
export type { PartnerKeys } from './partner-keys.ts';
export {
  InMemoryRateLimiter,
  type InMemoryRateLimiterOptions,
  type RateLimiter,
  type RateLimitObservation,
} from './rate-limiter.ts';
export { MAX_IDENTIFIERS_PER_REQUEST } from './request-body.ts';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry-policy.ts';
export { keyFingerprint, keyHint } from './secrets.ts';
