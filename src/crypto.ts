import { base64url } from "jose";

const encoder = new TextEncoder();

/** Returns `bytes` random bytes as base64url: 32 bytes give 256 bits of entropy. */
export function randomToken(bytes = 32): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** Returns the SHA-256 digest of `value` as base64url; secrets and tokens are stored only in this form. */
export async function sha256(value: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(value));
  return base64url.encode(new Uint8Array(digest));
}

/** Compares a secret with a stored SHA-256 hash in constant time. */
export async function matchesHash(secret: string, storedHash: string): Promise<boolean> {
  const actual = encoder.encode(await sha256(secret));
  const expected = encoder.encode(storedHash);
  if (actual.byteLength !== expected.byteLength) return false;
  return crypto.subtle.timingSafeEqual(actual, expected);
}
