/** Encryption of secrets at rest and keyed fingerprints for comparing secrets without storing them. */
export interface Secrets {
  encrypt(plain: string): string;
  decrypt(sealed: string): string;
  /** `…last4`, the only part of a secret the API ever shows. */
  hint(plain: string): string;
  /** A keyed hash: equal inputs give equal fingerprints, and a fingerprint reveals nothing without the key. */
  fingerprint(...parts: string[]): string;
}
