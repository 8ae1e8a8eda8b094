import type { AppContext } from "../context.js";
import { sha256 } from "../crypto.js";
import { findGrant, findRefreshToken, type Grant } from "../grants.js";
import { loadSigningKeys } from "../keys.js";
import { type AccessTokenClaims, grantIdOf, verifyAccessToken } from "./access-token.js";

/** A token this server issued, found by revocation or introspection, with the grant it belongs to. */
export type FoundToken =
  | { type: "access_token"; claims: AccessTokenClaims; grant: Grant }
  | { type: "refresh_token"; grant: Grant; expiresAt: number; rotatedAt: number | null };

/**
 * Finds an access or refresh token. `token_type_hint` only orders the look-ups (RFC 7009 §2.1):
 * a wrong hint still finds the token.
 */
export async function findToken(c: AppContext, token: string, hint: string | undefined): Promise<FoundToken | undefined> {
  const asAccessToken = async (): Promise<FoundToken | undefined> => {
    if (token.split(".").length !== 3) return undefined;
    const keys = await loadSigningKeys(c.env, c.var.config, c.var.now());
    const claims = await verifyAccessToken(c.var.config, keys, token, c.var.now());
    const grant = claims && (await findGrant(c.env.DB, grantIdOf(claims)));
    return claims && grant ? { type: "access_token", claims, grant } : undefined;
  };
  const asRefreshToken = async (): Promise<FoundToken | undefined> => {
    const record = await findRefreshToken(c.env.DB, await sha256(token));
    if (!record) return undefined;
    const grant: Grant = {
      id: record.grant_id,
      client_id: record.client_id,
      user_id: record.user_id,
      scope: record.scope,
      resource: record.resource,
      revoked_at: record.revoked_at,
    };
    return { type: "refresh_token", grant, expiresAt: record.expires_at, rotatedAt: record.rotated_at };
  };

  const order = hint === "refresh_token" ? [asRefreshToken, asAccessToken] : [asAccessToken, asRefreshToken];
  for (const find of order) {
    const found = await find();
    if (found) return found;
  }
  return undefined;
}
