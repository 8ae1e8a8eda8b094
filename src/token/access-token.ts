import { createLocalJWKSet, type JWTPayload, jwtVerify, SignJWT } from "jose";
import type { Config } from "../config.js";
import { randomToken } from "../crypto.js";
import { SIGNING_ALGORITHM, type SigningKeys } from "../keys.js";

/** Claims of an access token (RFC 9068 §2.2). */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  scope: string;
  iat: number;
  exp: number;
  jti: string;
}

export interface AccessTokenGrant {
  grantId: string;
  clientId: string;
  userId: string;
  scope: string;
  resource: string;
  /** The user's display name, sent as the `name` claim so MCP servers can greet the user. */
  name?: string;
}

/**
 * Signs an RFC 9068 access token. The `jti` starts with the grant id and a dot, so introspection
 * and revocation find the grant without storing a row per access token.
 */
export async function signAccessToken(config: Config, keys: SigningKeys, grant: AccessTokenGrant, now: number): Promise<string> {
  return new SignJWT({ client_id: grant.clientId, scope: grant.scope, ...(grant.name ? { name: grant.name } : {}) })
    .setProtectedHeader({ alg: SIGNING_ALGORITHM, typ: "at+jwt", kid: keys.kid })
    .setIssuer(config.ISSUER)
    .setSubject(grant.userId)
    .setAudience(grant.resource)
    .setIssuedAt(now)
    .setExpirationTime(now + config.ACCESS_TOKEN_TTL)
    .setJti(`${grant.grantId}.${randomToken(12)}`)
    .sign(keys.privateKey);
}

/** Returns the grant id inside an access token's `jti`. */
export function grantIdOf(claims: AccessTokenClaims): string {
  return claims.jti.split(".")[0]!;
}

const keySets = new WeakMap<SigningKeys, ReturnType<typeof createLocalJWKSet>>();

/** Returns a jose key set of the published keys, built once per loaded `SigningKeys`. */
export function keySetOf(keys: SigningKeys): ReturnType<typeof createLocalJWKSet> {
  let keySet = keySets.get(keys);
  if (!keySet) {
    keySet = createLocalJWKSet(keys.jwks);
    keySets.set(keys, keySet);
  }
  return keySet;
}

/**
 * Verifies an access token issued by this server: signature, `typ`, issuer and expiry.
 * @returns the claims, or `undefined` for any token that does not verify
 */
export async function verifyAccessToken(
  config: Config,
  keys: SigningKeys,
  token: string,
  now: number,
): Promise<AccessTokenClaims | undefined> {
  try {
    const { payload } = await jwtVerify(token, keySetOf(keys), {
      issuer: config.ISSUER,
      typ: "at+jwt",
      algorithms: [SIGNING_ALGORITHM],
      currentDate: new Date(now * 1000),
      requiredClaims: ["sub", "aud", "exp", "iat", "jti", "client_id"],
    });
    return payload as AccessTokenClaims;
  } catch {
    return undefined;
  }
}
