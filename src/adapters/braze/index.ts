// Public surface of the Braze adapter; entry/ wires these into app/ through the Destination port.
export {
  type BrazeLogger,
  BrazePartnerDestination,
  type BrazePartnerDestinationOptions,
  CONNECTION_TEST_COHORT_ID,
} from './partner-client.ts';
export type { PartnerKeys } from './partner-keys.ts';
export {
  InMemoryRateLimiter,
  type InMemoryRateLimiterOptions,
  type RateLimiter,
  type RateLimitObservation,
} from './rate-limiter.ts';
export { MAX_BODY_BYTES, MAX_IDENTIFIERS_PER_REQUEST } from './request-body.ts';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry-policy.ts';
export { keyFingerprint, keyHint } from './secrets.ts';
