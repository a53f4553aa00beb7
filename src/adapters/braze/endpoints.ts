// The REST endpoints a Braze target may name: Braze's own instances (docs/design.md §8). Both delivery modes
// reach the same instances, so both definitions share this one object.
import { findInstance, normaliseEndpoint } from '../../domain/braze-instances.ts';
import type { DestinationEndpoints } from '../../ports/destination.ts';

export const BRAZE_ENDPOINTS: DestinationEndpoints = {
  normalise: normaliseEndpoint,
  isInstance: (normalised) => findInstance(normalised) !== undefined,
  description: 'a Braze REST endpoint (e.g. https://rest.iad-01.braze.com)',
};
