// Opaque ids: a readable prefix and 16 random base-36 characters (about 82 bits). The cohort id doubles as
// Braze's cohort_id, which must stay stable forever, so ids are never derived from mutable data.
export type RandomBytes = (n: number) => Uint8Array;

export function makeId(prefix: string, random: RandomBytes): string {
  const bytes = random(16);
  let out = '';
  for (const b of bytes) out += (b % 36).toString(36);
  return `${prefix}_${out}`;
}
