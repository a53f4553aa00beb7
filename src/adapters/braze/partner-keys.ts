// Which partner API key a request carries. Braze issues partner keys per cluster family — one for US, one for
// EU; unknown for AU/ID/JP/KR (docs/design.md §1) — so the operator configures a per-region map and US is the
// fallback. Keys are bound to their instance (docs/design.md §4), hence the choice by the endpoint's region.
import { type BrazeRegion, regionOf } from '../../domain/braze-instances.ts';
import { DeliveryError } from '../../ports/destination.ts';

export type PartnerKeys = Partial<Record<BrazeRegion, string>>;

export interface ChosenPartnerKey {
  readonly key: string;
  /** Region of the endpoint. */
  readonly region: BrazeRegion;
  /** Region whose key is used: `region`, or US when that region has none. */
  readonly keyRegion: BrazeRegion;
}

export function choosePartnerKey(keys: PartnerKeys, endpoint: string): ChosenPartnerKey {
  const region = regionOf(endpoint);
  const own = keys[region];
  if (own) return { key: own, region, keyRegion: region };
  const fallback = keys.US;
  if (fallback) return { key: fallback, region, keyRegion: 'US' };
  const names =
    region === 'US'
      ? 'BRAZE_PARTNER_API_KEY_US'
      : `BRAZE_PARTNER_API_KEY_${region} (or BRAZE_PARTNER_API_KEY_US as the fallback)`;
  throw new DeliveryError(
    'credentials',
    `No Braze partner API key is configured for ${endpoint} (region ${region}): the operator must set ${names} and restart.`,
  );
}
